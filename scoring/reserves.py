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
from typing import Any, Callable

from ._errors import InputError, MethodError
from .loaders import read_rows

CATEGORIES = ("years", "base_exists", "depleted", "not_extractive", "imported_raw_material",
              "not_found")
VERDICTS = ("at_least", "below", "straddles")  # a reserve life left, against min_years


def load_rule(path: Path) -> dict[str, Any]:
    """The rule, validated: min_years and reference_year numbers, an outcome and a text per
    category, a text per verdict."""
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
    for key, needed in (("explain", CATEGORIES[1:]), ("reasons", VERDICTS)):
        found = rule.get(key)
        texts: dict[str, Any] = found if isinstance(found, dict) else {}
        problems += [f"{name}: {key}: '{c}' must be a text" for c in needed
                     if not isinstance(texts.get(c), str)]
    if not isinstance(rule.get("undated"), str):
        problems.append(f"{name}: 'undated' must be a text")
    if problems:
        raise MethodError(problems)
    return rule


def apply_rule(row: dict[str, Any], rule: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """One town's reserve statement -> (0, 100 or None, the reason as data: its category and, for a
    reserve life, the years stated, left and the verdict; ``describe`` says it in words)."""
    cat, n = row["category"], rule["min_years"]
    reason: dict[str, Any] = {"category": cat}
    if cat != "years":
        value = rule["outcomes"][cat]
        return (None if value is None else float(value)), reason
    age = rule["reference_year"] - int(row["statement_year"])
    low, high = float(row["years_low"]) - age, float(row["years_high"]) - age
    verdict, value = (("at_least", 100.0) if low >= n else ("below", 0.0) if high < n
                      else ("straddles", None))
    reason |= {"stated_low": float(row["years_low"]), "stated_high": float(row["years_high"]),
               "year": int(row["statement_year"]), "low": low, "high": high,
               "ref": rule["reference_year"], "n": n, "verdict": verdict}
    return value, reason


def _years_en(low: float, high: float) -> str:
    return f"{low:g} year" if low == high == 1 else (
        f"{low:g} years" if low == high else f"{low:g}-{high:g} years")


def describe(reason: dict[str, Any], words: dict[str, Any],
             years: Callable[[float, float], str] = _years_en) -> str:
    """A reason of ``apply_rule`` in words: ``words`` holds the rule's texts (``explain``,
    ``reasons``) in one language (the rule file's English, or a page's translation), ``years``
    writes a span of years in that language ('13-15 years', '13-15 лет', '1 год')."""
    if reason["category"] != "years":
        return str(words["explain"].get(reason["category"], reason["category"]))
    return str(words["reasons"][reason["verdict"]]).format(
        stated=years(reason["stated_low"], reason["stated_high"]), year=reason["year"],
        left=years(reason["low"], reason["high"]), ref=reason["ref"], n=f"{reason['n']:g}")


def said(reason: str, statement: str, as_of: str, url: str, undated: str) -> str:
    """The cell's whole source: the rule's reason; what the source says (when): where."""
    return f"{reason}; {statement} ({as_of or undated}): {url}"


def reserve_values(path: Path, rule: dict[str, Any]) -> dict[str, Any]:
    """town_id -> {special_raw_materials: row in the long format of scoring.loaders (status,
    source, ...)}; each row also carries ``reason`` (``apply_rule``'s, not stored) so that a page
    can say the source in its own language."""
    path = Path(path)
    out: dict[str, dict[str, dict[str, Any]]] = {}
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
        value, reason = apply_rule(r, rule)
        reason |= {"statement": r["statement"] or r["category"], "as_of": r["as_of"],
                   "url": r["source_url"]}
        source = said(describe(reason, rule), reason["statement"], r["as_of"], r["source_url"],
                      rule["undated"])
        out[r["town_id"]] = {rule["input"]: {
            "value": "" if value is None else f"{value:g}", "unit": "0 or 100",
            "period": r["as_of"], "source": source, "note": r.get("quote", ""),
            "status": "missing" if value is None else "derived", "reason": reason}}
    if problems:
        raise InputError(problems, source=path.name)
    return out


def _years_ok(r: dict[str, Any]) -> bool:
    try:
        return float(r["years_low"]) <= float(r["years_high"]) and int(r["statement_year"]) > 1900
    except ValueError:
        return False
