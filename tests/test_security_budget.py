"""Per-request budget (issue 24, item 3): the catchments layer is sent only when asked and capped.

The cap is on road pieces (each a line of two points), counted before the answer is serialised; the
shipped network has 182 at the defaults and 341 at ``fua_minutes=720``.
"""

from __future__ import annotations

import pytest

URL = "/api/layers/catchments.geojson"


def _app(tmp_path, **config):
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}",
            "SECRET_KEY": "test",
            "NETWORKS_ROOT": str(tmp_path / "networks"),
            **config,
        }
    )


def _pieces(fc: dict) -> int:
    """Pieces counted independently of the app: the lines of every feature's MultiLineString."""
    return sum(len(f["geometry"]["coordinates"]) for f in fc["features"])


@pytest.fixture()
def shipped_pieces(tmp_path):
    """Pieces of the shipped network's catchments at the defaults and at fua_minutes 720, from an
    app without a limit."""
    client = _app(tmp_path / "free", MAX_CATCHMENT_PIECES=0).test_client()
    out = {}
    for minutes in (60, 720):
        r = client.get(URL, query_string={"fua_minutes": minutes})
        assert r.status_code == 200
        out[minutes] = _pieces(r.get_json())
    assert out[60] < out[720]
    return out


def test_catchments_beyond_the_limit_are_413_naming_limit_and_value(tmp_path, shipped_pieces):
    limit = shipped_pieces[60]  # the defaults fit exactly; 720 minutes do not
    client = _app(tmp_path, MAX_CATCHMENT_PIECES=limit).test_client()
    ok = client.get(URL, query_string={"fua_minutes": 60})
    assert ok.status_code == 200 and _pieces(ok.get_json()) == limit
    r = client.get(URL, query_string={"fua_minutes": 720})
    assert r.status_code == 413 and r.mimetype == "application/json"
    body = r.get_json()
    assert body["limit"] == {"name": "MAX_CATCHMENT_PIECES", "value": limit}
    assert body["value"] == shipped_pieces[720]
    assert str(limit) in body["message"] and str(shipped_pieces[720]) in body["message"]
    assert "road pieces" in body["message"]


@pytest.mark.parametrize(
    "lang,word", [("ru", "участков дорог"), ("kk", "жол бөлігі"), ("en", "road pieces")]
)
def test_the_refusal_is_in_the_request_language(tmp_path, lang, word):
    client = _app(tmp_path, MAX_CATCHMENT_PIECES=1).test_client()
    r = client.get(URL, query_string={"fua_minutes": 720, "lang": lang})
    assert r.status_code == 413 and word in r.get_json()["message"]


def test_the_limit_has_a_default_and_reads_the_environment(tmp_path, monkeypatch):
    app = _app(tmp_path / "a")
    assert app.config["MAX_CATCHMENT_PIECES"] == 100_000
    assert app.test_client().get(URL, query_string={"fua_minutes": 720}).status_code == 200
    monkeypatch.setenv("MAX_CATCHMENT_PIECES", "7")
    assert _app(tmp_path / "b").config["MAX_CATCHMENT_PIECES"] == 7


def test_catchments_are_only_built_when_their_layer_is_asked(tmp_path, monkeypatch):
    """The towns answer and a recompute do not build the catchments (only their layer does)."""
    from scoring.pipeline import Pipeline

    calls = []
    real = Pipeline.catchments
    monkeypatch.setattr(
        Pipeline, "catchments", staticmethod(lambda atlas: calls.append(1) or real(atlas))
    )
    client = _app(tmp_path).test_client()
    assert client.get("/api/towns", query_string={"fua_minutes": 75}).status_code == 200
    assert client.post("/api/recompute", json={"fua_minutes": 80}).status_code == 200
    assert calls == []
    assert client.get(URL, query_string={"fua_minutes": 80}).status_code == 200
    assert calls


