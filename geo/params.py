"""The spatial parameters: one frozen, typed ``Params`` built by one parser.

Defaults, types and limits live in ``data/method/geo_params.csv``; the road classes (and which of
them a planner may plan) in ``data/method/road_classes.csv``. ``parse_params`` reads a query string,
a JSON body or CLI options alike, collects every problem and raises one ``ParamError``; the result
is hashable (a cache key) and writes itself back as a query string (``to_query``) or JSON
(``as_dict``).
"""
from __future__ import annotations

import csv
import functools
import json
import math
import re
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from ._errors import ParamError

METHOD_DIR = Path(__file__).resolve().parent.parent / "data" / "method"
PARAMS_FILE = METHOD_DIR / "geo_params.csv"
CLASSES_FILE = METHOD_DIR / "road_classes.csv"
MAX_PLANNED = 20
MAX_TEXT = 64  # a number or a place name longer than this is refused before conversion
MAX_PLANNED_TEXT = 20_000  # the planned_roads JSON of a query string
PER_CLASS = ("speed", "detour")
TYPES = ("number", "integer", "set", "bool", "choice", "version")
# a network version's name (geo.netimport)
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class RoadClass:
    """One road class of data/method/road_classes.csv."""

    name: str
    plannable: bool
    junction_line: bool
    labels: Mapping[str, str]
    description: str


@dataclass(frozen=True)
class Spec:
    """One parameter of data/method/geo_params.csv."""

    name: str
    type: str  # number | integer | set | bool | choice | version (a network version's name)
    default: Any
    min: float | None
    max: float | None
    allowed: tuple[str, ...]
    unit: str
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "default": self.default, "min": self.min, "max": self.max,
                "allowed": list(self.allowed), "unit": self.unit, "description": self.description}


@dataclass(frozen=True)
class PlannedRoad:
    """A planned road between two ends: a place name (any language) or a (lon, lat) point."""

    start: str | tuple[float, float]
    end: str | tuple[float, float]
    cls: str

    def as_dict(self) -> dict[str, Any]:
        return {"from": _end_json(self.start), "to": _end_json(self.end), "class": self.cls}


def _end_json(end: str | tuple[float, float]) -> str | list[float]:
    return list(end) if isinstance(end, tuple) else end


@functools.cache
def _flat_fields() -> frozenset[str]:
    """Params' field names that ``Params[name]`` reads directly (not the per-class tables)."""
    return frozenset(f.name for f in fields(Params)) - {"speeds", "detours"}


@dataclass(frozen=True)
class Params:
    """Validated spatial parameters (build with ``parse_params`` or ``default_params``)."""

    fua_definition: str
    fua_minutes: float
    near_km: float
    corridor_km: float
    corridor_min_lines: int
    corridor_line_types: tuple[str, ...]
    group_named_corridors: bool
    large_city_statuses: tuple[str, ...]
    large_city_min_pop: float
    own_city_counts: bool
    tourism_km: float
    tourism_kinds: tuple[str, ...]
    snap_km: float
    on_network_km: float
    speeds: tuple[tuple[str, float], ...]  # (road class, km/h)
    detours: tuple[tuple[str, float], ...]  # (road class, factor)
    planned_roads: tuple[PlannedRoad, ...] = field(default=())
    # the road network version (geo.versions); whether it exists is checked there
    network: str = "shipped"
    # imported networks: posted maxspeed where present (use) or class speeds only (ignore)
    maxspeed_use: str = "use"
    # missing inputs: left missing (off) or the interval estimates of data/estimates.csv added (on)
    estimates: str = "off"

    def speed(self, cls: str) -> float:
        return dict(self.speeds)[cls]

    def detour(self, cls: str) -> float:
        return dict(self.detours)[cls]

    def __getitem__(self, name: str) -> Any:
        """Flat access by the names of geo_params.csv (``p["speed_republican"]``)."""
        prefix, _, cls = name.partition("_")
        if prefix in PER_CLASS and cls in dict(self.speeds):
            return self.speed(cls) if prefix == "speed" else self.detour(cls)
        if name in _flat_fields():
            value = getattr(self, name)
            if name == "planned_roads":
                return [r.as_dict() for r in value]
            return list(value) if isinstance(value, tuple) else value
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """Flat JSON-ready form with the names of geo_params.csv plus ``planned_roads``."""
        flat = {name: self[name] for name in load_specs()}
        return flat | {"planned_roads": self["planned_roads"]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True)

    def changed(self) -> dict[str, Any]:
        """The items that differ from the defaults (flat names)."""
        base = default_params().as_dict()
        return {k: v for k, v in self.as_dict().items() if base.get(k) != v}

    def to_query(self) -> dict[str, str]:
        """Query-string items that differ from the defaults (a permalink); parse_params reads them
        back."""
        out: dict[str, str] = {}
        for k, v in self.changed().items():
            if k == "planned_roads":
                out[k] = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            elif isinstance(v, list):
                out[k] = ",".join(v)
            elif isinstance(v, bool):
                out[k] = "true" if v else "false"
            else:
                out[k] = f"{v:g}" if isinstance(v, float) else str(v)
        return out

    def with_changes(self, **changes: Any) -> "Params":
        """A copy with flat-named changes, validated again."""
        return parse_params(self.as_dict() | changes)


