"""geo.routing against fresh searches: planned-road insertion, town tables, paths (small random
graphs)."""

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

import geo.routing
from geo.routing import MetricRouting, Topology, with_edge


def random_graph(seed: int, n: int = 300, m: int = 700):
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.uniform(0.5, 10.0, m)
    return n, u, v, w, rng


def fresh(graph, sources):
    d = dijkstra(graph, directed=False, indices=sources, min_only=True)
    return d


@pytest.mark.parametrize("seed", range(8))
def test_planned_roads_equal_a_fresh_search(seed):
    n, u, v, w, rng = random_graph(seed)
    routing = MetricRouting.of_edges(Topology(n, u, v), w, rng.choice(n, 6, replace=False))
    rows = np.array([0, 2, 3, 5])
    roads = [
        (int(a), int(b), float(x))
        for a, b, x in zip(rng.integers(0, n, 3), rng.integers(0, n, 3), rng.uniform(0.1, 3.0, 3))
        if a != b
    ]
    field = routing.field(rows).with_planned(roads)
    g = routing.graph
    for a, b, x in roads:
        g = with_edge(g, a, b, x)
    expected = fresh(g, routing.sources[rows])
    assert np.allclose(field.dist, expected, rtol=1e-6, equal_nan=True)
    for node in rng.integers(
        0, n, 20
    ):  # every path is an edge sequence of the new graph with the right length
        path = field.path(int(node))
        if not np.isfinite(expected[node]):
            assert path == []
            continue
        length = sum(g[min(p, q), max(p, q)] for p, q in zip(path[:-1], path[1:]))
        assert length == pytest.approx(expected[node], rel=1e-5)
        assert path[0] == routing.sources[field.src[node]]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("directed", [False, True])
def test_town_table_equals_the_multi_source_search(seed, directed):
    """Towns' nearest city, distance and route from the town table = a fresh multi-source search,
    for several city sets, on two-way and one-way graphs."""
    n, u, v, w, rng = random_graph(seed + 100)
    oneway = rng.random(len(u)) < 0.4 if directed else None
    routing = MetricRouting.of_edges(Topology(n, u, v, oneway), w, rng.choice(n, 6, replace=False))
    towns = rng.choice(n, 12, replace=False)
    table = routing.town_table(towns)
    for rows in ([1, 4], [0, 2, 3, 5], [5], list(range(6))):
        rows = np.array(rows)
        searched, read = routing.field(rows), routing.table_field(table, rows)
        src, d = read.at(towns)
        want_src, want_d = searched.at(towns)
        assert np.array_equal(d, want_d)  # the same float32 value, not only close
        assert np.array_equal(src, want_src)
        for t, x in zip(towns, d):
            path = read.path(int(t))
            if not np.isfinite(x):
                assert path == []
                continue
            assert path[0] == routing.sources[src[list(towns).index(t)]] and path[-1] == t
            length = sum(routing.graph[p, q] for p, q in zip(path[:-1], path[1:]))
            assert length == pytest.approx(x, rel=1e-6)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("directed", [False, True])
