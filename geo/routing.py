"""The hot path: compact graph (scipy.sparse.csgraph) and nearest-large-city fields.

Three levels, each cached by the caller (geo.agglomeration) for what it depends on:

``Topology`` (per network)
    The compact CSR structure of the edges; a new weight set (speeds, detours) only refills its data
    array (``Topology.graph``), it never sorts the edges again. Symmetric when every edge is two-way
    (the shipped network); with one-way edges it is the *reversed* travel graph, so that a search
    from the large cities gives every node's distance TO its nearest city.
``MetricRouting`` (per network and weights of one metric, road km or minutes)
    The graph, and the nearest of the selected large cities: ``field(rows)`` for every node (its
    distance and shortest-path tree: one multi-source search, scipy ``min_only``), or
    ``town_field`` for the towns only (their city, distance and route): one search per town on the
    travel graph, each stopped at an upper bound of its answer, the length of a route known from a
    ``town_table`` (towns x candidate cities with the routes, one full search per town, built once
    per network). A town table of the same weights answers a change of the city set with a min
    over its columns (``table_field``). Nothing is built in the background (scipy's search holds
    the GIL and would stall requests).
``NearestField.with_planned``
    Adds planned (two-way) roads exactly: ``new = min(old, old[a] + w + d(n, b), old[b] + w + d(n,
    a))`` where ``d(n, b)`` is the travel distance from n to b, i.e. a search from b on the searched
    graph (reversed when there are one-way edges). Only the direction that reaches its far end
    sooner than before can help (at most one), and its search stops at the largest finite distance
    less the gain (no node farther can improve: every node that can reach b can reach a city, so its
    old distance is finite and at most the largest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

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
SAMPLE = 251  # every 251st node read to count what a bounded search reached (a prime stride)
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
        # one byte an edge while the classes are few: a per-class value is then a small gather
        self.codes = codes.astype(np.int8 if len(names) < 128 else np.int32)
        self.names = [str(c) for c in names]

    @classmethod
    def from_codes(cls, codes: np.ndarray, names: list[str]) -> "EdgeClasses":
        """Classes found before (``codes`` may be memory-mapped: not copied)."""
        self = cls.__new__(cls)
        self.codes, self.names = codes, [str(c) for c in names]
        return self

    def values(self, table: dict[str, float]) -> np.ndarray:
        """Per-edge value of a per-class table."""
        out: np.ndarray = np.array([table[c] for c in self.names], dtype=float)[self.codes]
        return out

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
        return {m: self.metric(m, km, params, factor, posted) for m in METRICS}

    def metric(self, metric: str, km: np.ndarray, params: Params,
               factor: np.ndarray | None = None,
               posted: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """One metric's per-edge weights (as ``weights``). The detour-scaled lengths of the last
        detours are kept, so that a change of speeds is one gather, a product and a sum."""
        use_posted = posted is not None and getattr(params, "maxspeed_use", "use") == "use"
        key = (tuple(params.detours), use_posted)
        # (key, arrays): one read, safe between threads
        last: tuple[Any, tuple[np.ndarray, ...]] | None = getattr(self, "_last", None)
        if last is None or last[0] != key:
            detour = self.values(dict(params.detours))
            if factor is not None:
                detour = np.where(np.isfinite(factor), factor, detour)
            road_km = np.asarray(km, dtype=float) * detour
            if use_posted:
                assert posted is not None
                fixed_km, fixed_min = (np.asarray(x, dtype=float) for x in posted)
                free = np.maximum(np.asarray(km, dtype=float) - fixed_km, 0.0) * detour
                last = (key, (road_km, free, fixed_min * detour))
            else:
                last = (key, (road_km, road_km))
            self._last = last
        scaled = last[1]
        if metric == "km":
            return scaled[0]
        assert len(scaled) >= 2
        # one new array, the rest in place: each new array of millions of edges costs its page
        # faults (docs/performance.md)
        minutes: np.ndarray = self.values(dict(params.speeds))
        np.divide(scaled[1], minutes, out=minutes)
        minutes *= 60.0
        if len(scaled) > 2:
            minutes += scaled[-1]
        return minutes


class TravelEdges:
    """A network's per-edge weight inputs (class code, km, published factor, posted km and
    minutes, chord) in the data order of its travel graph (``Topology.travel_edges``), gathered
    once (stored with an imported version): a weight set is then computed straight into the travel
    graph's data, one new array and no per-edge weights to gather from (each new array of millions
    of entries costs its page faults: docs/performance.md). An entry with parallel edges takes the
    lightest (``extra``: the other edges' inputs and ``pos``, their entry). ``per_edge``: the
    classes in the network's edge order, for what needs each edge's own weight (FUA catchments).
    """

    def __init__(self, main: dict[str, np.ndarray], names: list[str], edge_codes: np.ndarray,
                 extra: dict[str, np.ndarray] | None = None):
        self.main, self.names, self.extra = main, [str(c) for c in names], extra or {}
        self._classes = [EdgeClasses.from_codes(part["codes"], names)
                         for part in (self.main, self.extra) if part]
        self.per_edge = EdgeClasses.from_codes(edge_codes, names)

    @classmethod
    def of(cls, topology: Topology, classes: EdgeClasses, km: np.ndarray,
           factor: np.ndarray | None = None, posted: tuple[np.ndarray, np.ndarray] | None = None,
           chord: np.ndarray | None = None) -> "TravelEdges":
        """Gather the per-edge inputs into the travel graph's order."""
        first, pos, other = topology.travel_edges()
        given = {"codes": classes.codes, "km": km, "factor": factor, "chord": chord}
        if posted is not None:
            given |= {"posted_km": posted[0], "posted_min": posted[1]}

        def take(edges: np.ndarray) -> dict[str, np.ndarray]:
            return {k: np.asarray(x)[edges] for k, x in given.items() if x is not None}
        extra = {k: x for k, x in take(other).items() if k != "chord"} | {"pos": pos}
        return cls(take(first), classes.names, classes.codes, extra if len(pos) else None)

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``from_arrays`` needs (to store with a network version)."""
        return (self.main | {f"extra_{k}": x for k, x in self.extra.items()}
                | {"edge_codes": self.per_edge.codes})

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], names: list[str]) -> "TravelEdges":
        """From ``arrays()`` (e.g. memory-mapped read-only: not copied)."""
        main = {k: x for k, x in arrays.items() if not k.startswith("extra_")}
        edge_codes = main.pop("edge_codes")
        extra = {k[len("extra_"):]: x for k, x in arrays.items() if k.startswith("extra_")}
        return cls(main, names, edge_codes, extra)

    @property
    def nbytes(self) -> int:
        """Bytes held in this process: the inputs not memory-mapped (a network built here) and the
        detour-scaled lengths each class table keeps (``EdgeClasses.metric``)."""
        parts = [*self.main.values(), *self.extra.values()]
        for classes in (*self._classes, self.per_edge):
            last = getattr(classes, "_last", None)
            parts += list(last[1]) if last is not None else []
        found = {id(x): x for x in parts if not isinstance(x, np.memmap)}
        return sum(x.nbytes for x in found.values())

    @property
    def chord(self) -> np.ndarray:
        """Great-circle km between each travel entry's end nodes
        (``MetricRouting.bound_factor``)."""
        return self.main["chord"]

    def weights(self, metric: str, params: Params) -> np.ndarray:
        """The travel graph's data for one metric (``EdgeClasses.metric`` per entry, the lightest
        of parallel edges, at least MIN_WEIGHT): a new array."""
        out: list[np.ndarray] = []
        for part, classes in zip((self.main, self.extra), self._classes):
            posted = (part["posted_km"], part["posted_min"]) if "posted_km" in part else None
            out.append(classes.metric(metric, part["km"], params, part.get("factor"), posted))
        data = out[0]
        if metric == "km":  # the classes' kept detour-scaled km: not to be changed in place
            data = data.copy()
        if self.extra:
            np.minimum.at(data, self.extra["pos"], out[1])
        np.maximum(data, MIN_WEIGHT, out=data)
        return data


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

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``from_arrays`` needs (to store with a network version)."""
        firsts, extra, group = self._parallel()
        out: dict[str, np.ndarray] = {"order": self._order, "starts": self._starts,
                                      "indices": self.indices, "indptr": self.indptr,
                                      "firsts": firsts, "extra": extra, "group": group}
        if self._pair is not None:
            out["pair"] = self._pair
        else:
            names = ("travel_firsts", "travel_perm", "travel_indices", "travel_indptr")
            out |= dict(zip(names, self._transposed()))
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
        if "firsts" in arrays:
            self._groups = (arrays["firsts"], arrays["extra"], arrays["group"])
        if "travel_firsts" in arrays:
            self._travel_structure = (arrays["travel_firsts"], arrays["travel_perm"],
                                      arrays["travel_indices"], arrays["travel_indptr"])
        return self

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held in this process (memory-mapped ones are shared, not
        counted)."""
        arrays = (self._order, self._starts, self.indices, self.indptr, self._pair,
                  *getattr(self, "_groups", ()), *getattr(self, "_travel_structure", ()),
                  *getattr(self, "_travel_edges", ()))
        return sum(x.nbytes for x in arrays if x is not None and not isinstance(x, np.memmap))

    def travel_data(self, w: np.ndarray) -> np.ndarray:
        """The travel graph's data for per-edge weights ``w``: the lightest of each entry's edges
        (at least MIN_WEIGHT), in the travel graph's order."""
        first, pos, other = self.travel_edges()
        w = np.asarray(w, dtype=float)
        data: np.ndarray = w[first]
        np.minimum.at(data, pos, w[other])
        np.maximum(data, MIN_WEIGHT, out=data)
        return data

    def travel_csr(self, data: np.ndarray) -> csr_matrix:
        """The travel graph with ``data`` in its entries' order (``travel_edges``), not copied."""
        if self.directed:
            _, _, indices, indptr = self._transposed()
        else:
            indices, indptr = self.indices, self.indptr
        return csr_matrix((data, indices, indptr), shape=(self.n, self.n))

    def searched_csr(self, travel_data: np.ndarray) -> csr_matrix:
        """The graph searched from the cities for the travel graph's ``travel_data``: the travel
        graph itself when all edges are two-way, else its reverse (one new data array)."""
        if not self.directed:
            return self.travel_csr(travel_data)
        _, perm, _, _ = self._transposed()
        data = np.empty(len(self.indices))
        data[perm] = travel_data
        return csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))

    def travel_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the first edge of each entry of the travel graph, in its data order; the position of
        an entry once per other (parallel) edge it has; those other edges), found once: what a
        weight set computed straight in the travel graph's order needs (``TravelEdges``)."""
        found: tuple[np.ndarray, np.ndarray, np.ndarray] | None = getattr(self, "_travel_edges",
                                                                         None)
        if found is not None:
            return found
        firsts, extra, group = self._parallel()
        none = np.zeros(0, np.int64)
        if self.directed:
            first, perm, _, _ = self._transposed()
            entries = len(perm)
        else:
            assert self._pair is not None
            perm = np.asarray(self._pair)
            first, entries = np.asarray(firsts)[perm], len(perm)
        if not len(extra):
            found = (np.asarray(first), none, none)
        elif self.directed:  # each searched entry's one place in the travel graph
            at = np.empty(len(firsts), np.int64)
            at[perm] = np.arange(entries, dtype=np.int64)  # a permutation: no index twice
            found = (np.asarray(first), at[group], np.asarray(extra))
        else:  # each pair's two places (both directions)
            places = np.argsort(perm, kind="stable").reshape(-1, 2)
            found = (np.asarray(first), np.concatenate([places[group, 0], places[group, 1]]),
                     np.concatenate([extra, extra]))
        self._travel_edges = found
        return found

    def _transposed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(the first edge of each travel entry, its entry in the searched graph, indices,
        indptr) of the travel graph, found on first use (or stored with a version)."""
        found = getattr(self, "_travel_structure", None)
        if found is None:
            ids = csr_matrix((np.arange(1, len(self.indices) + 1, dtype=np.int64), self.indices,
                              self.indptr), shape=(self.n, self.n)).T.tocsr()
            ids.sort_indices()
            perm = ids.data - 1
            found = self._travel_structure = (self._parallel()[0][perm], perm,
                                              ids.indices.astype(np.int32),
                                              ids.indptr.astype(np.int32))
        return found

    def _parallel(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the first edge of each entry, the other edges of entries with parallel edges, their
        entry), found on first use: a new weight set is then a gather, not a sort or a reduce."""
        found = getattr(self, "_groups", None)
        if found is None:
            order, starts = np.asarray(self._order), np.asarray(self._starts)
            firsts = order[starts]
            is_extra = np.ones(len(order), dtype=bool)
            is_extra[starts] = False
            pos = np.flatnonzero(is_extra)
            group = np.searchsorted(starts, pos, side="right") - 1
            found = self._groups = (firsts, order[pos], group)
        return found

    def graph(self, w: np.ndarray) -> csr_matrix:
        """The CSR graph searched for per-edge weights ``w`` (the lightest of parallel edges), no
        sort."""
        if len(self._order) == 0:
            return csr_matrix((self.n, self.n))
        w = np.asarray(w, dtype=float)
        firsts, extra, group = self._parallel()
        lightest = w[firsts]
        if len(extra):  # the lighter of parallel edges (few): a min over the extra entries only
            np.minimum.at(lightest, group, w[extra])
        data = np.maximum(lightest, MIN_WEIGHT, out=lightest)
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
    return with_edges(g, [(a, b, w)])


