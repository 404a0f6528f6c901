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


def test_map_page_cached_and_conditional(client):
    first = client.get("/?lang=kk")
    assert first.status_code == 200 and b"<html" in first.data.lower()
    again = client.get("/?lang=kk", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_other_pages_get_etag_and_gzip(client):
    r = client.get("/town/temirtau", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert client.get("/town/temirtau", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304


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
