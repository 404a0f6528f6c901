"""What the spatial derivation returns: documented, immutable result objects.

``Derivation`` holds one ``TownAccess`` per town; each agglomeration input is a ``Flag`` with its
value (0, 100 or None when it cannot be derived) and its ``Reason`` as data (rule, measure, limit,
city, lines ...), so scoring takes values plus reasons and never re-derives them from the spatial
parameters. ``english`` says a reason in words (the API's ``reason``); webapp.i18n says the same
data in kk/ru/en.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from .params import Params


def within(value: npt.ArrayLike, limit: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """The near / FUA rule: a measure (road km, minutes) is within its limit when <= the limit.

    Used per town by geo.agglomeration and on (draws, towns) arrays by scoring.robustness.
    """
    return np.less_equal(value, limit)


class ReasonMismatch(ValueError):
    """A flag's value disagrees with what its reason's rule gives."""


@dataclass(frozen=True)
class Route:
    """What the route adds to a near / FUA reason."""

    assumed_link: bool = False  # the town's access link is an assumed straight line
    published: tuple[PublishedLink, ...] = ()  # links of published length on the route
    one_way: bool = False  # measured town -> city with one-way roads followed (imported network)
    maxspeed_use: str = ""  # "use" | "ignore" when the network has posted speeds, else ""
    own_city_id: str | None = None  # the large city the town itself is
    own_city: str | None = None
    own_city_counts: bool = False


@dataclass(frozen=True)
class Reason:
    """Why a derived input has its value, as data.

    ``rule`` is one of ``RULES``; the other fields are those the rule uses. ``inside`` is whether
    the measure met the rule (within the limit, enough lines, a member), so ``inside`` is True
    exactly when the value is 100; ``parts`` holds the reasons a definition combines
    (``fua_definition``: the travel-time and the official reason).
    """

    rule: str
    inside: bool | None = None
    measured: float | None = None  # km, minutes or distinct lines
    limit: float | None = None
    param: str = ""  # the parameter the limit is (near_km, fua_minutes, corridor_km, tourism_km)
    unit: str = ""
    city_id: str | None = None  # the large city (or the agglomeration's core)
    city: str | None = None  # its English name
    cities: int = 0  # qualifying large cities (no_large_city)
    lines: tuple[str, ...] = ()  # ids of the lines within the radius
    need: int | None = None  # corridor_min_lines
    site: str = ""  # the nearest counted tourism site (English name)
    site_kind: str = ""
    level: str = ""  # the official agglomeration's level
    member_ru: str = ""  # the name under which the town is a member (Russian, as decreed)
    layer: str = ""  # the missing layer (no_layer)
    unroutable: str = ""  # why the town is not connected
    definition: str = ""  # fua_definition (fua_definition)
    route: Route | None = None
    parts: tuple[Reason, ...] = ()

    @property
    def met(self) -> bool | None:
        """Whether the rule gives 100: ``inside``, or for ``fua_definition`` its parts' verdict
        (official: the official part; either: any part); None when it cannot be derived."""
        if self.rule == "fua_definition":
            verdicts = [p.met for p in self.parts]
            if self.definition == "official":
                return verdicts[0]
            known = [v for v in verdicts if v is not None]
            return any(known) if known else None
        if self.rule in ("unroutable", "no_layer"):
            return None
        return bool(self.inside)

    def as_json(self) -> dict[str, Any]:
        """The JSON form (the API's ``why``): fields left at their defaults are left out."""
        out: dict[str, Any] = _compact(self)
        return out


_DEFAULTS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _defaults(cls: type[Reason] | type[Route]) -> tuple[tuple[str, Any], ...]:
    """A dataclass's (field name, default) pairs, read once per class."""
    if cls not in _DEFAULTS:
        _DEFAULTS[cls] = tuple((f.name, f.default) for f in fields(cls))
    return _DEFAULTS[cls]


def _compact(x: Any) -> Any:
    if isinstance(x, (Reason, Route)):
        out = {}
        for name, default in _defaults(type(x)):
            value = getattr(x, name)
            if value != default:
                out[name] = _compact(value)
        return out
    if isinstance(x, tuple):
        return [_compact(v) for v in x]
    return asdict(x) if isinstance(x, PublishedLink) else x


RULES = ("near_large_city", "in_fua", "no_large_city", "unroutable", "corridor_junction",
         "tourism", "no_tourism_kinds", "no_layer", "official", "fua_definition")
_MEASURE = {"near_large_city": "road distance to the nearest large city",
            "in_fua": "fastest road time to a large city"}
DECREE = "decree of 19 June 2023"


def english(r: Reason) -> str:
    """The reason in English words (the API's and the CLI's ``reason``)."""
    if r.rule in _MEASURE:
        side = "within" if r.inside else "beyond"
        text = (f"{_MEASURE[r.rule]} ({r.city}) {r.measured:.0f} {r.unit}, "
                f"{side} {r.param} = {r.limit:g} {r.unit}")
        return text + _route_english(r.route, threshold=True)
    if r.rule == "no_large_city":
        text = ("no large city qualifies at these parameters (status and population threshold)"
                if r.cities == 0 else
                f"none of the {r.cities} qualifying large cities is reachable by road from the "
                "town")
        return text + _route_english(r.route, threshold=False)
    if r.rule == "unroutable":
        return f"cannot be derived: the town is unroutable ({r.unroutable})"
    if r.rule == "corridor_junction":
        return (f"{r.measured:.0f} distinct major line(s) within {r.param} = {r.limit:g} km "
                f"({', '.join(r.lines) or 'none'}); needs {r.need}")
    if r.rule == "tourism":
        site = f"{r.site} ({r.site_kind.replace('_', ' ')}), {r.measured:.0f} km"
        if r.inside:
            return f"{site}: within {r.param} = {r.limit:g} km"
        return f"nearest designated site {site}: beyond {r.param} = {r.limit:g} km"
    if r.rule == "no_tourism_kinds":
        return "no designation counts (tourism_kinds is empty)"
    if r.rule == "no_layer":
        return f"cannot be derived: no {r.layer} in this data root"
    if r.rule == "official":
        if not r.inside:
            return f"not in any officially approved agglomeration ({DECREE})"
        return (f"member of the {r.city} agglomeration (level {r.level}, "
                f"as '{r.member_ru}'; {DECREE})")
    if r.rule == "fua_definition":
        if r.definition == "official":
            return f"{english(r.parts[0])} (fua_definition = official)"
        travel, official = (english(p) for p in r.parts)
        return f"travel time: {travel}; official: {official} (fua_definition = either)"
    raise ValueError(f"reason rule {r.rule!r} is not one of {', '.join(RULES)}")


def _route_english(route: Route | None, threshold: bool) -> str:
    """What the route adds: an assumed access link (measured cases), published lengths, one-way
    roads and the speed rule of an imported network, and the town being a large city itself."""
    if route is None:
        return ""
    text = "; includes an assumed access link" if threshold and route.assumed_link else ""
    text += _published_english(route.published)
    if route.one_way:
        text += "; measured from the town to the city, one-way roads followed"
    if route.maxspeed_use == "use":
        text += ("; speeds: the posted maxspeed where tagged, else the class speed "
                 "(maxspeed_use = use)")
    elif route.maxspeed_use == "ignore":
        text += "; speeds: class speeds, posted maxspeed ignored (maxspeed_use = ignore)"
    if route.own_city_id is not None:
        if route.own_city_counts:
            text += (f"; the town is itself the large city {route.own_city}, and counts as such "
                     "(own_city_counts = true)")
        else:
            text += (f"; the town is itself the large city {route.own_city}: measured to the "
                     "nearest other large city (own_city_counts = false)")
    return text


def _published_english(links: tuple[PublishedLink, ...]) -> str:
    """What a route through links of published length adds to the road-distance reason."""
    if not links:
        return ""

    def one(x: PublishedLink) -> str:
        if shorter_than_line(x):  # the straight line's length used
            return (f"{x.name} {x.km:.0f} km, the straight line (published {x.published_km:g} km, "
                    f"shorter than the straight line between the two places) ({x.source})")
        return f"{x.name} {x.published_km:g} km ({x.source})"
    return ("; length from a published road distance, route not sourced: "
            + ", ".join(one(x) for x in links))


def shorter_than_line(x: PublishedLink) -> bool:
    """A published length below the straight line between its places: the line's length is used."""
    return x.published_km < x.km - 0.5


@dataclass(frozen=True)
class Flag:
    """One derived agglomeration input: 0, 100, or None (cannot be derived), and why (as data)."""

    value: int | None
    why: Reason

    def __post_init__(self) -> None:
        met = self.why.met
        if self.value != (None if met is None else 100 if met else 0):
            raise ReasonMismatch(f"a flag of value {self.value} with a reason whose rule "
                                 f"{self.why.rule!r} gives {met}")

    @cached_property
    def reason(self) -> str:
        """The reason in English words (made once: a flag is read by the record and the
        provenance)."""
        return english(self.why)

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
    coords: tuple[tuple[float, float], ...]  # ((lat, lon), (lat, lon))


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
    """A major line (road, railway, corridor or planned road) within the corridor radius of a
    town."""

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
    route: tuple[tuple[float, float], ...] = ()
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

    def as_record(self) -> dict[str, Any]:
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
            "tourism": None if self.tourism is None else {"value": self.tourism.value,
                                                          "reason": self.tourism.reason},
            "reasons": {k: f.reason for k, f in self.flags().items()},
            "why": {k: f.why.as_json() for k, f in self.flags().items()},
        }


