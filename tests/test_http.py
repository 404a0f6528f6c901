"""Serving: answers rendered once, gzip when accepted, ETags and 304s, per-response CSP nonces."""
import gzip
import json

import pytest
from flask import g

from webapp.http import NONCE_TOKEN, render, respond


def test_towns_gzip_and_etag_304(client):
    first = client.get("/api/towns?lang=en", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in first.headers["Vary"]
    body = json.loads(gzip.decompress(first.data))
    assert len(body["features"]) == 27
    again = client.get("/api/towns?lang=en", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


def test_plain_answer_equals_gzipped_one(client):
    plain = client.get("/api/towns?lang=ru")
    zipped = client.get("/api/towns?lang=ru", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.data) == plain.data
    assert plain.get_json()["type"] == "FeatureCollection"


def test_recompute_is_rendered_once_and_stays_the_same(client):
    a = client.post("/api/recompute", json={"near_km": 321})
    b = client.post("/api/recompute", json={"near_km": 321})
    assert a.status_code == b.status_code == 200
    assert a.data == b.data
    assert a.get_json()["parameters"]["spatial"]["near_km"] == 321


def _nonce(resp) -> str:
    import re

    return re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"]).group(1)


@pytest.mark.parametrize("url", ["/?lang=kk", "/town/temirtau"])
def test_pages_rendered_once_each_with_its_own_nonce(client, url):
    """A page with scripts carries this response's nonce: the cached body is the same but for it, gzip
    when accepted, and no ETag (a 304 would pair an old body with a new nonce)."""
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    second = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == second.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    a, b = gzip.decompress(first.data).decode(), gzip.decompress(second.data).decode()
    assert _nonce(first) != _nonce(second) and f'nonce="{_nonce(first)}"' in a
    assert a.replace(_nonce(first), "N") == b.replace(_nonce(second), "N")
    assert "ETag" not in first.headers


@pytest.mark.parametrize("nonce", ["", "abc123", "Zm9vYmFy+/=="])
def test_nonce_substituted_per_response_and_gzip_stays_valid(app, nonce):
    page = f"<script nonce=\"{NONCE_TOKEN}\">a()</script>" + "x" * 5000 + f"<style nonce=\"{NONCE_TOKEN}\"></style>"
    rendered = render(page, "text/html")
    with app.test_request_context("/", headers={"Accept-Encoding": "gzip"}):
        g.csp_nonce = nonce
        resp = respond(rendered)
        body = gzip.decompress(resp.get_data())
    assert body == page.replace(NONCE_TOKEN, nonce).encode()
    assert "ETag" not in resp.headers  # a 304 would pair an old body with a new nonce


def test_rendered_cache_emptied_by_a_data_change(app):
    svc = app.extensions["atlas"]
    calls = []

    class Value:
        nbytes = 10

    def build():
        calls.append(1)
        return Value()
    svc.rendered(("probe",), build)
    svc.rendered(("probe",), build)
    assert len(calls) == 1
    svc._data_changed()
    svc.rendered(("probe",), build)
    assert len(calls) == 2


def test_an_editors_page_is_never_shared(tmp_path):
    """A signed-in editor's page carries their name and CSRF token: not from, nor into, the shared cache."""
    from test_store import make_app, sign_in

    app = make_app(tmp_path / "atlas.sqlite3")
    visitor, editor = app.test_client(), app.test_client()
    before = visitor.get("/").get_data(as_text=True)
    token = sign_in(editor)
    mine = editor.get("/").get_data(as_text=True)
    assert "anna" in mine and token in mine
    after = visitor.get("/").get_data(as_text=True)
    assert "anna" not in after and token not in after and 'id="sign-in"' in after and 'id="sign-in"' in before


def test_vendor_scripts_and_styles_are_gzipped_with_an_etag(client, root):
    plain = root / "node_modules" / "leaflet" / "dist" / "leaflet.js"
    r = client.get("/vendor/leaflet/dist/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip" and "javascript" in r.mimetype
    assert gzip.decompress(r.data) == plain.read_bytes() and len(r.data) < plain.stat().st_size / 2
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    assert client.get("/vendor/leaflet/dist/leaflet.js", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    assert client.get("/vendor/leaflet/dist/leaflet.css").mimetype == "text/css"
    with client.get("/vendor/leaflet/dist/images/layers.png") as png:  # images as they are (a file response)
        assert png.mimetype == "image/png" and "Content-Encoding" not in png.headers
    for bad in ("/vendor/leaflet/dist/nope.js", "/vendor/leaflet/../leaflet.fullscreen/Control.FullScreen.js", "/vendor/leaflet/dist"):
        with client.get(bad) as r:
            assert r.status_code == 404, bad


def test_layer_answers_are_gzipped_and_kept_for_a_year_only_when_versioned(client):
    import re

    html = client.get("/?lang=kk").get_data(as_text=True)
    url = json.loads(re.search(r'id="boot">(.*?)</script>', html, re.S).group(1))["layers"]["oblasts"]
    r = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Cache-Control"].endswith("immutable")
    assert json.loads(gzip.decompress(r.data)) == client.get(url).get_json()
    unversioned = url.split("&v=")[0]
    again = client.get(unversioned, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == "no-cache"
