"""Derive the three agglomeration inputs for every town, with the evidence and reasons behind each.

``SpatialModel(layers).derive(params)`` -> ``Derivation`` (geo.results). Networks and distance
matrices are cached per version (bounded, thread-safe); nothing private leaves this module.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import replace
from functools import cached_property
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import ParamError
from .catchments import fua_catchments
from .additions import PUBLISHED
from .junctions import Lines, reach_km
from .layers import DISPLAY_CRS, Layers, chord_km, geodesic_km, load_layers
from .network import Network, build_imported, build_network
from .params import Params, PlannedRoad, load_road_classes
from .places import PlaceIndex
from .results import (AccessLink, Derivation, Flag, LineHit, PlannedEdge, PublishedLink, Reason,
                      Route, TownAccess, within)
from .official import Official
from .routing import (EdgeClasses, MetricRouting, NearestField, Topology, TownTable,
                      TravelEdges, METRICS, edge_weights, town_routes)
from .tourism import Sites
from .versions import (first_use_key, lines_file, load_arrays, load_first_use, load_table,
                       save_arrays, save_first_use, save_table, table_file)

if TYPE_CHECKING:
    from .versions import ImportedLayers

LOG = logging.getLogger(__name__)
OWN_CITY_KM = 5  # a town within this distance of a large city's point is that city

V = TypeVar("V")
Planned = tuple[tuple[int, int, PlannedEdge], ...]  # (node a, node b, road) per planned road
At = tuple[Any, Any]  # (source row, distance) of one town in a field (numpy scalars)


class _LRU(Generic[V]):
    """A bounded, thread-safe cache that builds a missing entry under its lock.

    Bounded in entries and, when ``max_bytes`` is given, in bytes (``sizeof(value)``); the entry
    just built is always kept, so one oversized value does not thrash.
    """

    def __init__(self, size: int, *, max_bytes: int | None = None,
                 sizeof: Callable[[V], int] | None = None):
        self.size, self.lock = size, threading.RLock()
        self.items: OrderedDict[Hashable, V] = OrderedDict()
        self.max_bytes, self.sizeof = max_bytes, sizeof

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            value = self.items[key] = build()
            while len(self.items) > 1 and (len(self.items) > self.size or self._over()):
                self.items.popitem(last=False)
            return value

    def _over(self) -> bool:
        return self.max_bytes is not None and self.nbytes > self.max_bytes

    @property
    def nbytes(self) -> int:
        """Bytes held now (values such as lazily filled fields may grow after they are stored)."""
        if self.sizeof is None:
            return 0
        with self.lock:
            return sum(self.sizeof(v) for v in self.items.values())


MB = 1024 * 1024


class SpatialModel:
    """Layers loaded once; networks, graphs, nearest-city fields and catchments cached by what they
    depend on.

    Parameters
    ----------
    layers : the project's layers (default: the shipped data).
    cache_size : entries per cache.
    cache_mb : byte budget of the graph, field and catchment caches together (split 3 : 2 : 1).

    Nothing is computed in the background. A network's first answer is one search over the whole
    graph per metric; every later one is one search per town stopped at the length of a route
    known from an earlier answer (an upper bound), not a search over the whole graph, and a planned
    road searches only the towns it can reach sooner. An imported version's town tables
    (geo.routing.TownTable: road km and minutes from each town to every candidate city, one search
    per town each) are built at its first use and stored with it: a change of the city set is then
    a min over their columns.
    network : a fixed road graph (``from_network``) instead of one built from the layers.
    """

    def __init__(self, layers: Layers | None = None, *, cache_size: int = 8, cache_mb: int = 1200,
                 network: Network | None = None):
        self.layers = layers or load_layers()
        self.lines = self._junction_lines()
        self.sites = Sites(self.layers)
        self.official = Official(self.layers)
        self.places = PlaceIndex(self.layers)
        budget = cache_mb * MB
        self._networks: _LRU[tuple[Network, Topology, TravelEdges]] = _LRU(cache_size)
        self._metrics: _LRU[MetricRouting] = _LRU(2 * cache_size, max_bytes=budget // 2,
                                                  sizeof=lambda r: r.nbytes)
        self._fields: _LRU[NearestField] = _LRU(4 * cache_size, max_bytes=budget // 3,
                                                sizeof=lambda f: f.nbytes)
        self._catchments: _LRU[dict[str, Any]] = _LRU(cache_size, max_bytes=budget // 6,
                                                      sizeof=_geojson_bytes)
        self._fixed = network
        self._tables: dict[Hashable, dict[str, tuple[tuple[Hashable, ...], TownTable]]] = {}
        self._table_locks: dict[Hashable, threading.Lock] = {}
        self._tables_lock = threading.Lock()
        # per network and metric, the towns' routes of the last answer: a tight bound for the next
        # one's searches (a new speed or road changes them little)
        self._last: dict[Hashable, TownTable] = {}
        t, c = self.layers.towns, self.layers.cities
        self.town_ids = list(t["id"])
        self.town_names = list(t["name_en"])
        self.city_status = dict(zip(c["id"], c["status"]))
        self.city_pop = dict(zip(c["id"], c["population"].fillna(0)))
        self.city_names = dict(zip(c["id"], c["name_en"]))
        self.own_city = self._own_cities()

    def _junction_lines(self) -> Lines:
        """The major lines and the towns' distances to them; an imported version's are measured by
        its first worker and stored with it, so that later workers need not build its roads
        layer."""
        folder = getattr(self.layers, "folder", None)
        if folder is None:
            return Lines(self.layers)
        major = [c for c, rc in load_road_classes().items() if rc.junction_line]
        where = lines_file(folder, self.layers.towns, major, reach_km())
        stored = load_arrays(where)
        if stored is not None:
            return Lines.from_arrays(stored)
        lines = Lines(self.layers)
        try:
            save_arrays(where, lines.arrays())
        except OSError as exc:  # a read-only version folder: measured by each process
            LOG.warning("could not store the junction lines in %s: %s", where.parent, exc)
            return lines
        # the roads layer (about 1 GB at 2M edges) was built for the lines: let it go, as a next
        # worker never holds it; the map's roads layer builds it again when drawn
        self.layers.roads = None  # type: ignore[assignment]  # ImportedLayers: rebuilt on read
        return lines

    @classmethod
    def from_network(cls, network: Network, towns: pd.DataFrame, cities: pd.DataFrame,
                     **options: Any) -> "SpatialModel":
        """A model over a given road graph (e.g. a SYNTHETIC benchmark graph) instead of the shipped
        layers.

        Parameters
        ----------
        network : the graph; its ``town_node`` and ``city_node`` connect the towns and cities.
        towns : columns id, name_en, lon, lat.
        cities : columns id, name_en, status, population, lon, lat.
        **options : as for the constructor (cache_size, cache_mb).
        """
        return cls(points_only_layers(towns, cities), network=network, **options)

    # -- cached versions ------------------------------------------------------------------------
    def network(self, params: Params) -> Network:
        """The road graph for the snapping parameters (cached)."""
        return self._network_entry(params)[0]

    def _network_entry(self, params: Params) -> tuple[Network, Topology, TravelEdges]:
        key = (params.snap_km, params.on_network_km) if self._fixed is None else "fixed"

        def build() -> tuple[Network, Topology, TravelEdges]:
            net = self._fixed or self._build_network(params)
            if net is None:  # an imported version (geo.versions.ImportedLayers)
                return self._imported_entry(cast("ImportedLayers", self.layers), params)
            return _entry(net)
        return self._networks.get(key, build)

    def _imported_entry(self, layers: ImportedLayers, params: Params
                        ) -> tuple[Network, Topology, TravelEdges]:
        """An imported version's routing graph, topology and weight inputs: computed by its first
        use and stored with the version (geo.versions.save_first_use), then memory-mapped by every
        process (one copy in memory however many workers)."""
        key = first_use_key(layers.towns, layers.cities, params.snap_km, params.on_network_km)
        if layers.folder is not None and (stored := load_first_use(layers.folder, key)):
            return stored
        assert layers.imported is not None  # an ImportedLayers from geo.versions
        net = build_imported(layers.imported, layers.towns, layers.cities,
                             snap_km=params.snap_km, on_network_km=params.on_network_km)
        entry = _entry(net)
        if layers.folder is None:
            return entry
        try:
            save_first_use(layers.folder, key, entry)
        except OSError as exc:  # e.g. a read-only version folder: each process computes its own
            LOG.warning("could not store the first use of %s: %s", layers.folder, exc)
            return entry
        return load_first_use(layers.folder, key) or entry

    def _build_network(self, params: Params) -> Network | None:
        """The shipped layers' graph (geo.network), or None for an imported version (built from its
        arrays)."""
        if getattr(self.layers, "imported", None) is not None:
            return None
        return build_network(self.layers, snap_km=params.snap_km,
                             on_network_km=params.on_network_km)

    def _metric_key(self, params: Params, metric: str) -> tuple[Hashable, ...]:
        net_key = (params.snap_km, params.on_network_km)
        speeds = (params.speeds, params.maxspeed_use) if metric == "min" else ()
        return (net_key, metric, params.detours) + speeds

    def metric(self, params: Params, metric: str) -> MetricRouting:
        """One metric's graph and nearest-city searches; road km do not depend on the speeds
        (cached)."""
        def build() -> MetricRouting:
            net, topology, edges = self._network_entry(params)
            sources = np.array([net.city_node[c] for c in self._source_ids(net)], dtype=np.int64)
            return MetricRouting(topology, edges.weights(metric, params), sources,
                                 predecessors=metric == "km")
        return self._metrics.get(self._metric_key(params, metric), build)

    def field(self, params: Params, metric: str, rows: np.ndarray, planned: Planned = ()
              ) -> NearestField:
        """Nearest selected large city at the towns (and, on first use of ``dist``, every node),
        planned roads included (cached): read from a town table of the same weights, else one
        bounded search per town (``MetricRouting.town_field``) with the routes known from the
        tables and the last answers; the network's first answer, with nothing known, is one
        search over the whole graph."""
        routing = self.metric(params, metric)
        edges = tuple((a, b, p.km if metric == "km" else p.minutes) for a, b, p in planned)
        key = (self._metric_key(params, metric), tuple(int(r) for r in rows), edges)
        net_key = key[0][0]
        # found (or built, at an imported version's first use) before the cache's lock is taken:
        # a table's searches do not hold up the worker's other requests for cached fields
        tables = self._town_tables(params)
        base = self.field(params, metric, rows) if edges else None

        def full() -> NearestField:  # through the cache: an answer keeps no routing's graph alive
            return self.metric(params, metric).full_field(rows, edges)

        def build() -> NearestField:
            cols = self.town_nodes(params)
            if not edges and metric in tables and key[0] == tables[metric][0]:
                field: NearestField = routing.table_field(tables[metric][1], rows, full)
            else:
                known = [t for _, t in tables.values()]
                known += [self._last[(net_key, m)] for m in METRICS if (net_key, m) in self._last]
                if known:
                    search = None if base is None else self._within_reach(params, routing,
                                                                          edges, base, cols)
                    field = routing.town_field(rows, known, edges, search, base, full=full)
                else:  # the network's first answer
                    field = routing.field(rows)
            self._last[(net_key, metric)] = town_routes(field, cols, len(routing.sources))
            return field
        return self._fields.get(key, build)

    def _within_reach(self, params: Params, routing: MetricRouting,
                      edges: tuple[tuple[int, int, float], ...], base: NearestField,
                      cols: np.ndarray) -> np.ndarray:
        """Per town node (``cols``), whether a planned road may shorten its way to a city: unless
        the lower bound of its way to both ends of every planned road (``bound_factor`` x the
        chord) is at least its distance without them (``base``). Exact: a route using a planned
        road first reaches one of its ends."""
        net, _, inputs = self._network_entry(params)
        ends = np.array(sorted({x for a, b, _ in edges for x in (a, b)}), dtype=np.int64)
        factor = routing.bound_factor(inputs.chord)
        for a, b, w in edges:
            c = float(chord_km(net.lon[a], net.lat[a], net.lon[b], net.lat[b]))
            if c > 0:
                factor = min(factor, w / c)
        lower = factor * chord_km(net.lon[cols][:, None], net.lat[cols][:, None],
                                  net.lon[ends][None, :], net.lat[ends][None, :]).min(axis=1)
        _, now = base.at(cols)
        reach: np.ndarray = ~(lower * (1 - 1e-9) >= now)  # an unreachable town (inf) is searched
        return reach

    def _town_tables(self, params: Params) -> dict[str, tuple[tuple[Hashable, ...], TownTable]]:
        """The network's town tables when built: an imported version's at its first use (or read
        from its folder, where an earlier process stored them); another network's only when asked
        (``build_town_tables``); else none."""
        found = self._tables.get(self._metric_key(params, "km")[0])
        if found is not None or getattr(self.layers, "folder", None) is None:
            return found or {}
        return self.build_town_tables(params)

    def build_town_tables(self, params: Params
                          ) -> dict[str, tuple[tuple[Hashable, ...], TownTable]]:
        """The network's town tables (road km and minutes from each town to every candidate city:
        one full search per town each) with the metric key each was built for, built once (stored
        with an imported version); a change of the city set is then a min over their columns, and
        their routes bound every other change's searches. Kept for the life of the model (a few
        hundred kB)."""
        net_key = self._metric_key(params, "km")[0]
        with self._tables_lock:
            lock = self._table_locks.setdefault(net_key, threading.Lock())
        with lock:  # one build per network, however many threads ask at its first use
            if net_key not in self._tables:
                self._tables[net_key] = {m: self._build_table(params, m) for m in METRICS}
            return self._tables[net_key]

    def _build_table(self, params: Params, metric: str
                     ) -> tuple[tuple[Hashable, ...], TownTable]:
        key = self._metric_key(params, metric)
        cols = self.town_nodes(params)
        where = self._table_file(params, metric)
        stored = None if where is None else load_table(where)
        if stored is not None and np.array_equal(stored.cols, cols):
            return key, stored
        table = self.metric(params, metric).town_table(cols)
        if where is not None:
            try:
                save_table(where, table)
            except OSError as exc:  # a read-only version folder: kept in this process only
                LOG.warning("could not store a town table in %s: %s", where.parent, exc)
        return key, table

    def _table_file(self, params: Params, metric: str) -> Path | None:
        """Where an imported version keeps this metric's town table (None: not a stored
        version)."""
        folder = getattr(self.layers, "folder", None)
        if folder is None:
            return None
        key = first_use_key(self.layers.towns, self.layers.cities, params.snap_km,
                            params.on_network_km)
        return table_file(folder, key, metric, self._metric_key(params, metric)[1:])

    def town_nodes(self, params: Params) -> np.ndarray:
        """The routable towns' nodes (distinct, sorted): the rows of a metric's town table."""
        net = self.network(params)
        return np.unique(np.array(list(net.town_node.values()), dtype=np.int64))

    def catchments(self, params: Params, rows: np.ndarray, planned: Planned = ()
                   ) -> dict[str, Any]:
        """FUA catchments (GeoJSON) for the selected cities, threshold and planned roads
        (cached)."""
        edges = tuple((a, b, p.minutes) for a, b, p in planned)
        key = (self._metric_key(params, "min"), tuple(int(r) for r in rows), edges,
               params.fua_minutes)

        def build() -> dict[str, Any]:
            net, _, inputs = self._network_entry(params)
            field = self.field(params, "min", rows, planned)
            # each edge's own minutes (made here: the routing keeps the travel graph's only)
            w = inputs.per_edge.metric("min", net.km, params, net.factor, net.posted)
            u = np.concatenate([net.u, [a for a, _, _ in edges]]).astype(np.int64)
            v = np.concatenate([net.v, [b for _, b, _ in edges]]).astype(np.int64)
            w = np.concatenate([w, [m for _, _, m in edges]])
            oneway = (None if net.oneway is None
                      else np.concatenate([net.oneway, np.zeros(len(edges), bool)]))
            return fua_catchments(net.lon, net.lat, u, v, w, field, self._source_ids(net),
                                  params.fua_minutes, oneway)
        return self._catchments.get(key, build)

    def cache_bytes(self) -> dict[str, int]:
        """Bytes held by each cache (arrays; catchments estimated)."""
        topo = sum(t.nbytes + e.nbytes for _, t, e in self._networks.items.values())
        return {"topology": topo, "graphs": self._metrics.nbytes, "fields": self._fields.nbytes,
                "catchments": self._catchments.nbytes}

    # -- planned roads --------------------------------------------------------------------------
    def resolve(self, end: str | tuple[float, float], net: Network, params: Params
                ) -> tuple[int, str]:
        """A planned road's end (place name in any language, or (lon, lat)) -> (node, label)."""
        if isinstance(end, str):
            place = self.places.find(end)
            if place is None:
                raise ParamError({"planned_roads": f"'{end}' is not a known town, large city or "
                                                   "road waypoint"})
            own = (net.town_node if place.kind == "town"
                   else net.city_node if place.kind == "city" else {})
            if place.ident in own:
                return own[place.ident], place.label
            if place.kind != "point":
                raise ParamError({"planned_roads": f"'{end}' is not routable with the current "
                                                   "snap distance"})
            lon, lat, label = place.lon, place.lat, place.label
        else:
            lon, lat = end
            label = f"{lat:.4f} N {lon:.4f} E"
        d = geodesic_km(np.full(net.n_nodes, lon), np.full(net.n_nodes, lat), net.lon, net.lat)
        k = int(np.argmin(d))
        if d[k] > params.snap_km:
            raise ParamError({"planned_roads": f"{label} is {d[k]:.0f} km from the network; "
                                               f"allowed within snap_km = {params.snap_km:g} km"})
        if isinstance(end, str):
            return k, label
        return k, f"{label} (snapped to {net.names[k] or 'a road point'})"

    def planned_edges(self, params: Params, net: Network) -> Planned:
        """(node a, node b, PlannedEdge) per planned road, resolved on the network."""
        return tuple(self._planned_edge(i, road, params, net)
                     for i, road in enumerate(params.planned_roads, start=1))

    def _planned_edge(self, i: int, road: PlannedRoad, params: Params, net: Network
                      ) -> tuple[int, int, PlannedEdge]:
        a, la = self.resolve(road.start, net, params)
        b, lb = self.resolve(road.end, net, params)
        if a == b:
            raise ParamError({"planned_roads": f"road {i}: both ends are the same network point "
                                               f"({la})"})
        km = float(geodesic_km(net.lon[a], net.lat[a], net.lon[b], net.lat[b]))
        w = edge_weights(np.array([road.cls]), np.array([km]), params)
        coords = ((float(net.lat[a]), float(net.lon[a])), (float(net.lat[b]), float(net.lon[b])))
        return a, b, PlannedEdge(la, lb, road.cls, float(w["km"][0]), float(w["min"][0]), km,
                                 coords)

    # -- the derivation -------------------------------------------------------------------------
    def derive(self, params: Params) -> Derivation:
        """The three agglomeration inputs for every town, with evidence and reasons."""
        net = self.network(params)
        planned = self.planned_edges(params, net)
        src_ids = self._source_ids(net)
        sel = np.array([i for i, c in enumerate(src_ids)
                        if self.city_status[c] in params.large_city_statuses
                        and self.city_pop[c] >= params.large_city_min_pop], dtype=np.int64)
        near, fua = self.field(params, "km", sel, planned), self.field(params, "min", sel, planned)
        edges = [p for _, _, p in planned]
        junctions = self.lines.junctions(params, tuple(edges))
        tourism = self.sites.flags(params)
        pairs = {frozenset((a, b)) for a, b, _ in planned}
        # an unroutable town's column is a routable town's node (never read): all are table rows
        spare = next(iter(net.town_node.values()), 0)
        cols = np.array([net.town_node.get(t, spare) for t in self.town_ids], dtype=np.int64)
        near_at, fua_at = near.at(cols), fua.at(cols)
        towns = []
        fields: tuple[NearestField, ...]
        at: tuple[At, ...]
        for ti, tid in enumerate(self.town_ids):
            junction, hits = junctions[ti]
            if tid not in net.town_node:
                town = self._unroutable(ti, tid, junction, hits, net)
            else:
                fields = (near, fua)
                at = ((near_at[0][ti], near_at[1][ti]), (fua_at[0][ti], fua_at[1][ti]))
                if not params.own_city_counts and self.own_city.get(tid) in src_ids:
                    fields, at = self._other_city(params, sel, planned, src_ids, tid, cols[ti])
                town = self._town(ti, tid, params, net, fields[0], src_ids, len(sel), pairs, at[0],
                                  at[1], cols[ti], junction, hits)
            in_fua = self.official.in_fua(params, tid, town.in_fua)
            towns.append(replace(town, tourism=tourism[ti], in_fua=in_fua))
        return Derivation(
            params=params, towns=tuple(towns), planned=tuple(edges),
            selected_cities=tuple(src_ids[i] for i in sel),
            unroutable_cities={c: r for c, r in net.unroutable.items() if c in self.city_names},
            build_catchments=lambda: self.catchments(params, sel, planned),
            access_links=self._access_geojson(net))

    def _other_city(self, params: Params, sel: np.ndarray, planned: Planned, src_ids: list[str],
                    tid: str, col: int | np.integer[Any]
                    ) -> tuple[tuple[NearestField, ...], tuple[At, ...]]:
        """A town that is itself a selected large city, measured to the nearest OTHER large city
        (own_city_counts = false): fields without its own city."""
        rows = sel[sel != src_ids.index(self.own_city[tid])]
        fields = tuple(self.field(params, m, rows, planned) for m in ("km", "min"))
        at = tuple(f.at(np.array([col])) for f in fields)
        return fields, tuple((a[0][0], a[1][0]) for a in at)

    def road_km(self, params: Params, town_id: str, city_id: str) -> float | None:
        """Road km from a town to a named large city on the base network (no planned roads)."""
        net = self.network(params)
        ids = self._source_ids(net)
        if town_id not in net.town_node or city_id not in ids:
            return None
        field = self.field(params, "km", np.array([ids.index(city_id)], dtype=np.int64))
        return float(field.at(np.array([net.town_node[town_id]]))[1][0])

    def _town(self, ti: int, tid: str, params: Params, net: Network, near_field: NearestField,
              src_ids: list[str], n_sel: int, pairs: set[frozenset[int]], near: At, fua: At,
              col: int | np.integer[Any], junction: Flag, hits: tuple[LineHit, ...]) -> TownAccess:
        (near_row, road_km), (fua_row, minutes) = near, fua
        ok_near, ok_fua = bool(np.isfinite(road_km)), bool(np.isfinite(minutes))
        city = src_ids[near_row] if ok_near else None
        fua_city = src_ids[fua_row] if ok_fua else None
        path = near_field.path(int(col)) if ok_near else []
        access = _access(net.access[tid])
        published = self._published_on(net, path)
        own = self.own_city.get(tid)
        route = Route(assumed_link=access.assumed, one_way=net.directed,
                      own_city_id=own, own_city=self.city_names[own] if own else None,
                      own_city_counts=own is not None and params.own_city_counts)
        speeds = "" if net.posted is None else params.maxspeed_use
        fua_flag = self._threshold_flag("in_fua", fua_city, float(minutes), "min", "fua_minutes",
                                        params.fua_minutes, replace(route, maxspeed_use=speeds),
                                        n_sel)
        near_flag = self._threshold_flag("near_large_city", city, float(road_km), "km", "near_km",
                                         params.near_km, replace(route, published=published),
                                         n_sel)
        return TownAccess(
            town_id=tid, town=self.town_names[ti], in_fua=fua_flag, near_large_city=near_flag,
            route_published=published,
            corridor_junction=junction, nearest_city_id=city,
            nearest_city=self.city_names[city] if city else None,
            road_km=round(float(road_km), 3) if ok_near else None, fua_city_id=fua_city,
            fua_city=self.city_names[fua_city] if fua_city else None,
            travel_min=round(float(minutes), 3) if ok_fua else None,
            route=tuple((float(net.lat[n]), float(net.lon[n])) for n in path),
            route_uses_planned=any(frozenset(e) in pairs for e in zip(path[:-1], path[1:])),
            access=access, lines=hits, own_city_id=own)

    def _unroutable(self, ti: int, tid: str, junction: Flag, hits: tuple[LineHit, ...],
                    net: Network) -> TownAccess:
        why = net.unroutable.get(tid, "not connected")
        missing = Flag(None, Reason("unroutable", unroutable=why))
        return TownAccess(town_id=tid, town=self.town_names[ti], in_fua=missing,
                          near_large_city=missing, corridor_junction=junction, lines=hits,
                          unroutable=why, own_city_id=self.own_city.get(tid))

    def _threshold_flag(self, rule: str, city: str | None, value: float, unit: str, name: str,
                        limit: float, route: Route, n_sel: int) -> Flag:
        """100 when ``value`` is within the threshold ``name`` = ``limit`` (geo.results.within),
        with the reason as data."""
        if city is None:
            return Flag(0, Reason("no_large_city", cities=n_sel, route=route))
        inside = bool(within(value, limit))
        return Flag(100 if inside else 0,
                    Reason(rule, inside=inside, measured=value, limit=limit, param=name, unit=unit,
                           city_id=city, city=self.city_names[city], route=route))

    def _source_ids(self, net: Network) -> list[str]:
        """The routable large cities, in the order of the distance matrices' rows."""
        return [c for c in self.city_names if c in net.city_node]

    def _own_cities(self) -> dict[str, str]:
        t, c = self.layers.towns, self.layers.cities
        d = geodesic_km(t.geometry.x.to_numpy()[:, None], t.geometry.y.to_numpy()[:, None],
                        c.geometry.x.to_numpy()[None, :], c.geometry.y.to_numpy()[None, :])
        return {t["id"].iloc[i]: c["id"].iloc[int(np.argmin(d[i]))]
                for i in range(len(t)) if d[i].min() < OWN_CITY_KM}

    def _published_on(self, net: Network, path: list[int]) -> tuple[PublishedLink, ...]:
        """The links of published length on a route (node sequence), in route order, km per link."""
        pairs = net.published_pairs
        if not pairs:
            return ()
        km: dict[str, float] = {}
        for a, b in zip(path[:-1], path[1:]):
            e = pairs.get(frozenset((a, b)))
            if e is not None:
                road = str(net.road[e])
                km[road] = km.get(road, 0.0) + float(net.km[e] * net.factor[e])
        unknown = {"name": "", "published_km": float("nan"), "source": ""}
        return tuple(PublishedLink(id=r, km=round(k, 3), **self.published.get(r, unknown))
                     for r, k in km.items())

    @cached_property
    def published(self) -> dict[str, dict[str, Any]]:
        """road id -> name, published km and source of each link of published length."""
        roads = self.layers.roads
        if "basis" not in roads.columns:
            return {}
        pub = roads[roads["basis"] == PUBLISHED]
        return {r: {"name": n, "published_km": float(k), "source": s}
                for r, n, k, s in zip(pub["road_id"], pub["name_ru"], pub["pub_km"], pub["source"])}

    @staticmethod
    def _access_geojson(net: Network) -> dict[str, Any]:
        feats = [{"type": "Feature",
                  "properties": {"link": f"{ident}: {a['km']:.1f} km", "note": a["note"],
                                 "assumed": bool(a["assumed"])},
                  "geometry": {"type": "LineString",
                               "coordinates": [[x, y] for y, x in a["coords"]]}}
                 for ident, a in net.access.items()]
        return {"type": "FeatureCollection", "features": feats}