def with_edges(g: csr_matrix, edges: Iterable[tuple[int, int, float]]) -> csr_matrix:
    """A copy of the graph with the two-way edges (a, b, w) (where an entry exists, the lighter
    weight), each new entry at its sorted place: one copy of the arrays however many edges (52 MB
    at 2M edges)."""
    want: dict[tuple[int, int], float] = {}
    for a, b, w in edges:
        w = max(float(w), MIN_WEIGHT)
        for key in ((int(a), int(b)), (int(b), int(a))):
            want[key] = min(w, want.get(key, np.inf))
    if not want:
        return g
    old_pos, old_w, new_pos, new_rows, new_cols, new_w = [], [], [], [], [], []
    for (r, c), w in sorted(want.items()):  # new entries in order: rows, then columns
        lo, hi = int(g.indptr[r]), int(g.indptr[r + 1])
        at = lo + int(np.searchsorted(g.indices[lo:hi], c))
        if at < hi and g.indices[at] == c:
            old_pos.append(at)
            old_w.append(w)
        else:
            new_pos.append(at)
            new_rows.append(r)
            new_cols.append(c)
            new_w.append(w)
    indices, indptr = g.indices, g.indptr
    moved = np.asarray(old_pos, dtype=np.int64)
    if new_pos:
        data = np.insert(g.data, new_pos, new_w)
        indices = np.insert(indices, new_pos, np.asarray(new_cols, dtype=indices.dtype))
        indptr = np.array(indptr)
        indptr[1:] += np.cumsum(np.bincount(new_rows, minlength=g.shape[0])).astype(indptr.dtype)
        moved += np.searchsorted(new_pos, moved, side="right")  # the entries inserted before
    else:
        data = g.data.copy()
    data[moved] = np.minimum(data[moved], old_w)
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
        """Its arrays and its graph's weights (which a cached routing may share: counted again, so
        that a cache of fields stays within its budget whatever else is evicted)."""
        return self.dist.nbytes + self.src.nbytes + self.pred.nbytes + self.graph.data.nbytes

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
            field.graph = with_edges(field.graph, field.pending)
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


