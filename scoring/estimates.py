"""Interval estimates of missing inputs, and scoring with them (issue 22).

An estimate says "we do not know the value, but the evidence puts it between ``low`` and
``high``" (data/estimates.csv, built by :mod:`scoring.estimation`). A sourced value always wins:
an estimate is used only where the town's input is missing. Two parts, both through the method
kernel (:mod:`scoring.kernel`):

- exact: every indicator is non-decreasing in each input an estimate may hold (shares, indices and
  rates under a mean, a geometric mean of non-negative values or a root of a sum), so the levels an
  interval can reach are the bands from the index at all lows to the index at all highs; these
  limit the completions of :func:`scoring.uncertainty.assess`, so ``possible`` narrows;
- probable: draws of the estimates within their intervals (uniform, or triangular with
  ``most_likely``) together with the method's uncertain choices of data/method/uncertainty.csv
  (band shifts, the rule's margin, measurement errors of sourced values; the spatial choices stay
  at the run's parameters, ``scoring robustness`` varies them); a level nothing informs (no value,
  no estimate) is drawn uniformly over its bands, the assumption the exact part's completions make.
"""
from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import kernel
from ._errors import InputError
from .method import Method
from .uncertainty import assess

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ESTIMATES_FILE = DATA_DIR / "estimates.csv"
REQUIRED = ("town", "input", "low", "high", "most_likely", "coverage", "method", "sources",
            "made_by", "made_at")
KINDS = ("share", "index", "rate")  # inputs an indicator rises with; counts and totals are not
DRAWS = 1000
SEED = 0
DIGITS = 6
NON_SPATIAL = ("band shift", "rule margin", "measurement error", "dummy")
CONVENTIONS = {
    "sourced wins": "an estimate is used only where the town's sourced value is missing",
    "exact": "the levels an interval can reach (the bands between the index at all lows and at "
             "all highs); possible and settled are those of the completions within them",
    "draws": "estimates drawn within their intervals (uniform, triangular with most_likely), with "
             "the method's band shifts, margin and measurement errors; spatial choices at the "
             "run's parameters",
    "no evidence": "a level without a value or an estimate is drawn uniformly over its bands "
                   "(the evidence cannot justify a distribution; the exact part allows every band)",
    "shares": "a draw whose outcome holds k scenarios (a combination or a tie) gives each 1/k",
    "likely": "the most frequent outcome of the draws and its share",
}


class EstimateError(InputError):
    """An estimates file is invalid (every problem named by file, row and field)."""


