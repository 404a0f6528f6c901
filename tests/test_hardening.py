"""Issue 24, items 4 and 7: no 500 from lone surrogates, huge path integers or a database that
cannot be written (503 with a clear message); Permissions-Policy, ``no-store`` for signed-in
editors, trusted hosts, no server paths in public messages, NUL and bidi controls refused in
judgment texts."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event

from test_store import csv_bytes, make_app, sign_in
from webapp import trusted_hosts
from webapp.security import PERMISSIONS_POLICY, load_json_body, lone_surrogate, public_text

HUGE = 10**25  # the audit's id: beyond any 64-bit integer a database can hold
JUDGMENT = {
    "town": "rudny",
    "scenarios": ["diversification"],
    "author": "R. Expert",
    "date": "2026-05",
    "rationale": "Iron ore base",
    "source": "workshop notes",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("hardening") / "atlas.sqlite3")
    yield app
    app.extensions["store"].dispose()


@pytest.fixture()
def editor(app):
    client = app.test_client()
    return client, sign_in(client)


# -- M1: lone surrogates -------------------------------------------------------------------------

# planned_roads as JSON text in the query: "\ud800" is a valid JSON escape that decodes to half of
# a UTF-16 pair, which no UTF-8 answer can carry (before: UnicodeEncodeError, 500)
SURROGATE_ROADS = '[{"from": "\\ud800", "to": "Zhezkazgan"}]'


@pytest.mark.parametrize("path", ["/api/towns", "/api/towns/temirtau", "/api/popups"])
def test_lone_surrogate_in_planned_roads_query_is_400_naming_it(app, path):
    r = app.test_client().get(path, query_string={"planned_roads": SURROGATE_ROADS})
    assert r.status_code == 400
    assert "lone surrogate" in r.get_json()["fields"]["planned_roads"]


@pytest.mark.parametrize("path,status", [("/", 200), ("/networks/compare", 400)])
def test_lone_surrogate_in_planned_roads_on_pages_is_a_message(app, path, status):
    """The pages show a bad value beside its field (the map page keeps 200, as for any bad
    value)."""
    r = app.test_client().get(path, query_string={"planned_roads": SURROGATE_ROADS})
    assert r.status_code == status and "lone surrogate" in r.get_data(as_text=True)


def test_lone_surrogate_on_the_town_page_renders(app):
    r = app.test_client().get("/town/temirtau", query_string={"planned_roads": SURROGATE_ROADS})
    assert r.status_code == 200 and "\ud800" not in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "body,field",
    [
        (b'{"\\ud800": 1}', "body.?"),
        (b'{"fua_minutes": "\\ud800"}', "body.fua_minutes"),
        (b'{"planned_roads": "\\udfff"}', "body.planned_roads"),
        (
            b'{"planned_roads": [{"from": "Karazhal", "to": "x\\ud800y"}]}',
            "body.planned_roads[0].to",
        ),
        (
            b'{"planned_roads": [{"from": [67.5, 48.0], "to": "Zhezkazgan", "\\udc00": 1}]}',
            "body.planned_roads[0].?",
        ),
    ],
)
def test_lone_surrogate_in_a_json_body_is_400_naming_the_field(app, body, field):
    r = app.test_client().post("/api/recompute", data=body, content_type="application/json")
    assert r.status_code == 400
    message = r.get_json()["fields"]["body"]
    assert message.startswith(field) and "lone surrogate" in message
    r.get_data().decode("utf-8")  # the answer itself is valid UTF-8


def test_paired_surrogates_are_text():
    """A pair (an emoji) is valid text: only a lone half is refused."""
    assert load_json_body(b'{"note": "\\ud83d\\ude00"}') == {"note": "\U0001f600"}
    assert lone_surrogate({"a": ["ok", {"b": "\U0001f600"}]}) is None


# -- huge integers in paths ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/judgments/{HUGE}/withdraw", f"/history/{HUGE}/rollback"])
def test_huge_path_integer_in_a_write_is_404(editor, path):
    client, token = editor
    r = client.post(path, data={"csrf_token": token, "reason": "superseded"})
    assert r.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/history/{HUGE}",
        f"/api/statistics/revisions/{HUGE}",
        f"/history/{2**63}",
        f"/history/{2**63 - 1}",
    ],
)
def test_huge_path_integer_in_a_read_is_404(app, path):
    assert app.test_client().get(path).status_code == 404


# -- a database that cannot be written: 503, nothing changed -------------------------------------


def _sqlite_pragma(app, pragma: str):
    """Every new connection of the app's store runs ``pragma``; returns a function that undoes
    it."""
    engine = app.extensions["store"].engine

    def on_connect(dbapi_conn, _record):
        dbapi_conn.execute(pragma)

    engine.dispose()
    event.listen(engine, "connect", on_connect)

    def undo():
        event.remove(engine, "connect", on_connect)
        engine.dispose()

    return undo


@pytest.mark.parametrize(
    "pragma,what",
    [("PRAGMA query_only = ON", "read-only"), ("PRAGMA max_page_count = 1", "disk full")],
)
def test_unwritable_database_answers_503_with_a_clear_message(app, editor, pragma, what):
    """SQLite's own errors ("attempt to write a readonly database", "database or disk is full"),
    not a mock: the judgment form, the statistics API and the JSON rollback answer 503."""
    client, token = editor
    store = app.extensions["store"]
    head, judgments = store.head(), len(store.judgments())
    undo = _sqlite_pragma(app, pragma)
    long = JUDGMENT | {"rationale": "Iron ore base. " * 260}  # a record of more than one free page
    try:
        page = client.post("/judgments", data={"csrf_token": token, **long})
        api = client.post(
            "/api/statistics",
            data=csv_bytes("Rudny,2023,doc,70,30"),
            content_type="text/csv",
            headers={"X-CSRF-Token": token},
        )
        ru = client.post("/judgments?lang=ru", data={"csrf_token": token, **long})
        reading = client.get("/api/towns")
    finally:
        undo()
    assert page.status_code == 503 and page.headers["Retry-After"] == "60", what
    html = page.get_data(as_text=True)
    assert "Nothing was changed" in html and "read-only" in html and "disk is full" in html
    assert not re.search(r"/(tmp|work|home|srv)/", html) and "sqlite" not in html.lower()
    assert api.status_code == 503 and api.get_json()["error"] == "service unavailable"
    assert "Nothing was changed" in api.get_json()["message"]
    assert ru.status_code == 503 and "Ничего не изменено" in ru.get_data(as_text=True)
    assert reading.status_code == 200  # reading still works
    assert (store.head(), len(store.judgments())) == (head, judgments)


# -- item 7: headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/api/towns", "/vendor/leaflet/dist/leaflet.js", "/no-such-page"]
)
def test_permissions_policy_on_every_response(app, path):
    r = app.test_client().get(path)
    assert r.headers["Permissions-Policy"] == PERMISSIONS_POLICY
    assert "geolocation=()" in PERMISSIONS_POLICY and "camera=()" in PERMISSIONS_POLICY
    assert "fullscreen=(self)" in PERMISSIONS_POLICY  # the map's fullscreen button


@pytest.mark.parametrize(
    "path", ["/", "/data", "/judgments", "/networks", "/api/statistics", "/town/rudny"]
)
def test_signed_in_pages_are_not_stored_anonymous_ones_may_be(app, editor, path):
    client, _ = editor
    assert client.get(path).headers.get("Cache-Control") == "no-store"
    assert app.test_client().get(path).headers.get("Cache-Control") != "no-store"


def test_signed_in_assets_stay_cacheable(editor):
    client, _ = editor
    r = client.get("/vendor/leaflet/dist/leaflet.js")
    assert r.status_code == 200 and r.headers.get("Cache-Control") != "no-store"


# -- trusted hosts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host,status",
    [
        ("localhost", 200),
        ("127.0.0.1:5000", 200),
        ("evil.example", 400),
        ("localhost.evil.example", 400),
    ],
)
def test_only_trusted_hosts_are_answered(app, host, status):
    assert app.test_client().get("/api/params", headers={"Host": host}).status_code == status


def test_trusted_hosts_configuration():
    assert trusted_hosts(None, None) == ["127.0.0.1", "localhost"]
    assert trusted_hosts(None, "atlas.example.kz") == ["127.0.0.1", "localhost", "atlas.example.kz"]
    assert trusted_hosts(None, "localhost") == ["127.0.0.1", "localhost"]
    assert trusted_hosts(" atlas.kz, .gov.kz ", "0.0.0.0") == ["atlas.kz", ".gov.kz"]


def test_listening_on_every_address_warns_to_set_trusted_hosts(caplog):
    with caplog.at_level("WARNING", logger="webapp"):
        assert trusted_hosts(None, "0.0.0.0") == ["127.0.0.1", "localhost"]
    assert "set TRUSTED_HOSTS" in caplog.text


def test_trusted_hosts_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTED_HOSTS", "atlas.example.kz")
    app = make_app(tmp_path / "atlas.sqlite3")
    try:
        client = app.test_client()
        assert client.get("/api/params", headers={"Host": "atlas.example.kz"}).status_code == 200
        assert client.get("/api/params", headers={"Host": "localhost"}).status_code == 400
    finally:
        app.extensions["store"].dispose()


# -- no server paths in public messages ----------------------------------------------------------


@pytest.mark.parametrize(
    "text,shown",
    [
        (
            "version 'x' exists in /srv/atlas/instance/networks; choose another name",
            "version 'x' exists in networks; choose another name",
        ),
        (
            (
                "roads.gpkg could not be read ('/tmp/abc/.upload-1x/roads.gpkg' not recognized as a"
                " supported file)"
            ),
            "roads.gpkg could not be read ('roads.gpkg' not recognized as a supported file)",
        ),
        ("C:\\atlas\\instance\\roads.shp: bad", "roads.shp: bad"),
        ("12/5 of 1/2 lanes; 3 km/h", "12/5 of 1/2 lanes; 3 km/h"),
    ],
)
def test_server_paths_become_file_names(text, shown):
    assert public_text(text) == shown


def test_import_status_names_no_server_folder(tmp_path, monkeypatch):
    """A library failing with the staged file's full path (here Python's own FileNotFoundError for a
    shapefile's missing .shx): the public import status names the file, not where it was staged."""
    from webapp.pages import networks

    def import_network(path, progress=None):
        return open(path.with_suffix(".shx"), "rb")  # noqa: SIM115 - raises, as a reader would

    monkeypatch.setattr(networks, "import_network", import_network)
    folder = tmp_path / ".upload-test"
    folder.mkdir()
    shp = folder / "roads.shp"
    shp.write_bytes(b"\x00\x00\x27\x0a" + b"\x00" * 96)
    importer = networks.Importer(tmp_path)
    importer.start(shp, "broken", folder).join(timeout=60)
    status = importer.status()
    assert status["state"] == "failed" and "roads.shx" in status["message"], status
    assert str(tmp_path) not in json.dumps(status) and ".upload-test" not in status["message"]


