"""Imported networks routed as they are (issue 14): one-way roads, posted maxspeed, towns placed
exactly.

Every expected value is computed here independently of the routing code: lengths with pyproj's Geod,
shortest paths with networkx on a DiGraph built from the same ways, minutes by hand. The PBFs and
line layers are written by the tests (osmium, geopandas); they stand for no real place.
"""

from __future__ import annotations

from dataclasses import fields

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod, Transformer
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, Point

from geo.agglomeration import SpatialModel, points_only_layers
from geo.catchments import fua_catchments
from geo.layers import KZ_LCC, Layers
from geo.netimport import import_network, load_version, save_version
from geo.network import build_imported
from geo.params import parse_params
from geo.routing import MetricRouting, Topology, compact
from geo.versions import ImportedLayers
from test_netimport import write_pbf

GEOD = Geod(ellps="WGS84")
TO_LCC = Transformer.from_crs("EPSG:4326", KZ_LCC, always_xy=True)
FROM_LCC = Transformer.from_crs(KZ_LCC, "EPSG:4326", always_xy=True)


def geo_km(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2] / 1000.0


def model_on(net, towns: dict, cities: dict) -> SpatialModel:
    """A SpatialModel on an imported network with the given SYNTHETIC towns and cities {id: (lon,
    lat)}."""
    t = pd.DataFrame(
        {
            "id": list(towns),
            "name_en": list(towns),
            "lon": [p[0] for p in towns.values()],
            "lat": [p[1] for p in towns.values()],
        }
    )
    c = pd.DataFrame(
        {
            "id": list(cities),
            "name_en": list(cities),
            "status": "republican",
            "population": 500_000,
            "lon": [p[0] for p in cities.values()],
            "lat": [p[1] for p in cities.values()],
        }
    )
    base = points_only_layers(t, c)
    layers = ImportedLayers(**{f.name: getattr(base, f.name) for f in fields(Layers)}, imported=net)
    return SpatialModel(layers)


# ---------------------------------------------------------------- one-way roads (OSM)

# City at node 1, town at node 3. The short road 1 -> 2 -> 3 is one way (city to town); back from
# the town the traveller takes the longer two-way road 3 -> 4 -> 5 -> 1.
NODES = {
    1: (70.0, 48.0),
    2: (70.1, 48.02),
    3: (70.2, 48.0),
    4: (70.25, 48.15),
    5: (70.0, 48.2),
    6: (70.4, 48.0),
}
WAYS = [
    (1, [1, 2, 3], {"highway": "primary", "oneway": "yes"}),
    (2, [3, 4, 5, 1], {"highway": "primary"}),
    (3, [6, 3], {"highway": "secondary", "oneway": "-1"}),
]  # drawn 6 -> 3, travel 3 -> 6 only


def digraph_from_ways(nodes: dict, ways: list) -> nx.DiGraph:
    """The travel graph of the ways, built here from the tags (not by the importer)."""
    g = nx.DiGraph()
    for _, refs, tags in ways:
        flag = tags.get("oneway")
        refs = refs[::-1] if flag == "-1" else refs
        for a, b in zip(refs[:-1], refs[1:]):
            km = geo_km(nodes[a], nodes[b])
            g.add_edge(a, b, km=km)
            if flag not in ("yes", "-1"):
                g.add_edge(b, a, km=km)
    return g


@pytest.fixture(scope="module")
def oneway_net(tmp_path_factory):
    return import_network(write_pbf(tmp_path_factory.mktemp("ow") / "oneway.osm.pbf", NODES, WAYS))


