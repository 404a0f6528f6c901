"""Validate town input records against the method's input specifications."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import InputError
from .method import InputSpec, Method

MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "-"}


def allowed(spec: InputSpec) -> str:
    """The values an input may take, in words (for error messages)."""
    if spec.kind == "binary":
        return "0 or 100"
    if spec.kind == "share":
        return f"{spec.min:g} to {spec.max:g} (%)"
    if spec.kind == "count":
        return "a whole number >= 0 and not above its total"
    if spec.kind == "total":
        return "a whole number > 0"
    if spec.kind == "rate":
        return "any finite number (may be negative)"
    lo = "" if spec.min is None else f">= {spec.min:g}"
    hi = "" if spec.max is None else f"<= {spec.max:g}"
    return " and ".join(x for x in (lo, hi) if x) or "any finite number"


def _parse(value: object) -> tuple[float | None, str | None]:
    """Return (number or None, error text or None)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, "is not a number"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None, None
        return (float(value), None) if math.isfinite(value) else (None, "is not finite")
    text = str(value).strip()
    if text.lower() in MISSING_TOKENS:
        return None, None
    try:
        decimal_comma = text.count(",") == 1 and "." not in text
        number = float(text.replace(",", ".")) if decimal_comma else float(text)
    except ValueError:
        return None, "is not a number"
    if not math.isfinite(number):
        return None, "is not finite"
    return number, None


def value_ok(spec: InputSpec, x: float) -> bool:
    """Whether a parsed value is allowed for the input (its kind and range)."""
    if spec.kind == "binary":
        return x in (0.0, 100.0)
    if spec.kind in ("count", "total") and x != int(x):
        return False
    if spec.kind == "total" and x <= 0:
        return False
    if spec.min is not None and x < spec.min:
        return False
    if spec.max is not None and x > spec.max:
        return False
    return True


def validate_record(record: Mapping[str, Any], method: Method, *,
                    where: str) -> tuple[dict[str, float | None], list[str]]:
    """Check one town's inputs. Returns (clean inputs with None for missing, problems)."""
    problems: list[str] = []
    clean: dict[str, float | None] = {}
    for key, raw in record.items():
        if key == "town":
            continue
        if key not in method.inputs:
            problems.append(f"{where}: field '{key}' is not a canonical input "
                            f"(allowed: town, {', '.join(method.inputs)})")
    for name, spec in method.inputs.items():
        x, err = _parse(record.get(name))
        if err:
            problems.append(f"{where}: field '{name}' value '{record.get(name)}' {err}; "
                            f"allowed: {allowed(spec)}")
        elif x is not None and not value_ok(spec, x):
            problems.append(f"{where}: field '{name}' value {x:g} is out of range; "
                            f"allowed: {allowed(spec)}")
            x = None
        clean[name] = x
    # counts are not above their totals; roots are of non-negative sums
    for ind in method.indicators.values():
        if ind.aggregation == "root_of_item_shares":
            for count, total in ind.inputs:
                c, t = clean.get(count), clean.get(total)
                if c is not None and t is not None and c > t:
                    problems.append(f"{where}: field '{count}' value {c:g} is above its total "
                                    f"'{total}' {t:g}; allowed: 0 to {t:g}")
        elif ind.aggregation == "root_of_sum" and all(n in clean for n in ind.inputs):
            vals = [v for v in (clean[n] for n in ind.inputs) if v is not None]
            if len(vals) == len(ind.inputs) and sum(vals) < 0:
                problems.append(f"{where}: fields {' + '.join(ind.inputs)} sum to {sum(vals):g}; "
                                f"allowed: a sum >= 0 (the indicator is its square root)")
    return clean, problems


def validate_records(records: Sequence[Mapping[str, Any]], method: Method, *,
                     source: str = "input") -> list[dict[str, Any]]:
    """Validate all records; raise one InputError naming every problem (town, field, value,
    range)."""
    problems: list[str] = []
    cleaned = []
    seen = set()
    for n, rec in enumerate(records, start=2):
        town = str(rec.get("town") or "").strip()
        where = f"{source} row {n} town '{town}'"
        if not town:
            problems.append(f"{source} row {n}: field 'town' is empty; allowed: a town name")
        elif town in seen:
            problems.append(f"{where}: town appears twice")
        seen.add(town)
        clean, probs = validate_record(rec, method, where=where)
        problems += probs
        cleaned.append({"town": town, **clean})
    if problems:
        raise InputError(problems, source=source)
    return cleaned


