"""Interval estimates of missing statistical inputs from published evidence (issue 22).

The rules of docs/estimates-method.md section 3, applied to one town at a time from
data/sources/estimates_evidence.csv (figures with their sources) and data/towns.csv (the town's
oblast); their parameters are data/method/estimation_rules.csv. ``build`` gives the rows of
data/estimates.csv (``python -m scoring build-estimates`` writes them); the back-test
(:mod:`scoring.backtest`) applies the same rules to the paper's three towns.

Rules (one per input; the first that the evidence supports):

- ``demo_natural_growth``: ``town_figure_pm``, the town's (or its district's) 2023 rate +- a
  half-width;
- ``demo_active_share``: ``oblast_figure_pm``, the oblast's labour force over its population
  +- a half-width, else ``plausible_range``, the whole plausible range;
- ``social_unemployment``: ``dated_town_index_widened``, a dated town rate over its oblast's rate
  of the same year (x 100) +- a drift per year of age, else ``town_index_spread``, the range of
  town indices widened by the oblast/national 2022 ratio (either reading of the reference);
- ``social_avg_wage``: ``town_index_spread`` as for unemployment, with the wage ratio.

Inputs without a rule here (economy, facilities, investment, the mono-profile pair) stay missing:
the one-town mono-profile rules of the note are not automated (see the note's section 3).
"""
from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ._errors import InputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
EVIDENCE_FILE = DATA_DIR / "sources" / "estimates_evidence.csv"
RULES_FILE = DATA_DIR / "method" / "estimation_rules.csv"
TOWNS_FILE = DATA_DIR / "towns.csv"
MADE_BY = "python -m scoring build-estimates (rules of docs/estimates-method.md)"
COLUMNS = ("town", "input", "low", "high", "most_likely", "coverage", "method", "sources",
           "made_by", "made_at", "note")
RULE_PARAMETERS = ("coverage", "reference_year", "made_at", "rounding",
                   "natural_growth_half_width", "active_share_half_width", "active_share_low",
                   "active_share_high", "unemployment_index_low", "unemployment_index_high",
                   "index_drift_per_year", "wage_index_low", "wage_index_high")
WAGE_2022 = "2022 (Jan-Dec)"


@dataclass(frozen=True)
class Figure:
    """One row of the evidence file."""

    geography: str
    level: str
    indicator: str
    value: str
    year: str
    url: str
    note: str

    def number(self) -> float | None:
        """The value as a number, None for a bound or a range ('<5', '9000-20000')."""
        try:
            return float(self.value)
        except ValueError:
            return None


class Evidence:
    """The evidence file, indexed by (geography, indicator)."""

    def __init__(self, figures: Sequence[Figure]):
        self.figures = list(figures)

    @classmethod
    def load(cls, path: str | Path = EVIDENCE_FILE) -> "Evidence":
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        return cls([Figure(r["geography"], r["geography_level"], r["indicator"], r["value"],
                           r["year"], r["source_url"], r["note"]) for r in rows])

    def find(self, geography: str, indicator: str, *, levels: Sequence[str] = (),
             year: str | None = None) -> list[Figure]:
        """The figures of a geography and indicator (optionally of given levels and year)."""
        return [f for f in self.figures if f.geography == geography and f.indicator == indicator
                and (not levels or f.level in levels) and (year is None or f.year == year)]

    def one(self, geography: str, indicator: str, *, levels: Sequence[str] = (),
            year: str | None = None) -> Figure | None:
        """The first numeric figure matching, or None."""
        found = [f for f in self.find(geography, indicator, levels=levels, year=year)
                 if f.number() is not None]
        return found[0] if found else None


def load_rules(path: str | Path = RULES_FILE) -> dict[str, str]:
    """parameter -> value (text) of the estimation rules; InputError naming a missing one."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rules = {r["parameter"]: r["value"] for r in csv.DictReader(fh)}
    problems = [f"{path.name}: parameter '{p}' missing" for p in RULE_PARAMETERS if p not in rules]
    for p in RULE_PARAMETERS:
        if p in rules and p != "made_at":
            try:
                float(rules[p])
            except ValueError:
                problems.append(f"{path.name}: parameter '{p}' value '{rules[p]}' is not a number")
    if problems:
        raise InputError(problems, source=path.name)
    return rules


def load_towns(path: str | Path = TOWNS_FILE) -> dict[str, dict[str, str]]:
    """town id -> its row of data/towns.csv (name_en, oblast)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