def test_oneway_town_to_city_differs_from_city_to_town(oneway_net):
    g = digraph_from_ways(NODES, WAYS)
    to_city = nx.dijkstra_path_length(g, 3, 1, weight="km")
    from_city = nx.dijkstra_path_length(g, 1, 3, weight="km")
    assert to_city > from_city * 1.5  # the one-way road matters
    model = model_on(oneway_net, {"town": NODES[3], "far": NODES[6]}, {"city": NODES[1]})
    towns = {t.town_id: t for t in model.derive(parse_params({"near_km": 1000})).towns}
    assert towns["town"].road_km == pytest.approx(to_city, abs=5e-4)
    # node 6 reaches the city only if it could drive 6 -> 3 (it cannot: travel 3 -> 6 only)
    assert not nx.has_path(g, 6, 1) and towns["far"].road_km is None
    assert (
        "none of the 1 qualifying large cities is reachable" in towns["far"].near_large_city.reason
    )
    assert "one-way roads followed" in towns["town"].near_large_city.reason
    # the route follows the tree from the city to the town (nodes: the chains between are
    # contracted)
    route = [(round(lon, 5), round(lat, 5)) for lat, lon in towns["town"].route]
    assert route[0] == NODES[1] and route[-1] == NODES[3]


def test_oneway_minutes_match_networkx_digraph(oneway_net):
    """Minutes at the default class speeds: primary = republican 70 km/h (no maxspeed here)."""
    g = digraph_from_ways(NODES, WAYS)
    minutes = nx.dijkstra_path_length(g, 3, 1, weight="km") / 70 * 60
    model = model_on(oneway_net, {"town": NODES[3]}, {"city": NODES[1]})
    town = model.derive(parse_params({})).towns[0]
    assert town.travel_min == pytest.approx(minutes, abs=5e-4)


def test_oneway_catchment_counts_what_can_reach_the_city(oneway_net):
    """FUA pieces within 5 minutes of the city: the two-way chain 3-4-5-1 has one at the city's end;
    the one-way chain 1 -> 2 -> 3 has none (no point of it can travel back to the city in 5
    minutes), where an undirected graph would draw a piece of each."""
    model = model_on(oneway_net, {"town": NODES[3]}, {"city": NODES[1]})
    params = parse_params({"fua_minutes": 5})
    net = model.network(params)
    assert (
        net.oneway.sum() == 2
    )  # the chains 1 -> 2 -> 3 and 3 -> 6 stay one-way in the routing graph
    fc = model.catchments(params, np.array([0]))
    pieces = [
        part for f in fc["features"] for part in f["geometry"]["coordinates"] if part[0] != part[1]
    ]  # the city's own access link has no length here
    two_way = (
        GEOD.line_length([NODES[k][0] for k in (3, 4, 5, 1)], [NODES[k][1] for k in (3, 4, 5, 1)])
        / 1000
    )
    minutes = two_way / 70 * 60
    assert len(pieces) == 1 and tuple(np.round(pieces[0][0], 5)) == NODES[1]
    # drawn on the chain's chord (edges are drawn straight), at the fraction reached in 5 minutes
    frac = np.hypot(*np.subtract(pieces[0][1], pieces[0][0])) / np.hypot(
        *np.subtract(NODES[3], NODES[1])
    )
    assert frac == pytest.approx(5 / minutes, rel=1e-6)


def test_catchment_of_a_oneway_edge_by_hand():
    """Edge 0 -> 1 one way, 10 minutes; city at node 1 and node 0 alternately, threshold 4
    minutes."""
    lon, lat = np.array([70.0, 70.1]), np.array([48.0, 48.0])
    u, v, w, ow = np.array([0]), np.array([1]), np.array([10.0]), np.array([True])
    for city, expect in ((1, [[[70.1, 48.0], [70.1 - 0.04, 48.0]]]), (0, [])):
        r = MetricRouting.of_edges(Topology(2, u, v, ow), w, np.array([city]))
        fc = fua_catchments(lon, lat, u, v, w, r.field(np.array([0])), ["c"], 4.0, ow)
        got = [part for f in fc["features"] for part in f["geometry"]["coordinates"]]
        assert np.allclose(got, expect) if expect else got == []


# ---------------------------------------------------------------- maxspeed

LL = {"a": (70.0, 48.0), "b": (70.1, 48.0), "c": (70.2, 48.0)}


