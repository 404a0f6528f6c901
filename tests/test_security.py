"""Security and reliability: headers and the CSP (no inline script), static serving confined to its
packages, input limits (no 500 from any input), the "no large city qualifies" state, escaping, and
thread safety of the results cache and the statistics import (signed-in editors with the CSRF token;
see also test_store.py)."""

import io
import json
import re
import threading

import pytest

from test_store import make_app, sign_in
from webapp.security import (
    MAX_JSON_DEPTH,
    BodyError,
    content_security_policy,
    json_depth,
    load_json_body,
)

GOOD = "town,source,year,mono_output_share,mono_employment_share\nRudny,{source},2023,{share},30\n"
PAGES = [
    "/",
    "/town/temirtau",
    "/api/towns",
    "/api/openapi.json",
    "/vendor/leaflet/dist/leaflet.js",
    "/static/app.js",
    "/town/atlantis",
    "/api/towns/atlantis",
    "/api/recompute",
]


@pytest.fixture()
def sec_app(tmp_path):
    """A new app and database for each test (flaskr): imports here never leak into other tests."""
    return make_app(tmp_path / "atlas.sqlite3")


class Editor:
    """A signed-in test client that sends the session's CSRF token with every write (unless told not
    to)."""

    def __init__(self, client):
        self.client, self.token = client, sign_in(client)

    def get(self, *a, **kw):
        return self.client.get(*a, **kw)

    def _write(self, method, *a, csrf=True, headers=None, **kw):
        headers = dict(headers or {})
        if csrf:
            headers.setdefault("X-CSRF-Token", self.token)
        return getattr(self.client, method)(*a, headers=headers, **kw)

    def post(self, *a, **kw):
        return self._write("post", *a, **kw)

    def delete(self, *a, **kw):
        return self._write("delete", *a, **kw)


@pytest.fixture()
def sc(sec_app):
    return Editor(sec_app.test_client())


def head(app) -> int:
    return app.extensions["store"].head()


def get(client, url, **kw):
    with client.get(url, **kw) as r:
        r.get_data()
        return r


# -- headers and the CSP --------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_security_headers_on_every_response(sc, url):
    h = get(sc, url).headers
    csp = h["Content-Security-Policy"]
    assert (
        "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    )
    assert re.search(r"script-src 'self'(;|$)", csp), csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "url", ["/", "/town/temirtau", "/town/balkhash?large_city_min_pop=5000000"]
)
def test_every_script_is_a_file_of_this_app(sc, url):
    """``script-src 'self'`` suffices: no inline script, every script a same-origin file that
    answers."""
    html = get(sc, url).get_data(as_text=True)
    tags = [t for t in re.findall(r"<script\b[^>]*>", html) if 'type="application/json"' not in t]
    assert len(tags) >= 3
    for tag in tags:
        src = re.search(r'src="(/[^"]+)"', tag)
        assert src, tag
        assert get(sc, src.group(1).replace("&amp;", "&")).status_code == 200, tag
    assert not re.search(r"<script>(?!</script>)", html)


def test_no_inline_event_handlers_or_javascript_urls(sc):
    for url in ("/", "/town/temirtau"):
        html = get(sc, url).get_data(as_text=True)
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html) and "javascript:" not in html


def test_policy_text():
    csp = content_security_policy()
    assert (
        "script-src 'self';" in csp and "connect-src 'self'" in csp and "form-action 'self'" in csp
    )