# -- arithmetic --------------------------------------------------------------------------------

def _down(x: float, step: float) -> float:
    return round(math.floor(round(x / step, 9)) * step, 6)


def _up(x: float, step: float) -> float:
    return round(math.ceil(round(x / step, 9)) * step, 6)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _row(town: str, name: str, low: float, high: float, most_likely: float | None,
         method: str, sources: Sequence[str], note: str, rules: Mapping[str, str]
         ) -> dict[str, str]:
    """One estimate row, the interval rounded outwards."""
    step = float(rules["rounding"])
    urls = list(dict.fromkeys(sources))
    return {"town": town, "input": name, "low": _fmt(_down(low, step)),
            "high": _fmt(_up(high, step)),
            "most_likely": "" if most_likely is None else _fmt(round(most_likely, 2)),
            "coverage": rules["coverage"], "method": method, "sources": " ; ".join(urls),
            "made_by": MADE_BY, "made_at": rules["made_at"], "note": note}


def _town_sources(ev: Evidence, indicators: Sequence[str]) -> list[str]:
    """The sources of every town figure of ``indicators``: the evidence a spread rests on."""
    return [f.url for f in ev.figures if f.level == "town" and f.indicator in indicators]


def _ratio(ev: Evidence, oblast: str, indicator: str, year: str) -> tuple[float, list[str]]:
    """Oblast / national value of a year, and the sources."""
    o, n = ev.one(oblast, indicator, year=year), ev.one("Kazakhstan", indicator, year=year)
    if o is None or n is None:
        raise InputError([f"estimates_evidence.csv: no {indicator} {year} for '{oblast}' or "
                          "Kazakhstan; the spread rule needs both"], source="estimates evidence")
    return float(o.value) / float(n.value), [o.url, n.url]


# -- the rules ---------------------------------------------------------------------------------

def natural_growth(town: str, name: str, ev: Evidence, rules: Mapping[str, str]
                   ) -> dict[str, str] | None:
    """``town_figure_pm``: the 2023 rate of the town administration or district +- h."""
    f = ev.one(name, "natural_growth_rate", levels=("town", "district"), year="2023")
    if f is None:
        return None
    v, h = float(f.value), float(rules["natural_growth_half_width"])
    scope = "district scope" if f.level == "district" else "town administration"
    return _row(town, "demo_natural_growth", v - h, v + h, v, "town_figure_pm", [f.url],
                f"2023 rate {f.value} per 1000 ({scope}) +- {h:g}", rules)


def _oblast_population(ev: Evidence, oblast: str) -> tuple[float, str] | None:
    """The oblast's population: its population row, else the district compilation's sum (the
    arithmetic note of its 2023 natural growth rate)."""
    pop = ev.one(oblast, "population", levels=("oblast",))
    if pop is not None:
        return float(pop.value), pop.url
    growth = ev.one(oblast, "natural_growth_rate", levels=("oblast",), year="2023")
    found = re.search(r'sum of "Population" \((\d+)\)', growth.note) if growth else None
    return (float(found.group(1)), growth.url) if found and growth else None


def active_share(town: str, oblast: str, ev: Evidence, rules: Mapping[str, str]
                 ) -> dict[str, str]:
    """``oblast_figure_pm`` (labour force / population of the oblast +- h) or
    ``plausible_range``."""
    lf = ev.one(oblast, "labour_force", levels=("oblast",))
    pop = _oblast_population(ev, oblast) if lf else None
    if lf is not None and pop is not None:
        share, h = float(lf.value) * 1000 / pop[0] * 100, float(rules["active_share_half_width"])
        return _row(town, "demo_active_share", share - h, share + h, share, "oblast_figure_pm",
                    [lf.url, pop[1]], f"{oblast} labour force {lf.value} thousand ({lf.year}) / "
                    f"population {pop[0]:.0f} = {share:.2f} % +- {h:g}", rules)
    national = ev.one("Kazakhstan", "labour_force_share_of_population", levels=("national",))
    ml = float(national.value) if national else None
    lo, hi = float(rules["active_share_low"]), float(rules["active_share_high"])
    return _row(town, "demo_active_share", lo, hi, ml, "plausible_range",
                [national.url] if national else [],
                f"no labour-force figure for {oblast}: the whole plausible range; national "
                f"2022 = {national.value if national else '?'} %", rules)


