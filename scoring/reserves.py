"""``special_raw_materials`` from published reserve statements, by the rule in
data/method/raw_materials.json.

Each town's row of data/reserves.csv records what a source says (a reserve life in years with the
year of the statement, a reserve base without a lifetime, depletion, no extractive enterprise,
nothing found) with its source and quote; the rule turns it into 0, 100 or missing, with the reason
in words.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._errors import InputError, MethodError
from .loaders import read_rows

CATEGORIES = ("years", "base_exists", "depleted", "not_extractive", "imported_raw_material",
              "not_found")


def load_rule(path: Path) -> dict[str, Any]:
    """The rule, validated: min_years and reference_year numbers, an outcome per category."""
    try:
        rule: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MethodError([f"{Path(path).name}: cannot be read ({exc})"]) from None
    name = Path(path).name
    problems = [f"{name}: '{k}' must be a number" for k in ("min_years", "reference_year")
                if not isinstance(rule.get(k), (int, float)) or isinstance(rule.get(k), bool)]
    outcomes = rule.get("outcomes", {})
    problems += [f"{name}: outcomes: category '{c}' missing"
                 for c in CATEGORIES if c not in outcomes]
    problems += [f"{name}: outcomes: '{c}' must be 0, 100 or null" for c in CATEGORIES[1:]
                 if outcomes.get(c, 0) not in (0, 100, None)]
    if problems:
        raise MethodError(problems)
    return rule


def apply_rule(row: dict[str, Any], rule: dict[str, Any]) -> tuple[float | None, str]:
    """One town's reserve statement -> (0, 100 or None, the reason in words)."""
    cat, n = row["category"], rule["min_years"]
    if cat != "years":
        value = rule["outcomes"][cat]
        return (None if value is None else float(value)), rule["explain"].get(cat, cat)
    age = rule["reference_year"] - int(row["statement_year"])
    low, high = float(row["years_low"]) - age, float(row["years_high"]) - age
    stated = (row["years_low"] if row["years_low"] == row["years_high"]
              else f"{row['years_low']}-{row['years_high']}")
    why = (f"reserves for {stated} years stated in {row['statement_year']}: {low:g}-{high:g} years "
           f"left in {rule['reference_year']}")
    if low >= n:
        return 100.0, f"{why}, at least min_years = {n:g}"
    if high < n:
        return 0.0, f"{why}, below min_years = {n:g}"
    return None, f"{why}: the range straddles min_years = {n:g}"


def reserve_values(path: Path, rule: dict[str, Any]) -> dict[str, Any]:
    """town_id -> {special_raw_materials: row in the long format of scoring.loaders (status,
    source, ...)}."""
    path = Path(path)
    out: dict[str, dict[str, dict[str, str]]] = {}
    problems: list[str] = []
    for n, r in enumerate(read_rows(path), start=2):
        where = f"{path.name} row {n} town '{r.get('town_id')}'"
        if r.get("category") not in CATEGORIES:
            problems.append(f"{where}: field 'category' value '{r.get('category')}'; "
                            f"allowed: {', '.join(CATEGORIES)}")
            continue
        if r["category"] == "years" and not _years_ok(r):
            problems.append(f"{where}: fields years_low, years_high, statement_year must be "
                            "numbers (low <= high)")
            continue
        value, why = apply_rule(r, rule)
        said = f"{r['statement'] or r['category']} ({r['as_of'] or 'undated'})"
        out[r["town_id"]] = {rule["input"]: {
            "value": "" if value is None else f"{value:g}", "unit": "0 or 100",
            "period": r["as_of"], "source": f"{why}; {said}: {r['source_url']}",
            "note": r.get("quote", ""),
            "status": "missing" if value is None else "derived"}}
    if problems:
        raise InputError(problems, source=path.name)
    return out


def _years_ok(r: dict[str, Any]) -> bool:
    try:
        return float(r["years_low"]) <= float(r["years_high"]) and int(r["statement_year"]) > 1900
    except ValueError:
        return False
