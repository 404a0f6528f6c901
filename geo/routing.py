"""The hot path: compact graph (scipy.sparse.csgraph) and nearest-large-city fields.

Three levels, each cached by the caller (geo.agglomeration) for what it depends on:

``Topology`` (per network)
    The compact CSR structure of the edges; a new weight set (speeds, detours) only refills its data
    array (``Topology.graph``), it never sorts the edges again. Symmetric when every edge is two-way
    (the shipped network); with one-way edges it is the *reversed* travel graph, so that a search
    from the large cities gives every node's distance TO its nearest city.
``MetricRouting`` (per network and weights of one metric, road km or minutes)
    The graph, and ``field(rows)``: for every node, the nearest of the selected large cities, its
    distance and the shortest-path tree (one multi-source search, scipy ``min_only``). The town
    table (``town_table``: one search from each town on the travel graph, towns x candidate cities
    with the routes) makes a later change of the city set a min over its columns, not a search.
    Nothing is built in the background (scipy's search holds the GIL and would stall requests).
``NearestField.with_planned``
    Adds planned (two-way) roads exactly: ``new = min(old, old[a] + w + d(n, b), old[b] + w + d(n,
    a))`` where ``d(n, b)`` is the travel distance from n to b, i.e. a search from b on the searched
    graph (reversed when there are one-way edges). Only the direction that reaches its far end
    sooner than before can help (at most one), and its search stops at the largest finite distance
    less the gain (no node farther can improve: every node that can reach b can reach a city, so its
    old distance is finite and at most the largest).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

if TYPE_CHECKING:
    from .params import Params


def dijkstra(*args: Any, **kwargs: Any) -> Any:
    """``scipy.sparse.csgraph.dijkstra``, imported at the first search, not when this module is: the
    web app can answer its first page (from its start-up snapshot) before any search
    (webapp.serve)."""
    from scipy.sparse.csgraph import dijkstra as search

    return search(*args, **kwargs)


METRICS = ("km", "min")
MIN_WEIGHT = 1e-9  # csgraph treats explicit zeros as missing edges


def edge_weights(cls: np.ndarray, km: np.ndarray, params: Params, factor: np.ndarray | None = None,
                 posted: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Road km (geodesic x the section's published factor, else the class's detour factor) and
    minutes (road km / class speed; the parts with a posted maxspeed at that speed, see
    EdgeClasses.weights)."""
    return EdgeClasses(cls).weights(km, params, factor, posted)


