"""Anonymous writes are refused as unsigned-in, as the OpenAPI description says (issue 24, item 7).

Before: the CSRF check ran first, so an anonymous write without a token was a 400 ("missing or wrong
CSRF token") and its form body was parsed to look for the token; schemathesis' positive data check
expects 401 for a request without credentials.
"""

from __future__ import annotations

import io

import pytest

from test_store import csv_bytes, make_app, sign_in

ROWS = csv_bytes("Rudny,2023,doc,70,30")


class CountingStream(io.BytesIO):
    """A request body that counts what the server reads of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_bytes = 0

    def read(self, *args):
        out = super().read(*args)
        self.read_bytes += len(out)
        return out


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path / "atlas.sqlite3", NETWORKS_ROOT=str(tmp_path / "networks"))


def _head(app) -> int:
    return app.extensions["store"].revisions()[0].id


@pytest.mark.parametrize(
    "method,path,kwargs",
    [
        ("post", "/api/statistics", {"data": ROWS, "content_type": "text/csv"}),
        (
            "post",
            "/api/statistics",
            {"data": {"file": (io.BytesIO(ROWS), "s.csv")}, "content_type": "multipart/form-data"},
        ),
        ("delete", "/api/statistics", {}),
        ("post", "/api/statistics/rollback", {"json": {"revision": 1}}),
    ],
)
def test_anonymous_api_writes_are_401(app, method, path, kwargs):
    before = _head(app)
    r = getattr(app.test_client(), method)(path, **kwargs)
    assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
    assert "sign in" in r.get_json()["message"]
    assert _head(app) == before


@pytest.mark.parametrize(
    "path",
    [
        "/data/import",
        "/judgments",
        "/history/1/rollback",
        "/judgments/1/withdraw",
        "/networks/x/delete",
    ],
)
def test_anonymous_page_writes_go_to_the_sign_in_page(app, path):
    r = app.test_client().post(path, data={"town": "rudny", "reason": "x"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_an_anonymous_write_body_is_not_read(app):
    body = CountingStream(b"csrf_token=x&" + b"a" * 1_000_000)
    r = app.test_client().post(
        "/api/statistics",
        input_stream=body,
        content_length=len(body.getvalue()),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 401 and body.read_bytes == 0


def test_an_editor_still_needs_the_token_and_the_origin(app):
    client = app.test_client()
    token = sign_in(client)
    before = _head(app)
    r = client.post("/api/statistics", data=ROWS, content_type="text/csv")
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]
    r = client.delete("/api/statistics", headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 400
    r = client.delete(
        "/api/statistics", headers={"X-CSRF-Token": token, "Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    assert _head(app) == before
    assert client.delete("/api/statistics", headers={"X-CSRF-Token": token}).status_code == 200


def test_a_cross_origin_anonymous_write_is_403(app):
    r = app.test_client().delete("/api/statistics", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_sign_in_itself_still_needs_the_token(app):
    from test_store import PASSWORD

    r = app.test_client().post("/login", data={"name": "anna", "password": PASSWORD})
    assert r.status_code == 400