def write_speed_layer(path):
    gdf = gpd.GeoDataFrame(
        {"CLASS": ["republican", "republican"], "SPEED": [90, None]},
        geometry=[LineString([LL["a"], LL["b"]]), LineString([LL["b"], LL["c"]])],
        crs="EPSG:4326",
    )
    gdf.to_file(path)
    return path


def test_maxspeed_used_where_posted_else_class_speed(tmp_path):
    net = import_network(
        write_speed_layer(tmp_path / "speed.gpkg"), columns={"class": "CLASS", "speed": "SPEED"}
    )
    assert net.n_edges == 1  # one contracted chain a-b-c with two speeds
    ab, bc = geo_km(LL["a"], LL["b"]), geo_km(LL["b"], LL["c"])
    model = model_on(net, {"town": LL["c"]}, {"city": LL["a"]})
    cases = [
        ({}, ab / 90 * 60 + bc / 70 * 60, "maxspeed_use = use"),
        (
            {"speed_republican": 50},
            ab / 90 * 60 + bc / 50 * 60,
            "maxspeed_use = use",
        ),  # only the untagged part
        ({"maxspeed_use": "ignore"}, (ab + bc) / 70 * 60, "maxspeed_use = ignore"),
        (
            {"maxspeed_use": "ignore", "speed_republican": 50},
            (ab + bc) / 50 * 60,
            "maxspeed_use = ignore",
        ),
    ]
    for raw, minutes, words in cases:
        d = model.derive(parse_params(raw))
        town = d.towns[0]
        assert town.travel_min == pytest.approx(minutes, abs=5e-4), raw
        assert town.road_km == pytest.approx(ab + bc, abs=5e-4)
        assert words in town.in_fua.reason
        assert d.params.as_dict()["maxspeed_use"] == raw.get("maxspeed_use", "use")


def test_maxspeed_split_at_a_town_on_the_chain(tmp_path):
    """A town at vertex b splits the chain: the piece a-b keeps its posted 90 km/h, b-c the class
    speed."""
    net = import_network(
        write_speed_layer(tmp_path / "speed.gpkg"), columns={"class": "CLASS", "speed": "SPEED"}
    )
    ab, bc = geo_km(LL["a"], LL["b"]), geo_km(LL["b"], LL["c"])
    model = model_on(net, {"tb": LL["b"], "tc": LL["c"]}, {"city": LL["a"]})
    towns = {t.town_id: t for t in model.derive(parse_params({})).towns}
    assert towns["tb"].travel_min == pytest.approx(ab / 90 * 60, abs=5e-4)
    assert towns["tc"].travel_min == pytest.approx(ab / 90 * 60 + bc / 70 * 60, abs=5e-4)


def test_maxspeed_use_is_validated():
    from geo._errors import ParamError

    with pytest.raises(ParamError, match="maxspeed_use"):
        parse_params({"maxspeed_use": "sometimes"})


# ---------------------------------------------------------------- a town on a bent contracted chain

BENT = [(70.0, 48.0), (70.3, 48.25), (70.0, 48.5), (70.0, 49.0)]


def snap_by_hand(line_lonlat, point):
    """Nearest point of the line to the point in KZ_LCC (shapely), and the geodesic km along the
    line to it."""
    xy = [TO_LCC.transform(x, y) for x, y in line_lonlat]
    line = LineString(xy)
    p = Point(TO_LCC.transform(*point))
    s = line.project(p)
    foot = FROM_LCC.transform(*line.interpolate(s).coords[0])
    done, km = 0.0, 0.0
    for (x0, y0), (x1, y1), a, b in zip(xy[:-1], xy[1:], line_lonlat[:-1], line_lonlat[1:]):
        seg = float(np.hypot(x1 - x0, y1 - y0))
        if done + seg >= s:
            return foot, km + geo_km(a, foot)
        done, km = done + seg, km + geo_km(a, b)
    return foot, km