class EdgeClasses:
    """Each edge's road class as a small integer code (found once per network, not per speed
    set)."""

    def __init__(self, cls: np.ndarray):
        codes, names = pd.factorize(np.asarray(cls))  # hashing, not sorting: fast on 2M strings
        self.codes, self.names = codes.astype(np.int64), [str(c) for c in names]

    @classmethod
    def from_codes(cls, codes: np.ndarray, names: list[str]) -> "EdgeClasses":
        """Classes found before (``codes`` may be memory-mapped: not copied)."""
        self = cls.__new__(cls)
        self.codes, self.names = codes, [str(c) for c in names]
        return self

    def values(self, table: dict[str, float]) -> np.ndarray:
        """Per-edge value of a per-class table."""
        return np.array([table[c] for c in self.names], dtype=float)[self.codes]

    def weights(self, km: np.ndarray, params: Params, factor: np.ndarray | None = None,
                posted: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Road km (geodesic x the published section factor where there is one, else the class's
        detour factor) and minutes per edge.

        Minutes are road km / the class speed, except, with ``posted`` = (km, minutes) per edge of
        the parts that carry a posted ``maxspeed`` (imported networks) and ``params.maxspeed_use`` =
        use:
        those parts take their posted minutes and only the rest runs at the class speed. Both are
        scaled by the edge's factor (1 for imported edges: their km are the real geometry's).
        """
        detour = self.values(dict(params.detours))
        if factor is not None:
            detour = np.where(np.isfinite(factor), factor, detour)
        road_km = np.asarray(km, dtype=float) * detour
        speed = self.values(dict(params.speeds))
        if posted is None or getattr(params, "maxspeed_use", "use") != "use":
            return {"km": road_km, "min": road_km / speed * 60.0}
        fixed_km, fixed_min = (np.asarray(x, dtype=float) for x in posted)
        free_km = np.maximum(np.asarray(km, dtype=float) - fixed_km, 0.0) * detour
        return {"km": road_km, "min": free_km / speed * 60.0 + fixed_min * detour}


class Topology:
    """The compact structure of a network's edges as the graph searched from the large cities.

    All edges two-way (``oneway`` None or all false): symmetric CSR (both directions), parallel
    edges merged. With one-way edges: the travel graph *reversed* (a one-way edge u -> v is the
    entry (v, u); a two-way edge gives both), parallel entries merged, so that a search from the
    cities on it gives each node's distance to the city, the direction a town's traveller drives.
    Searches run with ``directed=True``: scipy would otherwise transpose an undirected graph on
    every call.

    Parameters
    ----------
    n : number of nodes.
    u, v : edge end nodes (parallel edges and self-loops allowed).
    oneway : per edge, travel only from u to v (optional).
    """

    _pair: np.ndarray | None  # pair number of each symmetric entry (None: the reversed graph)

    def __init__(self, n: int, u: np.ndarray, v: np.ndarray, oneway: np.ndarray | None = None):
        self.n = int(n)
        u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
        self.directed = oneway is not None and bool(np.any(oneway))
        if self.directed:
            self._reversed(u, v, np.asarray(oneway, dtype=bool))
            return
        a, b = np.minimum(u, v), np.maximum(u, v)
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

    def _reversed(self, u: np.ndarray, v: np.ndarray, oneway: np.ndarray) -> None:
        """CSR of the reversed travel graph: row = the node searched from, column = the node before
        it."""
        e = np.arange(len(u), dtype=np.int64)
        two = ~oneway
        frm = np.concatenate([v, u[two]])  # travel u -> v is the search entry v -> u
        to = np.concatenate([u, v[two]])
        eid = np.concatenate([e, e[two]])
        keep = np.flatnonzero(frm != to)
        order = keep[np.lexsort((to[keep], frm[keep]))]  # row-major: already CSR order
        frm, to = frm[order], to[order]
        first = np.ones(len(frm), dtype=bool)
        first[1:] = (frm[1:] != frm[:-1]) | (to[1:] != to[:-1])
        self._order, self._starts = eid[order], np.flatnonzero(first)
        self.indices = to[first].astype(np.int32)
        counts = np.bincount(frm[first], minlength=self.n)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        self._pair = None

    ARRAYS = ("order", "starts", "indices", "indptr", "pair")

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``from_arrays`` needs (to store with a network version)."""
        out: dict[str, np.ndarray] = {"order": self._order, "starts": self._starts,
                                      "indices": self.indices, "indptr": self.indptr}
        if self._pair is not None:
            out["pair"] = self._pair
        return out

    @classmethod
    def from_arrays(cls, n: int, arrays: dict[str, np.ndarray]) -> "Topology":
        """A topology from ``arrays()`` (e.g. memory-mapped read-only: not copied); directed when
        there is no ``pair``."""
        self = cls.__new__(cls)
        self.n, self.directed = int(n), "pair" not in arrays
        self._order, self._starts = arrays["order"], arrays["starts"]
        self.indices, self.indptr = arrays["indices"], arrays["indptr"]
        self._pair = arrays.get("pair")
        return self

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held in this process (memory-mapped ones are shared, not
        counted)."""
        arrays = (self._order, self._starts, self.indices, self.indptr, self._pair)
        return sum(x.nbytes for x in arrays if x is not None and not isinstance(x, np.memmap))

    def graph(self, w: np.ndarray) -> csr_matrix:
        """The CSR graph searched for per-edge weights ``w`` (the lightest of parallel edges), no
        sort."""
        if len(self._order) == 0:
            return csr_matrix((self.n, self.n))
        lightest = np.minimum.reduceat(np.asarray(w, dtype=float)[self._order], self._starts)
        data = np.maximum(lightest, MIN_WEIGHT)
        return csr_matrix((data if self._pair is None else data[self._pair], self.indices,
                           self.indptr), shape=(self.n, self.n))


def compact(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray,
            oneway: np.ndarray | None = None) -> csr_matrix:
    """CSR adjacency searched from the cities (symmetric, or reversed with one-way edges) keeping
    the lightest of parallel edges (COO would sum them)."""
    return Topology(n, u, v, oneway).graph(w)


def with_edge(g: csr_matrix, a: int, b: int, w: float) -> csr_matrix:
    """A copy of the graph with the two-way edge (a, b) of weight w (the lighter one if it exists).

    Planned roads are two-way, so both entries are set whether the graph is symmetric or
    reversed."""
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
    # planned edges not yet in ``graph`` (added when another road needs a search)
    pending: tuple[tuple[int, int, float], ...] = ()

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
        """A new field with planned edges (a, b, weight) added one by one; this one is left
        untouched.

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
        # n -> b -> a -> city: new = d[a] + w + d(n, b), d(n, b) a search from b on the searched
        # graph;
        # only nodes with d(n, b) < top - d[a] - w can improve
        # a direction helps only when it reaches its far end sooner than before (g < d[end])
        gains = [(start, end, d[start] + w) for start, end in ((a, b), (b, a))
                 if d[start] + w < d[end]]
        found = []
        for start, end, g in gains:
            limit = max(top - g, 0.0) if np.isfinite(d[end]) else np.inf
            de, pe = dijkstra(self.graph, directed=True, indices=end, limit=limit,
                              return_predecessors=True)
            pe[end] = start
            found.append((start, g + de, pe))
        for start, c, pe in found:
            better = np.flatnonzero(c < self.dist)
            if len(better):
                self.dist[better] = c[better]
                self.pred[better] = pe[better]
                self.src[better] = self.src[start]


