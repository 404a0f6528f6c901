"""The hot path: compact graph (scipy.sparse.csgraph) and nearest-large-city fields.

Three levels, each cached by the caller (geo.agglomeration) for what it depends on:

``Topology`` (per network)
    The compact undirected CSR structure of the edges; a new weight set (speeds, detours) only
    refills its data array (``Topology.graph``), it never sorts the edges again.
``MetricRouting`` (per network and weights of one metric, road km or minutes)
    The graph, and ``field(rows)``: for every node, the nearest of the selected large cities, its
    distance and the shortest-path tree (one multi-source search, scipy ``min_only``). The
    per-city matrices (city x node, float32) are built once, on request or in the background, so
    that a later change of the city set is array work, not a search.
``NearestField.with_planned``
    Adds planned roads exactly: ``new = min(old, old[a] + w + d(b, n), old[b] + w + d(a, n))``.
    Only the direction that reaches its far end sooner than before can help (at most one), and its
    search stops at the largest finite distance less the gain (no node farther can improve).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

METRICS = ("km", "min")
MIN_WEIGHT = 1e-9  # csgraph treats explicit zeros as missing edges


def edge_weights(cls: np.ndarray, km: np.ndarray, params, factor: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Road km (geodesic x the section's published factor, else the class's detour factor) and minutes
    (road km / class speed)."""
    return EdgeClasses(cls).weights(km, params, factor)