# -- the spec files ------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def load_road_classes(path: str | Path = CLASSES_FILE) -> dict[str, RoadClass]:
    """class -> RoadClass; raise ValueError naming the file and row of each problem."""
    out, problems = {}, []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            flags = {}
            for col in ("plannable", "junction_line"):
                if row.get(col) not in ("yes", "no"):
                    problems.append(f"{Path(path).name} row {n} ({row.get('class')}): "
                                    f"{col} must be yes or no")
                flags[col] = row.get(col) == "yes"
            labels = {lang: row.get(f"label_{lang}", "") for lang in ("en", "ru", "kk")}
            out[row["class"]] = RoadClass(row["class"], flags["plannable"], flags["junction_line"],
                                          labels, row.get("description", ""))
    if problems:
        raise ValueError("; ".join(problems))
    return out


def plannable_classes() -> tuple[str, ...]:
    return tuple(c for c, rc in load_road_classes().items() if rc.plannable)


@lru_cache(maxsize=4)
def load_specs(path: str | Path = PARAMS_FILE) -> dict[str, Spec]:
    """name -> Spec, checked: known types, a speed and detour for each road class, defaults in
    range."""
    name = Path(path).name
    specs, problems = {}, []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            if row["type"] not in TYPES:
                problems.append(f"{name} row {n} ({row['name']}): type '{row['type']}' unknown")
                continue
            raw = Spec(row["name"], row["type"], None, _bound(row["min"]), _bound(row["max"]),
                       tuple(a for a in row["allowed"].split("|") if a), row["unit"],
                       row["description"])
            try:
                specs[row["name"]] = replace(raw, default=_coerce(raw, row["default"]))
            except ValueError as exc:
                problems.append(f"{name} row {n} ({row['name']}): default does not parse: {exc}")
    problems += _spec_coverage(specs, name)
    problems += [f"{name} ({k}): default {msg}" for k, s in specs.items()
                 if (msg := _check(s, s.default))]
    if problems:
        raise ValueError("; ".join(problems))
    return specs


def _spec_coverage(specs: dict[str, Spec], name: str) -> list[str]:
    scalar = {f.name for f in fields(Params)} - {"speeds", "detours", "planned_roads"}
    per_class = {f"{p}_{c}" for p in PER_CLASS for c in load_road_classes()}
    problems = [f"{name}: parameter '{k}' is missing"
                for k in sorted((scalar | per_class) - set(specs))]
    problems += [f"{name}: parameter '{k}' is not a field of Params nor a road class's speed/detour"
                 for k in specs if k not in scalar | per_class]
    return problems


def _bound(text: str) -> float | None:
    return float(text) if text.strip() else None


