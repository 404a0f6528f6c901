"""Indicator values of one town with their explanation (the formula with its numbers substituted).

The values come from :mod:`scoring.kernel` (one row); this module only says them in words.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from . import kernel
from .method import Indicator, Method

IndexResult = dict[str, Any]  # {"value", "missing", "substituted", "items"}


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def operand_names(ind: Indicator) -> list[str]:
    """The inputs (or earlier indicators) an indicator reads, count/total pairs flattened."""
    if ind.aggregation == "root_of_item_shares":
        return [n for pair in ind.inputs for n in pair]
    return list(ind.inputs)


def substituted(ind: Indicator, values: Sequence[float],
                items: Sequence[float] | None = None) -> str:
    """The indicator's formula with the numbers in it, e.g. ``sqrt(80 * 27.3)``.

    Parameters
    ----------
    ind : the indicator (its aggregation decides the form).
    values : the operands in the order of ``operand_names(ind)``.
    items : the item shares of a ``root_of_item_shares`` indicator.
    """
    nums = [_fmt(v) for v in values]
    if ind.aggregation == "mean":
        return f"({' + '.join(nums)}) / {len(nums)}"
    if ind.aggregation == "geometric_mean":
        inner = " * ".join(nums)
        return f"sqrt({inner})" if len(nums) == 2 else f"({inner}) ^ (1/{len(nums)})"
    if ind.aggregation == "root_of_sum":
        return f"sqrt({' + '.join(nums)})"
    parts = [f"100 * {nums[i]} / {nums[i + 1]}" for i in range(0, len(nums), 2)]
    return f"sqrt({' + '.join(parts)}) = sqrt({' + '.join(_fmt(i) for i in items or [])})"


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


def compute_indices(inputs: Mapping[str, Any], method: Method) -> dict[str, IndexResult]:
    """All indicators of one town, in method order: code -> {value, missing, substituted, items}.

    ``missing`` names the operands that are None (an input, or an earlier indicator that is itself
    missing); the value, formula and items are then None.

    Raises
    ------
    ValueError
        An indicator cannot be computed although nothing is missing (e.g. a negative sum under a
        root: the validators refuse such inputs).
    """
    return compute_rows([inputs], method)[0]


def compute_rows(rows: Sequence[Mapping[str, Any]], method: Method) -> list[dict[str, IndexResult]]:
    """``compute_indices`` of several towns, with one kernel evaluation for all of them."""
    index, items = kernel.indices(input_columns(rows, method), method)
    return [explained(r, i, index, items, method) for i, r in enumerate(rows)]


def input_columns(rows: Sequence[Mapping[str, Any]], method: Method) -> dict[str, list[float]]:
    """The method's inputs of several towns as columns for the kernel (None -> NaN)."""
    return {n: [_nan(r.get(n)) for r in rows] for n in method.inputs}


def explained(inputs: Mapping[str, Any], row: int, index: Mapping[str, kernel.FloatArray],
              items: Mapping[str, list[kernel.FloatArray]], method: Method
              ) -> dict[str, IndexResult]:
    """Row ``row`` of the kernel's indices as records, with the formula of each in numbers."""
    known: dict[str, Any] = dict(inputs)
    out: dict[str, IndexResult] = {}
    for code, ind in method.indicators.items():
        names = operand_names(ind)
        missing = [n for n in names if known.get(n) is None]
        if missing:
            out[code] = {"value": None, "missing": missing, "substituted": None, "items": None}
            known[code] = None
            continue
        value = float(index[code][row])
        shares = [float(x[row]) for x in items[code]] if code in items else None
        text = substituted(ind, [known[n] for n in names], shares)
        if not math.isfinite(value):
            raise ValueError(f"indicator {code} cannot be computed: {text} is not a finite number")
        out[code] = {"value": value, "missing": [], "substituted": text, "items": shares}
        known[code] = value
    return out
