"""Indicator values from validated inputs: one small kernel per aggregation."""
from __future__ import annotations

import math

from .method import Indicator, Method


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _mean(values):
    return sum(values) / len(values)


def _geometric_mean(values):
    return math.sqrt(math.prod(values)) if len(values) == 2 else math.prod(values) ** (1.0 / len(values))


def _root_of_sum(values):
    return math.sqrt(sum(values))


def item_share(count: float, total: float) -> float:
    """One investment item: 100 * count / total."""
    return 100.0 * count / total


def _substituted(ind: Indicator, names: list[str], values: list[float], items=None) -> str:
    nums = [_fmt(v) for v in values]
    if ind.aggregation == "mean":
        return f"({' + '.join(nums)}) / {len(nums)}"
    if ind.aggregation == "geometric_mean":
        inner = " * ".join(nums)
        return f"sqrt({inner})" if len(nums) == 2 else f"({inner}) ^ (1/{len(nums)})"
    if ind.aggregation == "root_of_sum":
        return f"sqrt({' + '.join(nums)})"
    parts = [f"100 * {_fmt(c)} / {_fmt(t)}" for c, t in items]
    return f"sqrt({' + '.join(parts)})"


def compute_one(ind: Indicator, known: dict) -> dict:
    """Compute one indicator from ``known`` (inputs and earlier indicators, None = missing).

    Returns {"value", "missing": [...], "substituted", "items"}.
    """
    if ind.aggregation == "root_of_item_shares":
        names = [n for pair in ind.inputs for n in pair]
        missing = [n for n in names if known.get(n) is None]
        if missing:
            return {"value": None, "missing": missing, "substituted": None, "items": None}
        pairs = [(known[c], known[t]) for c, t in ind.inputs]
        items = [item_share(c, t) for c, t in pairs]
        value = math.sqrt(sum(items))
        return {"value": value, "missing": [], "items": items,
                "substituted": _substituted(ind, names, [], pairs) + f" = sqrt({' + '.join(_fmt(i) for i in items)})"}
    names = list(ind.inputs)
    missing = [n for n in names if known.get(n) is None]
    if missing:
        return {"value": None, "missing": missing, "substituted": None, "items": None}
    values = [known[n] for n in names]
    kernel = {"mean": _mean, "geometric_mean": _geometric_mean, "root_of_sum": _root_of_sum}[ind.aggregation]
    return {"value": kernel(values), "missing": [], "items": None,
            "substituted": _substituted(ind, names, values)}


def compute_indices(inputs: dict, method: Method) -> dict:
    """All indicators in method order. Returns code -> compute_one() result."""
    known = dict(inputs)
    out = {}
    for code, ind in method.indicators.items():
        res = compute_one(ind, known)
        out[code] = res
        known[code] = res["value"]
    return out
