"""The method kernel: inputs -> indices -> levels -> scenario scores -> outcome, on arrays.

One evaluation serves a town, a completion of missing levels and a robustness draw alike. Every
array holds one value per row (rows = towns, towns x draws or completions: any shapes that
broadcast); NaN is a missing value and level position -1 (``MISSING``) a missing level.

- indices: the aggregations of data/method/indicators.csv, summing or multiplying left to right
  (a sum starts at 0.0, a product at the first value, as Python's ``sum`` and ``math.prod`` do);
- levels: the position of the first band whose upper bound holds the value (bands.csv, upper
  bound inclusive), i.e. the number of upper bounds below it;
- scores: per scenario, the number of indicators whose level the rule marks '+'
  (scenario_rules.csv), read from one vote table per indicator;
- outcome: the qualifying scenarios (score within ``recommend_margin`` of the top) as a bit mask,
  0 when no indicator has a level.

Nothing else in the package decides a value, a level, a '+' or an outcome: ``scoring.engine``
(``Pipeline.run``), ``scoring.uncertainty`` (completions) and ``scoring.robustness`` (draws) call
these functions, and the explanations read the same tables.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import numpy as np
import numpy.typing as npt

from .method import Band, Indicator, Method

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ScoreArray = npt.NDArray[np.int16]
MISSING = -1  # level position of a missing level


@dataclass(frozen=True)
class Evaluation:
    """Everything the method says about each row.

    Attributes
    ----------
    indices : indicator code -> values (NaN = missing), in method order.
    items : code of a ``root_of_item_shares`` indicator -> its item shares (100 * count / total).
    levels : levelled code -> band position (``MISSING`` = no level).
    scores : (..., scenarios) number of '+' per scenario, in rule order.
    mask : (...) bit i set when the i-th scenario qualifies; 0 when no indicator has a level.
    """

    indices: dict[str, FloatArray]
    items: dict[str, list[FloatArray]]
    levels: dict[str, IntArray]
    scores: ScoreArray
    mask: IntArray


# -- indices ------------------------------------------------------------------------------------

def aggregate(kind: str, xs: Sequence[FloatArray]) -> FloatArray:
    """``mean``, ``geometric_mean`` or ``root_of_sum`` of arrays (NaN in, NaN out).

    Parameters
    ----------
    kind : an aggregation of indicators.csv other than ``root_of_item_shares``.
    xs : the operands, in the order of the indicator's inputs.
    """
    if kind == "geometric_mean":
        prod = xs[0]
        for x in xs[1:]:
            prod = prod * x
        return np.sqrt(prod) if len(xs) == 2 else prod ** (1.0 / len(xs))
    total = _sum(xs)
    if kind == "mean":
        return total / len(xs)
    if kind == "root_of_sum":
        return np.sqrt(total)
    raise ValueError(f"aggregation '{kind}' is not one of mean, geometric_mean, root_of_sum")


def _sum(xs: Sequence[FloatArray]) -> FloatArray:
    """Left-to-right sum starting at 0.0 (as Python's ``sum``: 0.0 + -0.0 is 0.0)."""
    total: FloatArray = np.float64(0.0) + xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def item_shares(ind: Indicator, known: Mapping[str, FloatArray]) -> list[FloatArray]:
    """The items of a ``root_of_item_shares`` indicator: 100 * count / total each."""
    return [100.0 * known[count] / known[total] for count, total in ind.inputs]


def indices(values: Mapping[str, npt.ArrayLike], method: Method
            ) -> tuple[dict[str, FloatArray], dict[str, list[FloatArray]]]:
    """Every indicator of the method, in its order, from input arrays (NaN = missing).

    Returns
    -------
    (indices, items) : code -> values; code -> item shares (``root_of_item_shares`` only).
    A negative sum under a root gives NaN (the validators refuse such inputs before).
    """
    known: dict[str, FloatArray] = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    out: dict[str, FloatArray] = {}
    items: dict[str, list[FloatArray]] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for code, ind in method.indicators.items():
            if ind.aggregation == "root_of_item_shares":
                items[code] = item_shares(ind, known)
                out[code] = np.sqrt(_sum(items[code]))
            else:
                out[code] = aggregate(ind.aggregation, [known[n] for n in ind.inputs])
            known[code] = out[code]
    return out, items


# -- levels -------------------------------------------------------------------------------------

def band_bounds(bands: Sequence[Band]) -> FloatArray:
    """The upper bounds of all bands but the last (open-ended) one."""
    return np.array([b.upper for b in bands[:-1]], dtype=np.float64)


def upper_bounds(method: Method, code: str) -> FloatArray:
    """The upper bounds of an indicator's bands but the last (``band_bounds``)."""
    return band_bounds(method.indicators[code].bands)


def positions(value: npt.ArrayLike, bounds: npt.ArrayLike) -> IntArray:
    """Band position of each value: the number of upper bounds below it; NaN -> ``MISSING``.

    Parameters
    ----------
    value : (...) values.
    bounds : (..., bands - 1) finite upper bounds, broadcasting against ``value[..., None]``.
    """
    v = np.asarray(value, dtype=np.float64)
    pos = (v[..., None] > np.asarray(bounds, dtype=np.float64)).sum(axis=-1)
    return np.where(np.isnan(v), MISSING, pos).astype(np.int64)


def levels(index: Mapping[str, FloatArray], method: Method,
           bounds: Mapping[str, FloatArray] | None = None) -> dict[str, IntArray]:
    """Band position of every levelled indicator; ``bounds`` replaces an indicator's bounds."""
    bounds = bounds or {}
    return {code: positions(index[code], bounds.get(code, upper_bounds(method, code)))
            for code in method.levelled}


def position_of(code: str, level: str | None, method: Method) -> int:
    """The band position of a level id (None -> ``MISSING``); ValueError naming allowed levels."""
    if level is None:
        return MISSING
    names = [b.level for b in method.indicators[code].bands]
    if level not in names:
        raise ValueError(f"level '{level}' is not a band of {code}; allowed: {', '.join(names)}")
    return names.index(level)


def level_name(code: str, position: int, method: Method) -> str | None:
    """The level id at a band position (``MISSING`` -> None); the inverse of ``position_of``."""
    return None if position == MISSING else method.indicators[code].bands[position].level


# -- scenario scores and outcome ----------------------------------------------------------------

def votes(method: Method, code: str) -> ScoreArray:
    """(bands + 1, scenarios) 0/1: does the rule give '+' at each band; the last row (position -1)
    is a missing level and votes for nothing."""
    rows = [[int(code in rule and band.level in rule[code][0]) for rule in method.rules.values()]
            for band in method.indicators[code].bands]
    return np.array(rows + [[0] * len(method.rules)], dtype=np.int16)


def vote_tables(method: Method) -> dict[str, ScoreArray]:
    """``votes`` of every levelled indicator."""
    return {code: votes(method, code) for code in method.levelled}


def scores(level: Mapping[str, npt.ArrayLike], method: Method,
           tables: Mapping[str, ScoreArray] | None = None) -> ScoreArray:
    """(..., scenarios) number of '+' per scenario from band positions (``MISSING``: no vote).

    ``tables`` are the method's ``vote_tables`` when the caller has them already.
    """
    pos = {c: np.asarray(level[c], dtype=np.int64) for c in method.levelled if c in level}
    shape = np.broadcast_shapes(*(p.shape for p in pos.values())) if pos else ()
    out = np.zeros((*shape, len(method.rules)), dtype=np.int16)
    for code, p in pos.items():
        out += (tables[code] if tables else votes(method, code))[p]
    return out


def qualifying_mask(score: npt.ArrayLike, margin: npt.ArrayLike) -> IntArray:
    """Bit mask of the scenarios whose score is within ``margin`` of the top, per row.

    Parameters
    ----------
    score : (..., scenarios) scores.
    margin : scalar or (...) ``recommend_margin`` per row.
    """
    s = np.asarray(score)
    best = s.max(axis=-1, keepdims=True)
    qualify = s >= best - np.asarray(margin)[..., None]
    mask: IntArray = qualify.astype(np.int64) @ (1 << np.arange(s.shape[-1], dtype=np.int64))
    return mask


def outcome(score: npt.ArrayLike, level: Mapping[str, npt.ArrayLike],
            margin: npt.ArrayLike) -> IntArray:
    """The qualifying mask, 0 where no indicator has a level (insufficient data)."""
    mask = qualifying_mask(score, margin)
    available = np.zeros(mask.shape, dtype=bool)
    for p in level.values():
        available = available | (np.asarray(p) != MISSING)
    return np.where(available, mask, 0).astype(np.int64)


def members(mask: int, method: Method) -> list[str]:
    """The scenarios of a bit mask, in rule order."""
    return [s for i, s in enumerate(method.rules) if mask >> i & 1]


def is_tie(n_qualifying: int, method: Method) -> bool:
    """More scenarios qualify than ``recommend_max`` allows: no single recommendation."""
    return n_qualifying > int(method.settings["recommend_max"])


def margin_of(method: Method) -> float:
    """The method's ``recommend_margin``."""
    return float(method.settings["recommend_margin"])


# -- everything at once -------------------------------------------------------------------------

def evaluate(values: Mapping[str, npt.ArrayLike], method: Method, *,
             bounds: Mapping[str, FloatArray] | None = None,
             margin: npt.ArrayLike | None = None) -> Evaluation:
    """Indices, levels, scores and outcome of every row.

    Parameters
    ----------
    values : input name -> values (NaN = missing); arrays broadcast against each other.
    method : the method tables.
    bounds : levelled code -> (..., bands - 1) upper bounds replacing the method's (a band shift).
    margin : scalar or per-row ``recommend_margin`` (default: the method's), broadcasting
        against the rows (e.g. (draws, 1) for (draws, towns) rows).
    """
    index, items = indices(values, method)
    level = levels(index, method, bounds)
    score = scores(level, method)
    mask = outcome(score, level, margin_of(method) if margin is None else margin)
    return Evaluation(index, items, level, score, mask)


def outcome_label(mask: int, method: Method) -> str:
    """'innovative', 'innovative + diversification', 'tie: a/b/c' or 'insufficient data'."""
    names = members(mask, method)
    if not names:
        return "insufficient data"
    if is_tie(len(names), method):
        return "tie: " + "/".join(names)
    return " + ".join(names)