@pytest.mark.parametrize("fraction, offset", [(0.3, 0.0), (0.55, 0.004), (0.8, -0.003)])
def test_town_on_a_bent_chain_is_placed_exactly(tmp_path, fraction, offset):
    path = tmp_path / "bent.geojson"
    gpd.GeoDataFrame(
        {"CLASS": ["republican"]}, geometry=[LineString(BENT)], crs="EPSG:4326"
    ).to_file(path)
    net = import_network(path, columns={"class": "CLASS"})
    assert (net.n_nodes, net.n_edges) == (2, 1)  # the whole bent line is one contracted edge
    b, c = BENT[1], BENT[2]
    town = (b[0] + fraction * (c[0] - b[0]) + offset, b[1] + fraction * (c[1] - b[1]) + offset)
    foot, along = snap_by_hand(BENT, town)
    access = geo_km(town, foot)
    model = model_on(net, {"town": town}, {"start": BENT[0], "end": BENT[-1]})
    params = parse_params({"near_km": 1000})
    to_start = model.road_km(params, "town", "start")
    to_end = model.road_km(params, "town", "end")
    total = GEOD.line_length([p[0] for p in BENT], [p[1] for p in BENT]) / 1000
    assert to_start == pytest.approx(
        along + 1.3 * access, abs=1e-5
    )  # detour_access (float32 field) 1.3 on the access link
    assert to_end == pytest.approx(total - along + 1.3 * access, abs=1e-5)
    # the chord placement of before would have given a proportional share of the straight line
    # instead
    chord_frac = (GEOD.inv(*BENT[0], *foot)[2] / 1000) / geo_km(BENT[0], BENT[-1])
    assert abs(to_start - (chord_frac * total + 1.3 * access)) > 1.0
    net_graph = model.network(params)
    assert net_graph.access["town"]["km"] == pytest.approx(access, abs=1e-6)


def test_geometry_survives_save_and_load(tmp_path):
    path = tmp_path / "bent.geojson"
    gpd.GeoDataFrame(
        {"CLASS": ["republican"]}, geometry=[LineString(BENT)], crs="EPSG:4326"
    ).to_file(path)
    net = import_network(path, columns={"class": "CLASS"})
    save_version(net, "bent", tmp_path / "versions")
    back = load_version("bent", tmp_path / "versions")
    for k in ("geom_offsets", "geom_lon", "geom_lat", "geom_km", "posted_km", "posted_min"):
        assert np.array_equal(getattr(back, k), getattr(net, k)), k
    assert np.allclose(np.column_stack([back.geom_lon, back.geom_lat]), BENT)
    assert back.geom_km.sum() == pytest.approx(net.km[0], rel=1e-12)


def test_chain_geometry_runs_from_u_to_v(oneway_net):
    """Each edge's stored polyline starts at its u node and ends at its v node (one-way: along
    travel)."""
    n = oneway_net
    off = n.geom_offsets
    assert np.allclose(n.geom_lon[off[:-1]], n.lon[n.u]) and np.allclose(
        n.geom_lat[off[:-1]], n.lat[n.u]
    )
    assert np.allclose(n.geom_lon[off[1:] - 1], n.lon[n.v]) and np.allclose(
        n.geom_lat[off[1:] - 1], n.lat[n.v]
    )
    seg = np.add.reduceat(n.geom_km, off[:-1] - np.arange(n.n_edges))
    assert np.allclose(seg, n.km, rtol=1e-12)


# ---------------------------------------------------------------- planned roads on directed graphs


def _reference(n, u, v, ow, w, sources, planned):
    """Networkx: each node's distance TO its nearest source, on the reversed DiGraph, planned roads
    two-way."""
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    arcs = [(b, a, x) for a, b, x, o in zip(u, v, w, ow)] + [
        (a, b, x) for a, b, x, o in zip(u, v, w, ow) if not o
    ]
    arcs += [(a, b, x) for a, b, x in planned] + [(b, a, x) for a, b, x in planned]
    for a, b, x in arcs:
        if a != b and (not g.has_edge(a, b) or g[a][b]["w"] > x):
            g.add_edge(a, b, w=x)
    d = nx.multi_source_dijkstra_path_length(g, list(sources), weight="w")
    return np.array([d.get(i, np.inf) for i in range(n)])