def test_bounded_town_searches_equal_the_multi_source_search(seed, directed):
    """One search per town stopped at the length of a route known from a table of OTHER weights
    (another metric, other speeds) gives the multi-source search's city, float32 distance and a
    route of that length, with and without planned two-way edges; no whole-graph search."""
    n, u, v, w, rng = random_graph(seed + 200)
    oneway = rng.random(len(u)) < 0.4 if directed else None
    topo, sources = Topology(n, u, v, oneway), rng.choice(n, 6, replace=False)
    towns = rng.choice(n, 12, replace=False)
    known = MetricRouting.of_edges(topo, w, sources).town_table(towns)
    other = w * rng.uniform(0.3, 3.0, len(w))  # other weights
    routing = MetricRouting.of_edges(topo, other, sources)
    for rows in ([1, 4], [0, 2, 3, 5], [5], list(range(6)), []):
        rows = np.array(rows, dtype=np.int64)
        for planned in ((), ((int(towns[0]), int(sources[1]), 0.5),
                            (int(towns[3]), int(towns[7]), 0.2))):
            before = routing.searches
            got = routing.town_field(rows, known, planned, budget=np.inf)
            src, d = got.at(np.sort(towns))
            assert routing.searches == before
            want = routing.field(rows)
            want = want.with_planned(list(planned)) if planned else want
            want_src, want_d = want.at(np.sort(towns))
            if planned:  # an insertion sums old + road + the rest in float64: close, not equal
                assert np.allclose(d, want_d, rtol=1e-6, atol=0), (rows, planned)
            else:
                assert np.array_equal(d, want_d), rows
            assert np.array_equal(src, want_src), (rows, planned)
            # past the budget, one multi-source search answers, at the towns' float32 precision
            fell = routing.town_field(rows, known, planned, budget=0).at(np.sort(towns))[1]
            assert np.array_equal(fell, fell.astype(np.float32).astype(float)), (rows, planned)
            assert np.allclose(fell, d, rtol=1e-6, atol=0), (rows, planned)
            travel = routing.travel
            for a, b, x in planned:
                travel = with_edge(travel, a, b, x)
            for t, x in zip(np.sort(towns), d):
                path = got.path(int(t))
                if not np.isfinite(x):
                    assert path == []
                    continue
                assert path[-1] == t and path[0] == sources[src[list(np.sort(towns)).index(t)]]
                length = sum(travel[q, p] for p, q in zip(path[:-1], path[1:]))
                assert length == pytest.approx(x, rel=1e-6)


def test_town_searches_past_their_budget_give_way_to_one_multi_source_search(monkeypatch):
    n, u, v, w, rng = random_graph(31)
    topo, sources = Topology(n, u, v), rng.choice(n, 6, replace=False)
    towns = np.sort(rng.choice(n, 12, replace=False))
    known = MetricRouting.of_edges(topo, w, sources).town_table(towns)
    routing = MetricRouting.of_edges(topo, w * 1.7, sources)
    rows = np.array([0, 3])
    limits = []

    def search(graph, **kw):  # records each town search's limit
        if np.ndim(kw["indices"]) == 0:
            limits.append(kw["limit"])
        return dijkstra(graph, **kw)

    monkeypatch.setattr(geo.routing, "dijkstra", search)
    routing.town_field(rows, known, budget=np.inf)
    every = list(limits)
    assert len(every) == len(towns) and every == sorted(every)  # the narrowest first
    limits.clear()
    got = routing.town_field(rows, known, budget=0)
    assert routing.searches == 1  # the town searches passed the budget
    # ... the narrowest ones (the nodes reached are counted on a sample: a small graph's search may
    # count none), the least work spent in vain
    assert 1 <= len(limits) < len(towns) and limits == every[: len(limits)]
    want = routing.field(rows)
    assert np.array_equal(got.at(towns)[1], want.at(towns)[1])
    assert [got.path(int(t)) for t in towns] == [want.path(int(t)) for t in towns]


def test_table_field_searches_only_for_whole_arrays():
    n, u, v, w, rng = random_graph(7)
    routing = MetricRouting.of_edges(Topology(n, u, v), w, rng.choice(n, 5, replace=False))
    towns = rng.choice(n, 8, replace=False)
    read = routing.table_field(routing.town_table(towns), np.array([0, 3]))
    read.at(towns)
    assert routing.searches == 0  # towns are array work
    assert np.array_equal(read.dist, routing.field(np.array([0, 3])).dist)  # whole arrays: a search
    assert routing.searches == 2