@dataclass(frozen=True)
class Estimate:
    """An interval estimate of one input of one town."""

    town: str
    input: str
    low: float
    high: float
    most_likely: float | None
    coverage: float
    method: str
    sources: str
    made_by: str
    made_at: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form shown per town (``estimated``)."""
        return {"low": self.low, "high": self.high, "most_likely": self.most_likely,
                "coverage": self.coverage, "method": self.method, "source": self.sources,
                "made_by": self.made_by, "made_at": self.made_at}


Estimates = dict[str, dict[str, Estimate]]  # town -> input -> estimate


# -- loading -----------------------------------------------------------------------------------

def _number(text: str, field: str, where: str, problems: list[str]) -> float | None:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        problems.append(f"{where} field '{field}': value '{text}' is not a finite number")
        return None
    return x


def _range_text(lo: float | None, hi: float | None) -> str:
    return f"{'-inf' if lo is None else f'{lo:g}'} to {'inf' if hi is None else f'{hi:g}'}"


def parse_row(row: Mapping[str, str], where: str, method: Method,
              towns: Iterable[str] | None, problems: list[str]) -> Estimate | None:
    """One row checked on its own: known town and input, numbers, low <= high inside the input's
    range (data/method/inputs.csv), most_likely inside, coverage in (0, 1], the text fields."""
    before = len(problems)
    town, name = (row.get("town") or "").strip(), (row.get("input") or "").strip()
    allowed = [n for n in method.input_names("statistical") if method.inputs[n].kind in KINDS]
    known = None if towns is None else sorted(towns)
    if known is not None and town not in known:
        problems.append(f"{where} field 'town': '{town}' is not a town; allowed: "
                        f"{', '.join(known)}")
    if name not in allowed:
        problems.append(f"{where} field 'input': '{name}' cannot hold an estimate; allowed: "
                        f"{', '.join(allowed)}")
    low, high, coverage = (_number(row.get(f) or "", f, where, problems)
                           for f in ("low", "high", "coverage"))
    ml_text = (row.get("most_likely") or "").strip()
    ml = _number(ml_text, "most_likely", where, problems) if ml_text else None
    for f in ("method", "sources", "made_by"):
        if not (row.get(f) or "").strip():
            problems.append(f"{where} field '{f}' is empty; allowed: text")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", (row.get("made_at") or "").strip()):
        problems.append(f"{where} field 'made_at': '{row.get('made_at')}'; allowed: a date "
                        "YYYY-MM-DD")
    if coverage is not None and not 0 < coverage <= 1:
        problems.append(f"{where} field 'coverage': {coverage:g}; allowed: above 0, at most 1")
    if low is not None and high is not None and name in allowed:
        spec = method.inputs[name]
        if low > high:
            problems.append(f"{where} fields 'low', 'high': {low:g} > {high:g}; low must not "
                            "exceed high")
        lo_ok = spec.min is None or low >= spec.min
        hi_ok = spec.max is None or high <= spec.max
        if not (lo_ok and hi_ok):
            problems.append(f"{where} fields 'low', 'high': {low:g} to {high:g} outside {name}'s "
                            f"range {_range_text(spec.min, spec.max)}")
        if ml is not None and not low <= ml <= high:
            problems.append(f"{where} field 'most_likely': {ml:g} outside low-high")
    if len(problems) > before or low is None or high is None or coverage is None:
        return None
    return Estimate(town, name, low, high, ml, coverage, row["method"].strip(),
                    row["sources"].strip(), row["made_by"].strip(), row["made_at"].strip())


def load_estimates(path: str | Path = ESTIMATES_FILE, method: Method | None = None, *,
                   towns: Iterable[str] | None = None) -> Estimates:
    """Read and validate an estimates file: town -> input -> Estimate.

    Raises
    ------
    EstimateError
        Every problem, each naming the file, row and field (and the allowed values).
    """
    from .method import load_method

    path, method = Path(path), method or load_method()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if absent:
            raise EstimateError([f"{path.name}: column(s) {', '.join(absent)} missing; required: "
                                 f"{', '.join(REQUIRED)}"], source=path.name)
        rows = list(reader)
    out: Estimates = {}
    problems: list[str] = []
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} row {n}"
        est = parse_row(row, where, method, towns, problems)
        if est is None:
            continue
        if est.input in out.get(est.town, {}):
            problems.append(f"{where}: a second estimate of {est.input} for '{est.town}'")
        out.setdefault(est.town, {})[est.input] = est
    if problems:
        raise EstimateError(problems, source=path.name)
    return out


def used(inputs: Mapping[str, float | None], estimates: Mapping[str, Estimate]
         ) -> dict[str, Estimate]:
    """The estimates a town uses: those of inputs without a value (a sourced value wins)."""
    return {k: e for k, e in estimates.items() if inputs.get(k) is None}


# -- the exact part ----------------------------------------------------------------------------

def leaf_inputs(code: str, method: Method) -> list[str]:
    """The inputs an indicator is computed from, through the indicators it aggregates."""
    out: list[str] = []
    for item in method.indicators[code].inputs:
        for name in (item if isinstance(item, tuple) else (item,)):
            out += leaf_inputs(name, method) if name in method.indicators else [name]
    return out


def _ends(rows: Sequence[Mapping[str, float | None]],
          intervals: Sequence[Mapping[str, Estimate]], method: Method,
          end: str | None) -> dict[str, kernel.IntArray]:
    """Level positions with every input at its value, or where missing at the estimate's ``end``
    (``low`` or ``high``; None: values only)."""
    def value(inputs: Mapping[str, float | None], est: Mapping[str, Estimate],
              name: str) -> float:
        v = inputs.get(name)
        if v is not None:
            return float(v)
        return float(getattr(est[name], end)) if end and name in est else math.nan

    cols = {n: [value(r, e, n) for r, e in zip(rows, intervals)] for n in method.inputs}
    return kernel.levels(kernel.indices(cols, method)[0], method)


def reachable(rows: Sequence[Mapping[str, float | None]],
              intervals: Sequence[Mapping[str, Estimate]], method: Method
              ) -> list[dict[str, list[int]]]:
    """Per town, levelled code -> the band positions its index can reach with the intervals
    (only indicators that have no level from values alone and get one from the intervals).

    Every indicator rises with each input an estimate may hold (``KINDS``), so the reachable bands
    run from the level at all lows to the level at all highs (a root of a negative sum at the low
    end counts as the lowest band)."""
    sourced = _ends(rows, intervals, method, None)
    lo, hi = (_ends(rows, intervals, method, end) for end in ("low", "high"))
    out: list[dict[str, list[int]]] = [{} for _ in rows]
    for code in method.levelled:
        for t in range(len(rows)):
            a, b = int(lo[code][t]), int(hi[code][t])
            if int(sourced[code][t]) != kernel.MISSING or b == kernel.MISSING:
                continue
            out[t][code] = list(range(0 if a == kernel.MISSING else a, b + 1))
    return out


def exact(levels: Mapping[str, str | None], reach: Mapping[str, Sequence[int]],
          est: Mapping[str, Estimate], method: Method) -> dict[str, Any]:
    """The assessment with the intervals' reachable levels, and the estimates it rests on."""
    result = assess(dict(levels), method, reach)
    named = {code: {"levels": [str(kernel.level_name(code, p, method)) for p in pos],
                    "inputs": [n for n in leaf_inputs(code, method) if n in est]}
             for code, pos in reach.items()}
    result["estimated_levels"] = named
    return result


