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
    assert tiny_client.get("/town/aksu").status_code == 404  # a shipped town is not in this data root


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
    fc = tiny_client.post("/api/recompute", json={"near_km": 20, "planned_roads": [
        {"from": "Offtown", "to": "Bigcity", "class": "republican"}]}).get_json()
    assert fc["parameters"]["spatial"]["near_km"] == 20
    assert fc["planned"][0]["class"] == "republican"
    again = tiny_client.get("/api/towns?" + fc["permalink_query"]).get_json()
    assert again["parameters"] == fc["parameters"]


@pytest.mark.parametrize("body,field", [
    ({"near_km": "9" * 400}, "near_km"),
    ({"fua_minutes": -1}, "fua_minutes"),
    ({"planned_roads": [{"from": "Nowhere", "to": "Bigcity"}]}, "planned_roads"),
    ({"planned_roads": "[" * 5000}, "planned_roads"),
])
def test_bad_parameters_are_400_naming_the_field(tiny_client, body, field):
    r = tiny_client.post("/api/recompute", json=body)
    assert r.status_code == 400 and field in r.get_json()["fields"]


def test_many_unknown_keys_give_a_short_answer(tiny_client):
    r = tiny_client.post("/api/recompute", json={f"k{i}": i for i in range(5000)})
    assert r.status_code == 400 and len(r.get_data()) < 10_000
    assert "_more" in r.get_json()["fields"]


def test_exports_carry_every_input(tiny_client, tmp_path, method):
    df = pd.read_csv(io.StringIO(tiny_client.get("/api/export.csv").get_data(as_text=True)), comment="#")
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
