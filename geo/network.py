"""The road graph: schematic roads + snapped towns and cities + access links.

Nodes are road vertices (waypoints), split points where a town or city meets a road, and the
towns and cities themselves. Edges carry geodesic km and a class; travel weights (detour factor,
speed) are applied later in routing.py, so a change of speeds never rebuilds the topology.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Point

from .layers import FROM_LCC, TO_LCC, Layers, geodesic_km

KEY_DIGITS = 5  # vertices equal to 1e-5 degree (about 1 m) are the same node


@dataclass
class Network:
    lon: np.ndarray
    lat: np.ndarray
    names: list
    u: np.ndarray
    v: np.ndarray
    km: np.ndarray  # geodesic km of the straight edge
    cls: np.ndarray  # road class per edge
    road: np.ndarray  # road id (or access link id) per edge
    assumed: np.ndarray  # bool: an assumed access link
    factor: np.ndarray  # road km per geodesic km where a published section length gives it, else nan
    town_node: dict  # town id -> node (absent when unroutable)
    city_node: dict  # city id -> node
    access: dict  # town or city id -> {class, km, assumed, sourced, note, coords}
    unroutable: dict  # id -> reason
    crs: str = "EPSG:4326"
    node_index: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.lon)

    def to_networkx(self) -> "nx.Graph":  # noqa: F821
        """The graph as networkx (for edits and checks); lengths in geodesic km, CRS on the graph."""
        import networkx as nx  # imported here: the app does not need it to start

        g = nx.Graph(crs=self.crs)
        for i in range(self.n_nodes):
            g.add_node(i, x=float(self.lon[i]), y=float(self.lat[i]), name=self.names[i])
        for a, b, km, c, r, s, f in zip(self.u, self.v, self.km, self.cls, self.road, self.assumed, self.factor):
            if not g.has_edge(a, b) or g[a][b]["km"] > km:
                g.add_edge(int(a), int(b), km=float(km), cls=str(c), road=str(r), assumed=bool(s), factor=float(f))
        return g


class _Builder:
    def __init__(self):
        self.lon, self.lat, self.names, self.index = [], [], [], {}
        self.edges = []  # (u, v, cls, road, assumed, factor)

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
    names = {}
    for _, w in layers.waypoints.iterrows():
        if w["lat"]:
            names[(round(float(w["lon"]), KEY_DIGITS), round(float(w["lat"]), KEY_DIGITS))] = w["waypoint_name"]
    has_factor = "km_factor" in layers.roads.columns
    for _, r in layers.roads.iterrows():
        coords = list(r.geometry.coords)
        ids = [b.node(x, y, names.get((round(x, KEY_DIGITS), round(y, KEY_DIGITS)), "")) for x, y in coords]
        factor = float(r["km_factor"]) if has_factor and r["km_factor"] not in ("", None) else np.nan
        for a, c in zip(ids[:-1], ids[1:]):
            if a != c:
                b.edges.append((a, c, r["class"], r["road_id"], False, factor))


def _snap(b: _Builder, points: list[tuple]) -> list[tuple]:
    """Nearest point on any road edge for each (id, lon, lat). Splits edges at those points.

    Returns (id, node on the road, geodesic km from the point to it)."""
    seg_u = np.array([e[0] for e in b.edges])
    seg_v = np.array([e[1] for e in b.edges])
    lon, lat = np.array(b.lon), np.array(b.lat)
    x, y = TO_LCC.transform(lon, lat)
    lines = shapely.linestrings(np.stack([np.stack([x[seg_u], y[seg_u]], 1), np.stack([x[seg_v], y[seg_v]], 1)], 1))
    tree = shapely.STRtree(lines)
    px, py = TO_LCC.transform([p[1] for p in points], [p[2] for p in points])
    splits: dict[int, list] = {}
    hits = []
    for (pid, plon, plat), qx, qy in zip(points, px, py):
        k = int(tree.query_nearest(Point(qx, qy))[0])
        line = lines[k]
        t = line.project(Point(qx, qy), normalized=True)
        hits.append((pid, plon, plat, k, t))
        splits.setdefault(k, []).append(t)
    # split each hit edge once at all its (sorted, distinct) interior fractions
    split_nodes: dict[tuple, int] = {}
    new_edges, removed = [], set()
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
    sourced = {r["town_id"]: r for _, r in layers.access_roads.iterrows()}
    way_xy = {w["waypoint_name"]: (float(w["lon"]), float(w["lat"])) for _, w in layers.waypoints.iterrows() if w["lat"]}
    pts = [(f"town:{t['id']}", t.geometry.x, t.geometry.y) for _, t in layers.towns.iterrows()]
    pts += [(f"city:{c['id']}", c.geometry.x, c.geometry.y) for _, c in layers.cities.iterrows()]
    snapped = {pid: (node, km) for pid, node, km in _snap(b, pts)}
    town_node, city_node, access, unroutable = {}, {}, {}, {}
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
            unroutable[ident] = (f"{km:.1f} km from the nearest road, beyond the snap distance of {snap_km:g} km")
            continue
        assumed = km > on_network_km and not is_sourced
        if not note:
            note = ("assumed straight access link to the nearest point of the network" if assumed
                    else "on the network (within the on-network distance)")
        b.edges.append((own, target, "access", f"access:{ident}", assumed, np.nan))
        access[ident] = {"class": "access", "km": km, "assumed": assumed, "sourced": is_sourced, "note": note,
                         "coords": [[plat, plon], [b.lat[target], b.lon[target]]]}
        (town_node if kind == "town" else city_node)[ident] = own
    e = b.edges
    lon, lat = np.array(b.lon), np.array(b.lat)
    u = np.array([x[0] for x in e], dtype=np.int64)
    v = np.array([x[1] for x in e], dtype=np.int64)
    return Network(lon=lon, lat=lat, names=b.names, u=u, v=v, km=geodesic_km(lon[u], lat[u], lon[v], lat[v]),
                   cls=np.array([x[2] for x in e]), road=np.array([x[3] for x in e]),
                   assumed=np.array([x[4] for x in e], dtype=bool),
                   factor=np.array([x[5] for x in e], dtype=float), town_node=town_node, city_node=city_node,
                   access=access, unroutable=unroutable, node_index=dict(b.index))
