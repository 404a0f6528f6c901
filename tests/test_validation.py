"""The shipped network held to independently published road distances (data/validation/)."""

import json
import subprocess
import sys

import pytest

from geo.agglomeration import SpatialModel
from geo.params import default_params, parse_params
from geo.validation import JUDGED, load_table, summary, validate


@pytest.fixture(scope="module")
def model():
    return SpatialModel()


@pytest.fixture(scope="module")
def results(model):
    return validate(model, default_params(), load_table())


def test_table_has_twenty_towns_with_sources():
    rows = load_table()
    assert len({r["town_id"] for r in rows}) >= 20
    assert all(r["source_url"] and r["quote"] and r["measure"] for r in rows)


def test_nearest_city_as_published(results):
    named = [r for r in results if r["nearest_published"]]
    wrong = [
        (r["town"], r["nearest_published"], r["nearest_derived"])
        for r in named
        if r["nearest_published"] != r["nearest_derived"]
    ]
    # every nearest city as published: Stepnogorsk, formerly routed to Kokshetau (no road Astana -
    # Stepnogorsk could be sourced), reaches Astana by a link of the published 185 km (issue 26)
    assert wrong == []


def test_road_km_within_15_percent_for_most_towns(results):
    s = summary(results)
    assert s["judged"] >= 20
    assert s["within_15pct"] / s["judged"] >= 0.7, [
        (r["town"], r["ratio"]) for r in results if r["verdict"] != "ok"
    ]
    assert s["median_error"] <= 0.15


def test_validation_golden_with_published_distance_links(results):
    """Golden (issue 26): 23 of 25 judged rows within 15 % (21 before).

    Altai and Serebryansk now hold the road operator's km-posts (KazAvtoZhol: Altai km 166,
    Serebryansk km 66 on the Ust-Kamenogorsk - Altai road), stated by road, instead of a travel
    blog's 200 km and a machine translation's 120 km (named in the rows' notes); the network takes
    its R_UK_RAH section lengths (66 + 100 km) from the same km-posts, so both rows are no
    independent check and are counted apart with the three links of published length: 18 of 20
    without them. Two are left: Zhanaozen (200 'almost', a blog; no figure by road found, the ~150
    km ones are not said to be by road) and Lisakovsk (105 km, shorter than the straight line to
    Kostanay, about 107 km, so no road distance; no road figure found).
    """
    s = summary(results)
    by = {r["town"]: r for r in results}
    assert (s["judged"], s["within_15pct"]) == (25, 23)
    assert (s["judged_independent"], s["within_15pct_independent"]) == (20, 18)
    assert (s["nearest_as_published"], s["nearest_named"]) == (22, 22)
    assert {t: r["input_link"] for t, r in by.items() if r["input_link"]} == {
        "stepnogorsk": "PD_STE_AST",
        "karatau": "PD_KAR_TAR",
        "zhanatas": "PD_ZHA_TAR",
        "altai": "R_UK_RAH",
        "serebryansk": "R_UK_RAH",
    }
    assert {t for t, r in by.items() if r["verdict"] not in ("ok",) and r["measure"] in JUDGED} == {
        "zhanaozen",
        "lisakovsk",
    }
    assert by["stepnogorsk"]["nearest_derived"] == "astana"
    # 185 km link + Astana's own access link from its city point to the road waypoint
    assert 185 < by["stepnogorsk"]["derived_km"] < 185 * 1.05
    assert 82 <= by["karatau"]["derived_km"] < 84
    # km-post sections: Serebryansk sits on the road at km 66 (the Oskemen access point is a little
    # way along the first section, hence a little less); Altai 66 + 100 km plus the two access links
    assert 64 < by["serebryansk"]["derived_km"] < 66
    assert 166 < by["altai"]["derived_km"] < 166 * 1.02
    assert (by["altai"]["measure"], by["serebryansk"]["measure"]) == ("road", "road")


def test_derived_km_is_the_network_distance(model, results):
    """Each derived km is the network's road distance to that city (not a straight line)."""
    by = {r["town"]: r for r in results}
    assert by["temirtau"]["derived_km"] == pytest.approx(
        model.derive(default_params()).town("temirtau").road_km, abs=0.1
    )
    assert all(r["measure"] in (*JUDGED, "rail", "straight") for r in results)


def test_own_city_rule(model):
    count = model.derive(default_params()).town("zhezkazgan")
    other = model.derive(parse_params({"own_city_counts": "false"})).town("zhezkazgan")
    assert (
        count.nearest_city_id == "zhezkazgan" and "counts as such" in count.near_large_city.reason
    )
    assert (
        other.nearest_city_id != "zhezkazgan"
        and "nearest other large city" in other.near_large_city.reason
    )
    assert other.road_km > 300


def test_validate_cli_json(root):
    p = subprocess.run(
        [sys.executable, "-m", "geo", "validate", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["summary"]["rows"] == len(out["rows"]) >= 20


def test_official_agglomerations_as_a_second_fua_definition(model):
    travel = model.derive(default_params())
    official = model.derive(parse_params({"fua_definition": "official"}))
    either = model.derive(parse_params({"fua_definition": "either"}))
    members = {t.town_id for t in official.towns if t.in_fua.value == 100}
    assert members == {
        "temirtau",
        "saran",
        "shakhtinsk",
        "abay",
        "khromtau",
    }  # decree of 19 June 2023
    assert "Karaganda agglomeration" in official.town("saran").in_fua.reason
    for a, b, c in zip(travel.towns, official.towns, either.towns):
        assert c.in_fua.value == max(a.in_fua.value, b.in_fua.value)
    areas = model.official.areas_geojson()
    assert {f["properties"]["agglomeration"] for f in areas["features"]} >= {
        "Karaganda",
        "Aktobe",
        "Astana",
    }


def test_town_facts_checked_against_sources(root):
    import pandas as pd

    towns = pd.read_csv(root / "data" / "towns.csv", dtype=str, keep_default_na=False).set_index(
        "id"
    )
    assert towns.loc["saran", "name_kk"] == "Саран" and towns.loc["saran", "name_ru"] == "Сарань"
    assert towns.loc["saran", "status_2025"].startswith("WITHDRAWN") and towns.loc[
        "tekeli", "status_2025"
    ].startswith("WITHDRAWN")
    assert towns.loc["saran", "status_2025_source"].startswith("https://")
    assert len(towns) == 27  # the paper's universe stays