def test_planned_roads_on_directed_graphs_equal_full_recompute():
    rng = np.random.default_rng(20261129)
    for case in range(150):
        n = int(rng.integers(5, 40))
        m = int(rng.integers(n, 3 * n))
        u, v = rng.integers(0, n, m), rng.integers(0, n, m)
        ow = rng.random(m) < rng.uniform(0.1, 0.9)
        w = np.round(rng.uniform(0.5, 20, m), 3)
        sources = rng.choice(n, int(rng.integers(1, 4)), replace=False)
        rows = np.arange(len(sources))
        planned = [
            (int(a), int(b), float(x))
            for a, b, x in zip(
                rng.integers(0, n, 3), rng.integers(0, n, 3), np.round(rng.uniform(0.1, 10, 3), 3)
            )
            if a != b
        ]
        routing = MetricRouting.of_edges(Topology(n, u, v, ow), w, sources)
        field = routing.field(rows)
        assert np.allclose(field.dist, _reference(n, u, v, ow, w, sources, []), equal_nan=False), (
            case
        )
        for k in range(1, len(planned) + 1):
            got = field.with_planned(planned[:k])
            ref = _reference(n, u, v, ow, w, sources, planned[:k])
            assert np.array_equal(np.isfinite(got.dist), np.isfinite(ref)), case
            fin = np.isfinite(ref)
            assert np.allclose(got.dist[fin], ref[fin], rtol=0, atol=1e-4), (
                case
            )  # float32 field precision
            # a full recompute with the planned roads as two-way edges gives the same
            full_u = np.concatenate([u, [a for a, _, _ in planned[:k]]])
            full_v = np.concatenate([v, [b for _, b, _ in planned[:k]]])
            full = MetricRouting.of_edges(
                Topology(n, full_u, full_v, np.concatenate([ow, np.zeros(k, bool)])),
                np.concatenate([w, [x for _, _, x in planned[:k]]]),
                sources,
            ).field(rows)
            assert np.allclose(got.dist[fin], full.dist[fin], atol=1e-4), case
            # the tree leads every reached node to a source along real arcs, with the reported
            # length
            for node in np.flatnonzero(fin)[:5]:
                path = got.path(int(node))
                assert path[0] in set(sources.tolist()) and path[-1] == node


def test_town_table_on_a_directed_graph():
    rng = np.random.default_rng(7)
    n, m = 30, 80
    u, v, ow = rng.integers(0, n, m), rng.integers(0, n, m), rng.random(m) < 0.5
    w = rng.uniform(1, 5, m)
    sources = np.array([0, 7, 19])
    routing = MetricRouting.of_edges(Topology(n, u, v, ow), w, sources)
    towns = np.arange(n)
    read = routing.table_field(routing.town_table(towns), np.array([0, 2]))
    ref = _reference(n, u, v, ow, w, sources[[0, 2]], [])
    fin = np.isfinite(ref)
    d = read.at(towns)[1]
    assert np.allclose(d[fin], ref[fin], atol=1e-4)
    assert not np.isfinite(d[~fin]).any()


def test_two_way_graph_unchanged_by_the_directed_code():
    """Oneway all false (or absent) gives the symmetric graph of before, entry for entry."""
    rng = np.random.default_rng(3)
    n, m = 50, 150
    u, v, w = rng.integers(0, n, m), rng.integers(0, n, m), rng.uniform(1, 9, m)
    sym = compact(n, u, v, w)
    assert (sym != sym.T).nnz == 0
    same = compact(n, u, v, w, np.zeros(m, bool))
    assert np.array_equal(sym.indptr, same.indptr) and np.array_equal(sym.indices, same.indices)
    assert np.array_equal(sym.data, same.data)
    one = compact(n, u, v, w, np.ones(m, bool))  # all one way: the transpose of the travel graph
    d_one = dijkstra(one, directed=True, indices=0)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b, x in zip(u, v, w):
        if a != b and (not g.has_edge(a, b) or g[a][b]["w"] > x):
            g.add_edge(a, b, w=x)
    ref = nx.single_source_dijkstra_path_length(g.reverse(), 0, weight="w")
    assert all(abs(d_one[i] - ref[i]) < 1e-9 if i in ref else np.isinf(d_one[i]) for i in range(n))