class TownField(NearestField):
    """The nearest of the selected rows at the towns (their source row, distance and route),
    found without a search over the whole graph: read from a TownTable, or one search per town
    stopped at a known upper bound (``MetricRouting.town_field``). ``dist``, ``src`` and ``pred``
    for every node (catchments, a node that is not a town) are ``full()``, one multi-source search
    (with the planned roads), run on first use.
    """

    def __init__(self, cols: np.ndarray, src: np.ndarray, dist: np.ndarray,
                 paths: list[np.ndarray], full: Callable[[], NearestField]):
        self.pending = ()
        self._row_of = {int(c): i for i, c in enumerate(cols)}
        self._src, self._dist, self._paths = src, dist, paths
        self._make_full = full
        self._full: NearestField | None = None

    def _searched(self) -> NearestField:
        if self._full is None:
            self._full = self._make_full()
        return self._full

    dist = property(lambda self: self._searched().dist)
    src = property(lambda self: self._searched().src)
    pred = property(lambda self: self._searched().pred)
    graph = property(lambda self: self._searched().graph)

    @property
    def nbytes(self) -> int:
        own = self._dist.nbytes + sum(p.nbytes for p in self._paths)
        return own + (0 if self._full is None else self._full.nbytes)

    def at(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.asarray(nodes, dtype=np.int64)
        if any(int(x) not in self._row_of for x in nodes):
            return self._searched().at(nodes)
        i = np.array([self._row_of[int(x)] for x in nodes], dtype=np.int64)
        return self._src[i], self._dist[i]

    def path(self, node: int) -> list[int]:
        if int(node) not in self._row_of:
            return self._searched().path(node)
        return [int(x) for x in self._paths[self._row_of[int(node)]]]

    def with_planned(self, roads: list[tuple[int, int, float]]) -> NearestField:
        return self._searched().with_planned(roads)


class MetricRouting:
    """One metric's graph over a topology, with nearest-source fields.

    Parameters
    ----------
    topology : the network's compact structure.
    data : the travel graph's data (``Topology.travel_data`` of per-edge weights, or
        ``TravelEdges.weights``): the metric's weight (road km or minutes) of each entry.
    sources : node of every candidate large city (the rows).
    predecessors : keep shortest-path trees (needed for routes, i.e. road km only).

    Nothing runs in the background: ``field`` is one multi-source search (scipy holds the GIL
    during it, so a background search stalls the process's other requests), ``town_table`` one
    full search per town, ``town_field`` one bounded search per town, each on the caller's request.
    """

    def __init__(self, topology: Topology, data: np.ndarray, sources: np.ndarray, *,
                 predecessors: bool = True):
        self.topology, self.data = topology, np.asarray(data, dtype=float)
        self.sources = np.asarray(sources, dtype=np.int64)
        self._graph: csr_matrix | None = None
        self.predecessors = predecessors
        self.searches = 0  # whole-graph (multi-source) searches run: a town needs none
        self.travel = topology.travel_csr(self.data)  # the graph a traveller drives

    @classmethod
    def of_edges(cls, topology: Topology, w: np.ndarray, sources: np.ndarray, *,
                 predecessors: bool = True) -> "MetricRouting":
        """For per-edge weights ``w``."""
        return cls(topology, topology.travel_data(w), sources, predecessors=predecessors)

    @property
    def nbytes(self) -> int:
        graph = 0 if self._graph is None or self._graph is self.travel else self._graph.data.nbytes
        return self.data.nbytes + graph

    @property
    def graph(self) -> csr_matrix:
        """The graph searched from the cities (the travel graph reversed with one-way edges), made
        on first use: the towns' answers need only the travel graph."""
        if self._graph is None:
            self._graph = (self.topology.searched_csr(self.data) if self.topology.directed
                           else self.travel)
        return self._graph

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

    def town_table(self, cols: np.ndarray) -> TownTable:
        """Distances (and routes) from each town node to every candidate source: one full search
        per distinct town, from the town on the travel graph."""
        cols = np.unique(np.asarray(cols, np.int64))
        dist = np.full((len(cols), len(self.sources)), np.inf)
        paths = []
        for i, town in enumerate(cols):
            _, pred = dijkstra(self.travel, directed=True, indices=int(town),
                               return_predecessors=True)
            row = tuple(_route(pred, int(s), int(town)) for s in self.sources)
            for j, route in enumerate(row):
                if len(route):
                    dist[i, j] = _length(self.travel, route)
            paths.append(row)
        return TownTable(cols, dist.astype(np.float32).astype(float), tuple(paths))

    def table_field(self, table: TownTable, rows: np.ndarray,
                    full: Callable[[], NearestField] | None = None) -> TownField:
        """The nearest of the selected rows at the table's towns: a min over its columns (ties:
        the first selected row). ``full``: how the answer finds every node's (default: this
        routing's ``field``; a cache passes its own, so that the answer does not keep this
        routing's graph alive)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return self._no_town(table.cols)
        sub = table.dist[:, rows]
        arg = np.argmin(sub, axis=1)
        d = sub[np.arange(len(table.cols)), arg]
        src = np.where(np.isfinite(d), rows[arg], -1).astype(np.int32)
        paths = [table.paths[i][rows[a]] if np.isfinite(d[i]) else np.zeros(0, np.int32)
                 for i, a in enumerate(arg)]
        return TownField(table.cols, src, d, paths, full or (lambda: self.field(rows)))

    def town_field(self, rows: np.ndarray, known: TownTable | list[TownTable],
                   planned: tuple[tuple[int, int, float], ...] = (),
                   search: np.ndarray | None = None, base: NearestField | None = None,
                   budget: float | None = None,
                   full: Callable[[], NearestField] | None = None) -> TownField:
        """The nearest of the selected rows at the towns of ``known``, on this metric's graph with
        the ``planned`` two-way edges: one search per town on the travel graph, stopped at the
        length on that graph of a route ``known`` has from the town to a selected city (any route is
        an upper bound of the nearest; ``known`` may be another metric's or another weight set's
        table; with several, the shortest of their routes bounds the search). A town's
        neighbourhood is searched, not the graph: about half the work of one multi-source search for
        the shipped towns on a 2M-edge SYNTHETIC grid (docs/performance.md). The distance is the
        winning route's length summed from the city, as ``field`` sums it (ties: the first selected
        row). With ``search`` (a flag per town) only the flagged towns are searched; the others
        keep ``base``'s answer (a planned road too far from them to help, see ``bound_factor``).
        Narrowest bound first; once the searches have reached ``budget`` nodes (default: as many
        as the graph has), or would with the rest (each reaching about its bound squared times the
        nodes per squared bound of the searches so far: few selected cities, far from the towns),
        one multi-source search answers instead, after the narrowest searches only. ``full``: as
        ``table_field``'s."""
        tables = known if isinstance(known, list) else [known]
        known = tables[0]
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return self._no_town(known.cols)
        travel = with_edges(self.travel, planned)
        targets = self.sources[rows]
        n = len(known.cols)
        src, dist = np.full(n, -1, np.int32), np.full(n, np.inf)
        paths = [np.zeros(0, np.int32)] * n
        full = full or (lambda: self.full_field(rows, planned))
        subs = [t.dist[:, rows] for t in tables]
        known_routes, of_town = [], []
        for i in range(n):
            for t, sub in zip(tables, subs):
                j = int(np.argmin(sub[i]))
                if np.isfinite(sub[i, j]):
                    known_routes.append(t.paths[i][rows[j]])
                    of_town.append(i)
        bounds = np.full(n, np.inf)
        np.minimum.at(bounds, np.asarray(of_town, dtype=np.int64), _lengths(travel, known_routes))
        settled = 0  # nodes the searches reached (sampled): past the budget, one search is less
        budget = self.topology.n if budget is None else budget
        skip = (np.zeros(n, dtype=bool) if search is None or base is None
                else ~np.asarray(search, dtype=bool))
        # the narrowest first: the searches so far tell the density (nodes per squared bound) at
        # the least cost, and the rest's squared bounds how far they would reach
        order = np.argsort(np.where(skip, -1.0, bounds), kind="stable")
        area = np.where(np.isfinite(bounds) & ~skip, bounds, 0.0)[order] ** 2
        rest = np.concatenate([np.cumsum(area[::-1])[::-1][1:], [0.0]])
        searched_area, projected = 0.0, 0.0
        for k, i in enumerate(order):
            town = known.cols[i]
            if skip[i] and base is not None:
                s_, d_ = base.at(np.array([town]))
                src[i], dist[i] = s_[0], d_[0]
                paths[i] = np.asarray(base.path(int(town)), dtype=np.int32)
                continue
            if settled > budget or projected > budget:
                return self._from_full(known.cols, full())
            limit = bounds[i] * (1 + 1e-9) + 1e-9  # inf: the town's whole component
            d, pred = dijkstra(travel, directed=True, indices=int(town), limit=limit,
                               return_predecessors=True)
            settled += SAMPLE * int(np.count_nonzero(np.isfinite(d[::SAMPLE])))
            searched_area += area[k]
            if searched_area > 0:
                projected = settled + settled / searched_area * rest[k]
            reached = d[targets]
            best = float(reached.min())
            if not np.isfinite(best):
                continue
            for c in np.flatnonzero(reached <= best * (1 + 1e-9) + 1e-12):  # the winner, or ties
                route = _route(pred, int(targets[c]), int(town))
                length = float(np.float32(_length(travel, route)))
                if length < dist[i]:
                    src[i], dist[i], paths[i] = rows[c], length, route
        return TownField(known.cols, src, dist, paths, full)

    def full_field(self, rows: np.ndarray, planned: Iterable[tuple[int, int, float]] = ()
                   ) -> NearestField:
        """Nearest of the selected rows for every node with the planned two-way edges."""
        planned = list(planned)
        field = self.field(rows)
        return field.with_planned(planned) if planned else field

    def _from_full(self, cols: np.ndarray, field: NearestField) -> TownField:
        """The towns' answers read from a field of every node (their searches would have cost
        more than it: few selected cities, far from the towns), at the towns' searches' float32
        precision (a planned road's insertion sums in float64)."""
        src, d = field.at(cols)
        d = d.astype(np.float32).astype(float)
        paths = [np.asarray(field.path(int(c)), dtype=np.int32) for c in cols]
        out = TownField(cols, src, d, paths, lambda: field)
        out._full = field  # held, so counted in its size
        return out

    def bound_factor(self, chord: np.ndarray) -> float:
        """The least ratio of an entry's weight to its chord (``chord_km``, great-circle km between
        its end nodes; per travel entry, ``TravelEdges.chord``): any route is then at least this
        factor x the chord between its ends (the chord is a metric), a lower bound that tells
        which towns a planned road cannot help (cached)."""
        found = getattr(self, "_bound_factor", None)
        if found is None:
            ratio = np.divide(self.data, chord, out=np.full(len(self.data), np.inf),
                              where=chord > 0)
            least = float(ratio.min()) if len(ratio) else np.inf
            found = self._bound_factor = least if np.isfinite(least) else 0.0
        return found

    def _no_town(self, cols: np.ndarray) -> TownField:
        n = len(cols)
        return TownField(cols, np.full(n, -1, np.int32), np.full(n, np.inf),
                         [np.zeros(0, np.int32)] * n, lambda: self.field(np.zeros(0, np.int64)))