def test_the_refusal_is_described_in_the_openapi_document(tmp_path):
    client = _app(tmp_path, MAX_CATCHMENT_PIECES=1).test_client()
    doc = client.get("/api/openapi.json").get_json()
    described = doc["paths"]["/api/layers/{name}.geojson"]["get"]["responses"]["413"]
    r = client.get(URL, query_string={"fua_minutes": 720})
    schema = described["content"]["application/json"]["schema"]
    body = r.get_json()
    assert set(schema["required"]) <= set(body)
    assert set(schema["properties"]["limit"]["required"]) <= set(body["limit"])


# -- planned roads: routing work (roads x network edges) bounded before anything is computed -------

ONE_ROAD = [{"from": "Karazhal", "to": "Zhezkazgan"}]
TWO_ROADS = [*ONE_ROAD, {"from": [67.7, 47.8], "to": "Zhezkazgan"}]


def _shipped_edges(client) -> int:
    """The shipped network's edges as GET /api/networks reports them."""
    versions = client.get("/api/networks").get_json()["versions"]
    return next(v["edges"] for v in versions if v["name"] == "shipped")


def test_planned_roads_beyond_the_work_limit_are_422(tmp_path):
    import json

    probe = _app(tmp_path / "probe").test_client()
    edges = _shipped_edges(probe)
    client = _app(tmp_path, MAX_PLANNED_ROAD_EDGES=edges).test_client()  # one road allowed
    assert client.post("/api/recompute", json={"planned_roads": ONE_ROAD}).status_code == 200
    r = client.post("/api/recompute", json={"planned_roads": TWO_ROADS})
    assert r.status_code == 422
    body = r.get_json()
    assert body["limit"] == {"name": "MAX_PLANNED_ROAD_EDGES", "value": edges}
    assert body["value"] == 2 * edges and "planned_roads" in body["fields"]
    assert f"{edges} edges" in body["message"] and "at most 1 planned roads" in body["message"]
    query = {"planned_roads": json.dumps(TWO_ROADS)}
    for path in ("/api/towns", "/api/popups", "/api/layers/catchments.geojson", "/api/export.csv"):
        assert client.get(path, query_string=query).status_code == 422, path
    page = client.get("/", query_string=query | {"lang": "ru"})
    assert page.status_code == 422 and "не более 1 планируемых дорог" in page.get_data(as_text=True)
    assert (
        client.get("/api/towns", query_string={"planned_roads": json.dumps(ONE_ROAD)}).status_code
        == 200
    )


def test_the_work_limit_has_a_default_and_reads_the_environment(tmp_path, monkeypatch):
    app = _app(tmp_path / "a")
    assert app.config["MAX_PLANNED_ROAD_EDGES"] == 10_000_000
    r = app.test_client().post("/api/recompute", json={"planned_roads": TWO_ROADS})
    assert r.status_code == 200  # 2 x a few hundred edges
    monkeypatch.setenv("MAX_PLANNED_ROAD_EDGES", "5")
    assert _app(tmp_path / "b").config["MAX_PLANNED_ROAD_EDGES"] == 5


def test_planned_road_work_is_roads_times_edges():
    from geo.params import parse_params
    from webapp.security import planned_road_work

    params = parse_params({"planned_roads": TWO_ROADS})
    assert planned_road_work(params, 2_000_000) == 4_000_000
    assert planned_road_work(parse_params({}), 2_000_000) == 0


def test_the_refusals_are_described_where_parameters_are_taken(tmp_path):
    doc = _app(tmp_path).test_client().get("/api/openapi.json").get_json()["paths"]
    for path, method in (
        ("/api/recompute", "post"),
        ("/api/towns", "get"),
        ("/api/towns/{tid}", "get"),
        ("/api/popups", "get"),
        ("/api/layers/{name}.geojson", "get"),
        ("/api/export.{fmt}", "get"),
    ):
        assert {"422", "429"} <= set(doc[path][method]["responses"]), path
