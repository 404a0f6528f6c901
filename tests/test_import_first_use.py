"""Once per version, not once per worker: what the first use of an imported version computes (its
routing graph, topology and weight inputs) is stored with it and memory-mapped by later opens.

The PBF is written here (osmium, SYNTHETIC roads, as tests/test_versions.py); the expected answers
are those of the first open, which computes everything itself.
"""

import shutil

import numpy as np
import pytest

import geo.agglomeration
from geo.agglomeration import SpatialModel
from geo.layers import load_layers
from geo.netimport import import_network, save_version
from geo.params import parse_params
from geo.layers import chord_km
from geo.routing import Topology, edge_weights
from geo.versions import FIRST_USE, layers_for
from test_netimport import write_pbf

NODES = {1: (70.0, 48.0), 2: (70.3, 48.25), 3: (70.0, 48.5), 4: (70.0, 49.0), 5: (70.2, 48.7)}
WAYS = [
    (1, [1, 2, 3, 4], {"highway": "trunk", "ref": "M-99"}),
    (2, [3, 5, 4], {"highway": "secondary", "oneway": "yes", "maxspeed": "70"}),
]


@pytest.fixture()
def version(tmp_path):
    save_version(import_network(write_pbf(tmp_path / "w.osm.pbf", NODES, WAYS)), "w", tmp_path)
    return tmp_path


def answers(model, raw=None):
    d = model.derive(parse_params(raw or {}))
    return [
        (
            t.town_id,
            t.nearest_city_id,
            t.road_km,
            t.travel_min,
            t.route,
            t.unroutable,
            t.corridor_junction.value,
            t.lines,
        )
        for t in d.towns
    ]


CHANGES = [
    None,
    {"speed_republican": 70},
    {"large_city_min_pop": 1_000_000},
    {"planned_roads": [{"from": "Ontown", "to": "Bigcity", "class": "international"}]},
]


def test_second_open_maps_the_stored_arrays(version, tiny_root, monkeypatch):
    base = load_layers(tiny_root)
    first = SpatialModel(layers_for("w", version, base))
    want = [answers(first, raw) for raw in CHANGES]
    # the first worker built the roads layer for the junction lines and let it go once stored
    assert first.layers.__dict__["_roads"] is None
    stored = [p for p in (version / "w" / FIRST_USE).iterdir() if p.is_dir()]
    assert len(stored) == 1 and (stored[0] / "meta.json").is_file()

    def recompute(*args, **kwargs):
        raise AssertionError("the stored first use was not read")

    monkeypatch.setattr(geo.agglomeration, "build_imported", recompute)
    layers = layers_for("w", version, base)
    second = SpatialModel(layers)
    assert [answers(second, raw) for raw in CHANGES] == want
    assert layers.__dict__["_roads"] is None  # junction lines stored: no roads layer built
    assert len(layers.roads) > 0  # built when the map asks for it
    net = second.network(parse_params({}))
    assert isinstance(net.u, np.memmap) and not net.u.flags.writeable
    _, topology, edges = second._network_entry(parse_params({}))
    assert topology.nbytes == 0  # mapped, shared by every process
    assert all(isinstance(x, np.memmap) for x in edges.arrays().values())
    # what the process holds of its own: the detour-scaled lengths of the weights it made
    kept = sum(x.nbytes for c in edges._classes for x in c._last[1])
    assert second.cache_bytes()["topology"] == edges.nbytes == kept > 0


def test_a_version_stored_before_still_opens(version, tiny_root):
    """A version imported before this store existed (no first_use folder) is computed and stored on
    first use; a changed snapping distance is a second entry."""
    base = load_layers(tiny_root)
    want = answers(SpatialModel(layers_for("w", version, base)))
    shutil.rmtree(version / "w" / FIRST_USE)
    model = SpatialModel(layers_for("w", version, base))
    assert answers(model) == want
    entries = lambda: [p for p in (version / "w" / FIRST_USE).iterdir() if p.is_dir()]  # noqa: E731
    assert len(entries()) == 1
    answers(model, {"snap_km": 20})
    assert len(entries()) == 2


def test_topology_from_its_arrays_gives_the_same_graph():
    rng = np.random.default_rng(5)
    u, v, w = rng.integers(0, 40, 120), rng.integers(0, 40, 120), rng.uniform(1, 3, 120)
    for oneway in (None, rng.random(120) < 0.3):
        t = Topology(40, u, v, oneway)
        again = Topology.from_arrays(40, t.arrays())
        assert again.directed == t.directed
        assert (again.graph(w) != t.graph(w)).nnz == 0


def test_a_town_table_built_by_one_worker_is_read_by_the_next(version, tiny_root):
    """The town tables the first worker builds at the version's first use are stored with it: the
    next worker reads them (no town search) and answers every change with the same values and no
    whole-graph search."""
    from geo.routing import MetricRouting, TownField

    base = load_layers(tiny_root)
    first = SpatialModel(layers_for("w", version, base))
    p = parse_params({})
    held = []  # the first use builds the tables outside the lock every cached field needs
    original = MetricRouting.town_table
    MetricRouting.town_table = lambda self, cols: (
        held.append(first._fields.lock._is_owned()) or original(self, cols))
    try:
        want = [answers(first, raw) for raw in CHANGES[:3]]
    finally:
        MetricRouting.town_table = original
    assert held == [False, False]  # once per metric
    assert len(list((version / "w" / FIRST_USE).glob("*/table-*.npz"))) == 2
    second = SpatialModel(layers_for("w", version, base))
    built = []
    MetricRouting.town_table = lambda self, cols: built.append(1) or original(self, cols)
    try:
        assert [answers(second, raw) for raw in CHANGES[:3]] == want
    finally:
        MetricRouting.town_table = original
    assert built == []
    assert isinstance(second.field(p, "km", np.array([0])), TownField)
    assert second.metric(p, "km").searches == 0 and second.metric(p, "min").searches == 0



def test_the_travel_entries_inputs_are_stored_with_the_first_use(version, tiny_root):
    """The weights' inputs in the travel graph's order, with the planned-road bound's chords
    (great-circle km between each entry's end nodes, which an edge's km may be below where a line
    layer's vertices merged into one node), are computed by the first use and mapped by the next
    open; the weights made from them are those of the per-edge weights."""
    base = load_layers(tiny_root)
    p = parse_params({"speed_oblast": 47})
    first = SpatialModel(layers_for("w", version, base))._network_entry(p)[2]
    net, topology, edges = SpatialModel(layers_for("w", version, base))._network_entry(p)
    entry = topology.travel_edges()[0]
    assert isinstance(edges.chord, np.memmap) and len(edges.chord) == len(entry) > 3
    want = chord_km(net.lon[net.u], net.lat[net.u], net.lon[net.v], net.lat[net.v])[entry]
    assert np.array_equal(edges.chord, want) and np.array_equal(first.chord, want)
    for metric in ("km", "min"):
        w = edge_weights(net.cls, net.km, p, net.factor, net.posted)[metric]
        assert np.array_equal(edges.weights(metric, p), topology.travel_data(w))
        # each edge's own weight (what the FUA catchments draw), from the stored class codes
        assert isinstance(edges.per_edge.codes, np.memmap)
        assert np.array_equal(edges.per_edge.metric(metric, net.km, p, net.factor, net.posted), w)
