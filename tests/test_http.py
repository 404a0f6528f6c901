"""Serving: answers rendered once, gzip when accepted, ETags and 304s, map scripts served as
files."""

import gzip
import json

import re

import pytest

from webapp.cache import Cache
from webapp.http import render, respond


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


def _script_url(html: str) -> str:
    return re.search(r'<script src="(/[^"]*map\.js[^"]*)"', html).group(1).replace("&amp;", "&")


@pytest.mark.parametrize("url", ["/?lang=kk", "/town/temirtau"])
def test_pages_rendered_once_with_an_etag_and_their_map_script_as_a_file(client, url):
    """A page is the same bytes for everyone (no nonce: ``script-src 'self'``), gzip when accepted,
    with an ETag (304 on a match); its map's script is a file kept for a year under its version."""
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    second = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert (
        first.status_code == second.status_code == 200
        and first.headers["Content-Encoding"] == "gzip"
    )
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    html = gzip.decompress(first.data).decode()
    assert "<script>" not in html and "nonce" not in html
    script = client.get(_script_url(html))
    assert script.status_code == 200 and script.mimetype == "application/javascript"
    assert script.headers["Cache-Control"].endswith("immutable") and "L.map(" in script.get_data(
        as_text=True
    )
    unversioned = client.get(_script_url(html).split("v=")[0])
    assert unversioned.data == script.data and unversioned.headers["Cache-Control"] == "no-cache"


def test_the_map_script_fits_a_page_made_by_another_process(tmp_path):
    """Folium's element names are fixed by their place in the map (``fix_names``): a page from one
    app (worker) and its script from another name the same markers."""
    from test_store import make_app

    one, two = (make_app(tmp_path / f"{n}.sqlite3").test_client() for n in "ab")
    html = one.get("/?lang=ru").get_data(as_text=True)
    markers = json.loads(re.search(r'id="boot">(.*?)</script>', html, re.S).group(1))["registry"][
        "markers"
    ]
    script = two.get(_script_url(html)).get_data(as_text=True)
    assert len(markers) == 27 and all(
        f"var {name} = L.circleMarker(" in script for name in markers.values()
    )


def test_gzip_made_once_per_body_and_small_answers_sent_as_they_are(app):
    big, small = render("x" * 5000, "text/plain"), render("tiny", "text/plain")
    assert gzip.decompress(big.gzipped) == big.data and small.gzipped == b""
    with app.test_request_context("/", headers={"Accept-Encoding": "gzip"}):
        assert respond(big).headers["Content-Encoding"] == "gzip"
        assert "Content-Encoding" not in respond(small).headers


def test_one_cache_bounded_in_bytes_least_recently_used_dropped_first():
    cache = Cache(max_bytes=10_000)
    calls = []

    def make(n):
        calls.append(n)
        return render(str(n) * 3000, "text/plain")

    for n in (1, 2, 3):
        cache.get(("probe", n), lambda n=n: make(n))
    cache.get(("probe", 1), lambda: make(1))  # kept: asked again, now the most recent
    cache.get(("probe", 4), lambda: make(4))
    assert calls == [1, 2, 3, 4] and cache.nbytes <= 10_000
    assert ("probe", 1) in cache and ("probe", 4) in cache and ("probe", 2) not in cache


def test_a_data_change_makes_new_keys(tmp_path):
    """Every cached answer is keyed by the stored state: a new revision is a new key, no
    invalidation."""
    from test_store import make_app

    app = make_app(tmp_path / "atlas.sqlite3")
    svc = app.extensions["atlas"]
    calls = []
    with app.test_request_context("/"):
        svc.cached(("probe",), lambda: calls.append(1) or b"a")
        svc.cached(("probe",), lambda: calls.append(1) or b"a")
        head = svc.state()[0]
    assert len(calls) == 1
    with app.test_request_context("/", method="POST"):  # not a GET: the state is read afresh
        svc.store.record_judgment(
            {
                "town_id": "rudny",
                "scenarios": ["balanced"],
                "author": "probe",
                "date": "2026-01-01",
                "rationale": "probe",
                "source": "probe",
            },
            editor="probe",
        )
        assert svc.state()[0] > head
        svc.cached(("probe",), lambda: calls.append(1) or b"a")
    assert len(calls) == 2


def test_an_editors_page_is_never_shared(tmp_path):
    """A signed-in editor's page carries their name and CSRF token: not from, nor into, the shared
    cache."""
    from test_store import make_app, sign_in

    app = make_app(tmp_path / "atlas.sqlite3")
    visitor, editor = app.test_client(), app.test_client()
    before = visitor.get("/").get_data(as_text=True)
    token = sign_in(editor)
    mine = editor.get("/").get_data(as_text=True)
    assert "anna" in mine and token in mine
    after = visitor.get("/").get_data(as_text=True)
    assert (
        "anna" not in after
        and token not in after
        and 'id="sign-in"' in after
        and 'id="sign-in"' in before
    )


