"""Topology of an imported road network: ways -> segments -> contracted edges -> largest component.

A way is a polyline of vertices, each with a key (an OSM node id, or a rounded-coordinate key for a
GIS line layer). Vertices with equal keys are one node. Consecutive vertices of a way give segments
with geodesic km (WGS84) and minutes (km / way speed). Chains of nodes with exactly two segments of
the same class, ref and direction are contracted into one edge whose km and minutes are the sums of
its parts, so a change of speed along a chain is kept. Only the largest weakly connected component
is kept; what is dropped is reported, never dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix

from .layers import GEOD

COORD_SCALE = 10**5  # line layers: vertices equal to 1e-5 degree (about 1 m) are one node


@dataclass
class RawWays:
    """Ways as flat arrays: vertex ``i`` of way ``w`` is at ``offsets[w] + i``.

    Attributes
    ----------
    key, lon, lat : numpy.ndarray
        Per vertex: node key (int64), WGS84 degrees (NaN where the location is missing).
    offsets : numpy.ndarray
        int64, length ``n_ways + 1``.
    cls, ref : numpy.ndarray
        Per way: codes into ``cls_names`` and ``ref_names``.
    speed_kmh : numpy.ndarray
        Per way: travel speed (defaults already filled in).
    oneway : numpy.ndarray
        Per way: bool, the vertex order is the direction of travel.
    maxspeed : numpy.ndarray, optional
        Per way: the posted speed (OSM ``maxspeed``, a line layer's speed column), NaN where none.
    """

    key: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    offsets: np.ndarray
    cls: np.ndarray
    ref: np.ndarray
    speed_kmh: np.ndarray
    oneway: np.ndarray
    cls_names: list[str]
    ref_names: list[str]
    maxspeed: np.ndarray | None = None

    @property
    def n_ways(self) -> int:
        return len(self.offsets) - 1


def coordinate_keys(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """One int64 per (lon, lat) rounded to 1e-5 degree: equal keys are one node."""
    x = np.rint((np.asarray(lon) + 180.0) * COORD_SCALE).astype(np.int64)
    y = np.rint((np.asarray(lat) + 90.0) * COORD_SCALE).astype(np.int64)
    return x * (200 * COORD_SCALE) + y


def segments(raw: RawWays) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Node arrays and one segment per pair of consecutive vertices of a way.

    Returns
    -------
    (nodes, segs) : tuple of dict
        ``nodes``: key, lon, lat. ``segs``: a, b (node indices), km, minutes, way; plus the
        counts ``missing_segments`` (a vertex without location) and ``zero_segments`` (a repeated
        vertex) in ``segs["dropped"]``.
    """
    n = len(raw.key)
    way_of = np.repeat(np.arange(raw.n_ways, dtype=np.int64), np.diff(raw.offsets))
    first = np.arange(n - 1, dtype=np.int64)
    same_way = way_of[:-1] == way_of[1:] if n > 1 else np.zeros(0, bool)
    first = first[same_way]
    has_loc = np.isfinite(raw.lon) & np.isfinite(raw.lat)
    located = has_loc[first] & has_loc[first + 1]
    distinct = raw.key[first] != raw.key[first + 1]
    dropped = {"missing_segments": int((~located).sum()),
               "zero_segments": int((located & ~distinct).sum())}
    first = first[located & distinct]
    used = np.zeros(n, bool)
    used[first] = used[first + 1] = True
    keys, inverse = np.unique(raw.key[used], return_inverse=True)
    node_of = np.full(n, -1, dtype=np.int64)
    node_of[used] = inverse
    pos = np.zeros(len(keys), dtype=np.int64)
    pos[inverse] = np.flatnonzero(used)
    nodes = {"key": keys, "lon": raw.lon[pos], "lat": raw.lat[pos]}
    _, _, m = GEOD.inv(raw.lon[first], raw.lat[first], raw.lon[first + 1], raw.lat[first + 1])
    km = np.asarray(m, dtype=float) / 1000.0
    way = way_of[first]
    posted = (np.full(len(way), np.nan) if raw.maxspeed is None
              else np.asarray(raw.maxspeed, dtype=float)[way])
    segs = {"a": node_of[first], "b": node_of[first + 1], "km": km,
            "minutes": km / raw.speed_kmh[way] * 60.0, "way": way, "dropped": dropped,
            "first": first, "maxspeed": posted}
    return nodes, segs


def _through_nodes(n: int, a: np.ndarray, b: np.ndarray, attr: np.ndarray, oneway: np.ndarray
                   ) -> NDArray[np.bool_]:
    """Nodes inside a chain: two segments, same attributes, and (one way) one in, one out."""
    outdeg, indeg = np.bincount(a, minlength=n), np.bincount(b, minlength=n)
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -1)
    for ends in (a, b):
        np.minimum.at(lo, ends, attr)
        np.maximum.at(hi, ends, attr)
    directed: NDArray[np.bool_] = np.zeros(n, bool)
    directed[a[oneway]] = directed[b[oneway]] = True
    through: NDArray[np.bool_] = (outdeg + indeg == 2) & (lo == hi)
    one_in_one_out: NDArray[np.bool_] = (outdeg == 1) & (indeg == 1)
    return through & (~directed | one_in_one_out)


def _chains(n_seg: int, a: np.ndarray, b: np.ndarray, through: np.ndarray) -> np.ndarray:
    """Chain label per segment: segments meeting at a through node share a label."""
    inc_node = np.concatenate([a, b])
    inc_seg = np.concatenate([np.arange(n_seg), np.arange(n_seg)])
    keep = through[inc_node]
    order = np.argsort(inc_node[keep], kind="stable")
    pairs = inc_seg[keep][order].reshape(-1, 2)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_seg, n_seg))
    from scipy.sparse.csgraph import connected_components  # at first use: see geo.routing.dijkstra

    return connected_components(g, directed=False)[1]


