"""geo.routing against fresh searches: planned-road insertion, town tables, paths (small random
graphs)."""

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

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
    routing = MetricRouting(Topology(n, u, v), w, rng.choice(n, 6, replace=False))
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
    routing = MetricRouting(Topology(n, u, v, oneway), w, rng.choice(n, 6, replace=False))
    towns = rng.choice(n, 12, replace=False)
    table = routing.town_table(towns)
    assert routing.has_table(towns[::-1]) and routing.town_table(towns) is table
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


def test_table_field_searches_only_for_whole_arrays():
    n, u, v, w, rng = random_graph(7)
    routing = MetricRouting(Topology(n, u, v), w, rng.choice(n, 5, replace=False))
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