# -- no cross-site writes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.localhost"},
        {"Origin": "null"},
    ],
)
def test_cross_site_writes_are_refused_and_change_nothing(sc, sec_app, headers):
    """Even a signed-in editor's browser sending the token is refused when the request comes from
    another site."""
    text = GOOD.format(source="evil", share=99)
    before = head(sec_app)
    r = sc.post(
        "/api/statistics",
        data={"file": (io.BytesIO(text.encode()), "evil.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert r.status_code == 403 and head(sec_app) == before
    assert (
        sc.post(
            "/api/statistics", data=text, content_type="text/plain", headers=headers
        ).status_code
        == 403
    )
    assert sc.post("/api/recompute", json={"near_km": 5}, headers=headers).status_code == 403
    assert (
        sc.post(
            "/api/statistics", data=GOOD.format(source="ok", share=50), content_type="text/csv"
        ).status_code
        == 200
    )
    after_import = head(sec_app)
    assert sc.delete("/api/statistics", headers=headers).status_code == 403
    assert head(sec_app) == after_import  # the delete was refused too
    assert get(sc, "/api/towns", headers=headers).status_code == 200  # reading is not a write


def test_same_origin_writes_pass(sc):
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    text = GOOD.format(source="ok", share=50)
    assert (
        sc.post("/api/statistics", data=text, content_type="text/csv", headers=same).status_code
        == 200
    )
    assert sc.delete("/api/statistics", headers=same).status_code == 200


def test_writes_need_an_editor_and_the_token(sec_app, sc):
    text = GOOD.format(source="ok", share=50).encode()
    anonymous, before = sec_app.test_client(), head(sec_app)
    assert anonymous.post("/api/statistics", data=text, content_type="text/csv").status_code in (
        400,
        401,
    )
    assert head(sec_app) == before
    assert (
        sc.post("/api/statistics", data=text, content_type="text/csv", csrf=False).status_code
        == 400
    )


# -- /vendor stays inside its packages -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/vendor/leaflet/../.package-lock.json",
        "/vendor/leaflet/../leaflet.fullscreen/package.json",
        "/vendor/leaflet/%2e%2e/.package-lock.json",
        "/vendor/leaflet/..%2f.package-lock.json",
        "/vendor/leaflet/../../requirements.txt",
        "/vendor/leaflet//etc/passwd",
        "/vendor/..%2frequirements.txt",
        "/vendor/leaflet/dist/../../../pyproject.toml",
        "/vendor/leaflet",
        "/vendor/leaflet/",
        "/vendor/evil/x.js",
    ],
)
def test_vendor_cannot_leave_its_package(sc, url):
    assert get(sc, url).status_code == 404


def test_vendor_serves_inside_packages(sc):
    for url in (
        "/vendor/leaflet/dist/leaflet.js",
        "/vendor/leaflet/package.json",
        "/vendor/leaflet.fullscreen/Control.FullScreen.css",
    ):
        assert get(sc, url).status_code == 200, url


# -- limits: no 500 from any input ---------------------------------------------------------------


def test_huge_number_is_400_not_overflow(sc):
    r = get(sc, "/api/towns?fua_minutes=" + "9" * 400)
    assert r.status_code == 400 and "fua_minutes" in r.get_json()["fields"]
    r = sc.post("/api/recompute", json={"near_km": int("9" * 400)})
    assert r.status_code == 400 and "near_km" in r.get_json()["fields"]
    assert (
        get(sc, "/?near_km=" + "9" * 400).status_code == 200
    )  # the page shows the message, defaults used


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        json.dumps(
            {
                "planned_roads": [
                    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                ]
            }
        ),
        '"\\ud800"',
        "\xff\xfe{",
        '{"fua_minutes": NaN}',
    ],
)
def test_hostile_json_bodies_are_400(sc, body):
    data = body.encode("latin-1") if body.startswith("\xff") else body.encode()
    r = sc.post("/api/recompute", data=data, content_type="application/json")
    fields = r.get_json()["fields"]
    assert r.status_code == 400 and ("body" in fields or "fua_minutes" in fields), fields


