"""geo.routing against fresh searches: planned-road insertion, per-city matrices, paths (small random graphs)."""
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
    roads = [(int(a), int(b), float(x)) for a, b, x in zip(rng.integers(0, n, 3), rng.integers(0, n, 3),
                                                            rng.uniform(0.1, 3.0, 3)) if a != b]
    field = routing.field(rows).with_planned(roads)
    g = routing.graph
    for a, b, x in roads:
        g = with_edge(g, a, b, x)
    expected = fresh(g, routing.sources[rows])
    assert np.allclose(field.dist, expected, rtol=1e-6, equal_nan=True)
    for node in rng.integers(0, n, 20):  # every path is an edge sequence of the new graph with the right length
        path = field.path(int(node))
        if not np.isfinite(expected[node]):
            assert path == []
            continue
        length = sum(g[min(p, q), max(p, q)] for p, q in zip(path[:-1], path[1:]))
        assert length == pytest.approx(expected[node], rel=1e-5)
        assert path[0] == routing.sources[field.src[node]]


@pytest.mark.parametrize("seed", range(4))
def test_matrix_field_equals_the_multi_source_search(seed):
    n, u, v, w, rng = random_graph(seed + 100)
    routing = MetricRouting(Topology(n, u, v), w, rng.choice(n, 6, replace=False))
    rows = np.array([1, 4])
    searched = routing.field(rows)
    routing.build_matrix()
    from_matrix = routing.field(rows)
    nodes = np.arange(n)
    assert np.allclose(from_matrix.at(nodes)[1], searched.dist, rtol=1e-6)
    assert np.allclose(from_matrix.dist, searched.dist, rtol=1e-6)
    node = int(np.flatnonzero(np.isfinite(searched.dist))[-1])
    assert from_matrix.path(node)[-1] == node


def test_topology_keeps_the_lightest_parallel_edge():
    g = Topology(3, np.array([0, 1, 0, 2]), np.array([1, 0, 1, 2])).graph(np.array([5.0, 2.0, 7.0, 1.0]))
    assert g[0, 1] == g[1, 0] == 2.0 and g.nnz == 2  # symmetric; the self-loop dropped