def _entry(net: Network) -> tuple[Network, Topology, TravelEdges]:
    """A network's topology and weight inputs in its travel graph's order."""
    topology = Topology(net.n_nodes, net.u, net.v, net.oneway)
    return net, topology, TravelEdges.of(topology, EdgeClasses(net.cls), net.km, net.factor,
                                         net.posted, net.chords)


def points_only_layers(towns: pd.DataFrame, cities: pd.DataFrame) -> Layers:
    """Layers with only town and city points (no roads, railways, corridors or oblasts drawn)."""
    def points(df: pd.DataFrame) -> gpd.GeoDataFrame:
        xy = gpd.points_from_xy(df["lon"].astype(float), df["lat"].astype(float))
        g = gpd.GeoDataFrame(df.copy(), geometry=xy, crs=DISPLAY_CRS)
        for col in ("name_kk", "name_ru"):
            if col not in g:
                g[col] = ""
        if "population" in g:
            g["population"] = pd.to_numeric(g["population"], errors="coerce")
        return g

    def lines(columns: list[str]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame({c: pd.Series(dtype=str) for c in columns},
                                geometry=gpd.GeoSeries([], crs=DISPLAY_CRS))

    return Layers(roads=lines(["road_id", "class", "name_ru", "corridors"]),
                  railways=lines(["line_id", "name", "status"]),
                  corridors=lines(["corr_id", "name", "roads", "planned"]),
                  oblasts=lines(["name_en"]),
                  towns=points(towns), cities=points(cities),
                  waypoints=pd.DataFrame(columns=["waypoint_name", "lon", "lat", "matched_name"]),
                  access_roads=pd.DataFrame(columns=["town_id", "road_name", "connects_to_waypoint",
                                                     "status"]),
                  corridor_table=pd.DataFrame(columns=["corridor_id"]),
                  tourism=gpd.GeoDataFrame({"id": [], "name_en": [], "kind": []}, geometry=[],
                                           crs=DISPLAY_CRS),
                  agglomerations=pd.DataFrame(columns=["agglomeration", "level", "member_ru",
                                                       "member_type", "town_id", "lat", "lon",
                                                       "source", "quote"]))


def _geojson_bytes(fc: dict[str, Any]) -> int:
    """Approximate memory of a catchment FeatureCollection: about 330 bytes per two-point part
    (three lists and four floats)."""
    return 330 * sum(len(f["geometry"]["coordinates"]) for f in fc["features"]) + 1000


def _access(a: dict[str, Any]) -> AccessLink:
    return AccessLink(km=float(a["km"]), assumed=bool(a["assumed"]), sourced=bool(a["sourced"]),
                      note=a["note"], coords=tuple((float(p[0]), float(p[1])) for p in a["coords"]))


CLI_KEYS = ("aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction", "nearest_large_city",
            "road_km", "travel_min", "lines_within_radius", "assumed_access")


def cli_records(derivation: Derivation) -> list[dict[str, Any]]:
    """The ``python -m geo agglomeration --json`` contract: one flat record per town."""
    return [{"town": t.town} | {k: t.as_record()[k] for k in CLI_KEYS} for t in derivation.towns]