def test_imported_network_build_is_exact_at_vertices(oneway_net):
    """A point exactly on a node is joined there (no split, access link 0 km)."""
    t = gpd.GeoDataFrame({"id": ["t"]}, geometry=[Point(NODES[4])], crs="EPSG:4326")
    c = gpd.GeoDataFrame({"id": ["c"]}, geometry=[Point(NODES[1])], crs="EPSG:4326")
    g = build_imported(oneway_net, t, c, snap_km=120, on_network_km=3)
    assert g.access["t"]["km"] == pytest.approx(0.0, abs=1e-9) and g.access["c"][
        "km"
    ] == pytest.approx(0.0, abs=1e-9)
    assert (
        g.names.count("(on a road)") == 1
    )  # vertex 4 lies inside the contracted chain 3-4-5-1: split there


def test_a_version_saved_without_geometry_still_routes(oneway_net):
    """Format 1 (before the geometry was kept): straight edges with their real km; one-way still
    followed."""
    from dataclasses import replace

    old = replace(
        oneway_net,
        geom_offsets=None,
        geom_lon=None,
        geom_lat=None,
        geom_km=None,
        geom_maxspeed=None,
        posted_km=None,
        posted_min=None,
    )
    model = model_on(old, {"town": NODES[3]}, {"city": NODES[1]})
    town = model.derive(parse_params({})).towns[0]
    g = digraph_from_ways(NODES, WAYS)
    assert town.road_km == pytest.approx(nx.dijkstra_path_length(g, 3, 1, weight="km"), abs=5e-4)


def test_oneway_from_a_line_layer_column(tmp_path):
    """The same roads as a GeoPackage with a ONEWAY column (yes / -1 / empty) and an OSM class
    column."""
    path = tmp_path / "oneway.gpkg"
    gpd.GeoDataFrame(
        {
            "CLASS": [t["highway"] for _, _, t in WAYS],
            "ONEWAY": [t.get("oneway", "") for _, _, t in WAYS],
        },
        geometry=[LineString([NODES[k] for k in refs]) for _, refs, _ in WAYS],
        crs="EPSG:4326",
    ).to_crs("EPSG:32642").to_file(path)
    net = import_network(path, columns={"class": "CLASS", "oneway": "ONEWAY"})
    g = digraph_from_ways(NODES, WAYS)
    model = model_on(net, {"town": NODES[3]}, {"city": NODES[1]})
    params = parse_params({"near_km": 1000})
    assert model.derive(params).towns[0].road_km == pytest.approx(
        nx.dijkstra_path_length(g, 3, 1, weight="km"), abs=5e-4
    )
    # and the other way round: with the town as the city, the trip takes the short one-way road
    back = model_on(net, {"town": NODES[1]}, {"city": NODES[3]})
    assert back.derive(params).towns[0].road_km == pytest.approx(
        nx.dijkstra_path_length(g, 1, 3, weight="km"), abs=5e-4
    )


def test_shipped_network_stays_undirected_and_class_timed():
    """The shipped network has no one-way edge and no posted speed: the symmetric graph, class
    speeds, and reasons without the imported-network notes (its golden values are in
    test_geo_derivation)."""
    model = SpatialModel()
    params = parse_params({})
    net = model.network(params)
    assert net.oneway is None and net.posted is None and not net.directed
    g = model.metric(params, "min").graph
    assert (g != g.T).nnz == 0
    same = model.derive(params)
    ignore = model.derive(parse_params({"maxspeed_use": "ignore"}))
    for a, b in zip(same.towns, ignore.towns):
        assert (a.road_km, a.travel_min, a.in_fua, a.near_large_city) == (
            b.road_km,
            b.travel_min,
            b.in_fua,
            b.near_large_city,
        )
        assert "one-way" not in a.near_large_city.reason and "maxspeed" not in a.in_fua.reason
