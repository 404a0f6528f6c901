"""Spatial parameters: defaults and limits from data/method/geo_params.csv, validated in one place."""
from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path

from ._errors import ParamError

PARAMS_FILE = Path(__file__).resolve().parent.parent / "data" / "method" / "geo_params.csv"
ROAD_CLASSES = ("international", "republican", "link", "access")
PLANNED_CLASSES = ("international", "republican", "access")
MAX_PLANNED = 20


@lru_cache(maxsize=4)
def load_specs(path: str | Path = PARAMS_FILE) -> dict:
    """name -> spec row (type, default, min, max, allowed, unit, description), checked for consistency."""
    specs, problems = {}, []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            if row["type"] not in ("number", "integer", "set", "bool"):
                problems.append(f"{Path(path).name} row {n} ({row['name']}): type '{row['type']}' unknown")
            specs[row["name"]] = row
    for cls in ROAD_CLASSES:
        for prefix in ("speed_", "detour_"):
            if prefix + cls not in specs:
                problems.append(f"{Path(path).name}: parameter '{prefix}{cls}' is missing")
    if problems:
        raise ValueError("; ".join(problems))
    try:
        defaults = {name: _coerce(spec, spec["default"]) for name, spec in specs.items()}
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{Path(path).name}: a default does not parse: {exc}") from exc
    errors = {name: msg for name, spec in specs.items() if (msg := _check(spec, defaults[name]))}
    if errors:
        raise ValueError(f"{Path(path).name}: a default is outside its own limits: {errors}")
    return specs


def _coerce(spec: dict, value):
    t = spec["type"]
    if t == "set":
        items = value.split("|") if isinstance(value, str) else list(value)
        return sorted({str(x).strip() for x in items if str(x).strip()})
    if t == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"'{value}' is not true or false")
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"'{value}' is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"'{value}' is not finite")
    if t == "integer":
        if x != int(x):
            raise ValueError(f"'{value}' is not a whole number")
        return int(x)
    return x


def _check(spec: dict, x) -> str | None:
    t = spec["type"]
    if t == "set":
        allowed = spec["allowed"].split("|")
        bad = [v for v in x if v not in allowed]
        if bad:
            return f"{', '.join(bad)} not allowed; choose from {', '.join(allowed)}"
        return None
    if t in ("number", "integer"):
        lo, hi = float(spec["min"]), float(spec["max"])
        if not lo <= x <= hi:
            return f"{x:g} is out of range; allowed {lo:g} to {hi:g} {spec['unit']}".rstrip()
    return None


def defaults() -> dict:
    specs = load_specs()
    out = {name: _coerce(spec, spec["default"]) for name, spec in specs.items()}
    out["planned_roads"] = []
    return out


def _planned(value) -> tuple[list, str | None]:
    if value in (None, "", []):
        return [], None
    if not isinstance(value, list):
        return [], "must be a list of {from, to, class}"
    if len(value) > MAX_PLANNED:
        return [], f"at most {MAX_PLANNED} planned roads"
    out = []
    for i, road in enumerate(value, start=1):
        if not isinstance(road, dict):
            return [], f"road {i}: must be an object with from, to and class"
        ends = []
        for key in ("from", "to"):
            end = road.get(key)
            if isinstance(end, (list, tuple)) and len(end) == 2:
                try:
                    lon, lat = float(end[0]), float(end[1])
                except (TypeError, ValueError):
                    return [], f"road {i}: '{key}' coordinates must be numbers [lon, lat]"
                if not (-180 <= lon <= 180 and -90 <= lat <= 90) or not (math.isfinite(lon) and math.isfinite(lat)):
                    return [], f"road {i}: '{key}' [lon, lat] out of range (lon -180..180, lat -90..90)"
                ends.append([lon, lat])
            elif isinstance(end, str) and end.strip():
                ends.append(end.strip())
            else:
                return [], f"road {i}: '{key}' must be a settlement name or [lon, lat]"
        cls = road.get("class", "republican")
        if cls not in PLANNED_CLASSES:
            return [], f"road {i}: class '{cls}' not allowed; choose from {', '.join(PLANNED_CLASSES)}"
        out.append({"from": ends[0], "to": ends[1], "class": cls})
    return out, None


def validate_params(raw: dict | None) -> dict:
    """Defaults overridden by ``raw``; raise ParamError with a message per bad field."""
    specs = load_specs()
    params, errors = defaults(), {}
    for key, value in (raw or {}).items():
        if key == "planned_roads":
            params[key], err = _planned(value)
            if err:
                errors[key] = err
            continue
        if key not in specs:
            errors[key] = f"unknown parameter; known: {', '.join(list(specs) + ['planned_roads'])}"
            continue
        try:
            x = _coerce(specs[key], value)
        except (ValueError, TypeError) as exc:
            errors[key] = f"{exc}; expected {specs[key]['type']}"
            continue
        msg = _check(specs[key], x)
        if msg:
            errors[key] = msg
        else:
            params[key] = x
    if not errors and not params["large_city_statuses"]:
        errors["large_city_statuses"] = "choose at least one status"
    if errors:
        raise ParamError(errors)
    return params


def changed_from_defaults(params: dict) -> dict:
    base = defaults()
    return {k: v for k, v in params.items() if base.get(k) != v}