# -- NUL and bidirectional controls in judgment texts ---------------------------------------------


@pytest.mark.parametrize("field", ["author", "rationale", "source", "date"])
@pytest.mark.parametrize("char", ["\x00", "\u202e", "\u2066", "\x1b"])
def test_control_characters_in_judgment_texts_are_refused(app, editor, field, char):
    client, token = editor
    store = app.extensions["store"]
    before = len(store.judgments())
    r = client.post("/judgments", data={"csrf_token": token, **JUDGMENT, field: f"ab{char}cd"})
    assert r.status_code == 400
    assert f"{field}: contains the control character U+{ord(char):04X}" in r.get_data(as_text=True)
    assert len(store.judgments()) == before


def test_control_characters_in_a_withdrawal_reason_are_refused(app, editor):
    client, token = editor
    assert client.post("/judgments", data={"csrf_token": token, **JUDGMENT}).status_code == 302
    jid = app.extensions["store"].judgments()[0]["id"]
    r = client.post(
        f"/judgments/{jid}/withdraw", data={"csrf_token": token, "reason": "done\u202eevil"}
    )
    assert r.status_code == 400 and "reason: contains the control character U+202E" in r.get_data(
        as_text=True
    )
    assert app.extensions["store"].judgments()[0]["active"]
    ok = client.post(
        f"/judgments/{jid}/withdraw", data={"csrf_token": token, "reason": "Қайта қаралды\nновое"}
    )
    assert ok.status_code == 302


