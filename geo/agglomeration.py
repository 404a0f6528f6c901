"""Derive the three agglomeration inputs for every town, with the evidence behind each."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import shapely
from shapely.geometry import LineString

from ._errors import ParamError
from .layers import FROM_LCC, TO_LCC, Layers, geodesic_km, load_layers
from .network import Network, build_network
from .params import validate_params
from .routing import Routing, edge_weights, nearest

NETWORK_KEYS = ("snap_km", "on_network_km")
WEIGHT_KEYS = tuple(f"{p}_{c}" for p in ("speed", "detour") for c in ("international", "republican", "link", "access"))


def _line_distances_km(points_lonlat: np.ndarray, geoms: list) -> np.ndarray:
    """Geodesic km from each point to the nearest point of each line (nearest found in KZ_LCC)."""
    px, py = TO_LCC.transform(points_lonlat[:, 0], points_lonlat[:, 1])
    pts = shapely.points(px, py)
    out = np.empty((len(pts), len(geoms)))
    for j, g in enumerate(geoms):
        coords = shapely.get_coordinates(g)
        lx, ly = TO_LCC.transform(coords[:, 0], coords[:, 1])
        gl = shapely.transform(g, lambda c, lx=lx, ly=ly: np.stack([lx, ly], 1)) if len(coords) else g
        near = shapely.shortest_line(pts, gl)
        ends = shapely.get_coordinates(near).reshape(-1, 2, 2)[:, 1, :]
        elon, elat = FROM_LCC.transform(ends[:, 0], ends[:, 1])
        out[:, j] = geodesic_km(points_lonlat[:, 0], points_lonlat[:, 1], elon, elat)
    return out


class Lines:
    """The major lines a junction may be made of, and every town's distance to each (km)."""

    def __init__(self, layers: Layers):
        rows = []
        for _, r in layers.roads.iterrows():
            if r["class"] in ("international", "republican"):
                rows.append((r["road_id"], r["class"], f"road {r['road_id']} {r['name_ru'] or ''}".strip(),
                             r["corridors"] or "", r.geometry))
        for _, r in layers.railways.iterrows():
            if r["status"] == "operating":
                rows.append((r["line_id"], "railway", f"railway {r['name']}", "", r.geometry))
        for _, r in layers.corridors.iterrows():
            if r["planned"] == "no" and not r["roads"]:
                rows.append((r["corr_id"], "corridor", f"corridor {r['name']}", "", r.geometry))
        self.ids = [r[0] for r in rows]
        self.types = np.array([r[1] for r in rows])
        self.names = [r[2] for r in rows]
        self.corridors = [r[3] for r in rows]
        self.geoms = [r[4] for r in rows]
        pts = np.array([[t.geometry.x, t.geometry.y] for _, t in layers.towns.iterrows()])
        self.town_points = pts
        self.dist = _line_distances_km(pts, self.geoms)

    def identity(self, j: int, group: bool) -> str:
        if group and self.corridors[j]:
            return "corridors:" + self.corridors[j]
        return self.ids[j]


