"""The whole web app on the SYNTHETIC tiny data root: pages, API, exports and bad input, without the
national network (create_app(DATA_DIR=...) points every source at another data root)."""

import io

import pandas as pd
import pytest


def test_index_and_town_pages(tiny_client):
    html = tiny_client.get("/").get_data(as_text=True)
    assert "Ontown" in html and "Offtown" in html and "Fartown" in html
    page = tiny_client.get("/town/ontown").get_data(as_text=True)
    assert "SYNTHETIC test value" in page and "a synthetic judgment for the tests" in page
    assert (
        tiny_client.get("/town/aksu").status_code == 404
    )  # a shipped town is not in this data root


def test_api_scores_the_tiny_towns(tiny_client):
    fc = tiny_client.get("/api/towns").get_json()
    by = {f["id"]: f["properties"] for f in fc["features"]}
    assert set(by) == {"ontown", "offtown", "fartown"}
    on = by["ontown"]
    assert on["scenario"]["completeness"] == "6/6" and on["scenario"]["provisional"] is False
    assert on["expert"]["scenarios"] == ["innovative"]
    # Ontown copies Temirtau's printed inputs: the same recomputed indices
    assert on["indices"]["economy_social"] == pytest.approx((18.7 * 49.075) ** 0.5)
    assert on["agglomeration"]["nearest_large_city"] == "Smallcity"
    assert by["fartown"]["agglomeration"]["unroutable"]
    assert by["fartown"]["provenance"]["aggl_in_fua"]["status"] == "missing"
    assert by["offtown"]["provenance"]["special_raw_materials"]["status"] == "missing"


def test_unreachable_city_set_is_a_reported_state(tiny_client):
    fc = tiny_client.get("/api/towns?large_city_min_pop=5000000").get_json()
    on = next(f for f in fc["features"] if f["id"] == "ontown")["properties"]
    assert on["agglomeration"]["nearest_large_city"] is None
    assert "no large city qualifies" in on["provenance"]["aggl_near_large_city"]["source"]
    assert tiny_client.get("/?large_city_min_pop=5000000").status_code == 200
    assert tiny_client.get("/town/ontown?large_city_min_pop=5000000").status_code == 200
    assert tiny_client.get("/api/export.csv?large_city_min_pop=5000000").status_code == 200


def test_recompute_and_permalink_round_trip(tiny_client):
    fc = tiny_client.post(
        "/api/recompute",
        json={
            "near_km": 20,
            "planned_roads": [{"from": "Offtown", "to": "Bigcity", "class": "republican"}],
        },
    ).get_json()
    assert fc["parameters"]["spatial"]["near_km"] == 20
    assert fc["planned"][0]["class"] == "republican"
    again = tiny_client.get("/api/towns?" + fc["permalink_query"]).get_json()
    assert again["parameters"] == fc["parameters"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"near_km": "9" * 400}, "near_km"),
        ({"fua_minutes": -1}, "fua_minutes"),
        ({"planned_roads": [{"from": "Nowhere", "to": "Bigcity"}]}, "planned_roads"),
        ({"planned_roads": "[" * 5000}, "planned_roads"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(tiny_client, body, field):
    r = tiny_client.post("/api/recompute", json=body)
    assert r.status_code == 400 and field in r.get_json()["fields"]


def test_many_unknown_keys_give_a_short_answer(tiny_client):
    r = tiny_client.post("/api/recompute", json={f"k{i}": i for i in range(5000)})
    assert r.status_code == 400 and len(r.get_data()) < 10_000
    assert "_more" in r.get_json()["fields"]


def test_exports_carry_every_input(tiny_client, tmp_path, method):
    df = pd.read_csv(
        io.StringIO(tiny_client.get("/api/export.csv").get_data(as_text=True)), comment="#"
    )
    assert set(method.inputs) <= set(df.columns) and len(df) == 3
    import zipfile

    import geopandas as gpd

    (tmp_path / "x.zip").write_bytes(tiny_client.get("/api/export.zip").get_data())
    with zipfile.ZipFile(tmp_path / "x.zip") as z:
        z.extractall(tmp_path)
        key = dict(line.split(",") for line in z.read("fields.csv").decode().splitlines()[1:])
    g = gpd.read_file(tmp_path / "monotowns.shp")
    # every input of the method is in the shapefile, under its export name (investment included)
    assert {spec.export_name for spec in method.inputs.values()} <= set(g.columns)
    assert key["iv_jc"] == "inv_jobs_created"
    on = g[g["id"] == "ontown"].iloc[0]
    assert on["iv_jc"] == 741 and on["recommend"] == "innovative|diversification"


# -- issue 14: the map draws the selected network version's roads ----------------------------------


@pytest.fixture(scope="module")
def version_client(tmp_path_factory, tiny_root):
    """The tiny app with one imported version, 'winding' (the PBF of tests/test_versions.py)."""
    from geo.netimport import import_network, save_version
    from test_netimport import write_pbf
    from test_store import make_app
    from test_versions import NODES, WAYS

    root = tmp_path_factory.mktemp("layer_nets")
    save_version(
        import_network(write_pbf(tmp_path_factory.mktemp("pbf") / "winding.osm.pbf", NODES, WAYS)),
        "winding",
        root,
    )
    app = make_app(
        tmp_path_factory.mktemp("layer_db") / "atlas.sqlite3",
        DATA_DIR=str(tiny_root),
        NETWORKS_ROOT=str(root),
    )
    return app.test_client()


def page_layers(client, query=""):
    import json
    import re

    html = client.get("/" + query).get_data(as_text=True)
    return json.loads(
        re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.S).group(1)
    )["layers"]