def unemployment(town: str, name: str, oblast: str, ev: Evidence, rules: Mapping[str, str]
                 ) -> dict[str, str]:
    """``dated_town_index_widened`` from a dated town rate, else ``town_index_spread``."""
    for f in ev.find(name, "unemployment_rate", levels=("town",)):
        ref = ev.one(oblast, "unemployment_rate", levels=("oblast",), year=f.year)
        if f.number() is None or ref is None or not f.year.isdigit():
            continue
        index = 100 * float(f.value) / float(ref.value)
        age = float(rules["reference_year"]) - int(f.year)
        h = float(rules["index_drift_per_year"]) * age
        return _row(town, "social_unemployment", index - h, index + h, index,
                    "dated_town_index_widened", [f.url, ref.url],
                    f"{name} {f.value} % ({f.year}) / {oblast} {ref.value} % = index "
                    f"{index:.1f} +- {rules['index_drift_per_year']} per year for {age:g} years",
                    rules)
    r, urls = _ratio(ev, oblast, "unemployment_rate", "2022")
    lo, hi = float(rules["unemployment_index_low"]), float(rules["unemployment_index_high"])
    return _row(town, "social_unemployment", lo * min(1.0, r), hi * max(1.0, r), None,
                "town_index_spread", urls + _town_sources(ev, ("unemployment_rate",)),
                f"town indices [{lo:g}, {hi:g}] widened by {oblast}/national 2022 = {r:.3f}",
                rules)


def avg_wage(town: str, oblast: str, ev: Evidence, rules: Mapping[str, str]) -> dict[str, str]:
    """``town_index_spread`` with the oblast/national 2022 wage ratio."""
    r, urls = _ratio(ev, oblast, "avg_monthly_nominal_wage", WAGE_2022)
    lo, hi = float(rules["wage_index_low"]), float(rules["wage_index_high"])
    return _row(town, "social_avg_wage", lo * min(1.0, r), hi * max(1.0, r), None,
                "town_index_spread",
                urls + _town_sources(ev, ("avg_monthly_nominal_wage", "avg_wage_vs_national")),
                f"town indices [{lo:g}, {hi:g}] widened by {oblast}/national 2022 = {r:.3f}",
                rules)


def estimate_town(town: str, towns: Mapping[str, Mapping[str, str]], ev: Evidence,
                  rules: Mapping[str, str]) -> list[dict[str, str]]:
    """Every estimate the rules give one town (input order of data/method/inputs.csv)."""
    if town not in towns:
        raise InputError([f"town '{town}' is not in data/towns.csv"], source="towns.csv")
    name, oblast = towns[town]["name_en"], towns[town]["oblast"]
    rows = [unemployment(town, name, oblast, ev, rules), avg_wage(town, oblast, ev, rules),
            natural_growth(town, name, ev, rules), active_share(town, oblast, ev, rules)]
    return [r for r in rows if r is not None]


def build(town_ids: Sequence[str] | None = None, *, evidence: Evidence | None = None,
          towns: Mapping[str, Mapping[str, str]] | None = None,
          rules: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """The estimate rows of the given towns (default: every town of data/towns.csv)."""
    ev, towns = evidence or Evidence.load(), towns or load_towns()
    rules = rules or load_rules()
    ids = list(towns) if town_ids is None else list(town_ids)
    return [row for t in ids for row in estimate_town(t, towns, ev, rules)]


def write(rows: Sequence[Mapping[str, Any]], path: str | Path | TextIO) -> None:
    """Write estimate rows as CSV (``COLUMNS``) to a path or an open text stream."""
    if not isinstance(path, (str, Path)):
        writer = csv.DictWriter(path, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        write(rows, fh)


def build_missing(statistics: Mapping[str, Mapping[str, Mapping[str, str]]],
                  **kw: Any) -> list[dict[str, str]]:
    """``build`` without the rows of inputs a town has a sourced value of (``statistics``:
    town -> input -> row, scoring.loaders.load_values): the rows of data/estimates.csv."""
    def sourced(row: Mapping[str, str]) -> bool:
        found = statistics.get(row["town"], {}).get(row["input"])
        return found is not None and bool(found["value"].strip())

    return [r for r in build(**kw) if not sourced(r)]