class EdgeClasses:
    """Each edge's road class as a small integer code (found once per network, not per speed set)."""

    def __init__(self, cls: np.ndarray):
        codes, names = pd.factorize(np.asarray(cls))  # hashing, not sorting: fast on 2M strings
        self.codes, self.names = codes.astype(np.int64), [str(c) for c in names]

    def values(self, table: dict) -> np.ndarray:
        """Per-edge value of a per-class table."""
        return np.array([table[c] for c in self.names], dtype=float)[self.codes]

    def weights(self, km: np.ndarray, params, factor: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Road km (geodesic x the published section factor where there is one, else the class's detour
        factor) and minutes (road km / speed) per edge."""
        detour = self.values(dict(params.detours))
        if factor is not None:
            detour = np.where(np.isfinite(factor), factor, detour)
        road_km = np.asarray(km, dtype=float) * detour
        return {"km": road_km, "min": road_km / self.values(dict(params.speeds)) * 60.0}


class Topology:
    """The compact structure of a network's edges: symmetric CSR (both directions), parallel edges merged.

    Searches run with ``directed=True`` on the symmetric matrix: scipy would otherwise transpose an
    undirected graph on every call.

    Parameters
    ----------
    n : number of nodes.
    u, v : edge end nodes (parallel edges and self-loops allowed).
    """

    def __init__(self, n: int, u: np.ndarray, v: np.ndarray):
        self.n = int(n)
        self.u, self.v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
        a, b = np.minimum(self.u, self.v), np.maximum(self.u, self.v)
        keep = np.flatnonzero(a != b)
        order = keep[np.lexsort((b[keep], a[keep]))]
        a, b = a[order], b[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        self._order, self._starts = order, np.flatnonzero(first)
        a, b = a[first], b[first]
        # both directions, each entry carrying its pair number + 1 (scipy's C code sorts and merges)
        up = csr_matrix((np.arange(1, len(a) + 1, dtype=np.int64), (a, b)), shape=(self.n, self.n))
        sym = (up + up.T).tocsr()
        sym.sort_indices()
        self.indices, self.indptr = sym.indices.astype(np.int32), sym.indptr.astype(np.int32)
        self._pair = sym.data - 1

    @property
    def nbytes(self) -> int:
        return sum(x.nbytes for x in (self.u, self.v, self._order, self._starts, self.indices, self.indptr,
                                      self._pair))

    def graph(self, w: np.ndarray) -> csr_matrix:
        """The symmetric CSR graph for per-edge weights ``w`` (the lightest of parallel edges), no sort."""
        if len(self._order) == 0:
            return csr_matrix((self.n, self.n))
        data = np.minimum.reduceat(np.asarray(w, dtype=float)[self._order], self._starts)
        return csr_matrix((np.maximum(data, MIN_WEIGHT)[self._pair], self.indices, self.indptr),
                          shape=(self.n, self.n))


def compact(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> csr_matrix:
    """Symmetric CSR adjacency keeping the lightest of parallel edges (COO would sum them)."""
    return Topology(n, u, v).graph(w)


def with_edge(g: csr_matrix, a: int, b: int, w: float) -> csr_matrix:
    """A copy of the symmetric graph with edge (a, b) of weight w (the lighter one if it exists)."""
    w = max(w, MIN_WEIGHT)
    return _with_entry(_with_entry(g, a, b, w), b, a, w)


def _with_entry(g: csr_matrix, a: int, b: int, w: float) -> csr_matrix:
    """Entry (a, b) set to min(old, w), inserted at its sorted place: one copy of the arrays."""
    lo, hi = g.indptr[a], g.indptr[a + 1]
    at = lo + int(np.searchsorted(g.indices[lo:hi], b))
    if at < hi and g.indices[at] == b:  # an existing entry: no change of structure
        data = g.data.copy()
        data[at] = min(data[at], w)
        return csr_matrix((data, g.indices, g.indptr), shape=g.shape)
    indptr = g.indptr.copy()
    indptr[a + 1:] += 1
    data = np.concatenate([g.data[:at], [w], g.data[at:]])
    indices = np.concatenate([g.indices[:at], np.array([b], dtype=g.indices.dtype), g.indices[at:]])
    return csr_matrix((data, indices, indptr), shape=g.shape)


@dataclass
class NearestField:
    """For every node: the nearest selected source, its distance, and the shortest-path tree.

    Attributes
    ----------
    dist : float64 (n,), inf where no selected source is reachable.
    src : int32 (n,), the source's row in the routing's ``sources`` (-1 when unreachable).
    pred : int32 (n,), the previous node on the shortest path (-9999 at sources and unreachable).
    graph : the CSR graph the field was searched on (planned roads but the ``pending`` last one).
    """

    dist: np.ndarray
    src: np.ndarray
    pred: np.ndarray
    graph: csr_matrix
    pending: tuple = ()  # planned edges not yet in ``graph`` (added when another road needs a search)

    @property
    def nbytes(self) -> int:
        return self.dist.nbytes + self.src.nbytes + self.pred.nbytes

    def at(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source row, distance) at the given nodes."""
        return self.src[nodes], self.dist[nodes]

    def path(self, node: int) -> list[int]:
        """Node sequence from the nearest selected source to ``node`` ([] when unreachable)."""
        if not np.isfinite(self.dist[node]):
            return []
        out = [int(node)]
        for _ in range(len(self.pred)):
            prev = int(self.pred[out[-1]])
            if prev < 0:
                return out[::-1]
            out.append(prev)
        raise RuntimeError("shortest-path tree has a cycle")  # cannot happen with positive weights

    def with_planned(self, roads: list[tuple[int, int, float]]) -> "NearestField":
        """A new field with planned edges (a, b, weight) added one by one; this one is left untouched.

        Road k is searched on the graph with roads 1..k-1 only: a path from its far end that uses
        road k itself doubles back and never improves a distance. So one road needs no graph copy.
        """
        field = NearestField(self.dist.copy(), self.src.copy(), self.pred.copy(), self.graph)
        field.pending = self.pending
        for a, b, w in roads:
            for edge in field.pending:
                field.graph = with_edge(field.graph, *edge)
            field.pending = ((int(a), int(b), float(w)),)
            field._insert(int(a), int(b), float(w))
        return field

    def _insert(self, a: int, b: int, w: float) -> None:
        """Exact single-edge insertion: at most one bounded search (only one direction can help)."""
        d = self.dist
        finite = d[np.isfinite(d)]
        top = float(finite.max()) if len(finite) else np.inf
        # via a -> b: new = d[a] + w + d(b, n); only nodes with d(b, n) < top - d[a] - w can improve
        # a direction helps only when it reaches its far end sooner than before (g < d[end])
        gains = [(start, end, d[start] + w) for start, end in ((a, b), (b, a)) if d[start] + w < d[end]]
        found = []
        for start, end, g in gains:
            limit = max(top - g, 0.0) if np.isfinite(d[end]) else np.inf
            de, pe = dijkstra(self.graph, directed=True, indices=end, limit=limit, return_predecessors=True)
            pe[end] = start
            found.append((start, g + de, pe))
        for start, c, pe in found:
            better = np.flatnonzero(c < self.dist)
            if len(better):
                self.dist[better] = c[better]
                self.pred[better] = pe[better]
                self.src[better] = self.src[start]


class MatrixField(NearestField):
    """A NearestField read from the per-city matrices: towns and routes at once, whole arrays on demand.

    ``at`` and ``path`` read only the towns' columns and the chosen city's tree; ``dist``, ``src``
    and ``pred`` for every node (catchments, planned roads) are computed on first use.
    """

    def __init__(self, graph: csr_matrix, matrix: np.ndarray, pred_matrix: np.ndarray | None, rows: np.ndarray):
        self.graph, self._m, self._p, self._rows, self.pending = graph, matrix, pred_matrix, rows, ()
        self._full: tuple | None = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._full is None:
            n = self._m.shape[1]
            sub = self._m[self._rows]
            arg = np.argmin(sub, axis=0)
            d = sub[arg, np.arange(n)].astype(float)
            src = self._rows[arg].astype(np.int32)
            src[~np.isfinite(d)] = -1
            pred = (self._p[src.clip(0), np.arange(n)] if self._p is not None else np.full(n, -9999, np.int32))
            self._full = (d, src, pred)
        return self._full

    dist = property(lambda self: self._arrays()[0])
    src = property(lambda self: self._arrays()[1])
    pred = property(lambda self: self._arrays()[2])

    @property
    def nbytes(self) -> int:
        return 0 if self._full is None else sum(x.nbytes for x in self._full)

    def at(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.asarray(nodes, dtype=np.int64)
        sub = self._m[np.ix_(self._rows, nodes)]
        arg = np.argmin(sub, axis=0)
        d = sub[arg, np.arange(len(nodes))].astype(float)
        src = self._rows[arg].astype(np.int32)
        src[~np.isfinite(d)] = -1
        return src, d

    def path(self, node: int) -> list[int]:
        src, d = self.at(np.array([node]))
        if src[0] < 0 or self._p is None:
            return [] if src[0] < 0 else NearestField.path(self, node)
        tree = self._p[src[0]]
        out = [int(node)]
        for _ in range(len(tree)):
            prev = int(tree[out[-1]])
            if prev < 0:
                return out[::-1]
            out.append(prev)
        raise RuntimeError("shortest-path tree has a cycle")

    def with_planned(self, roads: list[tuple[int, int, float]]) -> NearestField:
        d, src, pred = self._arrays()
        return NearestField(d, src, pred, self.graph).with_planned(roads)


class MetricRouting:
    """One metric's graph over a topology, with nearest-source fields and per-city matrices.

    Parameters
    ----------
    topology : the network's compact structure.
    w : per-edge weight of the metric (road km or minutes).
    sources : node of every candidate large city (the rows).
    predecessors : keep shortest-path trees (needed for routes, i.e. road km only).
    """

    def __init__(self, topology: Topology, w: np.ndarray, sources: np.ndarray, *, predecessors: bool = True):
        self.topology, self.w = topology, np.asarray(w, dtype=float)
        self.sources = np.asarray(sources, dtype=np.int64)
        self.graph = topology.graph(self.w)
        self.predecessors = predecessors
        self._matrix: tuple[np.ndarray, np.ndarray | None] | None = None
        self._lock, self._building = threading.Lock(), None

    @property
    def nbytes(self) -> int:
        m = self._matrix
        extra = 0 if m is None else m[0].nbytes + (0 if m[1] is None else m[1].nbytes)
        return self.w.nbytes + self.graph.data.nbytes + extra

    def field(self, rows: np.ndarray) -> NearestField:
        """Nearest of the selected rows for every node: from the per-city matrices when built, else one search."""
        rows = np.asarray(rows, dtype=np.int64)
        n = self.topology.n
        if len(rows) == 0:
            return NearestField(np.full(n, np.inf), np.full(n, -1, np.int32), np.full(n, -9999, np.int32), self.graph)
        if self._matrix is not None:
            return self._field_from_matrix(rows)
        d, p, s = dijkstra(self.graph, directed=True, indices=self.sources[rows], min_only=True,
                           return_predecessors=True)
        d = d.astype(np.float32).astype(float)  # the per-city matrices' precision: one answer either way
        row_of = np.full(n, -1, np.int32)
        row_of[self.sources[rows][::-1]] = rows[::-1]  # a node shared by two cities: the first row
        src = np.where(s >= 0, row_of[s.clip(0)], -1).astype(np.int32)
        return NearestField(d, src, p.astype(np.int32), self.graph)

    def _field_from_matrix(self, rows: np.ndarray) -> "MatrixField":
        dist, pred = self._matrix
        return MatrixField(self.graph, dist, pred, rows)

    def matrix(self) -> np.ndarray:
        """City x node distances (float32), built once (one search per city)."""
        self.build_matrix()
        return self._matrix[0]

    def build_matrix(self) -> None:
        """Build the per-city matrices now (no-op when built); thread-safe."""
        with self._lock:
            if self._matrix is not None:
                return
            n, k = self.topology.n, len(self.sources)
            dist = np.empty((k, n), dtype=np.float32)
            pred = np.empty((k, n), dtype=np.int32) if self.predecessors else None
            for i, s in enumerate(self.sources):  # one source at a time: float64 temporaries stay small
                if self.predecessors:
                    d, p = dijkstra(self.graph, directed=True, indices=int(s), return_predecessors=True)
                    pred[i] = p
                else:
                    d = dijkstra(self.graph, directed=True, indices=int(s))
                dist[i] = d
            self._matrix = (dist, pred)

    def build_matrix_in_background(self) -> threading.Thread:
        """Start building the per-city matrices in a daemon thread (once); returns the thread."""
        with self._lock:
            if self._building is None:
                self._building = threading.Thread(target=self.build_matrix, name="city-matrix", daemon=True)
                self._building.start()
            return self._building

    @property
    def matrix_ready(self) -> bool:
        return self._matrix is not None


def nearest(dist: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each column, the selected row with the least distance, and that distance (inf if none)."""
    if len(rows) == 0:
        return np.full(len(cols), -1), np.full(len(cols), np.inf, dtype=np.float32)
    sub = dist[np.ix_(rows, cols)]
    arg = np.argmin(sub, axis=0)
    return rows[arg], sub[arg, np.arange(len(cols))]
