"""Officially approved agglomerations (Government decree of 19 June 2023): membership and areas.

A second definition of ``aggl_in_fua`` beside the travel-time proxy (``fua_definition``): a town is
in an FUA when it, or the district it is the seat of, belongs to an approved agglomeration.
"""
from __future__ import annotations

import json
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point

from .layers import FROM_LCC, TO_LCC, Layers
from .params import Params
from .results import Flag, Reason

# the drawn area: convex hull of the core and member points, widened by 15 km
AREA_BUFFER_M = 15_000


class Official:
    """Membership of the towns in official agglomerations, and schematic areas for the map."""

    def __init__(self, layers: Layers):
        self.table = layers.agglomerations
        self.cities = dict(zip(layers.cities["id"], layers.cities["name_en"]))
        self.members = {r["town_id"]: r for r in self.table.to_dict("records") if r["town_id"]}
        self._layers = layers

    def flag(self, town_id: str) -> Flag:
        """100 when the town (or the district it is the seat of) is a member, with the decree
        named."""
        if self.table.empty:
            return Flag(None, Reason("no_layer", layer="official agglomeration table"))
        r = self.members.get(town_id)
        if r is None:
            return Flag(0, Reason("official", inside=False))
        core = r["agglomeration"]
        return Flag(100, Reason("official", inside=True, city_id=core,
                                city=self.cities.get(core, core), level=str(r["level"]),
                                member_ru=r["member_ru"]))

    def in_fua(self, params: Params, town_id: str, travel: Flag) -> Flag:
        """The in-FUA flag by the chosen definition: travel_time, official, or either."""
        if params.fua_definition == "travel_time":
            return travel
        official = self.flag(town_id)
        if params.fua_definition == "official":
            return Flag(official.value, Reason("fua_definition", definition="official",
                                               parts=(official.why,)))
        values = [v for v in (travel.value, official.value) if v is not None]
        value = max(values) if values else None
        return Flag(value, Reason("fua_definition", definition="either",
                                  parts=(travel.why, official.why)))

    def areas_geojson(self) -> dict[str, Any]:
        """Schematic areas (hull of the core city and member points, widened by 15 km in the
        Kazakhstan Lambert projection, KZ_LCC), EPSG:4326; all at once with the shared
        transformers."""
        cities = self._layers.cities.set_index("id")
        groups = list(self.table.groupby("agglomeration"))
        if not groups:
            return {"type": "FeatureCollection", "features": []}
        hulls = []
        for core, rows in groups:
            pts = [Point(float(lon), float(lat))
                   for lon, lat in zip(rows["lon"], rows["lat"]) if lat]
            if core in cities.index:
                pts.append(cast(Point, cities.loc[core].geometry))  # one row per city id
            hulls.append(MultiPoint(pts))
        lcc = shapely.transform(np.asarray(hulls, dtype=object),
                                lambda c: np.column_stack(TO_LCC.transform(c[:, 0], c[:, 1])))
        wide = shapely.buffer(shapely.convex_hull(lcc), AREA_BUFFER_M, quad_segs=16)
        areas = shapely.transform(wide,
                                  lambda c: np.column_stack(FROM_LCC.transform(c[:, 0], c[:, 1])))
        feats = []
        for (core, rows), area in zip(groups, areas):
            feats.append({"type": "Feature", "properties": {
                "agglomeration": self.cities.get(core, core), "level": str(rows["level"].iloc[0]),
                "members": "; ".join(rows["member_ru"]),
                "note": "schematic area: hull of the member points + 15 km"},
                "geometry": json.loads(shapely.to_geojson(area))})
        return {"type": "FeatureCollection", "features": feats}


