"""What the spatial derivation returns: documented, immutable result objects.

``Derivation`` holds one ``TownAccess`` per town; each agglomeration input is a ``Flag`` with its
value (0, 100 or None when it cannot be derived) and the reason in words, so scoring takes values
plus reasons and never re-derives them from the spatial parameters.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Callable

from .params import Params


@dataclass(frozen=True)
class Flag:
    """One derived agglomeration input: 0, 100, or None (cannot be derived), and why."""

    value: int | None
    reason: str

    @property
    def status(self) -> str:
        return "missing" if self.value is None else "derived"


@dataclass(frozen=True)
class AccessLink:
    """A town's or city's link to the road network."""

    km: float  # geodesic km of the link
    assumed: bool  # an assumed straight link (no sourced road)
    sourced: bool  # a sourced oblast road
    note: str
    coords: tuple  # ((lat, lon), (lat, lon))


@dataclass(frozen=True)
class PublishedLink:
    """A road piece on a town's route whose length is a published road distance between two named
    places; its geometry is drawn straight and its route is not sourced."""

    id: str  # the link's road id (data/sources/network/additions/published_distances.csv)
    name: str  # "from – to" as the source names the places (Russian)
    km: float  # road km of the link on the route (the published length when the whole link is used)
    published_km: float  # the published figure (below ``km`` when shorter than the straight line)
    source: str  # the address of the published distance


@dataclass(frozen=True)
class LineHit:
    """A major line (road, railway, corridor or planned road) within the corridor radius of a town."""

    id: str
    type: str
    name: str
    km: float
    identity: str  # lines with one identity count once (sections of one named corridor)


@dataclass(frozen=True)
class TownAccess:
    """Everything the derivation found for one town.

    Attributes
    ----------
    nearest_city_id, nearest_city : the nearest selected large city by road km (None when none
        is reachable), ``road_km`` the road distance to it.
    fua_city_id, fua_city, travel_min : the large city reached fastest and the minutes to it.
    route : ((lat, lon), ...) the road route to the nearest large city.
    in_fua, near_large_city, corridor_junction : the three derived inputs with their reasons.
    unroutable : why the town is not connected (None when it is).
    own_city_id : the large city this town is itself (within 5 km), e.g. Zhezkazgan.
    """

    town_id: str
    town: str
    in_fua: Flag
    near_large_city: Flag
    corridor_junction: Flag
    nearest_city_id: str | None = None
    nearest_city: str | None = None
    road_km: float | None = None
    fua_city_id: str | None = None
    fua_city: str | None = None
    travel_min: float | None = None
    route: tuple = ()
    route_uses_planned: bool = False
    route_published: tuple[PublishedLink, ...] = ()
    access: AccessLink | None = None
    lines: tuple[LineHit, ...] = ()
    unroutable: str | None = None
    own_city_id: str | None = None
    tourism: Flag | None = None

    def flags(self) -> dict[str, Flag]:
        """Spatial rule (the ``derived_by`` column of data/method/inputs.csv) -> Flag."""
        out = {"in_fua": self.in_fua, "near_large_city": self.near_large_city,
               "corridor_junction": self.corridor_junction}
        return out | ({"tourism": self.tourism} if self.tourism is not None else {})

    def as_record(self) -> dict:
        """The JSON form (the API's ``agglomeration`` object and the CLI's records)."""
        return {
            "aggl_in_fua": self.in_fua.value, "aggl_near_large_city": self.near_large_city.value,
            "aggl_corridor_junction": self.corridor_junction.value,
            "nearest_large_city": self.nearest_city, "nearest_large_city_id": self.nearest_city_id,
            "road_km": self.road_km, "travel_min": self.travel_min, "fua_city": self.fua_city,
            "lines_within_radius": [x.id for x in self.lines],
            "assumed_access": None if self.access is None else self.access.assumed,
            "access": None if self.access is None else _access_json(self.access),
            "path": [list(p) for p in self.route], "path_uses_planned": self.route_uses_planned,
            "path_published": [asdict(x) for x in self.route_published],
            "unroutable": self.unroutable, "lines_detail": [asdict(x) for x in self.lines],
            "is_large_city": self.own_city_id,
            "tourism": None if self.tourism is None else {"value": self.tourism.value, "reason": self.tourism.reason},
            "reasons": {k: f.reason for k, f in self.flags().items()},
        }


def _access_json(a: AccessLink) -> dict:
    return {"class": "access", "km": a.km, "assumed": a.assumed, "sourced": a.sourced, "note": a.note,
            "coords": [list(p) for p in a.coords]}


@dataclass(frozen=True)
class PlannedEdge:
    """A planned road as resolved on the network."""

    start: str  # label of the start
    end: str
    cls: str
    km: float  # road km (geodesic x detour)
    minutes: float
    geodesic_km: float
    coords: tuple  # ((lat, lon), (lat, lon))

    def as_dict(self) -> dict:
        return {"from": self.start, "to": self.end, "class": self.cls, "km": self.km, "min": self.minutes,
                "coords": [list(p) for p in self.coords]}


@dataclass(frozen=True)
class Derivation:
    """The spatial derivation for one ``Params``: one TownAccess per town, in data order."""

    params: Params
    towns: tuple[TownAccess, ...]
    planned: tuple[PlannedEdge, ...] = ()
    selected_cities: tuple[str, ...] = ()
    unroutable_cities: dict = field(default_factory=dict)
    access_links: dict = field(default_factory=dict)  # GeoJSON FeatureCollection
    build_catchments: Callable[[], dict] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def catchments(self) -> dict:
        """The FUA catchments (GeoJSON FeatureCollection), built on first use: only a map draws them."""
        return self.build_catchments() if self.build_catchments else {"type": "FeatureCollection", "features": []}

    def town(self, town_id: str) -> TownAccess:
        return next(t for t in self.towns if t.town_id == town_id)