# -- the OpenAPI description matches the app ------------------------------------------------------


def test_every_api_route_is_described(app):
    """Every /api route and method of the app is in /api/openapi.json, and nothing else is."""
    described = {
        (path, method)
        for path, ops in app.test_client().get("/api/openapi.json").get_json()["paths"].items()
        for method in ops
    }
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert described == routes


def test_described_parameters_match_the_parser(app):
    """A one-value choice is a string, a set a list, the network versions those the app has; the
    export documents xlsx and its spreadsheet options."""
    doc = app.test_client().get("/api/openapi.json").get_json()
    query = {p["name"]: p for p in doc["paths"]["/api/towns"]["get"]["parameters"]}
    assert query["fua_definition"]["schema"] == {
        "type": "string",
        "enum": ["travel_time", "official", "either"],
    }
    assert query["estimates"]["schema"]["enum"] == ["off", "on"]
    assert query["corridor_line_types"]["schema"]["type"] == "array"
    assert query["network"]["schema"]["enum"] == app.extensions["atlas"].pipeline.versions()
    assert query["planned_roads"]["content"]["application/json"]["schema"]["type"] == "array"
    export = doc["paths"]["/api/export.{fmt}"]["get"]
    names = {p["name"]: p for p in export["parameters"]}
    assert "xlsx" in names["fmt"]["schema"]["enum"] and names["headers"]["schema"]["enum"] == [
        "kk",
        "ru",
        "en",
    ]
    assert set(names["excel"]["schema"]["enum"]) == {"kk", "ru", "en"}
    town = doc["paths"]["/api/towns/{tid}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert {"official", "measures", "evidence"} <= set(town["required"])


# -- item 3: a per-client limit of new computations on the costly routes ---------------------------


def test_cost_limiter_counts_new_parameter_sets_per_client():
    from webapp.security import CostLimiter

    limiter = CostLimiter(3, window=60.0)
    assert [limiter.wait("a", k, now=0.0) for k in ("p1", "p2", "p3")] == [0.0, 0.0, 0.0]
    assert limiter.wait("a", "p4", now=10.0) == 50.0  # the oldest leaves the window at 60 s
    assert limiter.wait("a", "p2", now=10.0) == 0.0  # a set asked before: a cached answer, free
    assert limiter.wait("b", "p4", now=10.0) == 0.0  # another client has its own count
    assert limiter.wait("a", "p4", now=60.5) == 0.0  # p1 has left the window


@pytest.fixture()
def limited_app(tmp_path):
    app = make_app(tmp_path / "atlas.sqlite3", COSTLY_PER_MINUTE=3)
    yield app
    app.extensions["store"].dispose()


def test_recompute_and_exports_answer_429_with_retry_after(limited_app):
    client = limited_app.test_client()
    asks = [
        lambda m: client.post("/api/recompute", json={"fua_minutes": m}),
        lambda m: client.get("/api/export.params.json", query_string={"fua_minutes": m}),
    ]
    assert [asks[m % 2](m).status_code for m in (61, 62, 63)] == [200, 200, 200]
    for ask in asks:
        r = ask(90)
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
        assert "At most 3 new parameter sets per 60 s" in r.get_json()["message"]
    assert (
        client.post("/api/recompute", json={"fua_minutes": 61}).status_code == 200
    )  # asked before
    other = limited_app.test_client()
    r = other.post(
        "/api/recompute", json={"fua_minutes": 90}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert r.status_code == 200  # another client


def test_the_limit_is_on_by_default_and_configurable(tmp_path, monkeypatch):
    from webapp import create_app

    app = create_app({"TESTING": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}"})
    assert app.extensions["cost_limiter"].limit == 60
    app.extensions["store"].dispose()
    monkeypatch.setenv("COSTLY_PER_MINUTE", "0")
    app = create_app({"TESTING": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}"})
    assert "cost_limiter" not in app.extensions
    app.extensions["store"].dispose()


def test_every_route_that_computes_is_limited(limited_app):
    """Pages, their map scripts, popups, layers and the API's GETs compute a new parameter set as a
    recompute does (before: only recompute and the exports were limited)."""
    client = limited_app.test_client()
    for m in (61, 62, 63):
        assert client.get("/api/towns", query_string={"fua_minutes": m}).status_code == 200
    for path in (
        "/",
        "/town/rudny",
        "/api/towns",
        "/api/towns/rudny",
        "/api/popups",
        "/api/layers/access.geojson",
        "/api/layers/catchments.geojson",
        "/table",
        "/api/export.csv",
    ):
        r = client.get(path, query_string={"fua_minutes": 90})
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60, path
    assert client.post("/api/recompute", json={"fua_minutes": 90}).status_code == 429


def test_one_parameter_set_counts_once_across_routes(limited_app):
    """A page, its popups and layers, a recompute and an export of the same parameters: one set; the
    defaults, invalid parameters and the language count nothing."""
    client = limited_app.test_client()
    for m in (61, 62):
        assert client.get("/", query_string={"fua_minutes": m}).status_code == 200
        assert client.post("/api/recompute", json={"fua_minutes": m}).status_code == 200
        for path in ("/api/popups", "/api/layers/access.geojson", "/api/export.params.json"):
            assert (
                client.get(path, query_string={"fua_minutes": m, "lang": "kk"}).status_code == 200
            )
    for path in ("/", "/api/towns", "/table"):  # the defaults, and invalid parameters: not counted
        assert client.get(path).status_code == 200
        assert client.get(path, query_string={"fua_minutes": "x"}).status_code in (200, 400)
    assert client.get("/api/towns", query_string={"fua_minutes": 60}).status_code == 200  # default
    assert (
        client.get("/api/towns", query_string={"fua_minutes": 63}).status_code == 200
    )  # the third
    assert client.get("/api/towns", query_string={"fua_minutes": 64}).status_code == 429


@pytest.mark.parametrize(
    "lang,words",
    [
        ("en", "At most 3 new parameter sets"),
        ("ru", "Не более 3 новых наборов"),
        ("kk", "ең көбі 3 жаңа параметр"),
    ],
)
def test_the_refusal_is_in_the_request_language(limited_app, lang, words):
    client = limited_app.test_client()
    for m in (61, 62, 63):
        client.get("/api/towns", query_string={"fua_minutes": m})
    r = client.get("/api/towns", query_string={"fua_minutes": 90, "lang": lang})
    assert r.status_code == 429 and words in r.get_json()["message"]
    page = client.get("/", query_string={"fua_minutes": 90, "lang": lang})
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert words in page.get_data(as_text=True)
