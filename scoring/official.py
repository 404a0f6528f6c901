"""What the government already decided about each town (data/official/), read and checked on load.

None of it is scored. ``agreement`` compares a town's signals with its computed result by the rule
in ``signal_rules.csv`` (this project's reading, marked so in the data); ``measures`` gives what a
scenario means in practice (``measures.csv``, this project's mapping) and the town's own measures.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


class OfficialDataError(ValueError):
    """A file of data/official/ is invalid (the message names the file, row and field)."""


LANGS = ("en", "ru", "kk")
RELATIONS = ("supports", "contradicts", "neutral")
REQUIRED = {
    "signal_kinds.csv": ("kind", *(f"label_{g}" for g in LANGS)),
    "signals.csv": (
        "signal_id",
        "town_id",
        "kind",
        "date",
        "source_url",
        "checked",
        *(f"label_{g}" for g in LANGS),
    ),
    "signal_rules.csv": ("kind", "scenario", "relation", "reading"),
    "measures.csv": (
        "measure_id",
        "scenarios",
        "mapping",
        "source_url",
        *(f"label_{g}" for g in LANGS),
    ),
    "town_measures.csv": (
        "item_id",
        "town_id",
        "measure_id",
        "date",
        "source_url",
        "checked",
        *(f"label_{g}" for g in LANGS),
    ),
    "evidence.csv": (
        "evidence_id",
        "town_id",
        "metric",
        "unit",
        "date",
        "date_precision",
        "scope",
        "approximates_input",
        "source_url",
        "checked",
        *(f"label_{g}" for g in LANGS),
    ),
}


@dataclass(frozen=True)
class Official:
    """The files of data/official/ as rows (dicts), checked."""

    kinds: dict[str, dict[str, Any]]
    signals: list[dict[str, Any]]
    rules: dict[tuple[str, str], str]  # (kind, scenario) -> supports | contradicts | neutral
    measures: dict[str, dict[str, Any]]
    town_measures: list[dict[str, Any]]
    evidence: list[dict[str, Any]]


def _read(folder: Path, name: str) -> list[dict[str, Any]]:
    path = folder / name
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED[name] if c not in (reader.fieldnames or [])]
        if missing:
            raise OfficialDataError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    for i, row in enumerate(rows, start=2):
        for col in REQUIRED[name]:
            if col == "date" or col.startswith("date"):
                continue
            if not (row.get(col) or "").strip():
                raise OfficialDataError(f"{path}, row {i}, field {col}: empty")
        if not row["source_url"].startswith("http") if "source_url" in row else False:
            raise OfficialDataError(f"{path}, row {i}, field source_url: must start with http")
    return rows


def load_official(root: Path, *, towns: set[str], scenarios: set[str]) -> Official:
    """The official data under ``root/official``, each row checked (DataError names file, row,
    field)."""
    folder = Path(root) / "official"
    if (
        not folder.is_dir()
    ):  # a data root without official data (the tests' tiny one): nothing to show
        return Official({}, [], {}, {}, [], [])
    kinds = {r["kind"]: r for r in _read(folder, "signal_kinds.csv")}
    rules: dict[tuple[str, str], str] = {}
    for i, r in enumerate(_read(folder, "signal_rules.csv"), start=2):
        where = f"{folder / 'signal_rules.csv'}, row {i}"
        if (
            r["kind"] not in kinds
            or r["scenario"] not in scenarios
            or r["relation"] not in RELATIONS
        ):
            raise OfficialDataError(
                f"{where}: kind, scenario or relation unknown (relation: {', '.join(RELATIONS)})"
            )
        rules[(r["kind"], r["scenario"])] = r["relation"]
    measures = {r["measure_id"]: r for r in _read(folder, "measures.csv")}
    for m in measures.values():
        unknown = set(m["scenarios"].split("|")) - scenarios
        if unknown:
            raise OfficialDataError(
                f"{folder / 'measures.csv'}, {m['measure_id']}, field scenarios: unknown {unknown}"
            )
    out = Official(
        kinds,
        _read(folder, "signals.csv"),
        rules,
        measures,
        _read(folder, "town_measures.csv"),
        _read(folder, "evidence.csv"),
    )
    for name, rows in (
        ("signals.csv", out.signals),
        ("town_measures.csv", out.town_measures),
        ("evidence.csv", out.evidence),
    ):
        for i, r in enumerate(rows, start=2):
            if r["town_id"] not in towns:
                raise OfficialDataError(
                    f"{folder / name}, row {i}, field town_id: '{r['town_id']}' is not a town"
                )
    for i, r in enumerate(out.evidence, start=2):
        if not (r.get("value") or r.get("value_low") or r.get("value_high")):
            raise OfficialDataError(
                f"{folder / 'evidence.csv'}, row {i}, field value: "
                "give value, value_low or value_high"
            )
    bad = [r["signal_id"] for r in out.signals if r["kind"] not in kinds]
    if bad:
        raise OfficialDataError(
            f"{folder / 'signals.csv'}: signal(s) {', '.join(bad)} of an unknown kind"
        )
    return out


def agreement(official: Official, kind: str, scenarios: list[str]) -> dict[str, Any]:
    """How a signal of ``kind`` compares with the verdict's ``scenarios`` by the rules:
    ``contradicts`` (it speaks against one of them), ``supports`` (it supports one of them),
    ``differs`` (it supports only other scenarios) or ``neutral``; with the scenarios it supports
    and those it contradicts."""
    supported = [s for (k, s), rel in official.rules.items() if k == kind and rel == "supports"]
    against = [s for s in scenarios if official.rules.get((kind, s)) == "contradicts"]
    if against:
        verdict = "contradicts"
    elif set(supported) & set(scenarios):
        verdict = "supports"
    else:
        verdict = "differs" if supported else "neutral"
    return {"agreement": verdict, "supports": supported, "contradicts": against}


def signals_for(official: Official, town: str, scenarios: list[str]) -> list[dict[str, Any]]:
    """A town's signals, newest first, each with its agreement with the verdict's scenarios."""
    rows = [
        r | agreement(official, r["kind"], scenarios)
        for r in official.signals
        if r["town_id"] == town
    ]
    return sorted(rows, key=lambda r: r["date"] or "", reverse=True)


def measures_for(official: Official, town: str, scenarios: list[str]) -> dict[str, Any]:
    """What the verdict's scenarios mean in practice: the measure families common to all of them,
    those of one scenario only, and the town's own sourced measures."""
    sets = {m: set(row["scenarios"].split("|")) for m, row in official.measures.items()}
    chosen = set(scenarios)
    common = [official.measures[m] for m, s in sets.items() if chosen and chosen <= s]
    differs = (
        {
            sid: [official.measures[m] for m, s in sets.items() if sid in s and not chosen <= s]
            for sid in scenarios
        }
        if len(scenarios) > 1
        else {}
    )
    own = [r for r in official.town_measures if r["town_id"] == town]
    return {"common": common, "differs": {k: v for k, v in differs.items() if v}, "town": own}


def age_years(row: dict[str, Any], today: dt.date | None = None) -> float | None:
    """Years from a row's ``date`` (day, month or year precision) to ``today``; None without a
    date."""
    date = (row.get("date") or "").strip()
    if not date:
        return None
    parts = [int(x) for x in date.split("-")] + [1, 1]
    then = dt.date(
        parts[0],
        parts[1] if len(date) > 4 else 7,
        parts[2] if len(date) > 7 else (15 if len(date) > 4 else 1),
    )
    return round(((today or dt.date.today()) - then).days / 365.25, 1)


def shown_value(row: dict[str, Any], number: Callable[[str], str] = str) -> str:
    """An evidence row's figure: the value, a range, or an open bound ('> 150000', '<= 50'); each
    number written by ``number`` (a page's: '16,7' in ru and kk)."""
    if row.get("value"):
        return number(str(row["value"]))
    low, high = row.get("value_low"), row.get("value_high")
    return (f"{number(low)}–{number(high)}" if low and high else f"> {number(low)}" if low
            else f"≤ {number(str(high))}")