def test_json_depth_counted_without_recursion():
    deep = []
    for _ in range(10_000):
        deep = [deep]
    assert json_depth(deep) == 10_001 and json_depth(1) == 0 and json_depth({"a": [1]}) == 2
    assert load_json_body(b'{"planned_roads": [{"from": [1, 2]}]}') == {
        "planned_roads": [{"from": [1, 2]}]
    }
    with pytest.raises(BodyError, match=f"deeper than {MAX_JSON_DEPTH}"):
        load_json_body(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


def test_unknown_keys_give_a_short_answer(sc):
    body = json.dumps({f"unknown_parameter_{i:08d}": 1 for i in range(60_000)})
    assert len(body) > 1_700_000
    r = sc.post("/api/recompute", data=body, content_type="application/json")
    assert r.status_code == 400 and len(r.get_data()) < 20_000
    assert "_more" in r.get_json()["fields"]
    r = get(sc, "/api/towns?" + "&".join(f"k{i}=1" for i in range(3000)))
    assert r.status_code == 400 and len(r.get_data()) < 20_000
    r = sc.post("/api/recompute", json={"corridor_line_types": [str(i) for i in range(200_000)]})
    assert (
        r.status_code == 400
        and len(r.get_data()) < 20_000
        and "corridor_line_types" in r.get_json()["fields"]
    )


def test_request_size_limits(sc):
    r = get(sc, "/api/towns?planned_roads=" + "x" * 70_000)
    assert r.status_code == 414 and r.get_json()["error"]
    assert get(sc, "/?x=" + "y" * 70_000).status_code == 414
    r = sc.post(
        "/api/recompute",
        data=b"{" + b" " * (3 * 1024 * 1024) + b"}",
        content_type="application/json",
    )
    assert r.status_code == 413
    big = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        + b"town,source,period\n"
        + b"x" * (3 * 1024 * 1024)
        + b"\r\n--B--\r\n"
    )
    before = head(sc.client.application)
    r = sc.post("/api/statistics", data=big, content_type="multipart/form-data; boundary=B")
    assert r.status_code == 413 and head(sc.client.application) == before


