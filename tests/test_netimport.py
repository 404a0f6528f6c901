"""Bring your own network (issue 14): OSM and line-layer import, topology, errors, saved versions.

Every file here is written by the test (osmium SimpleWriter, geopandas); expected lengths come from
pyproj's Geod directly, independent of the importer.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import osmium
import osmium.osm.mutable as mut
import pytest
from pyproj import Geod
from shapely.geometry import LineString

from geo._netbuild import RawWays, contract, segments
from geo._osm import normalise_ref, parse_maxspeed, parse_oneway
from geo.netimport import (
    NetworkImportError,
    import_network,
    import_network_main,
    list_versions,
    load_version,
    networks_main,
    save_version,
    snap_points,
)

GEOD = Geod(ellps="WGS84")
NODES = {
    1: (70.0, 48.0),
    2: (70.1, 48.0),
    3: (70.2, 48.0),
    4: (70.3, 48.0),
    5: (70.4, 48.0),
    6: (70.2, 48.1),
    7: (70.2, 48.2),
    10: (70.5, 48.0),
    11: (70.2, 48.3),
    40: (69.9, 48.0),
    20: (75.0, 45.0),
    21: (75.1, 45.05),
    22: (75.2, 45.0),
    30: (71.0, 49.0),
    31: (71.2, 49.0),
    32: (71.3, 49.1),
}
WAYS = [  # id, nodes, tags
    (101, [1, 2], {"highway": "trunk", "ref": "M-36;E40"}),  # default 80 km/h
    (
        102,
        [2, 3],
        {"highway": "trunk", "ref": "M-36; E40", "maxspeed": "100 km/h"},
    ),  # same chain, other speed
    (105, [3, 4, 5], {"highway": "trunk", "ref": "M-36;E40"}),
    (103, [3, 6, 7], {"highway": "primary", "ref": "A-1", "oneway": "yes", "maxspeed": "50 mph"}),
    (
        104,
        [5, 10],
        {"highway": "secondary", "oneway": "-1", "maxspeed": "RU:rural"},
    ),  # travel 10 -> 5
    (106, [7, 11, 99], {"highway": "primary"}),  # node 99 is not in the file
    (107, [1, 40], {"highway": "residential"}),  # not imported by default
    (201, [20, 21, 22], {"highway": "secondary", "ref": "KZ-12"}),  # detached piece
    (301, [30, 31], {"railway": "rail", "usage": "main", "name": "Trunk line"}),
    (302, [31, 32], {"railway": "rail", "service": "siding"}),
]


def km_of(*ids) -> float:
    lon, lat = zip(*(NODES[i] for i in ids))
    return GEOD.line_length(lon, lat) / 1000.0


def write_pbf(path, nodes=NODES, ways=WAYS):
    w = osmium.SimpleWriter(str(path))
    for nid in sorted(nodes):
        w.add_node(mut.Node(id=nid, location=nodes[nid]))
    for wid, refs, tags in ways:
        w.add_way(mut.Way(id=wid, nodes=refs, tags=tags))
    w.close()
    return path


@pytest.fixture(scope="module")
def pbf(tmp_path_factory):
    return write_pbf(tmp_path_factory.mktemp("osm") / "small.osm.pbf")


@pytest.fixture(scope="module")
def net(pbf):
    return import_network(pbf)


def edge(net, a: int, b: int) -> int:
    """Index of the edge from OSM node a to OSM node b (either direction if two-way)."""
    ia, ib = (int(np.flatnonzero(net.node_key == k)[0]) for k in (a, b))
    hit = np.flatnonzero(
        ((net.u == ia) & (net.v == ib)) | (~net.oneway & (net.u == ib) & (net.v == ia))
    )
    assert len(hit) == 1, (a, b)
    return int(hit[0])


def test_tag_parsers():
    assert (
        parse_maxspeed("90") == 90
        and parse_maxspeed("90 km/h") == 90
        and parse_maxspeed("90kmh") == 90
    )
    assert parse_maxspeed("50 mph") == pytest.approx(80.4672)
    assert parse_maxspeed("90;70") == 70
    for symbolic in ("RU:urban", "KZ:rural", "none", "signals", "", None, "0"):
        assert math.isnan(parse_maxspeed(symbolic))
    assert [parse_oneway(x) for x in ("yes", "1", "true", "-1", "no", "reversible", None)] == [
        1,
        1,
        1,
        -1,
        0,
        0,
        0,
    ]
    assert parse_oneway(None, implied=True) == 1 and parse_oneway("no", implied=True) == 0
    assert normalise_ref("m 36") == normalise_ref("M-36") == "M36"


def test_osm_topology_after_contraction(net):
    assert (net.n_nodes, net.n_edges) == (6, 5)
    assert sorted(net.node_key.tolist()) == [1, 3, 5, 7, 10, 11]
    r = net.report
    assert (r["segments"], r["edges_contracted"]) == (
        10,
        6,
    )  # 7-11 kept, 11-99 dropped (node 99 missing)


def test_osm_lengths_equal_geod(net):
    assert net.km[edge(net, 1, 3)] == pytest.approx(km_of(1, 2, 3), rel=1e-12)
    assert net.km[edge(net, 3, 5)] == pytest.approx(km_of(3, 4, 5), rel=1e-12)
    assert net.km[edge(net, 3, 7)] == pytest.approx(km_of(3, 6, 7), rel=1e-12)
    assert net.km[edge(net, 7, 11)] == pytest.approx(km_of(7, 11), rel=1e-12)
    assert net.report["km"] == pytest.approx(
        km_of(1, 2, 3, 4, 5, 10) + km_of(3, 6, 7, 11), abs=1e-3
    )


def test_osm_speeds_maxspeed_and_defaults(net):
    chain = edge(net, 1, 3)  # 80 default then 100 from maxspeed: minutes summed part by part
    assert net.minutes[chain] == pytest.approx(
        km_of(1, 2) / 80 * 60 + km_of(2, 3) / 100 * 60, rel=1e-12
    )
    assert net.speed_kmh[edge(net, 3, 7)] == pytest.approx(80.4672)  # 50 mph
    assert net.speed_kmh[edge(net, 10, 5)] == pytest.approx(60.0)  # RU:rural -> secondary default
    assert net.speed_kmh[edge(net, 7, 11)] == pytest.approx(70.0)  # primary default
    assert net.report["read"]["maxspeed_used"] == 2


def test_osm_oneway_direction(net):
    key = net.node_key
    e = edge(net, 3, 7)
    assert net.oneway[e] and (key[net.u[e]], key[net.v[e]]) == (3, 7)
    e = edge(net, 10, 5)  # oneway=-1 on a way drawn 5 -> 10
    assert net.oneway[e] and (key[net.u[e]], key[net.v[e]]) == (10, 5)
    assert not net.oneway[edge(net, 1, 3)]
    assert net.oneway.sum() == 2


def test_osm_classes_refs_railways(net):
    assert net.cls[edge(net, 1, 3)] == "international" and net.cls[edge(net, 10, 5)] == "oblast"
    assert net.road[edge(net, 1, 3)] == "M-36;E40"  # "M-36; E40" normalised to one spelling
    assert sorted(net.ref_edges("m36").tolist()) == sorted([edge(net, 1, 3), edge(net, 3, 5)])
    assert net.ref_edges("E40").tolist() == net.ref_edges("M-36").tolist()
    rail = net.railways
    assert rail.crs == "EPSG:4326" and len(rail) == 2
    assert rail.set_index("osm_id")["main"].to_dict() == {301: True, 302: False}


def test_osm_dropped_reported(net):
    d = net.report["dropped"]
    assert (d["components"], d["dropped_components"], d["dropped_edges"], d["dropped_nodes"]) == (
        2,
        1,
        1,
        2,
    )
    assert d["dropped_km"] == pytest.approx(km_of(20, 21, 22), abs=1e-3)
    assert d["largest_dropped"][0]["edges"] == 1
    assert d["missing_segments"] == 1
    assert (
        net.report["read"]["ways_with_missing_nodes"] == 1 and net.report["read"]["road_ways"] == 7
    )


def test_osm_highways_option(pbf):
    net = import_network(pbf, highways=["trunk", "residential"])
    assert net.n_edges == 2  # 1-5 (3 is no junction without the primary road) and 40-1
    assert sorted(net.node_key.tolist()) == [1, 5, 40]
    with pytest.raises(NetworkImportError, match="not in osm_highway_classes.csv"):
        import_network(pbf, highways=["footway"])


def test_ring_without_junction_is_one_looping_edge():
    lon = np.array([0.0, 0.1, 0.1, 0.0, 0.0])
    lat = np.array([0.0, 0.0, 0.1, 0.1, 0.0])
    raw = RawWays(
        key=np.array([5, 6, 7, 8, 5]),
        lon=lon,
        lat=lat,
        offsets=np.array([0, 5]),
        cls=np.array([0]),
        ref=np.array([0]),
        speed_kmh=np.array([60.0]),
        oneway=np.array([False]),
        cls_names=["x"],
        ref_names=[""],
    )
    nodes, segs = segments(raw)
    e = contract(len(nodes["key"]), segs, np.zeros(4, dtype=np.int64), np.zeros(4, bool))
    assert (e["u"].tolist(), e["v"].tolist()) == ([0], [0])
    assert e["km"][0] == pytest.approx(GEOD.line_length(lon, lat) / 1000.0)


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("bad.osm.pbf", b"", "is empty"),
        ("bad.osm.pbf", b"\x00\x00\x10\x00garbage" * 50, "corrupt"),
        ("bad.osm", b"<osm><node id='1' lat=", "corrupt"),
        ("bad.geojson", b'{"type": "FeatureCollection", "feat', "corrupt"),
        ("bad.txt", b"roads", "unknown file type"),
    ],
)
def test_empty_and_corrupt_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NetworkImportError, match=match):
        import_network(path)


def test_no_roads(tmp_path):
    path = write_pbf(tmp_path / "none.osm.pbf", ways=[w for w in WAYS if w[0] in (107, 301)])
    with pytest.raises(NetworkImportError, match="no roads"):
        import_network(path)


def test_failed_import_leaves_saved_version_untouched(tmp_path, net, capsys):
    save_version(net, "v1", tmp_path)
    before = (tmp_path / "v1" / "network.npz").read_bytes()
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not a pbf" * 100)
    assert (
        import_network_main([str(bad), "--name", "v1", "--root", str(tmp_path), "--overwrite"]) == 1
    )
    assert "corrupt" in capsys.readouterr().err
    assert (tmp_path / "v1" / "network.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_saved_version_round_trips(tmp_path, net):
    save_version(net, "osm-test", tmp_path)
    back = load_version("osm-test", tmp_path)
    for name in ("lon", "lat", "node_key", "u", "v", "km", "minutes", "oneway", "speed_kmh"):
        np.testing.assert_array_equal(getattr(back, name), getattr(net, name))
    assert back.cls.tolist() == net.cls.tolist() and back.road.tolist() == net.road.tolist()
    assert back.report == json.loads(json.dumps(net.report))
    assert len(back.railways) == 2 and back.railways.crs == "EPSG:4326"
    with pytest.raises(NetworkImportError, match="exists"):
        save_version(net, "osm-test", tmp_path)
    with pytest.raises(NetworkImportError, match="not allowed"):
        save_version(net, "../escape", tmp_path)
    [row] = list_versions(tmp_path)
    assert (row["name"], row["nodes"], row["edges"], row["sha256"]) == (
        "osm-test",
        6,
        5,
        net.report["sha256"],
    )


def test_cli_import_and_list(tmp_path, pbf, capsys):
    assert import_network_main([str(pbf), "--name", "cli", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "6 nodes, 5 edges" in out.out and "1 detached component(s) with 1 edges" in out.out
    assert "nodes: indexing locations" in out.err  # the progress line
    assert networks_main(["--root", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "cli" in listing and "small.osm.pbf" in listing


def test_snap_points(net):
    points = [("near", 70.001, 48.0), ("far", 80.0, 40.0), ("nowhere", float("nan"), 48.0)]
    rep = snap_points(net, points, max_km=50).set_index("id")
    assert net.node_key[rep.loc["near", "node"]] == 1
    assert rep.loc["near", "km"] == pytest.approx(GEOD.inv(70.001, 48.0, 70.0, 48.0)[2] / 1000.0)
    assert rep["routable"].tolist() == [True, False, False]
    assert (
        "beyond 50 km" in rep.loc["far", "reason"]
        and rep.loc["nowhere", "reason"] == "no coordinates"
    )


# ---------------------------------------------------------------- GIS line layers

LL = {
    "a": (70.0, 48.0),
    "b": (70.1, 48.0),
    "c": (70.2, 48.0),
    "d": (70.2, 48.1),
    "e": (70.3, 48.0),
    "x": (75.0, 45.0),
    "y": (75.1, 45.0),
}
LINES = [  # vertices, CLASS, REF, SPEED, ONEWAY
    ("ab", "republican", "A-2", 90, "no"),
    ("bc", "republican", "A-2", None, "no"),  # default republican 70
    ("cd", "primary", "", 50, "yes"),  # OSM value in the class column -> republican
    ("ec", "international", "M-32", None, "-1"),  # drawn e -> c, travel c -> e
    ("xy", "oblast", "", None, None),  # detached
]


def write_lines(path, crs="EPSG:32642"):
    gdf = gpd.GeoDataFrame(
        {
            "CLASS": [r[1] for r in LINES],
            "REF": [r[2] for r in LINES],
            "SPEED": [r[3] for r in LINES],
            "ONEWAY": [r[4] for r in LINES],
        },
        geometry=[LineString([LL[k] for k in r[0]]) for r in LINES],
        crs="EPSG:4326",
    )
    gdf.to_crs(crs).to_file(path)
    return path


@pytest.fixture(scope="module")
def lines_net(tmp_path_factory):
    path = write_lines(tmp_path_factory.mktemp("shp") / "roads.shp")
    return import_network(
        path, columns={"class": "CLASS", "ref": "REF", "speed": "SPEED", "oneway": "ONEWAY"}
    )


def test_lines_topology_and_values(lines_net):
    n = lines_net
    assert (n.n_nodes, n.n_edges) == (4, 3)
    xy = [(round(float(x), 5), round(float(y), 5)) for x, y in zip(n.lon, n.lat)]
    ends = {(*xy[a], *xy[b]): i for i, (a, b) in enumerate(zip(n.u, n.v))}
    ac = ends.get((*LL["a"], *LL["c"]), ends.get((*LL["c"], *LL["a"])))
    cd, ce = ends[(*LL["c"], *LL["d"])], ends[(*LL["c"], *LL["e"])]
    ab, bc = (
        GEOD.line_length(*zip(*[LL["a"], LL["b"]])) / 1000,
        GEOD.line_length(*zip(*[LL["b"], LL["c"]])) / 1000,
    )
    assert n.km[ac] == pytest.approx(ab + bc, rel=1e-9)
    assert n.minutes[ac] == pytest.approx(ab / 90 * 60 + bc / 70 * 60, rel=1e-9)
    assert (n.cls[cd], n.speed_kmh[cd], bool(n.oneway[cd])) == (
        "republican",
        pytest.approx(50.0),
        True,
    )
    assert (n.cls[ce], n.road[ce], bool(n.oneway[ce])) == ("international", "M-32", True)
    assert n.speed_kmh[ce] == pytest.approx(80.0)
    assert not n.oneway[ac] and n.road[ac] == "A-2"
    d = n.report["dropped"]
    assert (d["dropped_components"], d["dropped_edges"]) == (1, 1)
    assert d["dropped_km"] == pytest.approx(
        GEOD.line_length(*zip(*[LL["x"], LL["y"]])) / 1000, abs=1e-3
    )


def test_lines_without_crs_refused(tmp_path):
    path = write_lines(tmp_path / "nocrs.shp")
    path.with_suffix(".prj").unlink()
    with pytest.raises(NetworkImportError, match="ogr2ogr -a_srs"):
        import_network(path)


def test_lines_bad_mapping(tmp_path):
    path = write_lines(tmp_path / "roads.gpkg", crs="EPSG:4326")
    with pytest.raises(
        NetworkImportError, match="--class-col KLASS is not a column; the layer has: CLASS"
    ):
        import_network(path, columns={"class": "KLASS"})
    with pytest.raises(NetworkImportError, match="class value"):
        import_network(path, columns={"class": "REF"})
    plain = import_network(path, columns={})  # no mapping: every line republican, both ways
    assert set(plain.cls) == {"republican"} and not plain.oneway.any()
    named = import_network(path)  # none given: its CLASS column, found by name
    assert set(named.cls) == {"international", "republican"}
    assert named.report["columns"] == {
        "class": "CLASS",
        "speed": "SPEED",
        "oneway": "ONEWAY",
        "ref": "REF",
    }
    assert named.report["read"]["default_class_lines"] == 0
    assert plain.report["read"]["default_class_lines"] == plain.report["read"]["road_ways"]


def test_a_web_upload_says_where_the_road_classes_came_from(tmp_path):
    """A layer without a class column becomes republican roads, and the upload says so; with a
    'highway' column its values are used; unknown values refuse the file."""
    import geopandas as gpd
    from shapely.geometry import LineString

    from webapp.pages.networks import _classes_said

    lines = [LineString([(70, 48), (71, 48)]), LineString([(71, 48), (72, 48.5)])]
    bare = tmp_path / "bare.geojson"
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=lines, crs="EPSG:4326").to_file(bare)
    said = _classes_said(import_network(bare).report)
    assert "no road class column (highway or class): every line taken as a republican" in said
    osm = tmp_path / "osm.geojson"
    gpd.GeoDataFrame({"Highway": ["trunk", "primary"]}, geometry=lines, crs="EPSG:4326").to_file(
        osm
    )
    net = import_network(osm)
    assert _classes_said(net.report) == "; road classes from the column 'Highway'"
    odd = tmp_path / "odd.geojson"
    gpd.GeoDataFrame({"highway": ["banana", "footway"]}, geometry=lines, crs="EPSG:4326").to_file(
        odd
    )
    with pytest.raises(NetworkImportError, match="class value\\(s\\) 'banana', 'footway' unknown"):
        import_network(odd)


def _two_ways(second: list[int], oneway: tuple[bool, bool]) -> dict:
    """Ways 0->1 and ``second`` over three points on a line, same class and ref."""
    pts = {0: (70.0, 48.0), 1: (70.1, 48.0), 2: (70.2, 48.0)}
    order = [0, 1] + second
    raw = RawWays(
        key=np.array(order),
        lon=np.array([pts[k][0] for k in order]),
        lat=np.array([pts[k][1] for k in order]),
        offsets=np.array([0, 2, 4]),
        cls=np.array([0, 0]),
        ref=np.array([0, 0]),
        speed_kmh=np.array([60.0, 90.0]),
        oneway=np.array(oneway),
        cls_names=["x"],
        ref_names=[""],
    )
    nodes, segs = segments(raw)
    way_oneway = raw.oneway[segs["way"]]
    return contract(len(nodes["key"]), segs, way_oneway.astype(np.int64), way_oneway)


@pytest.mark.parametrize(
    "second, oneway, n_edges",
    [
        ([1, 2], (False, False), 1),  # two-way chain: contracted
        ([2, 1], (False, False), 1),  # drawn against each other, still two-way: contracted
        ([1, 2], (True, True), 1),  # one way, same direction: contracted
        ([2, 1], (True, True), 2),  # both one way into node 1: kept apart
        ([1, 2], (True, False), 2),  # one way meets two-way: kept apart
    ],
)
def test_contraction_respects_direction(second, oneway, n_edges):
    e = _two_ways(second, oneway)
    assert len(e["u"]) == n_edges
    if n_edges == 1:
        assert e["minutes"][0] == pytest.approx(
            (GEOD.inv(70.0, 48, 70.1, 48)[2] / 60 + GEOD.inv(70.1, 48, 70.2, 48)[2] / 90)
            * 60
            / 1000
        )
        if oneway[0]:
            assert (e["u"][0], e["v"][0]) == (0, 2)