def _coerce(spec: Spec, value: Any) -> Any:
    """A raw value (text from a query or CLI, or a JSON value) -> the spec's type; ValueError if
    not."""
    if spec.type == "set":
        items = value.replace("|", ",").split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"{_short(value)} is not a list")
        return tuple(sorted({str(x).strip() for x in items if str(x).strip()}))
    if spec.type == "bool":
        return _bool(value)
    if spec.type == "choice":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"{_short(value)} is not one of the choices")
        return value.strip()
    if spec.type == "version":
        return _version(value)
    return _number(value, integer=spec.type == "integer")


def _short(value: object) -> str:
    """The value as the message quotes it; JSON's null, true and false as JSON writes them."""
    text = json.dumps(value) if value is None or isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _version(value: object) -> str:
    """A network version's name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or
    digit."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or not VERSION_NAME.match(text):
        raise ValueError(f"{_short(value)} is not a network version name (1-64 letters, digits, "
                         "'.', '_' or '-', starting with a letter or digit)")
    return text


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()[:MAX_TEXT]
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{_short(value)} is not true or false")


def _number(value: object, *, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{_short(value)} is not a number")
    if isinstance(value, str) and not value.strip():
        raise ValueError("empty: a number is needed")
    if (isinstance(value, str) and len(value.strip()) > MAX_TEXT
            or isinstance(value, int) and abs(value) > 10**15):
        raise ValueError(f"{_short(value)} is too long to be a number here")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{_short(value)} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{_short(value)} is not finite")
    if integer:
        if x != int(x):
            raise ValueError(f"{_short(value)} is not a whole number")
        return int(x)
    return x


def _check(spec: Spec, x: Any) -> str | None:
    if spec.type == "set":
        bad = [v for v in x if v not in spec.allowed]
        if bad:
            return f"{', '.join(bad)} not allowed; choose from {', '.join(spec.allowed)}"
        return None if x else f"choose at least one of {', '.join(spec.allowed)}"
    if spec.type == "choice" and x not in spec.allowed:
        return f"{_short(x)} not allowed; choose one of {', '.join(spec.allowed)}"
    if spec.type in ("number", "integer") and not spec.min <= x <= spec.max:
        return f"{_number_text(x)} is out of range; {_allowed(spec)}"
    return None


def _number_text(x: float) -> str:
    """A number as a message says it: 5,000,000 (not 5e+06), 1.5, 1e+23."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _allowed(spec: Spec) -> str:
    """'allowed 1 to 720 min' for a numeric parameter ('' for another): its unit unless it is a
    bare factor."""
    if spec.min is None or spec.max is None:
        return ""
    unit = "" if spec.unit in ("", "factor") else f" {spec.unit}"
    return f"allowed {_number_text(spec.min)} to {_number_text(spec.max)}{unit}"


# -- planned roads -------------------------------------------------------------------------------

def parse_end(value: object) -> str | tuple[float, float]:
    """A road end: a place name, or a point as [lon, lat] (JSON) or "lon,lat" (text)."""
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_TEXT:
            raise ValueError("must be a place name (at most 64 characters) or [lon, lat]")
        parts = text.split(",")
        if len(parts) == 2:
            try:
                return _point(parts)
            except ValueError:
                pass
        return text
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _point(value)
    raise ValueError("must be a place name or [lon, lat]")


