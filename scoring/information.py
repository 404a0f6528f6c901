"""What to collect next: the expected value of information of each missing input (issue 22, item 6).

With estimates, each town's outcome is uncertain: the draws of
:func:`scoring.estimates.draw_masks` give it a distribution over outcomes (a scenario, or a
combination or tie). Its *uncertainty* here is the share of draws outside its modal outcome,
``1 - max_o P(o)``: the chance that the likely outcome is not the one the draws give (the loss of a
planner who acts on the likely outcome, counted 0 or 1).

The expected value of information (EVI) of learning something ``X`` is the expected drop of that
share once ``X`` is known::

    EVI(X) = (1 - max_o P(o)) - E_x[1 - max_o P(o | X = x)]

(never negative: an expectation of maxima is at least the maximum of expectations). ``x`` runs over
what ``X`` may turn out to be under the same assumptions as the draws:

- an estimated input: its interval's distribution (uniform, or triangular with most_likely), at
  ``points`` equally likely quantiles ``(k + 0.5) / points``;
- an indicator nothing informs (no value and no estimate of a level): each of its bands, equally
  likely (the uniform draw of the band, the exact part's assumption). Its EVI is that of collecting
  every missing input of the indicator.

Every conditional run uses the same random numbers as the unconditional one (draw by draw), so a
town that ``X`` does not touch gets exactly 0. With a finite number of draws the maxima are slightly
biased upwards, so an EVI of a few thousandths is noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import kernel
from .estimates import DRAWS, NON_SPATIAL, SEED, Estimate, _quantile, draw_masks
from .method import Method

POINTS = 10  # quantiles of an interval at which an input is fixed
DIGITS = 4


def outside_modal(masks: np.ndarray) -> np.ndarray:
    """(draws, towns) outcome masks -> per town the share of draws outside its modal outcome."""
    out = np.empty(masks.shape[1])
    for t in range(masks.shape[1]):
        counts = np.unique(masks[:, t], return_counts=True)[1]
        out[t] = 1.0 - counts.max() / masks.shape[0]
    return out


def _at(e: Estimate, q: float) -> Estimate:
    """The estimate fixed at its ``q`` quantile (a point interval)."""
    x = float(_quantile(np.array([q]), e)[0])
    return dataclasses.replace(e, low=x, high=x, most_likely=None)


def uninformed(
    base: Mapping[str, Sequence[float | None]],
    intervals: Sequence[Mapping[str, Estimate]],
    method: Method,
) -> dict[str, list[int]]:
    """Levelled code -> the towns (positions) whose level neither a value nor an estimate gives."""
    cols: dict[str, Any] = {}
    for name in method.inputs:
        x = [np.nan if v is None else float(v) for v in base[name]]
        for t, est in enumerate(intervals):
            if name in est and np.isnan(x[t]):
                x[t] = (est[name].low + est[name].high) / 2  # only "has a level" matters
        cols[name] = x
    levels = kernel.levels(kernel.indices(cols, method)[0], method)
    return {
        code: [int(t) for t in np.flatnonzero(pos == kernel.MISSING)]
        for code, pos in levels.items()
    }


def value_of_information(
    base: Mapping[str, Sequence[float | None]],
    intervals: Sequence[Mapping[str, Estimate]],
    method: Method,
    towns: Sequence[str],
    *,
    draws: int = DRAWS,
    seed: int = SEED,
    points: int = POINTS,
    kinds: Sequence[str] = NON_SPATIAL,
) -> list[dict[str, Any]]:
    """The EVI of each estimated input and of each indicator nothing informs, largest total first.

    Parameters
    ----------
    base : input -> value per town (None = missing).
    intervals : per town, the estimates it uses (scoring.estimates.used).
    towns : the towns' ids, in the order of ``intervals``.
    draws, seed, kinds : as :func:`scoring.estimates.draw_masks`.
    points : quantiles per interval (at least 1).

    Returns
    -------
    list of dict
        ``kind`` (input or indicator), ``name``, ``total`` (the sum of the towns' EVI: the expected
        number of towns' draws, in towns, that knowing it would bring to their modal outcome),
        ``towns`` ({town id: EVI} for the towns it concerns, largest first) and ``uncertainty``
        ({town id: share outside the modal outcome now}).
    """
    if points < 1:
        raise ValueError(f"points must be at least 1, got {points}")

    def run(
        iv: Sequence[Mapping[str, Estimate]], fixed: Mapping[str, int] | None = None
    ) -> np.ndarray:
        return outside_modal(
            draw_masks(base, iv, method, draws=draws, seed=seed, kinds=kinds, fixed_levels=fixed)
        )

    now = run(intervals)
    found: list[tuple[str, str, list[int], np.ndarray]] = []
    for name in sorted({n for est in intervals for n in est}):
        where = [t for t, est in enumerate(intervals) if name in est]
        after = np.mean(
            [
                run(
                    [
                        {**est, name: _at(est[name], (k + 0.5) / points)} if name in est else est
                        for est in intervals
                    ]
                )
                for k in range(points)
            ],
            axis=0,
        )
        found.append(("input", name, where, now - after))
    for code, where in uninformed(base, intervals, method).items():
        if where:
            bands = range(len(method.indicators[code].bands))
            after = np.mean([run(intervals, {code: b}) for b in bands], axis=0)
            found.append(("indicator", code, where, now - after))
    out = []
    for kind, name, where, gain in found:
        per = {towns[t]: round(float(gain[t]), DIGITS) + 0.0 for t in where}  # no -0.0
        out.append(
            {
                "kind": kind,
                "name": name,
                "total": round(float(sum(gain[t] for t in where)), DIGITS),
                "towns": dict(sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))),
                "uncertainty": {towns[t]: round(float(now[t]), DIGITS) for t in where},
            }
        )
    return sorted(out, key=lambda r: (-r["total"], r["kind"], r["name"]))


def atlas_value_of_information(
    atlas: Mapping[str, Any],
    estimates: Mapping[str, Mapping[str, Estimate]],
    method: Method,
    **options: Any,
) -> list[dict[str, Any]]:
    """:func:`value_of_information` for a scored atlas (its towns' inputs) and an estimate table."""
    from .estimates import used

    towns = atlas["towns"]
    rows = [t["inputs"] for t in towns]
    intervals = [used(t["inputs"], estimates.get(t["id"], {})) for t in towns]
    return value_of_information(
        {n: [r[n] for r in rows] for n in method.inputs},
        intervals,
        method,
        [t["id"] for t in towns],
        **options,
    )