def _access_json(a: AccessLink) -> dict[str, Any]:
    return {"class": "access", "km": a.km, "assumed": a.assumed, "sourced": a.sourced,
            "note": a.note, "coords": [list(p) for p in a.coords]}


@dataclass(frozen=True)
class PlannedEdge:
    """A planned road as resolved on the network."""

    start: str  # label of the start
    end: str
    cls: str
    km: float  # road km (geodesic x detour)
    minutes: float
    geodesic_km: float
    coords: tuple[tuple[float, float], tuple[float, float]]  # ((lat, lon), (lat, lon))

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "class": self.cls, "km": self.km,
                "min": self.minutes, "coords": [list(p) for p in self.coords]}


@dataclass(frozen=True)
class Derivation:
    """The spatial derivation for one ``Params``: one TownAccess per town, in data order."""

    params: Params
    towns: tuple[TownAccess, ...]
    planned: tuple[PlannedEdge, ...] = ()
    selected_cities: tuple[str, ...] = ()
    unroutable_cities: dict[str, str] = field(default_factory=dict)
    access_links: dict[str, Any] = field(default_factory=dict)  # GeoJSON FeatureCollection
    build_catchments: Callable[[], dict[str, Any]] | None = field(default=None, repr=False,
                                                                   compare=False)

    @cached_property
    def catchments(self) -> dict[str, Any]:
        """The FUA catchments (GeoJSON FeatureCollection), built on first use: only a map draws
        them."""
        if self.build_catchments:
            return self.build_catchments()
        return {"type": "FeatureCollection", "features": []}

    def town(self, town_id: str) -> TownAccess:
        return next(t for t in self.towns if t.town_id == town_id)
