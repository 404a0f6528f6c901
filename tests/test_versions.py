"""Network versions (issue 14): an imported network runs through the same derivation as the shipped
one.

The PBFs are written here (osmium); expected lengths come from pyproj's Geod, independent of the
code.
"""

import json
import subprocess
import sys

import pytest
from pyproj import Geod

from geo.agglomeration import SpatialModel
from geo.layers import load_layers
from geo.netimport import import_network, save_version
from geo.params import parse_params
from geo.versions import SHIPPED, available, layers_for, version_info
from test_netimport import write_pbf

GEOD = Geod(ellps="WGS84")
# a winding trunk road from Smallcity (70, 48) to Bigcity (70, 49) of the SYNTHETIC tiny data root
NODES = {
    1: (70.0, 48.0),
    2: (70.3, 48.25),
    3: (70.0, 48.5),
    4: (70.0, 49.0),
    5: (69.9, 48.4),
    6: (69.9, 48.6),
}
WAYS = [
    (1, [1, 2, 3, 4], {"highway": "trunk", "ref": "M-99"}),
    (2, [5, 6], {"railway": "rail", "usage": "main"}),
]


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    root = tmp_path_factory.mktemp("nets")
    pbf = write_pbf(root / "winding.osm.pbf", NODES, WAYS)
    save_version(import_network(pbf), "winding", root)
    return root


def test_versions_listed_with_their_source(version):
    assert available(version) == [SHIPPED, "winding"]
    info = version_info("winding", version)
    assert info["source"].endswith("winding.osm.pbf") and len(info["sha256"]) == 64
    with pytest.raises(ValueError, match="no network version 'nope'"):
        version_info("nope", version)


def test_imported_network_keeps_real_lengths(version, tiny_root):
    layers = layers_for("winding", version, load_layers(tiny_root))
    towns = {t.town_id: t for t in SpatialModel(layers).derive(parse_params({})).towns}
    lon, lat = zip(*(NODES[i] for i in (1, 2, 3, 4)))
    real = GEOD.line_length(lon, lat) / 1000
    straight = GEOD.inv(70.0, 48.0, 70.0, 49.0)[2] / 1000
    assert real > straight * 1.05  # the road winds
    on = towns[
        "ontown"
    ]  # at vertex 3 of the contracted chain: placed there, not on the chain's chord
    to_small = GEOD.line_length(lon[:3], lat[:3]) / 1000
    to_big = GEOD.inv(70.0, 48.5, 70.0, 49.0)[2] / 1000
    assert (
        to_big < real / 2 < to_small
    )  # the old chord placement (real / 2 either way) would be wrong
    assert on.nearest_city == "Bigcity" and on.road_km == pytest.approx(to_big, abs=5e-4)
    assert SpatialModel(layers).road_km(parse_params({}), "ontown", "smallcity") == pytest.approx(
        to_small, rel=1e-6
    )
    # the imported main railway and the trunk road make a junction at Ontown (within 15 km)
    assert on.corridor_junction.value == 100


def test_cli_on_an_imported_version(version, root, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "agglomeration",
            "--json",
            "--network",
            "winding",
            "--networks-root",
            str(version),
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert (
        len(recs) == 27
    )  # the shipped towns on the imported roads (most far from this small network)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "agglomeration",
            "--network",
            "nope",
            "--networks-root",
            str(version),
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "no network version 'nope'" in bad.stderr