def _point(pair: Sequence[object]) -> tuple[float, float]:
    lon, lat = (_number(v, integer=False) for v in pair)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError("[lon, lat] out of range (lon -180..180, lat -90..90)")
    return (lon, lat)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: object) -> bool:
    """True if a text in parsed JSON (a key or a value, at any depth) holds a lone surrogate.

    JSON's ``\\ud800`` escape decodes to half of a UTF-16 pair, which no UTF-8 answer can carry.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and _SURROGATE.search(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def parse_planned(value: object) -> tuple[PlannedRoad, ...]:
    """A list of {from, to, class} (or its JSON text) -> PlannedRoads; ValueError naming the
    road."""
    if isinstance(value, str):
        if len(value) > MAX_PLANNED_TEXT:
            raise ValueError(f"at most {MAX_PLANNED_TEXT} characters")
        try:
            value = json.loads(value) if value.strip() else []
        except (json.JSONDecodeError, RecursionError):
            raise ValueError("must be a JSON list of {from, to, class}") from None
    if _has_surrogate(value):
        raise ValueError(
            "holds a lone surrogate (an escape \\ud800-\\udfff): send valid Unicode text"
        )
    if value in (None, []):
        return ()
    if not isinstance(value, list):
        raise ValueError("must be a list of {from, to, class}")
    if len(value) > MAX_PLANNED:
        raise ValueError(f"at most {MAX_PLANNED} planned roads")
    allowed = plannable_classes()
    out = []
    for i, road in enumerate(value, start=1):
        if not isinstance(road, dict):
            raise ValueError(f"road {i}: must be an object with from, to and class")
        ends = []
        for key in ("from", "to"):
            try:
                ends.append(parse_end(road.get(key)))
            except ValueError as exc:
                raise ValueError(f"road {i}: '{key}' {exc}") from None
        cls = road.get("class", "republican")
        if cls not in allowed:
            raise ValueError(f"road {i}: class {_short(cls)} not allowed; "
                             f"choose from {', '.join(allowed)}")
        out.append(PlannedRoad(ends[0], ends[1], cls))
    return tuple(out)


# -- the one parser ------------------------------------------------------------------------------

IGNORED_KEYS = ("lang", "town", "towns", "view", "mode")  # page state in the same query string


def parse_params(raw: Mapping[str, Any] | None = None) -> Params:
    """Defaults overridden by ``raw`` (query string, JSON body or CLI options); every problem
    collected.

    Parameters
    ----------
    raw : mapping of flat parameter names (geo_params.csv) and ``planned_roads`` to values; text
        values (query string, CLI) and JSON values are both accepted. Keys of ``IGNORED_KEYS`` are
        page state and skipped.

    Raises
    ------
    ParamError
        One message per bad field, each saying what is allowed.
    """
    specs = load_specs()
    values = {k: s.default for k, s in specs.items()}
    planned: tuple[PlannedRoad, ...] = ()
    errors: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for key, value in (raw or {}).items():
        if key in IGNORED_KEYS:
            continue
        if key == "planned_roads":
            try:
                planned = parse_planned(value)
            except ValueError as exc:
                errors[key], reasons[key] = str(exc), "roads"
        elif key not in specs:
            known = ", ".join([*specs, "planned_roads"])
            shown = _short(key)[1:-1] if len(str(key)) > 40 else str(key)
            errors[shown], reasons[shown] = f"unknown parameter; known: {known}", "unknown"
        else:
            spec = specs[key]
            try:
                x = _coerce(spec, value)
            except ValueError as exc:
                text = str(exc)
                errors[key] = f"{exc}; " + (_allowed(spec) or f"expected {spec.type}")
                reasons[key] = ("whole" if "whole number" in text else "blank"
                                if text.startswith("empty") else "number"
                                if spec.min is not None else "other")
                continue
            if msg := _check(spec, x):
                errors[key] = msg
                reasons[key] = {"set": "choice" if x else "empty", "choice": "choice"}.get(
                    spec.type, "range")
            else:
                values[key] = x
    if errors:
        capped = _cap(errors)
        raise ParamError(capped, {k: reasons.get(k, "other") for k in capped})
    return _build(values, planned)


def _cap(errors: dict[str, str], limit: int = 20) -> dict[str, str]:
    """At most ``limit`` field messages (a huge body of unknown keys gets a short answer)."""
    if len(errors) <= limit:
        return errors
    kept = dict(list(errors.items())[:limit])
    kept["_more"] = f"{len(errors) - limit} further problem(s) not listed"
    return kept


def _build(values: dict[str, Any], planned: tuple[PlannedRoad, ...]) -> Params:
    classes = list(load_road_classes())
    scalar = {f.name for f in fields(Params)} - {"speeds", "detours", "planned_roads"}
    return Params(**{k: values[k] for k in scalar},
                  speeds=tuple((c, float(values[f"speed_{c}"])) for c in classes),
                  detours=tuple((c, float(values[f"detour_{c}"])) for c in classes),
                  planned_roads=planned)


@lru_cache(maxsize=1)
def default_params() -> Params:
    return parse_params({})
