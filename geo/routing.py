"""The hot path: compact graph (scipy.sparse.csgraph) and large-city x node distance matrices.

One ``Routing`` holds, per network version and speed set, two float32 matrices (road km and minutes)
from every candidate large city to every node. Changing thresholds or which cities count as large is
then array work on them; a planned road updates them incrementally with two searches per metric.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

METRICS = ("km", "min")


def edge_weights(cls: np.ndarray, km: np.ndarray, params, factor: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Road km (geodesic x the section's published factor, else the class's detour factor) and
    minutes (road km / class speed)."""
    detours, speeds = dict(params.detours), dict(params.speeds)
    detour = np.array([detours[c] for c in cls], dtype=float) if len(cls) else np.zeros(0)
    if factor is not None:
        detour = np.where(np.isfinite(factor), factor, detour)
    speed = np.array([speeds[c] for c in cls], dtype=float) if len(cls) else np.ones(0)
    road_km = km * detour
    return {"km": road_km, "min": road_km / speed * 60.0}


def compact(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> csr_matrix:
    """Undirected CSR adjacency keeping the lightest of parallel edges (COO would sum them)."""
    a, b = np.minimum(u, v), np.maximum(u, v)
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    # strictly positive weights: csgraph treats explicit zeros as missing edges
    w = np.maximum(w, 1e-9)
    return csr_matrix((w, (a, b)), shape=(n, n))


def with_edge(g: csr_matrix, a: int, b: int, w: float) -> csr_matrix:
    """A copy of the compact graph with edge (a, b) of weight w (the lighter one if it exists)."""
    a, b = min(a, b), max(a, b)
    w = max(w, 1e-9)
    old = g[a, b]
    if old != 0:
        g = g.copy()
        g[a, b] = min(old, w)  # an existing entry: no change of structure
        return g
    return (g + csr_matrix(([w], ([a], [b])), shape=g.shape)).tocsr()


class Routing:
    """Distances from every candidate large city (rows) to every node (columns), per metric."""

    def __init__(self, n: int, u, v, weights: dict, sources: np.ndarray, *, predecessors: bool = True):
        self.n, self.sources = n, np.asarray(sources, dtype=np.int64)
        self.u, self.v = np.asarray(u), np.asarray(v)
        self.weights = weights
        self.graphs = {m: compact(n, self.u, self.v, weights[m]) for m in METRICS}
        self.dist, self.pred = {}, {}
        for m in METRICS:
            if predecessors:
                d, p = dijkstra(self.graphs[m], directed=False, indices=self.sources, return_predecessors=True)
                self.pred[m] = p.astype(np.int32)
            else:
                d = dijkstra(self.graphs[m], directed=False, indices=self.sources)
            self.dist[m] = d.astype(np.float32)
        self.planned: list[dict] = []
        self._lazy_pred: dict = {}

    def with_planned(self, roads: list[dict]) -> "Routing":
        """A copy with planned edges (a, b, km, min) added: new = min(old, via a->b, via b->a).

        Two searches per metric per road (from its two ends); the base is left untouched."""
        new = object.__new__(Routing)
        new.n, new.sources = self.n, self.sources
        new.u, new.v, new.weights = self.u, self.v, dict(self.weights)
        new.graphs = dict(self.graphs)
        new.dist = {m: d.copy() for m, d in self.dist.items()}
        new.pred, new.planned, new._lazy_pred = {}, list(self.planned), {}
        for road in roads:
            a, b = road["a"], road["b"]
            new.u, new.v = np.append(new.u, a), np.append(new.v, b)
            for m in METRICS:
                w = float(road[m])
                new.weights[m] = np.append(new.weights[m], w)
                new.graphs[m] = with_edge(new.graphs[m], a, b, w)
                da, db = dijkstra(new.graphs[m], directed=False, indices=[a, b]).astype(np.float32)
                d = new.dist[m]
                via = np.minimum(d[:, [a]] + w + db[None, :], d[:, [b]] + w + da[None, :])
                np.minimum(d, via, out=d)
            new.planned.append(road)
        return new

    def path(self, row: int, node: int, metric: str = "km") -> list[int]:
        """Node sequence from source ``row`` to ``node`` (a fresh search when planned roads exist)."""
        key = (metric, row)
        if metric in self.pred and not self.planned:
            pred = self.pred[metric][row]
        elif key in self._lazy_pred:  # several towns share a nearest city: one search per city
            pred = self._lazy_pred[key]
        else:
            _, pred = dijkstra(self.graphs[metric], directed=False, indices=int(self.sources[row]),
                               return_predecessors=True)
            self._lazy_pred[key] = pred
        if not np.isfinite(self.dist[metric][row, node]):
            return []
        out = [node]
        while out[-1] != self.sources[row]:
            prev = int(pred[out[-1]])
            if prev < 0:
                return []
            out.append(prev)
        return out[::-1]


def nearest(dist: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each column, the selected row with the least distance, and that distance (inf if none)."""
    if len(rows) == 0:
        return np.full(len(cols), -1), np.full(len(cols), np.inf, dtype=np.float32)
    sub = dist[np.ix_(rows, cols)]
    arg = np.argmin(sub, axis=0)
    return rows[arg], sub[arg, np.arange(len(cols))]