# -- the probable part -------------------------------------------------------------------------

def _quantile(u: np.ndarray, e: Estimate) -> np.ndarray:
    """Inverse CDF of the estimate's distribution (uniform, or triangular with most_likely)."""
    lo, hi = e.low, e.high
    if hi == lo:
        return np.full(u.shape, lo)
    if e.most_likely is None:
        return lo + u * (hi - lo)
    mode = e.most_likely
    cut = (mode - lo) / (hi - lo)
    left = lo + np.sqrt(u * (hi - lo) * (mode - lo))
    right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mode))
    return np.where(u < cut, left, right)


def draw_masks(base: Mapping[str, Sequence[float | None]],
               intervals: Sequence[Mapping[str, Estimate]], method: Method, *,
               draws: int = DRAWS, seed: int = SEED, kinds: Sequence[str] = NON_SPATIAL,
               fixed_levels: Mapping[str, int] | None = None) -> np.ndarray:
    """(draws, towns) outcome masks with estimates and the method's uncertain choices drawn.

    Parameters
    ----------
    base : input -> value per town (None = missing); the run's values.
    intervals : per town, the estimates it uses (inputs whose value is missing).
    draws, seed : number of draws (at least 2) and the seed; the same seed gives the same masks.
    kinds : the kinds of the method's uncertain choices drawn (() : none, the estimates only).
    fixed_levels : levelled code -> band position given to every town whose level nothing
        informs (instead of a uniform draw); the random numbers drawn stay the same, so runs that
        differ only here or in ``intervals`` compare draw by draw (scoring.information).
    """
    from .draws import choice_column, design, load_choices, shifted_bounds, with_error

    choices = tuple(c for c in load_choices(method) if c.kind in kinds)
    rows = design(choices, draws, seed).a
    rng = np.random.default_rng([seed, 22])
    n_towns = len(intervals)
    errors = {c.target: i for i, c in enumerate(choices) if c.kind == "measurement error"}
    values: dict[str, Any] = {}
    for name in method.inputs:
        x = np.array([math.nan if v is None else float(v) for v in base[name]], dtype=float)
        value = with_error(method, name, x, rows[:, errors[name]]) if name in errors else x[None]
        drawn = np.full((draws, n_towns), math.nan)
        u = rng.random((draws, n_towns))
        for t, est in enumerate(intervals):
            if name in est and math.isnan(x[t]):
                drawn[:, t] = _quantile(u[:, t], est[name])
        values[name] = np.where(np.isnan(drawn), value, drawn)
    margin = choice_column(choices, rows, "rule margin", "recommend_margin",
                           kernel.margin_of(method))[:, None]
    bounds = {c: shifted_bounds(method, choices, rows, c) for c in method.levelled}
    ev = kernel.evaluate(values, method, bounds=bounds, margin=margin)
    levels = {}
    for code, pos in ev.levels.items():
        pos = np.broadcast_to(pos, (draws, n_towns))
        fill = rng.integers(0, len(method.indicators[code].bands), size=pos.shape)
        if fixed_levels is not None and code in fixed_levels:
            fill = np.full(pos.shape, fixed_levels[code])
        levels[code] = np.where(pos == kernel.MISSING, fill, pos)
    return kernel.outcome(kernel.scores(levels, method), levels, margin)