class SpatialModel:
    """Layers loaded once; networks and distance matrices cached per version; results per params."""

    def __init__(self, layers: Layers | None = None, *, cache_size: int = 8):
        self.layers = layers or load_layers()
        self.lines = Lines(self.layers)
        self._networks: OrderedDict = OrderedDict()
        self._routings: OrderedDict = OrderedDict()
        self.cache_size = cache_size
        t, c = self.layers.towns, self.layers.cities
        self.town_ids = list(t["id"])
        self.town_names = list(t["name_en"])
        self.city_status = dict(zip(c["id"], c["status"]))
        self.city_pop = dict(zip(c["id"], c["population"].fillna(0)))
        self.city_names = dict(zip(c["id"], c["name_en"]))
        self.town_is_city = self._town_is_city()
        self._names = self._name_index()

    # -- cached versions ----------------------------------------------------------------------
    def network(self, params: dict) -> Network:
        key = tuple(params[k] for k in NETWORK_KEYS)
        if key not in self._networks:
            self._networks[key] = build_network(self.layers, snap_km=params["snap_km"],
                                                on_network_km=params["on_network_km"])
            while len(self._networks) > self.cache_size:
                self._networks.popitem(last=False)
        return self._networks[key]

    def routing(self, params: dict) -> Routing:
        key = tuple(params[k] for k in NETWORK_KEYS + WEIGHT_KEYS)
        if key not in self._routings:
            net = self.network(params)
            sources = np.array([net.city_node[c] for c in self._source_ids(net)])
            self._routings[key] = Routing(net.n_nodes, net.u, net.v, edge_weights(net.cls, net.km, params), sources)
            while len(self._routings) > self.cache_size:
                self._routings.popitem(last=False)
        return self._routings[key]

    # -- planned roads -------------------------------------------------------------------------
    def _name_index(self) -> dict:
        idx = {}
        for kind, df in (("town", self.layers.towns), ("city", self.layers.cities)):
            for _, r in df.iterrows():
                for col in ("id", "name_en", "name_kk", "name_ru"):
                    if r[col]:
                        idx.setdefault(str(r[col]).strip().lower(), (kind, r["id"], r["name_en"]))
        for _, w in self.layers.waypoints.iterrows():
            if w["lat"]:
                for col in ("waypoint_name", "matched_name"):
                    key = w[col].strip().lower()
                    if key and not key.startswith("("):
                        idx.setdefault(key, ("point", (float(w["lon"]), float(w["lat"])), w["waypoint_name"]))
        return idx

    def resolve(self, end, net: Network, params: dict) -> tuple[int, str]:
        """A planned road's end (settlement name in any language, or [lon, lat]) -> (node, label)."""
        if isinstance(end, str):
            hit = self._names.get(end.strip().lower())
            if hit is None:
                raise ParamError({"planned_roads": f"'{end}' is not a known town, large city or road waypoint"})
            kind, ident, label = hit
            if kind == "town" and ident in net.town_node:
                return net.town_node[ident], label
            if kind == "city" and ident in net.city_node:
                return net.city_node[ident], label
            if kind == "point":
                lon, lat = ident
            else:
                raise ParamError({"planned_roads": f"'{end}' is not routable with the current snap distance"})
        else:
            lon, lat = end
            label = f"{lat:.4f} N {lon:.4f} E"
        d = geodesic_km(np.full(net.n_nodes, lon), np.full(net.n_nodes, lat), net.lon, net.lat)
        k = int(np.argmin(d))
        if d[k] > params["snap_km"]:
            raise ParamError({"planned_roads": f"{label} is {d[k]:.0f} km from the network; "
                                               f"allowed within snap_km = {params['snap_km']:g} km"})
        return k, label if isinstance(end, str) else f"{label} (snapped to {net.names[k] or 'a road point'})"

    def planned_edges(self, params: dict, net: Network) -> list[dict]:
        out = []
        for i, road in enumerate(params["planned_roads"], start=1):
            a, la = self.resolve(road["from"], net, params)
            b, lb = self.resolve(road["to"], net, params)
            if a == b:
                raise ParamError({"planned_roads": f"road {i}: both ends are the same network point ({la})"})
            km = float(geodesic_km(net.lon[a], net.lat[a], net.lon[b], net.lat[b]))
            w = edge_weights(np.array([road["class"]]), np.array([km]), params)
            out.append({"a": a, "b": b, "km": float(w["km"][0]), "min": float(w["min"][0]), "geodesic_km": km,
                        "class": road["class"], "from": la, "to": lb,
                        "coords": [[net.lat[a], net.lon[a]], [net.lat[b], net.lon[b]]]})
        return out

    # -- the derivation ------------------------------------------------------------------------
    def derive(self, raw_params: dict | None = None) -> dict:
        """Validated parameters -> {"params", "towns": [record per town], "planned", "selected_cities"}."""
        params = validate_params(raw_params)
        net = self.network(params)
        routing = self.routing(params)
        planned = self.planned_edges(params, net)
        if planned:
            routing = routing.with_planned(planned)
        src_ids = self._source_ids(net)
        sel = np.array([i for i, c in enumerate(src_ids) if self.city_status[c] in params["large_city_statuses"]
                        and self.city_pop[c] >= params["large_city_min_pop"]], dtype=np.int64)
        towns = self.town_ids
        routable = [t for t in towns if t in net.town_node]
        cols = np.array([net.town_node[t] for t in routable], dtype=np.int64)
        near_row, near_km = nearest(routing.dist["km"], sel, cols)
        fua_row, fua_min = nearest(routing.dist["min"], sel, cols)
        junction = self._junctions(params, planned, net)
        names, city_of_town = self.city_names, self.town_is_city
        records = []
        pos = {t: i for i, t in enumerate(routable)}
        for ti, t in enumerate(towns):
            rec = {"town": self.town_names[ti], "id": t}
            jn, lines = junction[ti]
            if t in pos:
                i = pos[t]
                ok_near, ok_fua = np.isfinite(near_km[i]), np.isfinite(fua_min[i])
                city = src_ids[near_row[i]] if ok_near else None
                path = routing.path(int(near_row[i]), int(cols[i]), "km") if ok_near else []
                rec.update({
                    "aggl_in_fua": 100 if ok_fua and fua_min[i] <= params["fua_minutes"] else 0,
                    "aggl_near_large_city": 100 if ok_near and near_km[i] <= params["near_km"] else 0,
                    "aggl_corridor_junction": jn,
                    "nearest_large_city": names[city] if city else None,
                    "nearest_large_city_id": city,
                    "road_km": round(float(near_km[i]), 3) if ok_near else None,
                    "travel_min": round(float(fua_min[i]), 3) if ok_fua else None,
                    "fua_city": names[src_ids[fua_row[i]]] if ok_fua else None,
                    "lines_within_radius": [x["id"] for x in lines],
                    "assumed_access": bool(net.access[t]["assumed"]),
                    "access": dict(net.access[t]),
                    "path": [[float(net.lat[n]), float(net.lon[n])] for n in path],
                    "path_uses_planned": self._uses_planned(path, planned),
                    "unroutable": None,
                })
            else:
                rec.update({"aggl_in_fua": None, "aggl_near_large_city": None, "aggl_corridor_junction": jn,
                            "nearest_large_city": None, "nearest_large_city_id": None, "road_km": None,
                            "travel_min": None, "fua_city": None, "lines_within_radius": [x["id"] for x in lines],
                            "assumed_access": None, "access": None, "path": [], "path_uses_planned": False,
                            "unroutable": net.unroutable.get(t, "not connected")})
            rec["lines_detail"] = lines
            rec["is_large_city"] = city_of_town.get(t)
            records.append(rec)
        return {"params": params, "towns": records, "planned": planned,
                "selected_cities": [src_ids[i] for i in sel], "unroutable_cities":
                    {c: r for c, r in net.unroutable.items() if c in self.city_names},
                "_routing": routing, "_network": net, "_sel": sel, "_src_ids": src_ids}

    def _source_ids(self, net: Network) -> list[str]:
        """The routable large cities, in the order of the distance matrices' rows."""
        return [c for c in self.city_names if c in net.city_node]

    def _uses_planned(self, path: list, planned: list) -> bool:
        pairs = {frozenset((p["a"], p["b"])) for p in planned}
        return any(frozenset(e) in pairs for e in zip(path[:-1], path[1:]))

    def _town_is_city(self) -> dict:
        t, c = self.layers.towns, self.layers.cities
        d = geodesic_km(t.geometry.x.values[:, None], t.geometry.y.values[:, None],
                        c.geometry.x.values[None, :], c.geometry.y.values[None, :])
        return {t["id"].iloc[i]: c["id"].iloc[int(np.argmin(d[i]))] for i in range(len(t)) if d[i].min() < 5}

    def _junctions(self, params: dict, planned: list, net: Network) -> list[tuple]:
        L = self.lines
        types = set(params["corridor_line_types"])
        within = (L.dist <= params["corridor_km"]) & np.isin(L.types, list(types))[None, :]
        extra = []
        if planned:
            geoms = [LineString([(p["coords"][0][1], p["coords"][0][0]), (p["coords"][1][1], p["coords"][1][0])])
                     for p in planned]
            pd_km = _line_distances_km(L.town_points, geoms)
            extra = [(j, p) for j, p in enumerate(planned) if p["class"] in types]
        out = []
        for i in range(len(L.town_points)):
            lines = [{"id": L.ids[j], "type": str(L.types[j]), "name": L.names[j], "km": round(float(L.dist[i, j]), 2),
                      "identity": L.identity(j, params["group_named_corridors"])} for j in np.flatnonzero(within[i])]
            for j, p in extra:
                if pd_km[i, j] <= params["corridor_km"]:
                    lines.append({"id": f"planned-{j + 1}", "type": p["class"], "km": round(float(pd_km[i, j]), 2),
                                  "name": f"planned {p['class']} road {p['from']} - {p['to']}",
                                  "identity": f"planned-{j + 1}"})
            distinct = len({x["identity"] for x in lines})
            out.append((100 if distinct >= params["corridor_min_lines"] else 0, lines))
        return out


