"""Derive the three agglomeration inputs for every town, with the evidence and reasons behind each.

``SpatialModel(layers).derive(params)`` -> ``Derivation`` (geo.results). Networks and distance
matrices are cached per version (bounded, thread-safe); nothing private leaves this module.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from collections import OrderedDict

import numpy as np

from ._errors import ParamError
from .catchments import fua_catchments
from .junctions import Lines
from .layers import Layers, geodesic_km, load_layers
from .network import Network, build_network
from .params import Params, PlannedRoad
from .places import PlaceIndex
from .results import AccessLink, Derivation, Flag, PlannedEdge, TownAccess
from .routing import Routing, edge_weights, nearest
from .official import Official
from .tourism import Sites

OWN_CITY_KM = 5  # a town within this distance of a large city's point is that city


class _LRU:
    """A small bounded, thread-safe cache that builds a missing entry under its lock."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.RLock()

    def get(self, key, build):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            value = self.items[key] = build()
            while len(self.items) > self.size:
                self.items.popitem(last=False)
            return value


class SpatialModel:
    """Layers loaded once; networks and distance matrices cached per version; a Derivation per Params."""

    def __init__(self, layers: Layers | None = None, *, cache_size: int = 8):
        self.layers = layers or load_layers()
        self.lines = Lines(self.layers)
        self.sites = Sites(self.layers)
        self.official = Official(self.layers)
        self.places = PlaceIndex(self.layers)
        self._networks, self._routings = _LRU(cache_size), _LRU(cache_size)
        t, c = self.layers.towns, self.layers.cities
        self.town_ids = list(t["id"])
        self.town_names = list(t["name_en"])
        self.city_status = dict(zip(c["id"], c["status"]))
        self.city_pop = dict(zip(c["id"], c["population"].fillna(0)))
        self.city_names = dict(zip(c["id"], c["name_en"]))
        self.own_city = self._own_cities()

    # -- cached versions ------------------------------------------------------------------------
    def network(self, params: Params) -> Network:
        """The road graph for the snapping parameters (cached)."""
        key = (params.snap_km, params.on_network_km)
        return self._networks.get(key, lambda: build_network(self.layers, snap_km=params.snap_km,
                                                             on_network_km=params.on_network_km))

    def routing(self, params: Params) -> Routing:
        """Distance matrices from every routable large city, for the network and the speeds (cached)."""
        key = (params.snap_km, params.on_network_km, params.speeds, params.detours)

        def build():
            net = self.network(params)
            sources = np.array([net.city_node[c] for c in self._source_ids(net)])
            return Routing(net.n_nodes, net.u, net.v, edge_weights(net.cls, net.km, params, net.factor), sources)
        return self._routings.get(key, build)

    # -- planned roads --------------------------------------------------------------------------
    def resolve(self, end, net: Network, params: Params) -> tuple[int, str]:
        """A planned road's end (place name in any language, or (lon, lat)) -> (node, label)."""
        if isinstance(end, str):
            place = self.places.find(end)
            if place is None:
                raise ParamError({"planned_roads": f"'{end}' is not a known town, large city or road waypoint"})
            own = net.town_node if place.kind == "town" else net.city_node if place.kind == "city" else {}
            if place.ident in own:
                return own[place.ident], place.label
            if place.kind != "point":
                raise ParamError({"planned_roads": f"'{end}' is not routable with the current snap distance"})
            lon, lat, label = place.lon, place.lat, place.label
        else:
            lon, lat = end
            label = f"{lat:.4f} N {lon:.4f} E"
        d = geodesic_km(np.full(net.n_nodes, lon), np.full(net.n_nodes, lat), net.lon, net.lat)
        k = int(np.argmin(d))
        if d[k] > params.snap_km:
            raise ParamError({"planned_roads": f"{label} is {d[k]:.0f} km from the network; "
                                               f"allowed within snap_km = {params.snap_km:g} km"})
        return k, label if isinstance(end, str) else f"{label} (snapped to {net.names[k] or 'a road point'})"

    def planned_edges(self, params: Params, net: Network) -> tuple[tuple[int, int, PlannedEdge], ...]:
        """(node a, node b, PlannedEdge) per planned road, resolved on the network."""
        return tuple(self._planned_edge(i, road, params, net) for i, road in enumerate(params.planned_roads, start=1))

    def _planned_edge(self, i: int, road: PlannedRoad, params: Params, net: Network):
        a, la = self.resolve(road.start, net, params)
        b, lb = self.resolve(road.end, net, params)
        if a == b:
            raise ParamError({"planned_roads": f"road {i}: both ends are the same network point ({la})"})
        km = float(geodesic_km(net.lon[a], net.lat[a], net.lon[b], net.lat[b]))
        w = edge_weights(np.array([road.cls]), np.array([km]), params)
        coords = ((float(net.lat[a]), float(net.lon[a])), (float(net.lat[b]), float(net.lon[b])))
        return a, b, PlannedEdge(la, lb, road.cls, float(w["km"][0]), float(w["min"][0]), km, coords)

    # -- the derivation -------------------------------------------------------------------------
    def derive(self, params: Params) -> Derivation:
        """The three agglomeration inputs for every town, with evidence and reasons."""
        net, routing = self.network(params), self.routing(params)
        planned = self.planned_edges(params, net)
        if planned:
            routing = routing.with_planned([{"a": a, "b": b, "km": p.km, "min": p.minutes} for a, b, p in planned])
        src_ids = self._source_ids(net)
        sel = np.array([i for i, c in enumerate(src_ids) if self.city_status[c] in params.large_city_statuses
                        and self.city_pop[c] >= params.large_city_min_pop], dtype=np.int64)
        routable = [t for t in self.town_ids if t in net.town_node]
        cols = np.array([net.town_node[t] for t in routable], dtype=np.int64)
        pos = {t: i for i, t in enumerate(routable)}
        near = nearest(routing.dist["km"], sel, cols)
        fua = nearest(routing.dist["min"], sel, cols)
        if not params.own_city_counts:
            self._other_city(routing, sel, cols, pos, src_ids, near, fua)
        edges = [p for _, _, p in planned]
        junctions = self.lines.junctions(params, tuple(edges))
        tourism = self.sites.flags(params)
        pairs = {frozenset((a, b)) for a, b, _ in planned}
        towns = []
        for ti, tid in enumerate(self.town_ids):
            junction, hits = junctions[ti]
            if tid not in pos:
                town = self._unroutable(ti, tid, junction, hits, net)
            else:
                i = pos[tid]
                town = self._town(ti, tid, params, net, routing, src_ids, len(sel), pairs,
                                  (near[0][i], near[1][i]), (fua[0][i], fua[1][i]), cols[i], junction, hits)
            towns.append(replace(town, tourism=tourism[ti], in_fua=self.official.in_fua(params, tid, town.in_fua)))
        return Derivation(
            params=params, towns=tuple(towns), planned=tuple(edges),
            selected_cities=tuple(src_ids[i] for i in sel),
            unroutable_cities={c: r for c, r in net.unroutable.items() if c in self.city_names},
            catchments=fua_catchments(net, routing, sel, src_ids, params.fua_minutes),
            access_links=self._access_geojson(net))

    def _other_city(self, routing, sel, cols, pos, src_ids, near, fua) -> None:
        """For towns that are themselves a selected large city: the nearest OTHER large city (in place)."""
        for tid, city in self.own_city.items():
            if tid not in pos or city not in src_ids:
                continue
            i, own = pos[tid], src_ids.index(city)
            rows = sel[sel != own]
            for result, metric in ((near, "km"), (fua, "min")):
                row, d = nearest(routing.dist[metric], rows, cols[i:i + 1])
                result[0][i], result[1][i] = row[0], d[0]

    def _town(self, ti, tid, params, net, routing, src_ids, n_sel, pairs, near, fua, col, junction, hits):
        (near_row, road_km), (fua_row, minutes) = near, fua
        ok_near, ok_fua = bool(np.isfinite(road_km)), bool(np.isfinite(minutes))
        city = src_ids[near_row] if ok_near else None
        fua_city = src_ids[fua_row] if ok_fua else None
        path = routing.path(int(near_row), int(col), "km") if ok_near else []
        access = _access(net.access[tid])
        own = self._own_note(tid, params, src_ids)
        fua_flag = self._fua_flag(params, fua_city, float(minutes), access, n_sel)
        near_flag = self._near_flag(params, city, float(road_km), access, n_sel)
        return TownAccess(
            town_id=tid, town=self.town_names[ti],
            in_fua=Flag(fua_flag.value, fua_flag.reason + own),
            near_large_city=Flag(near_flag.value, near_flag.reason + own),
            corridor_junction=junction, nearest_city_id=city,
            nearest_city=self.city_names[city] if city else None,
            road_km=round(float(road_km), 3) if ok_near else None, fua_city_id=fua_city,
            fua_city=self.city_names[fua_city] if fua_city else None,
            travel_min=round(float(minutes), 3) if ok_fua else None,
            route=tuple((float(net.lat[n]), float(net.lon[n])) for n in path),
            route_uses_planned=any(frozenset(e) in pairs for e in zip(path[:-1], path[1:])),
            access=access, lines=hits, own_city_id=self.own_city.get(tid))

    def _unroutable(self, ti, tid, junction, hits, net) -> TownAccess:
        why = net.unroutable.get(tid, "not connected")
        missing = Flag(None, f"cannot be derived: the town is unroutable ({why})")
        return TownAccess(town_id=tid, town=self.town_names[ti], in_fua=missing, near_large_city=missing,
                          corridor_junction=junction, lines=hits, unroutable=why, own_city_id=self.own_city.get(tid))

    def _own_note(self, tid: str, params: Params, src_ids: list[str]) -> str:
        """Say so when the town is itself a large city, and which rule applies (own_city_counts)."""
        city = self.own_city.get(tid)
        if city is None:
            return ""
        name = self.city_names[city]
        if params.own_city_counts:
            return f"; the town is itself the large city {name}, and counts as such (own_city_counts = true)"
        return (f"; the town is itself the large city {name}: measured to the nearest other large city "
                f"(own_city_counts = false)")

    def _fua_flag(self, params, city, minutes, access, n_sel) -> Flag:
        if city is None:
            return Flag(0, _no_city(n_sel))
        inside = minutes <= params.fua_minutes
        reason = (f"fastest road time to a large city ({self.city_names[city]}) {minutes:.0f} min, "
                  f"{'within' if inside else 'beyond'} fua_minutes = {params.fua_minutes:g} min")
        return Flag(100 if inside else 0, reason + _assumed(access))

    def _near_flag(self, params, city, road_km, access, n_sel) -> Flag:
        if city is None:
            return Flag(0, _no_city(n_sel))
        inside = road_km <= params.near_km
        reason = (f"road distance to the nearest large city ({self.city_names[city]}) {road_km:.0f} km, "
                  f"{'within' if inside else 'beyond'} near_km = {params.near_km:g} km")
        return Flag(100 if inside else 0, reason + _assumed(access))

    def road_km(self, params: Params, town_id: str, city_id: str) -> float | None:
        """Road km from a town to a named large city on the base network (no planned roads)."""
        net, routing = self.network(params), self.routing(params)
        ids = self._source_ids(net)
        if town_id not in net.town_node or city_id not in ids:
            return None
        return float(routing.dist["km"][ids.index(city_id), net.town_node[town_id]])

    def _source_ids(self, net: Network) -> list[str]:
        """The routable large cities, in the order of the distance matrices' rows."""
        return [c for c in self.city_names if c in net.city_node]

    def _own_cities(self) -> dict:
        t, c = self.layers.towns, self.layers.cities
        d = geodesic_km(t.geometry.x.values[:, None], t.geometry.y.values[:, None],
                        c.geometry.x.values[None, :], c.geometry.y.values[None, :])
        return {t["id"].iloc[i]: c["id"].iloc[int(np.argmin(d[i]))] for i in range(len(t)) if d[i].min() < OWN_CITY_KM}

    @staticmethod
    def _access_geojson(net: Network) -> dict:
        feats = [{"type": "Feature", "properties": {"link": f"{ident}: {a['km']:.1f} km", "note": a["note"],
                                                    "assumed": bool(a["assumed"])},
                  "geometry": {"type": "LineString", "coordinates": [[x, y] for y, x in a["coords"]]}}
                 for ident, a in net.access.items()]
        return {"type": "FeatureCollection", "features": feats}


def _access(a: dict) -> AccessLink:
    return AccessLink(km=float(a["km"]), assumed=bool(a["assumed"]), sourced=bool(a["sourced"]), note=a["note"],
                      coords=tuple((float(p[0]), float(p[1])) for p in a["coords"]))


def _assumed(access: AccessLink) -> str:
    return "; includes an assumed access link" if access.assumed else ""


def _no_city(n_sel: int) -> str:
    if n_sel == 0:
        return "no large city qualifies at these parameters (status and population threshold)"
    return f"none of the {n_sel} qualifying large cities is reachable by road from the town"


CLI_KEYS = ("aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction", "nearest_large_city",
            "road_km", "travel_min", "lines_within_radius", "assumed_access")


def cli_records(derivation: Derivation) -> list[dict]:
    """The ``python -m geo agglomeration --json`` contract: one flat record per town."""
    return [{"town": t.town} | {k: t.as_record()[k] for k in CLI_KEYS} for t in derivation.towns]
