"""Parameters from a URL query string or a JSON body, with the names of `python -m geo agglomeration`."""
from __future__ import annotations

import json

from werkzeug.urls import urlencode

from geo import ParamError
from geo.params import load_specs


def from_query(args) -> dict:
    """Query string -> raw parameters (sets comma-separated, planned_roads as JSON)."""
    specs, raw, errors = load_specs(), {}, {}
    for key in args:
        if key in ("lang", "town"):
            continue
        value = args.get(key)
        if key == "planned_roads":
            try:
                raw[key] = json.loads(value) if value else []
            except json.JSONDecodeError:
                errors[key] = "must be a JSON list of {from, to, class}"
        elif key in specs and specs[key]["type"] == "set":
            raw[key] = [v for v in value.split(",") if v]
        else:
            raw[key] = value
    if errors:
        raise ParamError(errors)
    return raw


def queries(params: dict, lang: str, langs) -> tuple[str, dict]:
    """The permalink query for ``lang`` and the same view in every other language."""
    base = to_query(params)
    return urlencode(base | {"lang": lang}), {other: urlencode(base | {"lang": other}) for other in langs}


def to_query(params: dict) -> dict:
    """Validated parameters -> the query string items that differ from the defaults (a permalink)."""
    from geo.params import changed_from_defaults

    out = {}
    for k, v in changed_from_defaults(params).items():
        if k == "planned_roads":
            out[k] = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(v, list):
            out[k] = ",".join(v)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        else:
            out[k] = f"{v:g}" if isinstance(v, float) else str(v)
    return out