def test_upload_problems_are_capped(sc):
    rows = "".join(f"Rudny{i},doc,2023,150\n" for i in range(1_500))
    r = sc.post(
        "/api/statistics",
        data=("town,source,year,mono_output_share\n" + rows).encode(),
        content_type="text/csv",
    )
    assert r.status_code == 400 and len(r.get_data()) < 50_000
    assert len(r.get_json()["problems"]) <= 101
    cols = ",".join(f"c{i}" for i in range(50_000))
    r = sc.post(
        "/api/statistics",
        data=("town,source,year," + cols + "\n").encode(),
        content_type="text/csv",
    )
    assert r.status_code == 400 and len(r.get_data()) < 50_000
    name = "n" * 5000 + ".csv"
    r = sc.post(
        "/api/statistics",
        data={"file": (io.BytesIO(b"town\n"), name)},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and len(r.get_data()) < 50_000


def test_long_path_echo_is_clipped(sc):
    r = get(sc, "/api/towns/" + "a" * 5000)
    assert r.status_code == 404 and len(r.get_json()["message"]) <= 300
    r = get(sc, "/town/" + "<u>x" * 2000)
    assert (
        r.status_code == 404
        and "<u>x" not in r.get_data(as_text=True)
        and len(r.get_data()) < 20_000
    )


# -- inside the documented ranges nothing crashes: "no large city qualifies" ---------------------


@pytest.mark.parametrize(
    "query",
    [
        "large_city_min_pop=5000000",
        "snap_km=0",
        "large_city_statuses=republican&large_city_min_pop=5000000&on_network_km=0",
        "fua_minutes=1&near_km=1&corridor_km=0.1&corridor_min_lines=10",
    ],
)
def test_extreme_parameters_render_everywhere(sc, query):
    for url in (
        "/",
        "/town/temirtau",
        "/town/rudny",
        "/town/karazhal",
        "/api/towns",
        "/api/towns/balkhash",
        "/api/export.csv",
        "/api/export.geojson",
        "/api/export.zip",
    ):
        assert get(sc, f"{url}?{query}").status_code == 200, url
    assert (
        sc.post(
            "/api/recompute",
            json={
                k: json.loads(v) if v[0].isdigit() else v.split(",")
                for k, v in (p.split("=") for p in query.split("&"))
            },
        ).status_code
        == 200
    )


def test_no_large_city_is_a_reported_state(sc):
    q = "large_city_min_pop=5000000"
    a = get(sc, f"/api/towns/temirtau?{q}").get_json()["properties"]["agglomeration"]
    assert a["nearest_large_city"] is None and a["aggl_near_large_city"] == 0
    assert a["reasons"]["near_large_city"].startswith("no large city qualifies at these parameters")
    assert "No large city qualifies at these parameters" in get(sc, f"/town/temirtau?{q}").get_data(
        as_text=True
    )
    assert "ни один город не считается крупным" in get(sc, f"/town/temirtau?{q}&lang=ru").get_data(
        as_text=True
    )
    side = get(
        sc, f"/api/export.params.json?{q}"
    ).get_json()  # the CSV is plain; its parameters: the sidecar
    assert side["parameters"]["spatial"]["large_city_min_pop"] == 5000000


# -- hostile text is escaped; rejected uploads change nothing ------------------------------------


def test_hostile_source_text_is_escaped_everywhere(sc):
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    text = GOOD.format(source=f'"{evil}"', share=70)
    r = sc.post(
        "/api/statistics",
        data={"file": (io.BytesIO(text.encode()), "<b>x</b>.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
    for url in ("/", "/town/rudny"):
        html = get(sc, url).get_data(as_text=True)
        assert (
            "<script>alert(1)" not in html and "<img src=x" not in html and "<b>x</b>" not in html
        )
    assert "&lt;script&gt;alert(1)" in get(sc, "/town/rudny").get_data(as_text=True)


# -- threads: no stale answer stored, imports whole, deletes safe --------------------------------


@pytest.fixture()
def atlas(sec_app):
    return sec_app.extensions["atlas"]


def completeness(result: dict, tid: str) -> str:
    return next(t for t in result["towns"] if t["id"] == tid)["scenario"]["completeness"]


def test_answer_computed_before_a_data_change_is_not_stored(atlas, monkeypatch):
    """The race: a request computes with the old statistics, an import lands meanwhile, the request
    finishes."""
    atlas.results()  # the snapshot of before is taken
    atlas.cache.clear()
    started, proceed, real_run = threading.Event(), threading.Event(), atlas.pipeline.run

    def slow_run(params, **kw):
        out = real_run(params, **kw)  # computed with the statistics of before the import
        started.set()
        assert proceed.wait(30)
        return out

    monkeypatch.setattr(atlas.pipeline, "run", slow_run)
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("old", atlas.results()))
    th.start()
    assert started.wait(60)
    monkeypatch.setattr(atlas.pipeline, "run", real_run)
    atlas.import_file(
        GOOD.format(source="Akimat", share=70).encode(), "new.csv", editor="anna"
    )  # the data change
    proceed.set()
    th.join(60)
    assert (
        completeness(result["old"], "rudny") == "2/6"
    )  # the race did happen: an answer from before
    assert completeness(atlas.results(), "rudny") == "3/6"  # every later request sees the import


def test_many_threads_one_change_every_answer_fresh_afterwards(atlas):
    errors, barrier = [], threading.Barrier(9)

    def reader():
        barrier.wait()
        try:
            for _ in range(3):
                atlas.results()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def writer():
        barrier.wait()
        atlas.import_file(GOOD.format(source="Akimat", share=70).encode(), "new.csv", editor="anna")

    threads = [threading.Thread(target=reader) for _ in range(8)] + [
        threading.Thread(target=writer)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert errors == [] and completeness(atlas.results(), "rudny") == "3/6"


def test_parallel_deletes_and_imports_over_http(sec_app):
    """Twelve editors at once: imports and restores all answer, each is one whole revision."""
    clients = [Editor(sec_app.test_client()) for _ in range(12)]
    barrier, codes = threading.Barrier(12), []
    before = head(sec_app)

    def call(i):
        barrier.wait()
        if i % 3 == 0:
            text = GOOD.format(source=f"r{i}", share=50)
            r = clients[i].post(
                "/api/statistics",
                data={"file": (io.BytesIO(text.encode()), f"h{i}.csv")},
                content_type="multipart/form-data",
            )
        else:
            r = clients[i].delete("/api/statistics")
        codes.append(r.status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert codes == [200] * 12
    assert head(sec_app) == before + 12  # every call one revision, none lost


# -- a corrupt stored database -------------------------------------------------------------------


def test_corrupt_database_is_set_aside_and_noted(tmp_path, caplog):
    from webapp import create_app

    db = tmp_path / "atlas.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    with caplog.at_level("ERROR", logger="webapp.model"):
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "t"})
    assert "set aside as atlas.sqlite3.corrupt" in caplog.text
    assert (tmp_path / "atlas.sqlite3.corrupt").read_bytes().startswith(b"this is not")
    client = app.test_client()
    assert (
        client.get("/api/statistics").get_json()["revision"] == 1
    )  # the shipped data, in a new store
    html = client.get("/").get_data(as_text=True)
    assert 'id="data-note"' in html and "atlas.sqlite3.corrupt" in html