@dataclass(frozen=True)
class TownTable:
    """Each town's distance to every candidate source (city), and the route, from searches FROM
    the towns.

    Attributes
    ----------
    cols : int64 (t,), the town nodes (distinct, sorted).
    dist : float64 (t, k), distance from town node i to source row j (inf when unreachable),
        summed along the route from the source as a search from the source sums it, at float32
        precision as ``MetricRouting.field``: the same value either way.
    paths : per town, per source row, the node sequence from the source to the town (empty when
        unreachable).
    """

    cols: np.ndarray
    dist: np.ndarray
    paths: tuple[tuple[np.ndarray, ...], ...]

    @property
    def nbytes(self) -> int:
        return self.dist.nbytes + sum(p.nbytes for row in self.paths for p in row)


class TableField(NearestField):
    """A NearestField read from a TownTable for the selected rows: towns and routes are array
    work (a min over the table's columns); ``dist``, ``src`` and ``pred`` for every node
    (catchments, planned roads, a node that is not a town) are one multi-source search, run on
    first use.
    """

    def __init__(self, routing: "MetricRouting", table: TownTable, rows: np.ndarray):
        self.graph, self._routing, self._table, self._rows = routing.graph, routing, table, rows
        self.pending = ()
        self._full: NearestField | None = None
        self._row_of = {int(c): i for i, c in enumerate(table.cols)}

    def _searched(self) -> NearestField:
        if self._full is None:
            self._full = self._routing.field(self._rows)
        return self._full

    dist = property(lambda self: self._searched().dist)
    src = property(lambda self: self._searched().src)
    pred = property(lambda self: self._searched().pred)

    @property
    def nbytes(self) -> int:
        return 0 if self._full is None else self._full.nbytes

    def at(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.asarray(nodes, dtype=np.int64)
        if len(self._rows) == 0 or any(int(x) not in self._row_of for x in nodes):
            return self._searched().at(nodes)
        rows = np.array([self._row_of[int(x)] for x in nodes], dtype=np.int64)
        sub = self._table.dist[np.ix_(rows, self._rows)]
        arg = np.argmin(sub, axis=1)  # ties: the first selected row
        d = sub[np.arange(len(nodes)), arg]
        src = self._rows[arg].astype(np.int32)
        src[~np.isfinite(d)] = -1
        return src, d

    def path(self, node: int) -> list[int]:
        if int(node) not in self._row_of:
            return self._searched().path(node)
        src, _ = self.at(np.array([node]))
        if src[0] < 0:
            return []
        return [int(x) for x in self._table.paths[self._row_of[int(node)]][src[0]]]

    def with_planned(self, roads: list[tuple[int, int, float]]) -> NearestField:
        return self._searched().with_planned(roads)


class MetricRouting:
    """One metric's graph over a topology, with nearest-source fields and town tables.

    Parameters
    ----------
    topology : the network's compact structure.
    w : per-edge weight of the metric (road km or minutes).
    sources : node of every candidate large city (the rows).
    predecessors : keep shortest-path trees (needed for routes, i.e. road km only).

    Nothing runs in the background: ``field`` is one multi-source search (scipy holds the GIL
    during it, so a background search stalls the process's other requests), ``town_table`` one
    search per town, each on the caller's request. ``searches`` counts the multi-source searches
    run, so that a caller can build the table once it pays (geo.agglomeration).
    """

    def __init__(self, topology: Topology, w: np.ndarray, sources: np.ndarray, *,
                 predecessors: bool = True):
        self.topology, self.w = topology, np.asarray(w, dtype=float)
        self.sources = np.asarray(sources, dtype=np.int64)
        self.graph = topology.graph(self.w)
        self.predecessors = predecessors
        self.searches = 0
        self._tables: dict[bytes, TownTable] = {}
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        tables = sum(t.nbytes for t in self._tables.values())
        return self.w.nbytes + self.graph.data.nbytes + tables

    def field(self, rows: np.ndarray) -> NearestField:
        """Nearest of the selected rows for every node: one multi-source search."""
        rows = np.asarray(rows, dtype=np.int64)
        n = self.topology.n
        if len(rows) == 0:
            return NearestField(np.full(n, np.inf), np.full(n, -1, np.int32),
                                np.full(n, -9999, np.int32), self.graph)
        self.searches += 1
        d, p, s = dijkstra(self.graph, directed=True, indices=self.sources[rows], min_only=True,
                           return_predecessors=True)
        # float32 precision, as the town tables: one answer either way
        d = d.astype(np.float32).astype(float)
        row_of = np.full(n, -1, np.int32)
        row_of[self.sources[rows][::-1]] = rows[::-1]  # a node shared by two cities: the first row
        src = np.where(s >= 0, row_of[s.clip(0)], -1).astype(np.int32)
        return NearestField(d, src, p.astype(np.int32), self.graph)

    def has_table(self, cols: np.ndarray) -> bool:
        """A town table for these town nodes is built."""
        return _key(cols) in self._tables

    def town_table(self, cols: np.ndarray) -> TownTable:
        """Distances (and routes) from each town node to every candidate source, built once
        (thread-safe): one search per distinct town, from the town on the travel graph (the
        searched graph transposed)."""
        key = _key(cols)
        with self._lock:
            if key not in self._tables:
                self._tables[key] = self._build_table(np.unique(np.asarray(cols, np.int64)))
            return self._tables[key]

    def set_table(self, table: TownTable) -> None:
        """Adopt a table computed before (e.g. stored with a network version)."""
        with self._lock:
            self._tables[_key(table.cols)] = table

    def table_field(self, table: TownTable, rows: np.ndarray) -> TableField:
        """The nearest of the selected rows, read from a town table."""
        return TableField(self, table, np.asarray(rows, dtype=np.int64))

    def _build_table(self, cols: np.ndarray) -> TownTable:
        travel = self.graph if not self.topology.directed else self.graph.T.tocsr()
        dist = np.full((len(cols), len(self.sources)), np.inf)
        paths = []
        for i, town in enumerate(cols):
            _, pred = dijkstra(travel, directed=True, indices=int(town), return_predecessors=True)
            row = tuple(_route(pred, int(s), int(town)) for s in self.sources)
            for j, route in enumerate(row):
                if len(route):
                    dist[i, j] = _length(self.graph, route)
            paths.append(row)
        return TownTable(cols, dist.astype(np.float32).astype(float), tuple(paths))


def _key(cols: np.ndarray) -> bytes:
    return np.unique(np.asarray(cols, np.int64)).tobytes()


def _route(pred: np.ndarray, source: int, town: int) -> np.ndarray:
    """Node sequence source -> town from the town's search tree on the travel graph (empty when
    the town does not reach the source)."""
    out = [source]
    while out[-1] != town:
        prev = int(pred[out[-1]])
        if prev < 0:
            return np.zeros(0, np.int32)
        out.append(prev)
    return np.array(out, dtype=np.int32)


def _length(graph: csr_matrix, route: np.ndarray) -> float:
    """Length of a route on the searched graph, summed from its first node as Dijkstra sums."""
    if len(route) < 2:
        return 0.0
    w = np.asarray(graph[route[:-1], route[1:]]).ravel()
    return float(np.cumsum(w)[-1])