def contract(n: int, segs: dict[str, Any], attr: np.ndarray, oneway: np.ndarray
             ) -> dict[str, np.ndarray]:
    """Contract chains of through nodes into edges (u, v, km, minutes, seg: one segment of each).

    ``attr`` is one integer per segment (class, ref and direction): a node where it changes stays.
    A ring with no junction keeps its smallest node as the end of one looping edge.
    """
    a, b = segs["a"], segs["b"]
    through = _through_nodes(n, a, b, attr, oneway)
    for _ in range(2):  # the second pass only after opening rings
        label = _chains(len(a), a, b, through)
        ends = ~through[np.concatenate([a, b])]
        n_chain = int(label.max()) + 1 if len(label) else 0
        open_count = np.bincount(np.concatenate([label, label])[ends], minlength=n_chain)
        rings = np.flatnonzero(open_count == 0)
        if not len(rings):
            break
        ring_node = np.full(n_chain, np.iinfo(np.int64).max)
        np.minimum.at(ring_node, label, a)
        through[ring_node[rings]] = False
    inc_label = np.concatenate([label, label])[ends]
    inc_node = np.concatenate([a, b])[ends]
    role = np.repeat([0, 1], len(a))[ends]  # tail first: the direction of a one-way chain
    order = np.lexsort((role, inc_label))
    if not np.array_equal(np.bincount(inc_label, minlength=n_chain), np.full(n_chain, 2)):
        raise RuntimeError("internal error: a contracted chain does not have exactly two ends")
    uv = inc_node[order].reshape(-1, 2)
    first_seg = np.zeros(n_chain, dtype=np.int64)
    first_seg[label[::-1]] = np.arange(len(label))[::-1]
    # the incidence at each chain's u
    u_end = np.arange(2 * len(a))[ends][order].reshape(-1, 2)[:, 0]
    seq, flip = _along(n, a, b, through, u_end, label)
    posted = np.isfinite(segs["maxspeed"]) if "maxspeed" in segs else np.zeros(len(a), bool)
    speed = np.where(posted, segs.get("maxspeed", 1.0), 1.0)
    posted_min = np.where(posted, segs["km"] / speed * 60.0, 0.0)
    return {"u": uv[:, 0], "v": uv[:, 1], "km": np.bincount(label, segs["km"], minlength=n_chain),
            "minutes": np.bincount(label, segs["minutes"], minlength=n_chain), "seg": first_seg,
            "label": label, "seq": seq, "flip": flip,
            "posted_km": np.bincount(label, np.where(posted, segs["km"], 0.0), minlength=n_chain),
            "posted_min": np.bincount(label, posted_min, minlength=n_chain)}


def _along(n: int, a: np.ndarray, b: np.ndarray, through: np.ndarray, u_end: np.ndarray,
           label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The segments of every chain in order from its u end, and which are walked against their
    drawing.

    Each chain is made a path of its own (its end vertices get private ids, so chains no longer
    touch at junctions); one breadth-first search from every chain's u end numbers the vertices
    along it. Returns ``seq`` (segment indices sorted by chain, then position) and ``flip`` (per
    segment: walked from b to a).
    """
    n_seg = len(a)
    ia = np.where(through[a], a, n + np.arange(n_seg))
    ib = np.where(through[b], b, n + n_seg + np.arange(n_seg))
    size = n + 2 * n_seg
    g = coo_matrix((np.ones(n_seg), (ia, ib)), shape=(size, size)).tocsr()
    from scipy.sparse.csgraph import dijkstra

    hops = dijkstra(g, directed=False, indices=n + u_end, unweighted=True, min_only=True)
    pa, pb = hops[ia], hops[ib]
    flip = pa > pb
    seq = np.lexsort((np.minimum(pa, pb), label))
    return seq, flip


def largest_component(lon: np.ndarray, lat: np.ndarray, u: np.ndarray, v: np.ndarray,
                      km: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Keep mask of nodes and edges of the largest weakly connected component, and what is dropped.

    Returns
    -------
    (node_keep, edge_keep, report) : tuple
        The report gives the component count and the dropped components, nodes, edges and km,
        with the five longest dropped pieces (edges, km and one node's lon/lat to find them).
    """
    n = len(lon)
    g = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    from scipy.sparse.csgraph import connected_components

    count, label = connected_components(g, directed=True, connection="weak")
    size = np.bincount(label, minlength=count)
    keep_label = int(np.argmax(size)) if count else 0
    node_keep = label == keep_label
    edge_keep = node_keep[u]
    comp_km = np.bincount(label[u], km, minlength=count)
    comp_edges = np.bincount(label[u], minlength=count)
    first = np.zeros(count, dtype=np.int64)
    first[label[::-1]] = np.arange(n)[::-1]
    others = [c for c in np.argsort(-comp_km, kind="stable") if c != keep_label]
    pieces = [{"edges": int(comp_edges[c]), "km": round(float(comp_km[c]), 3),
               "lon": round(float(lon[first[c]]), 6), "lat": round(float(lat[first[c]]), 6)}
              for c in others[:5]]
    report = {"components": int(count), "dropped_components": max(int(count) - 1, 0),
              "dropped_nodes": int((~node_keep).sum()), "dropped_edges": int((~edge_keep).sum()),
              "dropped_km": round(float(km[~edge_keep].sum()), 3), "largest_dropped": pieces}
    return node_keep, edge_keep, report