def probabilities(masks: np.ndarray, method: Method) -> dict[str, Any]:
    """One town's draws (draws,) -> ``shares`` (scenario -> 1/k share), ``outcomes`` (label ->
    share, most frequent first) and ``likely`` ({scenario: label, share, coloured: whether the share
    reaches method.json's likely_min_share, so the map draws the town in that outcome's colour})."""

    bits = (masks[:, None] >> np.arange(len(method.rules))) & 1
    k = bits.sum(axis=1)
    part = bits / np.where(k > 0, k, 1)[:, None]
    shares = {s: round(float(part[:, i].mean()), DIGITS) for i, s in enumerate(method.rules)}
    values, counts = np.unique(masks, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))
    outcomes = {kernel.outcome_label(int(values[i]), method):
                round(float(counts[i] / len(masks)), DIGITS) for i in order}
    top = next(iter(outcomes))
    shown = outcomes[top] >= float(method.settings.get("likely_min_share", 1.0))
    return {"shares": shares, "outcomes": outcomes,
            "likely": {"scenario": top, "share": outcomes[top], "coloured": shown}}


# -- the atlas with estimates ------------------------------------------------------------------

def with_estimates(atlas: dict[str, Any], estimates: Estimates, method: Method, *,
                   draws: int = DRAWS, seed: int = SEED, source: str = "data/estimates.csv"
                   ) -> dict[str, Any]:
    """The atlas with per town ``estimated`` (the estimates used) and the scenario's exact part
    with intervals (``possible``, ``settled``, ``decisive``..., ``estimated_levels``,
    ``settled_by``, ``without_estimates``) and probable part (``shares``, ``outcomes``,
    ``likely``). Values, levels and the sourced recommendation are unchanged."""
    towns = atlas["towns"]
    rows = [t["inputs"] for t in towns]
    intervals = [used(t["inputs"], estimates.get(t["id"], {})) for t in towns]
    reach = reachable(rows, intervals, method)
    masks = draw_masks({n: [r[n] for r in rows] for n in method.inputs}, intervals, method,
                       draws=draws, seed=seed)
    for t, town in enumerate(towns):
        s = town["scenario"]
        before = {"possible": s["possible"], "settled": s["settled"]}
        ex = exact(town["levels"], reach[t], intervals[t], method)
        settled_by = sorted({n for v in ex["estimated_levels"].values() for n in v["inputs"]}) \
            if ex["settled"] and not s["settled"] else []
        s.update({k: ex[k] for k in ("possible", "settled", "decisive", "decisive_worst",
                                     "decisive_mean", "completions", "estimated_levels")})
        s |= {"settled_by": settled_by, "without_estimates": before}
        s |= probabilities(masks[:, t], method)
        town["estimated"] = {n: e.as_dict() for n, e in intervals[t].items()}
    atlas["parameters"]["estimates"] = {"mode": "with estimates", "file": source,
                                        "draws": draws, "seed": seed, "conventions": CONVENTIONS}
    return atlas
