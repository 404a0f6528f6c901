"""Write the SYNTHETIC tiny dataset of tests/data/tiny_network.json as a complete data root.

The layout is the one ``load_layers`` and ``scoring.pipeline.Sources`` read (shapefiles, towns,
cities, waypoints, statistics, curated inputs, expert judgments), so ``create_app({"DATA_DIR":
...})`` serves it. The places and figures are invented for tests and stand for nothing real.
"""

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, box

SPEC = Path(__file__).parent / "data" / "tiny_network.json"


def write_tiny(dest: Path) -> Path:
    spec = json.loads(SPEC.read_text())
    shp = dest / "shapefiles"
    (dest / "network").mkdir(parents=True, exist_ok=True)
    shp.mkdir(parents=True, exist_ok=True)
    crs = "EPSG:4326"

    def lines(rows, keys):
        return gpd.GeoDataFrame(
            [{k: r[k] for k in keys} for r in rows],
            geometry=[LineString(r["coords"]) for r in rows],
            crs=crs,
        )

    lines(spec["roads"], ["road_id", "class", "name_ru", "corridors"]).to_file(shp / "roads.shp")
    lines(spec["railways"], ["line_id", "name", "status"]).to_file(shp / "railways.shp")
    gpd.GeoDataFrame(
        {"corr_id": ["X"], "name": ["none"], "type": ["x"], "roads": ["R1"], "planned": ["yes"]},
        geometry=[LineString([(60, 40), (60.1, 40)])],
        crs=crs,
    ).to_file(shp / "corridors.shp")
    gpd.GeoDataFrame(
        {"pcode": ["T1"], "name_en": ["Test oblast"]}, geometry=[box(69, 47, 76, 50)], crs=crs
    ).to_file(shp / "oblasts.shp")
    towns = pd.DataFrame(spec["towns"]).assign(
        name_kk="",
        name_ru="",
        name_en_full=lambda d: d["name_en"],
        oblast="Test oblast",
        oblast_2012="Test oblast",
        population="1000",
        population_year="2024",
        population_scope="SYNTHETIC",
        source_population="SYNTHETIC",
        city_forming_enterprise="",
        source_enterprise="",
        main_industry="SYNTHETIC",
        status_note="",
        source_monotown_status="",
        coord_source="SYNTHETIC",
        notes="SYNTHETIC test town",
    )
    towns.to_csv(dest / "towns.csv", index=False)
    pd.DataFrame(spec["cities"]).assign(name_kk="", name_ru="").to_csv(
        dest / "large_cities.csv", index=False
    )
    pd.DataFrame(spec["waypoints"]).assign(matched_name="").to_csv(
        dest / "network" / "waypoints.csv", index=False
    )
    pd.DataFrame(
        columns=["town_id", "road_name", "connects_to_waypoint", "status", "source", "note"]
    ).to_csv(dest / "access_roads.csv", index=False)
    pd.DataFrame(columns=["corridor_id"]).to_csv(
        dest / "network" / "corridors_table.csv", index=False
    )
    _values(spec, dest)
    sites = pd.DataFrame(spec["tourism_sites"])
    sites.insert(0, "id", [f"T{i + 1}" for i in range(len(sites))])
    sites.to_csv(dest / "tourism_sites.csv", index=False)
    _texts(dest)
    return dest


def _texts(dest: Path) -> None:
    """The translations every data root carries (data/texts.csv): the SYNTHETIC texts as they
    are."""
    from scoring.loaders import data_texts_required

    rows = [
        [f, k, fl, text, text, text] for (f, k, fl), (_, text) in data_texts_required(dest).items()
    ]
    pd.DataFrame(rows, columns=["file", "key", "field", "en", "ru", "kk"]).to_csv(
        dest / "texts.csv", index=False
    )


def _values(spec: dict, dest: Path) -> None:
    """Statistics, curated inputs and an expert judgment (SYNTHETIC) for the tiny towns."""
    cols = ["town_id", "input", "value", "unit", "period", "status", "source", "note"]
    rows = [
        [t, k, v, "", "2024", "sourced", "SYNTHETIC test value", ""]
        for t, values in spec["statistics"].items()
        for k, v in values.items()
    ]
    pd.DataFrame(rows, columns=cols).drop(columns="status").to_csv(
        dest / "statistics.csv", index=False
    )
    rows = [
        [
            t,
            k,
            v,
            "0 or 100",
            "2024",
            "sourced" if v != "" else "missing",
            "SYNTHETIC test value",
            "",
        ]
        for t, values in spec["curated"].items()
        for k, v in values.items()
    ]
    pd.DataFrame(rows, columns=cols).to_csv(dest / "curated.csv", index=False)
    pd.DataFrame(
        [
            {
                "town": "ontown",
                "scenarios": "innovative",
                "author": "SYNTHETIC tester",
                "date": "2024",
                "rationale": "a synthetic judgment for the tests",
                "source": "SYNTHETIC",
            }
        ]
    ).to_csv(dest / "expert_judgments.csv", index=False)
