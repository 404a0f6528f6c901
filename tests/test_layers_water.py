"""The context layer of lakes and wide rivers (issue 23, item 7): one registry entry in
webapp.map.layers, read from an npm package installed by ``npm ci`` (never fetched at run time),
clipped to the country and simplified at load; Lake Balkhash, which sets Balkhash's tourism input,
is drawn."""

import json
import re
from pathlib import Path

import shapely
from shapely.geometry import Point, shape

from webapp.i18n import LANGS, catalog
from webapp.map import layers

# two points on the lake's open water, one in each basin (west: fresh, east: saline)
BALKHASH_WEST, BALKHASH_EAST = Point(74.5, 46.3), Point(77.5, 46.5)


def boot_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_water_is_one_registry_entry_under_the_lines(app):
    names = list(layers.LAYERS)
    assert names.index("oblasts") < names.index("water") < names.index("roads")
    spec = layers.LAYERS["water"]
    assert spec.styles[""]["interactive"] is False  # no tooltip, no keyboard stop
    assert not (spec.by_lang or spec.by_network or spec.by_params)  # one content for every page
    assert all(catalog()[lang]["layers_water"] for lang in LANGS)
    html = app.test_client().get("/?lang=ru").get_data(as_text=True)
    assert "Озёра и широкие реки (OpenStreetMap)" in html  # the legend's entry


def test_lake_balkhash_is_drawn_inside_the_country(app):
    client = app.test_client()
    url = boot_of(client.get("/").get_data(as_text=True))["layers"]["water"]
    fc = client.get(url).get_json()
    assert "missing" not in fc, fc.get("missing")  # the packages are installed (npm ci)
    lakes = [f for f in fc["features"] if f["properties"]["kind"] == "lake"]
    rivers = [f for f in fc["features"] if f["properties"]["kind"] == "river"]
    assert lakes and rivers
    biggest = max(lakes, key=lambda f: f["properties"]["km2"])
    assert shape(biggest["geometry"]).contains(BALKHASH_WEST)
    assert shape(biggest["geometry"]).contains(BALKHASH_EAST)
    assert all(f["properties"]["km2"] >= layers.WATER_MIN_KM2["lake"] for f in lakes)
    outline = shapely.union_all(app.extensions["atlas"].layers.oblasts.geometry.values)
    x0, y0, x1, y1 = outline.bounds
    for f in fc["features"]:  # clipped to the country, rounded as every layer
        bx0, by0, bx1, by1 = shape(f["geometry"]).bounds
        assert x0 - 0.02 <= bx0 and bx1 <= x1 + 0.02 and y0 - 0.02 <= by0 and by1 <= y1 + 0.02
    coords = shapely.get_coordinates(shape(biggest["geometry"]))
    assert (coords.round(layers.DIGITS) == coords).all()


def test_a_package_not_installed_is_named_not_a_failure(app, tmp_path: Path):
    with app.app_context():
        fc = layers.water(app.extensions["atlas"], vendor_dir=tmp_path)
    assert fc["features"] == [] and fc["missing"] == list(layers.WATER_PACKAGES.values())


def test_the_packages_are_pinned_in_package_json(root):
    """Installed with the page's own assets (make install: npm ci), exact versions."""
    deps = json.loads((root / "package.json").read_text())["dependencies"]
    lock = json.loads((root / "package-lock.json").read_text())["packages"]
    for package in layers.WATER_PACKAGES.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", deps[package])
        assert lock[f"node_modules/{package}"]["version"] == deps[package]


def test_water_is_read_once_across_data_changes(app, monkeypatch):
    """It depends on no stored data: an import does not make it read the packages again."""
    calls = []
    real = layers.water
    monkeypatch.setattr(layers, "water", lambda svc: calls.append(1) or real(svc))
    client = app.test_client()
    first = boot_of(client.get("/").get_data(as_text=True))["layers"]["water"]
    assert client.get(first).status_code == 200
    app.extensions["store"].apply(
        [{"town_id": "rudny", "input": "mono_output_share", "value": 70.0, "period": "2024"}],
        editor="anna",
    )
    again = boot_of(client.get("/").get_data(as_text=True))["layers"]["water"]
    assert client.get(again).status_code == 200 and len(calls) == 1