def test_vendor_scripts_and_styles_are_gzipped_with_an_etag(client, root):
    plain = root / "node_modules" / "leaflet" / "dist" / "leaflet.js"
    r = client.get("/vendor/leaflet/dist/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert (
        r.status_code == 200
        and r.headers["Content-Encoding"] == "gzip"
        and "javascript" in r.mimetype
    )
    assert gzip.decompress(r.data) == plain.read_bytes() and len(r.data) < plain.stat().st_size / 2
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    assert (
        client.get(
            "/vendor/leaflet/dist/leaflet.js", headers={"If-None-Match": r.headers["ETag"]}
        ).status_code
        == 304
    )
    assert client.get("/vendor/leaflet/dist/leaflet.css").mimetype == "text/css"
    with client.get(
        "/vendor/leaflet/dist/images/layers.png"
    ) as png:  # images as they are (a file response)
        assert png.mimetype == "image/png" and "Content-Encoding" not in png.headers
    for bad in (
        "/vendor/leaflet/dist/nope.js",
        "/vendor/leaflet/../leaflet.fullscreen/Control.FullScreen.js",
        "/vendor/leaflet/dist",
    ):
        with client.get(bad) as r:
            assert r.status_code == 404, bad


def test_layer_answers_are_gzipped_and_kept_for_a_year_only_when_versioned(client):
    import re

    html = client.get("/?lang=kk").get_data(as_text=True)
    url = json.loads(re.search(r'id="boot">(.*?)</script>', html, re.S).group(1))["layers"][
        "oblasts"
    ]
    r = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Cache-Control"].endswith(
        "immutable"
    )
    assert json.loads(gzip.decompress(r.data)) == client.get(url).get_json()
    unversioned = url.split("&v=")[0]
    again = client.get(unversioned, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == "no-cache"


def test_start_up_renders_the_first_page_once_and_writes_no_file(tmp_path, monkeypatch):
    """webapp.serve.warm: the default result and the first page made before listening (gunicorn's
    workers inherit them), kept in memory only: no file beside the database."""
    from test_store import make_app
    from webapp import serve

    app = make_app(tmp_path / "atlas.sqlite3")
    before = {p.name for p in tmp_path.rglob("*")}
    serve.warm(app)
    assert {p.name for p in tmp_path.rglob("*")} - before <= {"atlas.sqlite3-journal"}

    def no_run(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(app.extensions["atlas"].pipeline, "run", no_run)
    assert app.test_client().get("/?lang=en").status_code == 200


def test_a_change_through_one_worker_is_served_by_the_other(tmp_path):
    """Workers share only the database: each caches for itself, keyed by the head revision, so an
    import through one is in the other's next answer (two apps on one database stand for two
    gunicorn workers)."""
    from test_store import make_app, sign_in

    one, two = make_app(tmp_path / "atlas.sqlite3"), make_app(tmp_path / "atlas.sqlite3")
    reader, editor = two.test_client(), one.test_client()

    def rudny() -> str:
        towns = reader.get("/api/towns").get_json()["features"]
        return next(f for f in towns if f["id"] == "rudny")["properties"]["scenario"][
            "completeness"
        ]

    assert rudny() == "2/6" and rudny() == "2/6"  # the second from the reader's cache
    token = sign_in(editor)
    csv = "town,source,year,mono_output_share,mono_employment_share\nRudny,Akimat,2023,70,30\n"
    r = editor.post(
        "/api/statistics", data=csv, content_type="text/csv", headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert rudny() == "3/6"


def test_the_apps_json_is_orjson_with_the_standard_librarys_meaning(app):
    """webapp.http.JSON: compact, key order and UTF-8 kept, a non-finite float null (valid JSON),
    dates, dataclasses and numpy through Flask's rules; what orjson refuses (a lone surrogate, an
    integer beyond 64 bits) and other options (indent) by the standard library."""
    import dataclasses
    import datetime

    import numpy as np

    @dataclasses.dataclass
    class Point:
        x: float
        name: str

    provider = app.json
    value = {"b": 1, "a": [float("nan"), float("inf"), 1e-7, -0.0], "ж": "Қарағанды",
             "when": datetime.date(2026, 12, 7), "p": Point(1.5, "x"), "n": np.float64(2.5),
             3: "int key"}
    text = provider.dumps(value)
    assert text == ('{"b":1,"a":[null,null,1e-7,-0.0],"ж":"Қарағанды",'
                    '"when":"Mon, 07 Dec 2026 00:00:00 GMT","p":{"x":1.5,"name":"x"},"n":2.5,'
                    '"3":"int key"}')
    assert json.loads(provider.dumps(value, allow_nan=False))["a"][:2] == [None, None]
    with app.test_request_context():
        assert provider.response(value).get_data(as_text=True) == text + "\n"  # jsonify's path
    assert provider.dumps({"big": 2**70}) == '{"big": 1180591620717411303424}'  # the standard one
    assert provider.dumps({"s": "\ud800"}) == '{"s": "\ud800"}'
    assert provider.dumps({"a": 1}, indent=1) == '{\n "a": 1\n}'
