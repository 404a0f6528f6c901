"""The build script reproduces the committed layers; every shapefile has its sidecars and CRS."""

import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest

from geo.build import DEFAULT_SOURCES, build

LAYERS = ("roads", "railways", "corridors", "towns", "large_cities", "oblasts", "tourism")


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    out = tmp_path_factory.mktemp("rebuilt")
    counts = build(DEFAULT_SOURCES, out)
    return out, counts


def test_counts(rebuilt):
    _, counts = rebuilt
    # roads 71: the Taraz - Zhanatas road R_TAR_ZHA (drawn straight with the oblast detour factor)
    # gave way to three links whose lengths are published road distances (Stepnogorsk - Astana,
    # Karatau - Taraz, Zhanatas - Taraz: additions/published_distances.csv, issue 26)
    # railways 20: the Khromtau - Altynsarin line, its far end placed from its published length and
    # direction (sources/network/additions/railways_placed.csv, issue 26)
    # roads 72: R_UK_RAH's published section Ust-Kamenogorsk - Altai (166 km) is split at
    # Serebryansk in two (66 + 100 km, KazAvtoZhol km-posts; additions/road_lengths.csv, issue 26),
    # one more road piece
    assert counts == {
        "roads": 72,
        "railways": 20,
        "corridors": 15,
        "towns": 27,
        "large_cities": 20,
        "oblasts": 20,
        "tourism": 35,
    }


@pytest.mark.parametrize(
    "rel",
    [
        "towns.csv",
        "large_cities.csv",
        "network/roads.csv",
        "network/waypoints.csv",
        "network/railways.csv",
        "network/corridors.csv",
        "network/corridors_table.csv",
        "network/inferred_links.csv",
        "network/published_distances.csv",
        "network/railways_placed.csv",
    ],
)
def test_csv_reproduced_byte_for_byte(rebuilt, root, rel):
    out, _ = rebuilt
    assert (out / rel).read_bytes() == (root / "data" / rel).read_bytes()


@pytest.mark.parametrize("name", LAYERS)
def test_shapefile_reproduced(rebuilt, root, name):
    out, _ = rebuilt
    committed = root / "data" / "shapefiles"
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        assert (committed / f"{name}{ext}").exists(), f"{name}{ext} missing"
    a = gpd.read_file(committed / f"{name}.shp")
    b = gpd.read_file(out / "shapefiles" / f"{name}.shp")
    assert a.crs.to_epsg() == 4326
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert all(x.equals_exact(y, 1e-9) for x, y in zip(a.geometry, b.geometry))
    assert (committed / f"{name}.cpg").read_text().strip() == "UTF-8"


def test_layers_are_valid_and_in_kazakhstan(root):
    obl = gpd.read_file(root / "data" / "shapefiles" / "oblasts.shp")
    assert obl.is_valid.all()  # West Kazakhstan repaired
    towns = gpd.read_file(root / "data" / "shapefiles" / "towns.shp")
    assert len(towns) == 27
    kz = obl.union_all()
    assert towns.within(kz.buffer(0.05)).all()


def test_build_cli_missing_sources_folder(root, tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo.build",
            "--sources",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path),
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "monotowns.csv not found" in p.stderr


def test_geo_cli_json_contract(root):
    p = subprocess.run(
        [sys.executable, "-m", "geo", "agglomeration", "--json", "--near-km", "150"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)
    assert len(recs) == 27
    assert set(recs[0]) == {
        "town",
        "aggl_in_fua",
        "aggl_near_large_city",
        "aggl_corridor_junction",
        "nearest_large_city",
        "road_km",
        "travel_min",
        "lines_within_radius",
        "assumed_access",
    }
    for r in recs:
        assert r["aggl_near_large_city"] == (100 if r["road_km"] <= 150 else 0)


def test_geo_cli_bad_params_exit_2(root):
    p = subprocess.run(
        [sys.executable, "-m", "geo", "agglomeration", "--fua-minutes", "-3", "--corridor-km", "x"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert (
        "fua_minutes: -3 is out of range" in p.stderr
        and "corridor_km: 'x' is not a number" in p.stderr
    )


def test_geo_cli_planned_road(root):
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "agglomeration",
            "--json",
            "--planned-road",
            "Karazhal",
            "Zhezkazgan",
            "republican",
            "--near-km",
            "250",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    kz = next(r for r in json.loads(p.stdout) if r["town"] == "Karazhal")
    assert kz["nearest_large_city"] == "Zhezkazgan" and kz["aggl_near_large_city"] == 100
