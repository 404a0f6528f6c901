"""Place names: towns, large cities and road waypoints looked up by any of their names.

One index serves the planned roads (an end named in kk, ru or en) and the statistics import (a
town named by id or name).
"""
from __future__ import annotations

from dataclasses import dataclass

from .layers import Layers

NAME_COLUMNS = ("id", "name_en", "name_kk", "name_ru", "name_en_full")


@dataclass(frozen=True)
class Place:
    kind: str  # town | city | point
    ident: str  # the town or city id, or the waypoint's name
    label: str  # English name (or the waypoint's name)
    lon: float
    lat: float


def _key(name: object) -> str:
    return str(name).strip().lower()


class PlaceIndex:
    """Lookup of places by any of their names, case-insensitive; towns first, then cities, then
    waypoints."""

    def __init__(self, layers: Layers):
        self._index: dict[str, Place] = {}
        for kind, df in (("town", layers.towns), ("city", layers.cities)):
            # plain dicts: iterrows builds a Series per row (slow at start-up)
            for r in df.to_dict("records"):
                place = Place(kind, r["id"], r["name_en"], float(r["geometry"].x),
                              float(r["geometry"].y))
                for col in NAME_COLUMNS:
                    if col in r and str(r[col]).strip():
                        self._index.setdefault(_key(r[col]), place)
        for w in layers.waypoints.to_dict("records"):
            if not w["lat"]:
                continue
            place = Place("point", w["waypoint_name"], w["waypoint_name"], float(w["lon"]),
                          float(w["lat"]))
            for col in ("waypoint_name", "matched_name"):
                key = _key(w.get(col, ""))
                if key and not key.startswith("("):
                    self._index.setdefault(key, place)
        self._towns = {k: p.ident for k, p in self._index.items() if p.kind == "town"}

    def find(self, name: str) -> Place | None:
        return self._index.get(_key(name))

    def town_id(self, name: str) -> str | None:
        """The town id for a town's id or name in any language (None when it is not a town)."""
        return self._towns.get(_key(name))