def fua_catchments(result: dict) -> dict:
    """GeoJSON: per selected large city, the network parts within fua_minutes of it (along roads)."""
    net, routing = result["_network"], result["_routing"]
    T = result["params"]["fua_minutes"]
    u, v = routing.u, routing.v
    w = routing.weights["min"]
    lon, lat = net.lon, net.lat
    feats = []
    for row in result["_sel"]:
        d = routing.dist["min"][row]
        fu = np.clip((T - d[u]) / np.maximum(w, 1e-9), 0, 1)
        fv = np.clip((T - d[v]) / np.maximum(w, 1e-9), 0, 1)
        parts = []
        for k in np.flatnonzero((fu > 0) | (fv > 0)):
            a, b = u[k], v[k]
            pa, pb = (lon[a], lat[a]), (lon[b], lat[b])
            if fu[k] + fv[k] >= 1:
                parts.append([pa, pb])
                continue
            if fu[k] > 0:
                parts.append([pa, (lon[a] + (lon[b] - lon[a]) * fu[k], lat[a] + (lat[b] - lat[a]) * fu[k])])
            if fv[k] > 0:
                parts.append([pb, (lon[b] + (lon[a] - lon[b]) * fv[k], lat[b] + (lat[a] - lat[b]) * fv[k])])
        if parts:
            cid = result["_src_ids"][row]
            feats.append({"type": "Feature", "properties": {"city": cid, "minutes": T},
                          "geometry": {"type": "MultiLineString",
                                       "coordinates": [[[float(x), float(y)] for x, y in p] for p in parts]}})
    return {"type": "FeatureCollection", "features": feats}


CLI_KEYS = ("town", "aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction", "nearest_large_city",
            "road_km", "travel_min", "lines_within_radius", "assumed_access")


def cli_records(result: dict) -> list[dict]:
    return [{k: r[k] for k in CLI_KEYS} for r in result["towns"]]