def test_the_map_draws_the_selected_versions_roads(version_client):
    from geo.netimport import load_version

    shipped, winding = page_layers(version_client), page_layers(version_client, "?network=winding")
    assert "network=winding" in winding["roads"] and "network" not in shipped["roads"]
    assert winding["oblasts"] == shipped["oblasts"]  # the basemap is the same for every version
    mine = version_client.get(winding["roads"]).get_json()
    theirs = version_client.get(shipped["roads"]).get_json()
    app = version_client.application
    net = load_version("winding", app.config["NETWORKS_ROOT"])
    assert (
        len(mine["features"]) == int((net.u != net.v).sum())
        and mine["features"] != theirs["features"]
    )
    # each drawn edge joins two of the version's nodes (M-99 from the PBF), in a class the layer
    # control has
    ends = {(round(float(x), 4), round(float(y), 4)) for x, y in zip(net.lon, net.lat)}
    for f in mine["features"]:
        assert {tuple(c) for c in f["geometry"]["coordinates"]} <= ends
        assert f["properties"]["class"] in ("international", "republican", "oblast", "link")
    assert any("M-99" in f["properties"]["tip"] for f in mine["features"])
    rail = version_client.get(winding["railways"]).get_json()["features"]
    assert len(rail) == 1 and version_client.get(winding["corridors"]).get_json()["features"] == []
    # Apply in the planner: the answer names the version's layers, so the page re-fetches its roads
    payload = version_client.post("/api/recompute", json={"network": "winding"}).get_json()
    assert payload["layers"]["roads"] == winding["roads"]
    assert version_client.get("/api/layers/roads.geojson?network=nope").status_code == 400


def test_a_large_network_is_drawn_merged_simplified_and_within_a_budget():
    """SYNTHETIC: a 1,000-edge zigzag per class, limited (with low limits) as a much larger import
    would be."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from webapp.map.layers import limit_roads

    rows = []
    for k, cls in enumerate(("international", "republican", "oblast", "link")):
        x = np.linspace(60, 80, 1001)
        y = 45 + k + 0.0001 * (np.arange(1001) % 2)  # 11 m zigzags: nothing a 1:1M map can show
        for i in range(1000):
            rows.append(
                {
                    "class": cls,
                    "road_id": f"R{k}",
                    "name_ru": f"road {k}",
                    "geometry": shapely.LineString([(x[i], y[i]), (x[i + 1], y[i + 1])]),
                }
            )
    roads = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    same, done = limit_roads(roads)  # below the feature limit: as they are
    assert same is roads and done == {}
    drawn, done = limit_roads(roads, max_features=1000, max_vertices=10)
    assert list(drawn["class"]) == [
        "international",
        "republican",
        "oblast",
        "link",
    ]  # one merged road each
    assert done == {"simplified": 0.002, "omitted": {}}
    assert all(
        shapely.get_num_coordinates(g) == 2 for g in drawn.geometry
    )  # the zigzag simplified away
    assert drawn.geometry.iloc[0].length == pytest.approx(20, abs=1e-6)  # end to end: nothing lost
    drawn, done = limit_roads(roads, max_features=1000, max_vertices=5)
    assert list(drawn["class"]) == ["international", "republican"] and done["omitted"] == {
        "oblast": 1000,
        "link": 1000,
    }