def test_topology_keeps_the_lightest_parallel_edge():
    g = Topology(3, np.array([0, 1, 0, 2]), np.array([1, 0, 1, 2])).graph(
        np.array([5.0, 2.0, 7.0, 1.0])
    )
    assert g[0, 1] == g[1, 0] == 2.0 and g.nnz == 2  # symmetric; the self-loop dropped


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("directed", [False, True])
def test_with_edges_is_one_copy_equal_to_each_entry_set_in_turn(seed, directed):
    """Several planned edges (new entries, existing ones, the same pair twice, one row given two
    new entries) in one copy: the graph each entry set by hand gives, indices sorted per row; the
    graph asked with is left as it was."""
    n, u, v, w, rng = random_graph(seed + 500, n=60, m=150)
    oneway = rng.random(len(u)) < 0.4 if directed else None
    g = Topology(n, u, v, oneway).graph(w)
    before = g.toarray()
    a, b = int(u[0]), int(v[0])
    edges = [(a, b, 0.01), (b, a, 50.0), (a, b, 0.02)]  # existing (unless a self-loop) and again
    edges += [(int(x), int(y), float(z)) for x, y, z in
              zip(rng.integers(0, n, 6), rng.integers(0, n, 6), rng.uniform(0.1, 9.0, 6))]
    edges += [(3, 40, 1.5), (3, 41, 2.5)]  # two new entries of one row
    got = geo.routing.with_edges(g, edges)
    want = before.copy()
    for x, y, z in edges:
        z = max(z, geo.routing.MIN_WEIGHT)
        for r, c in ((x, y), (y, x)):
            want[r, c] = z if want[r, c] == 0 else min(want[r, c], z)
    assert np.array_equal(got.toarray(), want)
    assert all(np.all(np.diff(got.indices[got.indptr[r]:got.indptr[r + 1]]) > 0) for r in range(n))
    assert np.array_equal(g.toarray(), before)
    one_by_one = g
    for x, y, z in edges:
        one_by_one = with_edge(one_by_one, x, y, z)
    assert np.array_equal(one_by_one.toarray(), want)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("directed", [False, True])
def test_weights_in_the_travel_graphs_order_equal_the_per_edge_weights(seed, directed):
    """TravelEdges (the weights' inputs gathered into the travel graph's order) give, for every
    speed, detour and maxspeed setting, the travel graph of the per-edge weights, which is the
    dense graph of the lightest parallel edge per driven direction (many parallel edges here); its
    reverse is the graph searched from the cities."""
    from geo.params import parse_params
    from geo.routing import EdgeClasses, TravelEdges, edge_weights

    n, u, v, _, rng = random_graph(seed + 700, n=40, m=400)  # ~10 parallel edges per pair
    oneway = rng.random(len(u)) < 0.4 if directed else None
    cls = rng.choice(["international", "republican", "oblast", "access"], len(u))
    km = rng.uniform(0.1, 20.0, len(u))
    factor = np.where(rng.random(len(u)) < 0.3, rng.uniform(1.0, 1.5, len(u)), np.nan)
    posted_km = np.where(rng.random(len(u)) < 0.5, km * rng.uniform(0, 1, len(u)), 0.0)
    posted = (posted_km, posted_km / rng.uniform(40, 110, len(u)) * 60)
    topology = Topology(n, u, v, oneway)
    edges = TravelEdges.of(topology, EdgeClasses(cls), km, factor, posted, np.ones(len(u)))
    assert len(edges.extra.get("pos", [])) > 0
    for change in ({}, {"speed_oblast": 37}, {"maxspeed_use": "ignore"},
                   {"detour_republican": 1.4, "speed_access": 21}):
        params = parse_params(change)
        for metric in ("km", "min"):
            w = edge_weights(cls, km, params, factor, posted)[metric]
            data = edges.weights(metric, params)
            assert np.array_equal(data, topology.travel_data(w))
            want = np.full((n, n), np.inf)
            for a, b, x, one in zip(u, v, w, oneway if directed else np.zeros(len(u), bool)):
                if a != b:
                    want[a, b] = min(want[a, b], x)
                    if not one:
                        want[b, a] = min(want[b, a], x)
            travel = topology.travel_csr(data).toarray()
            assert np.array_equal(np.where(travel > 0, travel, np.inf), want)
            searched = topology.searched_csr(data).toarray()
            assert np.array_equal(np.where(searched > 0, searched, np.inf), want.T)
    assert edges.weights("km", parse_params({})) is not edges.weights("km", parse_params({}))


@pytest.mark.parametrize("directed", [False, True])
def test_a_routing_counts_each_graph_once(directed):
    """Two-way network: the searched graph is the travel graph (no second array, counted once);
    with one-way edges it is the reverse, a second array of the same size."""
    n, u, v, w, rng = random_graph(900)
    oneway = rng.random(len(u)) < 0.4 if directed else None
    routing = MetricRouting.of_edges(Topology(n, u, v, oneway), w, rng.choice(n, 4, replace=False))
    before = routing.nbytes
    assert before == routing.data.nbytes
    graph = routing.graph
    assert (graph is routing.travel) != directed
    assert routing.nbytes == before * (2 if directed else 1)