def town_routes(field: NearestField, cols: np.ndarray, n_sources: int) -> TownTable:
    """A field's answers at the town nodes as a TownTable with one known city each (the others
    unknown): the routes that bound the next searches on other weights
    (``MetricRouting.town_field``)."""
    src, d = field.at(cols)
    dist = np.full((len(cols), n_sources), np.inf)
    empty = np.zeros(0, np.int32)
    paths = []
    for i, col in enumerate(cols):
        row = [empty] * n_sources
        if src[i] >= 0 and np.isfinite(d[i]):
            dist[i, src[i]] = d[i]
            row[src[i]] = np.asarray(field.path(int(col)), dtype=np.int32)
        paths.append(tuple(row))
    return TownTable(np.asarray(cols, dtype=np.int64), dist, tuple(paths))


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


def _lengths(travel: csr_matrix, routes: list[np.ndarray]) -> np.ndarray:
    """``_length`` of each route, their arcs looked up in the graph at once (an arc the graph
    lacks reads 0: a route found with a planned road not planned now)."""
    if not routes:
        return np.zeros(0)
    arcs = [(r[1:], r[:-1]) for r in routes]
    w = np.asarray(travel[np.concatenate([a for a, _ in arcs]),
                          np.concatenate([b for _, b in arcs])]).ravel()
    ends = np.cumsum([len(a) for a, _ in arcs])
    out = np.zeros(len(routes))
    for k, (stop, (a, _)) in enumerate(zip(ends, arcs)):
        part = w[stop - len(a):stop]
        if len(part):
            out[k] = np.cumsum(part)[-1] if part.all() else np.inf
    return out


def _length(travel: csr_matrix, route: np.ndarray) -> float:
    """Length of a route (source -> town) on the travel graph, summed from the source as a search
    from the source sums it; inf when the graph lacks one of its arcs (every arc weighs at least
    MIN_WEIGHT)."""
    return float(_lengths(travel, [route])[0])
