"""The road graph: schematic roads + snapped towns and cities + access links.

Nodes are road vertices (waypoints), split points where a town or city meets a road, and the
towns and cities themselves. Edges carry geodesic km and a class; travel weights (detour factor,
speed) are applied later in routing.py, so a change of speeds never rebuilds the topology.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray
import shapely
from shapely.geometry import Point

from .additions import PUBLISHED
from .layers import FROM_LCC, TO_LCC, Layers, chord_km, geodesic_km

if TYPE_CHECKING:
    import networkx as nx

    from .netimport import ImportedNetwork

KEY_DIGITS = 5  # vertices equal to 1e-5 degree (about 1 m) are the same node


@dataclass
class Network:
    lon: np.ndarray
    lat: np.ndarray
    names: list[str]
    u: np.ndarray
    v: np.ndarray
    km: np.ndarray  # geodesic km of the straight edge
    cls: np.ndarray  # road class per edge
    road: np.ndarray  # road id (or access link id) per edge
    assumed: np.ndarray  # bool: an assumed access link, or a straight link of published length
    # road km per geodesic km where a published section length gives it, else nan
    factor: np.ndarray
    town_node: dict[str, int]  # town id -> node (absent when unroutable)
    city_node: dict[str, int]  # city id -> node
    # town or city id -> {class, km, assumed, sourced, note, coords}
    access: dict[str, dict[str, Any]]
    unroutable: dict[str, str]  # id -> reason
    crs: str = "EPSG:4326"
    node_index: dict[tuple[float, float], int] = field(default_factory=dict)
    # imported networks only (geo.versions.build_imported); None on the shipped, all-two-way
    # network:
    oneway: np.ndarray | None = None  # bool per edge: travel only from u to v
    posted_km: np.ndarray | None = None  # per edge: km of its parts with a posted maxspeed
    posted_min: np.ndarray | None = None  # per edge: minutes of those parts at their maxspeed

    @property
    def chords(self) -> np.ndarray:
        """Great-circle km between each edge's end nodes (geo.layers.chord_km): with the edges'
        weights, the lower bound that tells which towns a planned road cannot help. Made with the
        network's travel inputs (0.3 s at 2M edges), stored per travel entry with an imported
        version's first use (routing.TravelEdges)."""
        return chord_km(self.lon[self.u], self.lat[self.u], self.lon[self.v], self.lat[self.v])

    @cached_property
    def posted(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(km, minutes) of the parts with a posted maxspeed, per edge; None when no edge has
        one."""
        if self.posted_km is None or self.posted_min is None or not np.any(self.posted_km > 0):
            return None
        return self.posted_km, self.posted_min

    @cached_property
    def directed(self) -> bool:
        """Some edge is one-way."""
        return self.oneway is not None and bool(np.any(self.oneway))

    @cached_property
    def published_pairs(self) -> dict[frozenset[int], int]:
        """{frozenset((u, v)): edge} for the road edges of published length drawn straight (links
        whose length is a published road distance; geo.additions). Empty on an imported network."""
        road_edge = np.flatnonzero(self.assumed & (self.cls != "access"))
        return {frozenset((int(self.u[e]), int(self.v[e]))): int(e) for e in road_edge}

    @property
    def n_nodes(self) -> int:
        return len(self.lon)

    def to_networkx(self) -> nx.Graph[int]:
        """The graph as networkx (for edits and checks); lengths in geodesic km, CRS on the
        graph."""
        import networkx as nx  # imported here: the app does not need it to start

        g: nx.Graph[int] = nx.Graph(crs=self.crs)
        for i in range(self.n_nodes):
            g.add_node(i, x=float(self.lon[i]), y=float(self.lat[i]), name=self.names[i])
        for a, b, km, c, r, s, f in zip(self.u, self.v, self.km, self.cls, self.road, self.assumed,
                                        self.factor):
            if not g.has_edge(a, b) or g[a][b]["km"] > km:
                g.add_edge(int(a), int(b), km=float(km), cls=str(c), road=str(r), assumed=bool(s),
                           factor=float(f))
        return g


_Edge = tuple[int, int, str, str, bool, float]  # (u, v, cls, road, assumed, factor)


class _Builder:
    def __init__(self) -> None:
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.names: list[str] = []
        self.index: dict[tuple[float, float], int] = {}
        self.edges: list[_Edge] = []

    def node(self, lon: float, lat: float, name: str = "") -> int:
        key = (round(lon, KEY_DIGITS), round(lat, KEY_DIGITS))
        if key not in self.index:
            self.index[key] = len(self.lon)
            self.lon.append(lon)
            self.lat.append(lat)
            self.names.append(name)
        elif name and not self.names[self.index[key]]:
            self.names[self.index[key]] = name
        return self.index[key]

    def new_node(self, lon: float, lat: float, name: str) -> int:
        self.lon.append(lon)
        self.lat.append(lat)
        self.names.append(name)
        return len(self.lon) - 1


def _road_edges(b: _Builder, layers: Layers) -> None:
    w = layers.waypoints
    names = {(round(float(lon), KEY_DIGITS), round(float(lat), KEY_DIGITS)): name
             for lon, lat, name in zip(w["lon"], w["lat"], w["waypoint_name"]) if lat}
    roads = layers.roads
    factors = roads["km_factor"] if "km_factor" in roads.columns else [None] * len(roads)
    basis = roads["basis"] if "basis" in roads.columns else [""] * len(roads)
    for geom, cls, road_id, km_factor, how in zip(roads.geometry.values, roads["class"],
                                                  roads["road_id"], factors, basis):
        coords = list(geom.coords)
        ids = [b.node(x, y, names.get((round(x, KEY_DIGITS), round(y, KEY_DIGITS)), ""))
               for x, y in coords]
        factor = float(km_factor) if km_factor not in ("", None) else np.nan
        assumed = how == PUBLISHED  # a published length on a straight, assumed geometry
        for a, c in zip(ids[:-1], ids[1:]):
            if a != c:
                b.edges.append((a, c, cls, road_id, assumed, factor))


def _snap(b: _Builder, points: list[tuple[str, float, float]]) -> list[tuple[str, int, float]]:
    """Nearest point on any road edge for each (id, lon, lat). Splits edges at those points.

    Returns (id, node on the road, geodesic km from the point to it)."""
    seg_u = np.array([e[0] for e in b.edges])
    seg_v = np.array([e[1] for e in b.edges])
    lon, lat = np.array(b.lon), np.array(b.lat)
    x, y = TO_LCC.transform(lon, lat)
    ends = np.stack([np.stack([x[seg_u], y[seg_u]], 1), np.stack([x[seg_v], y[seg_v]], 1)], 1)
    lines = cast(NDArray[np.object_], shapely.linestrings(ends))
    tree = shapely.STRtree(lines)
    px, py = TO_LCC.transform([p[1] for p in points], [p[2] for p in points])
    splits: dict[int, list[float]] = {}
    hits = []
    for (pid, plon, plat), qx, qy in zip(points, px, py):
        k = int(tree.query_nearest(Point(qx, qy))[0])
        line = lines[k]
        t = line.project(Point(qx, qy), normalized=True)
        hits.append((pid, plon, plat, k, t))
        splits.setdefault(k, []).append(t)
    # split each hit edge once at all its (sorted, distinct) interior fractions
    split_nodes: dict[tuple[int, float], int] = {}
    new_edges: list[_Edge] = []
    removed: set[int] = set()
    for k, ts in splits.items():
        a, c, cls, road, assumed, factor = b.edges[k]
        inner = sorted({round(t, 9) for t in ts if 1e-9 < t < 1 - 1e-9})
        if not inner:
            continue
        removed.add(k)
        chain = [a]
        for t in inner:
            sx, sy = lines[k].interpolate(t, normalized=True).coords[0]
            slon, slat = FROM_LCC.transform(sx, sy)
            n = b.new_node(float(slon), float(slat), f"(on {road})")
            split_nodes[(k, t)] = n
            chain.append(n)
        chain.append(c)
        new_edges += [(p, q, cls, road, assumed, factor) for p, q in zip(chain[:-1], chain[1:])]
    b.edges = [e for i, e in enumerate(b.edges) if i not in removed] + new_edges
    out = []
    for pid, plon, plat, k, t in hits:
        a, c = int(seg_u[k]), int(seg_v[k])
        node = a if t <= 1e-9 else c if t >= 1 - 1e-9 else split_nodes[(k, round(t, 9))]
        out.append((pid, node, float(geodesic_km(plon, plat, b.lon[node], b.lat[node]))))
    return out


def build_network(layers: Layers, *, snap_km: float, on_network_km: float) -> Network:
    """Road graph with every town and large city connected, or reported unroutable."""
    b = _Builder()
    _road_edges(b, layers)
    sourced = {r["town_id"]: r for r in layers.access_roads.to_dict("records")}
    w = layers.waypoints
    way_xy = {name: (float(lon), float(lat))
              for name, lon, lat in zip(w["waypoint_name"], w["lon"], w["lat"]) if lat}
    pts = [(f"town:{i}", g.x, g.y)
           for i, g in zip(layers.towns["id"], layers.towns.geometry.values)]
    pts += [(f"city:{i}", g.x, g.y)
            for i, g in zip(layers.cities["id"], layers.cities.geometry.values)]
    snapped = {pid: (node, km) for pid, node, km in _snap(b, pts)}
    town_node: dict[str, int] = {}
    city_node: dict[str, int] = {}
    access: dict[str, dict[str, Any]] = {}
    unroutable: dict[str, str] = {}
    for pid, plon, plat in pts:
        kind, ident = pid.split(":", 1)
        name = ident
        own = b.new_node(plon, plat, name)
        target, km = snapped[pid]
        src = sourced.get(ident) if kind == "town" else None
        note, is_sourced = "", False
        if src is not None and src["status"] == "sourced" and src["connects_to_waypoint"] in way_xy:
            wlon, wlat = way_xy[src["connects_to_waypoint"]]
            target = b.node(wlon, wlat)
            km = float(geodesic_km(plon, plat, wlon, wlat))
            note, is_sourced = f"sourced oblast road {src['road_name']}: {src['note']}", True
        elif src is not None:
            note = f"named oblast road {src['road_name']} not geocoded; {src['note']}"
        if km > snap_km and not is_sourced:
            unroutable[ident] = (f"{km:.1f} km from the nearest road, "
                                 f"beyond the snap distance of {snap_km:g} km")
            continue
        assumed = km > on_network_km and not is_sourced
        if not note:
            note = ("assumed straight access link to the nearest point of the network" if assumed
                    else "on the network (within the on-network distance)")
        b.edges.append((own, target, "access", f"access:{ident}", assumed, np.nan))
        access[ident] = {"class": "access", "km": km, "assumed": assumed, "sourced": is_sourced,
                         "note": note, "coords": [[plat, plon], [b.lat[target], b.lon[target]]]}
        (town_node if kind == "town" else city_node)[ident] = own
    e = b.edges
    lon, lat = np.array(b.lon), np.array(b.lat)
    u = np.array([x[0] for x in e], dtype=np.int64)
    v = np.array([x[1] for x in e], dtype=np.int64)
    return Network(lon=lon, lat=lat, names=b.names, u=u, v=v,
                   km=geodesic_km(lon[u], lat[u], lon[v], lat[v]),
                   cls=np.array([x[2] for x in e]), road=np.array([x[3] for x in e]),
                   assumed=np.array([x[4] for x in e], dtype=bool),
                   factor=np.array([x[5] for x in e], dtype=float), town_node=town_node,
                   city_node=city_node, access=access, unroutable=unroutable,
                   node_index=dict(b.index))


# -- imported networks (geo.netimport): towns and cities snapped onto the real geometry ----------

# classes the method has no parameters for
CLASS_OF_IMPORT = {"district": "oblast", "local": "oblast"}
# a snap this close (fraction of a segment, or km along an edge) to a vertex is at the vertex
_END = 1e-9


@dataclass
class _Geometry:
    """Every edge's polyline (u to v) as flat arrays: vertices, and per segment its first vertex and
    edge.

    Lean on purpose (a 2-million-edge network has about 4 million segments): cumulative km along an
    edge are summed only for the few segments a town or city snaps onto.
    """

    lon: np.ndarray  # per vertex
    lat: np.ndarray
    x: np.ndarray  # per vertex, KZ_LCC metres
    y: np.ndarray
    start: np.ndarray  # per segment: its first vertex (the next one ends it)
    edge: np.ndarray  # per segment: its edge
    first_seg: np.ndarray  # per edge: its first segment
    km: np.ndarray  # per segment: geodesic km
    maxspeed: np.ndarray  # per segment: posted km/h, NaN where none

    def before(self, s: int) -> tuple[float, float, float]:
        """km, posted km and posted minutes along segment s's edge before the segment."""
        lo = int(self.first_seg[self.edge[s]])
        km, ms = self.km[lo:s], self.maxspeed[lo:s]
        posted = np.isfinite(ms)
        minutes = (km[posted] / ms[posted] * 60.0).sum()
        return float(km.sum()), float(km[posted].sum()), float(minutes)


def _geometry(imp: ImportedNetwork) -> _Geometry:
    """The segments of an imported network; straight edges for a version saved without geometry."""
    n_edges = len(imp.u)
    off = getattr(imp, "geom_offsets", None)
    if off is not None:
        glon, glat = np.asarray(imp.geom_lon, float), np.asarray(imp.geom_lat, float)
        km, ms = np.asarray(imp.geom_km, dtype=float), np.asarray(imp.geom_maxspeed, dtype=float)
    else:  # format 1: one straight segment per edge, its real km kept
        off = np.arange(0, 2 * n_edges + 1, 2, dtype=np.int64)
        glon = np.column_stack([imp.lon[imp.u], imp.lon[imp.v]]).ravel()
        glat = np.column_stack([imp.lat[imp.u], imp.lat[imp.v]]).ravel()
        km, ms = np.asarray(imp.km, dtype=float), np.full(n_edges, np.nan)
    per_edge = np.diff(off) - 1
    x, y = TO_LCC.transform(glon, glat)
    return _Geometry(glon, glat, np.asarray(x), np.asarray(y),
                     np.delete(np.arange(len(glon)), off[1:] - 1),
                     np.repeat(np.arange(n_edges), per_edge),
                     np.concatenate([[0], np.cumsum(per_edge)])[:-1], km, ms)


def _nearest_segments(g: _Geometry, px: np.ndarray, py: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """For each point (KZ_LCC metres), the nearest segment (lowest index on a tie) and the fraction
    along it.

    Candidates come from a k-d tree of segment midpoints: a segment within distance D of a point has
    its midpoint within D + (its length) / 2, and D is at most the distance to the nearest midpoint.
    """
    from scipy.spatial import cKDTree

    a, b = g.start, g.start + 1
    mid = np.column_stack([(g.x[a] + g.x[b]) / 2, (g.y[a] + g.y[b]) / 2])
    half = float(np.hypot(g.x[b] - g.x[a], g.y[b] - g.y[a]).max()) / 2
    tree = cKDTree(mid)
    del mid
    dmid, _ = tree.query(np.column_stack([px, py]))
    seg, frac = np.zeros(len(px), dtype=np.int64), np.zeros(len(px))
    for i, (x, y, r) in enumerate(zip(px, py, np.asarray(dmid))):
        cand = np.sort(np.asarray(tree.query_ball_point([x, y], r + half + 1e-6), dtype=np.int64))
        x0, y0 = g.x[g.start[cand]], g.y[g.start[cand]]
        dx, dy = g.x[g.start[cand] + 1] - x0, g.y[g.start[cand] + 1] - y0
        len2 = dx * dx + dy * dy
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
        d2 = (x0 + t * dx - x) ** 2 + (y0 + t * dy - y) ** 2
        k = int(np.argmin(d2))
        seg[i], frac[i] = cand[k], t[k]
    return seg, frac


def build_imported(imp: ImportedNetwork, towns: pd.DataFrame, cities: pd.DataFrame, *,
                   snap_km: float, on_network_km: float) -> Network:
    """The road graph of an imported network (geo.netimport.ImportedNetwork) with towns and cities
    connected.

    Each town and city snaps onto the nearest point of the edges' REAL geometry (nearest in KZ_LCC);
    the edge is split there and its pieces get the geodesic km along the geometry (and the km and
    minutes of their posted-maxspeed parts), so a town on a contracted chain is placed exactly. The
    point joins the snap point by an access link (class access), as on the shipped network; farther
    than ``snap_km`` it is unroutable, reported, never dropped. Road edges keep their real km
    (``factor`` 1) and their direction (``oneway``).
    """
    pts = [(f"town:{t['id']}", float(t.geometry.x), float(t.geometry.y))
           for _, t in towns.iterrows()]
    pts += [(f"city:{c['id']}", float(c.geometry.x), float(c.geometry.y))
            for _, c in cities.iterrows()]
    n0, n_edges = len(imp.lon), len(imp.u)
    u, v = np.asarray(imp.u, dtype=np.int64), np.asarray(imp.v, dtype=np.int64)
    km = np.asarray(imp.km, dtype=float)
    pkm = (np.zeros(n_edges) if getattr(imp, "posted_km", None) is None
           else np.asarray(imp.posted_km, dtype=float))
    pmin = (np.zeros(n_edges) if getattr(imp, "posted_min", None) is None
            else np.asarray(imp.posted_min, dtype=float))
    g = _geometry(imp)
    ok = [p for p in pts if np.isfinite(p[1]) and np.isfinite(p[2])]
    px, py = TO_LCC.transform([p[1] for p in ok], [p[2] for p in ok])
    seg, frac = (_nearest_segments(g, np.asarray(px, dtype=float), np.asarray(py, dtype=float))
                 if ok
                 else (np.zeros(0, np.int64), np.zeros(0)))
    snaps = {pid: _snap_on(g, int(s), float(t)) for (pid, _, _), s, t in zip(ok, seg, frac)}
    # split each hit edge once at its distinct interior positions; new nodes after the imported ones
    new_xy: list[tuple[float, float]] = []
    new_names: list[str] = []
    node_at: dict[tuple[int, float], int] = {}
    pieces: list[tuple[int, int, int, float, float, float]] = []
    removed: list[int] = []
    for e in sorted({s[0] for s in snaps.values()}):
        chain = [(int(u[e]), 0.0, 0.0, 0.0)]
        inner = {s[1:] for s in snaps.values() if s[0] == e and _END < s[1] < km[e] - _END}
        for at, pk, pm, x, y in sorted(inner):
            if (e, round(at, 9)) in node_at:
                continue
            node_at[(e, round(at, 9))] = n0 + len(new_xy)
            new_xy.append((x, y))
            new_names.append(f"(on {imp.road[e] or 'a road'})")
            chain.append((n0 + len(new_xy) - 1, at, pk, pm))
        if len(chain) == 1:
            continue
        chain.append((int(v[e]), float(km[e]), float(pkm[e]), float(pmin[e])))
        removed.append(e)
        pieces += [(e, p, q, max(a1 - a0, 0.0), max(k1 - k0, 0.0), max(m1 - m0, 0.0))
                   for (p, a0, k0, m0), (q, a1, k1, m1) in zip(chain[:-1], chain[1:])]
    keep = np.ones(n_edges, dtype=bool)
    keep[removed] = False
    kept = np.flatnonzero(keep)
    pe = np.array([p[0] for p in pieces], dtype=np.int64)
    src = np.concatenate([kept, pe])  # the imported edge each road edge comes from
    road_u = np.concatenate([u[kept], np.array([p[1] for p in pieces], dtype=np.int64)])
    road_v = np.concatenate([v[kept], np.array([p[2] for p in pieces], dtype=np.int64)])
    road_km = np.concatenate([km[kept], [p[3] for p in pieces]])
    road_pkm = np.concatenate([pkm[kept], [p[4] for p in pieces]])
    road_pmin = np.concatenate([pmin[kept], [p[5] for p in pieces]])
    lon = np.concatenate([np.asarray(imp.lon, dtype=float), [x for x, _ in new_xy]])
    lat = np.concatenate([np.asarray(imp.lat, dtype=float), [y for _, y in new_xy]])
    town_node: dict[str, int] = {}
    city_node: dict[str, int] = {}
    access: dict[str, dict[str, Any]] = {}
    unroutable: dict[str, str] = {}
    links: list[tuple[int, int, float, bool, str]] = []
    own_xy: list[tuple[float, float]] = []
    own_names: list[str] = []
    for pid, plon, plat in pts:
        kind, ident = pid.split(":", 1)
        if pid not in snaps:
            unroutable[ident] = "no coordinates"
            continue
        e, at = snaps[pid][:2]
        target = (int(u[e]) if at <= _END else int(v[e]) if at >= km[e] - _END
                  else node_at[(e, round(at, 9))])
        d = float(geodesic_km(plon, plat, lon[target], lat[target]))
        if d > snap_km:
            unroutable[ident] = (f"{d:.1f} km from the nearest road, "
                                 f"beyond the snap distance of {snap_km:g} km")
            continue
        own = len(lon) + len(own_xy)
        own_xy.append((plon, plat))
        own_names.append(ident)
        assumed = d > on_network_km
        note = ("assumed straight access link to the nearest point of the network" if assumed
                else "on the network (within the on-network distance)")
        links.append((own, target, d, assumed, ident))
        access[ident] = {"class": "access", "km": d, "assumed": assumed, "sourced": False,
                         "note": note,
                         "coords": [[plat, plon], [float(lat[target]), float(lon[target])]]}
        (town_node if kind == "town" else city_node)[ident] = own
    lon = np.concatenate([lon, [x for x, _ in own_xy]])
    lat = np.concatenate([lat, [y for _, y in own_xy]])
    cls_codes, cls_names = pd.factorize(np.asarray(imp.cls)[src] if len(src)
                                        else np.zeros(0, dtype=object))
    cls = np.array([CLASS_OF_IMPORT.get(str(c), str(c)) for c in cls_names] + ["access"],
                   dtype=object)
    road_codes, road_names = pd.factorize(np.asarray(imp.road)[src] if len(src)
                                          else np.zeros(0, dtype=object))
    road = np.asarray(road_names, dtype=str)[road_codes] if len(src) else np.zeros(0, dtype=str)
    empty = road == ""
    road = road.astype(object)
    road[empty] = np.char.add("e", src[empty].astype(str)) if empty.any() else road[empty]
    n_link = len(links)
    return Network(
        lon=lon, lat=lat, names=[""] * n0 + new_names + own_names,
        u=np.concatenate([road_u, np.array([x[0] for x in links], dtype=np.int64)]),
        v=np.concatenate([road_v, np.array([x[1] for x in links], dtype=np.int64)]),
        km=np.concatenate([road_km, [x[2] for x in links]]),
        cls=cls[np.concatenate([cls_codes, np.full(n_link, len(cls) - 1)]).astype(np.int64)
                ].astype(str),
        road=np.concatenate([road.astype(str),
                             np.array([f"access:{x[4]}" for x in links], dtype=str)]),
        assumed=np.concatenate([np.zeros(len(road_u), bool),
                                np.array([x[3] for x in links], dtype=bool)]),
        factor=np.concatenate([np.ones(len(road_u)), np.full(n_link, np.nan)]),
        town_node=town_node, city_node=city_node, access=access, unroutable=unroutable,
        oneway=np.concatenate([np.asarray(imp.oneway, dtype=bool)[src], np.zeros(n_link, bool)]),
        posted_km=np.concatenate([road_pkm, np.zeros(n_link)]),
        posted_min=np.concatenate([road_pmin, np.zeros(n_link)]))


def _snap_on(g: _Geometry, s: int, t: float) -> tuple[int, float, float, float, float, float]:
    """(edge, km along it, posted km and minutes before the point, lon, lat) of fraction t of
    segment s."""
    a = int(g.start[s])
    if t <= _END:
        slon, slat, part = float(g.lon[a]), float(g.lat[a]), 0.0
    elif t >= 1 - _END:
        slon, slat, part = float(g.lon[a + 1]), float(g.lat[a + 1]), float(g.km[s])
    else:
        fx, fy = g.x[a] + t * (g.x[a + 1] - g.x[a]), g.y[a] + t * (g.y[a + 1] - g.y[a])
        slon, slat = (float(c) for c in FROM_LCC.transform(fx, fy))
        part = min(float(geodesic_km(g.lon[a], g.lat[a], slon, slat)), float(g.km[s]))
    done, done_posted, done_min = g.before(s)
    ms = float(g.maxspeed[s])
    posted = np.isfinite(ms)
    return (int(g.edge[s]), done + part, done_posted + (part if posted else 0.0),
            done_min + (part / ms * 60.0 if posted else 0.0), slon, slat)
