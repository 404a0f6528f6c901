"""How sure is a recommendation: missing levels as a range of outcomes, and which data would
settle it.

Every missing level (None) may be any band of its indicator (data/method/bands.csv). The grid of
completions is exact and small (at most the product of the band counts, 3 * 6 * 6 * 4 * 4 * 3 = 5184
for the present method): one axis of band positions per missing indicator, scored and judged in one
call of the method kernel (:mod:`scoring.kernel`, the rule of every other path; tests check it
against a brute force over :func:`scoring.scenarios.score_scenarios`).

An *outcome* is the recommended set together with the tie status; a tied outcome counts as
recommending every tied scenario.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import kernel
from .method import Method

Levels = Mapping[str, str | None]  # levelled indicator -> level id, None (or absent) = missing


@dataclass(frozen=True)
class _Grid:
    """All completions of one town's levels.

    ``outcome`` holds, per completion, the set of qualifying scenarios as a bit mask (bit i = the
    i-th scenario of the rule); one axis per missing indicator (axis order = ``missing``, position
    on an axis = band order); a 0-d array when nothing is missing.
    """

    missing: tuple[str, ...]
    outcome: np.ndarray
    n_scenarios: int


def _grid(levels: Mapping[str, str | None], method: Method) -> _Grid:
    """Enumerate every completion of the missing levels (itertools.product order) and its outcome.

    ValueError naming the allowed levels when a known level is not a band of its indicator.
    """
    codes = method.levelled
    missing = tuple(c for c in codes if levels.get(c) is None)
    shape = tuple(len(method.indicators[c].bands) for c in missing)
    pos: dict[str, Any] = {c: kernel.position_of(c, levels[c], method)
                           for c in codes if c not in missing}
    for axis, code in enumerate(missing):  # one axis of band positions per missing indicator
        along = [-1 if a == axis else 1 for a in range(len(shape))]
        pos[code] = np.arange(shape[axis]).reshape(along)
    scores = kernel.scores(pos, method)
    outcome = kernel.outcome(scores, pos, kernel.margin_of(method))
    return _Grid(missing, np.broadcast_to(outcome, shape), len(method.rules))


def _n_scenarios(union: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """How many scenarios each bit mask in ``union`` holds."""
    counts: npt.NDArray[np.int64] = ((union[..., None] >> np.arange(n)) & 1).sum(axis=-1)
    return counts


def _union(outcome: np.ndarray) -> int:
    """Bit mask of every scenario some completion recommends."""
    return int(np.bitwise_or.reduce(outcome, axis=None))


def _per_level(grid: _Grid, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """For each band of missing indicator ``axis``: scenarios still possible, and whether
    settled."""
    ids = np.moveaxis(grid.outcome, axis, 0).reshape(grid.outcome.shape[axis], -1)
    possible = _n_scenarios(np.bitwise_or.reduce(ids, axis=1), grid.n_scenarios)
    settled = (ids == ids[:, :1]).all(axis=1)
    return possible, settled


def _settled(grid: _Grid) -> bool:
    """Every completion gives the same outcome."""
    flat = grid.outcome.reshape(-1)
    return bool((flat == flat[0]).all())


def assess(levels: dict[str, Any], method: Method) -> dict[str, Any]:
    """The range of outcomes a town's missing levels leave open, and the most decisive missing one.

    Parameters
    ----------
    levels : dict
        Levelled indicator -> level id, or None when missing (absent keys count as missing).
    method : Method
        Supplies the bands (the possible levels of a missing indicator) and the scenario rule.

    Returns
    -------
    dict
        ``possible``: scenarios (rule order) that some completion recommends, a tie counting for
        every tied scenario; ``settled``: every completion gives the same outcome (recommended set
        and tie status); ``decisive``: the missing indicator which, once known, minimises the
        worst-case number of possible scenarios left (ties broken by the smaller mean over its
        bands, each band counted once, then by indicator order), with ``decisive_worst`` and
        ``decisive_mean``; all three are None when settled or nothing is missing;
        ``completions``: the number of completions.
    """
    grid = _grid(levels, method)
    union = _union(grid.outcome)
    possible = [s for i, s in enumerate(method.rules) if union >> i & 1]
    settled = _settled(grid)
    out = {"possible": possible, "settled": settled, "decisive": None, "decisive_worst": None,
           "decisive_mean": None, "completions": int(grid.outcome.size)}
    if not settled:
        worst, mean, axis = _decisive(grid)
        out |= {"decisive": grid.missing[axis], "decisive_worst": worst, "decisive_mean": mean}
    return out


def _decisive(grid: _Grid) -> tuple[int, float, int]:
    """(worst, mean, axis) of the missing indicator leaving the fewest possible scenarios once
    known."""
    keys = []
    for axis in range(len(grid.missing)):
        counts, _ = _per_level(grid, axis)
        keys.append((int(counts.max()), float(counts.mean()), axis))
    return min(keys)


def data_needed(levels_by_town: Mapping[str, Levels], method: Method) -> list[dict[str, Any]]:
    """Rank the missing indicators by how many undetermined towns knowing them would settle.

    A town is *unsettled* when its completions give more than one outcome (see :func:`assess`).
    For each unsettled town and each indicator missing there, every band the indicator may take is
    tried:

    - the town is *settled in the worst case* when every band leaves a single outcome (knowing the
      indicator settles the town whatever its value);
    - *settled in the best case* when at least one band does;
    - *narrowed* when every band leaves fewer possible scenarios than the town has now.

    Parameters
    ----------
    levels_by_town : dict of str to dict
        Town -> levels dict (None = missing).
    method : Method
        The scoring method.

    Returns
    -------
    list of dict
        One row per indicator missing in at least one unsettled town: ``indicator``,
        ``towns_settled_worst``, ``towns_settled_best``, ``towns_narrowed`` (counts) and ``towns``,
        the unsettled towns missing it (input order), each {"town", "settled_worst", "settled_best",
        "narrowed", "possible_now", "possible_worst"} (counts of possible scenarios now, and
        at most once the indicator is known). Sorted by most towns settled in the worst case, then
        in the best case, then narrowed, then indicator order.
    """
    rows: dict[str, list[dict[str, Any]]] = {code: [] for code in method.levelled}
    for town, levels in levels_by_town.items():
        grid = _grid(levels, method)
        if _settled(grid):
            continue
        now = int(_n_scenarios(np.array(_union(grid.outcome)), grid.n_scenarios))
        for axis, code in enumerate(grid.missing):
            counts, settled = _per_level(grid, axis)
            rows[code].append({"town": town, "settled_worst": bool(settled.all()),
                               "settled_best": bool(settled.any()),
                               "narrowed": bool((counts < now).all()),
                               "possible_now": now, "possible_worst": int(counts.max())})
    table = [{"indicator": code,
              "towns_settled_worst": sum(t["settled_worst"] for t in towns),
              "towns_settled_best": sum(t["settled_best"] for t in towns),
              "towns_narrowed": sum(t["narrowed"] for t in towns),
              "towns": towns} for code, towns in rows.items() if towns]
    order = {c: i for i, c in enumerate(method.levelled)}
    return sorted(table, key=lambda r: (-r["towns_settled_worst"], -r["towns_settled_best"],
                                        -r["towns_narrowed"], order[r["indicator"]]))


def _after_knowing(grid: _Grid, known: tuple[str, ...]) -> tuple[bool, float]:
    """Once the indicators ``known`` are collected (their values still unknown to us): is the town
    settled whatever they turn out to be, and how many scenarios remain possible on average."""
    axes = tuple(i for i, code in enumerate(grid.missing) if code not in known)
    if not axes:
        return True, 1.0
    out = grid.outcome
    settled = bool((out.max(axis=axes) == out.min(axis=axes)).all())
    union = np.bitwise_or.reduce(out, axis=axes)
    return settled, float(_n_scenarios(np.asarray(union), grid.n_scenarios).mean())


def collection_plan(levels_by_town: Mapping[str, Levels], method: Method) -> list[dict[str, Any]]:
    """A data-collection plan: the indicators to collect, in order, chosen greedily so that each
    step settles the most recommendations whatever the collected values turn out to be (worst
    case), then leaves the fewest possible scenarios on average.

    Returns one row per step: ``indicator``, ``towns_settled`` (unsettled towns that are settled
    once this and the earlier indicators are known), ``towns`` (their ids), ``mean_possible``
    (average number of possible scenarios over the towns that were unsettled at the start).
    """
    grids = {t: _grid(levels, method) for t, levels in levels_by_town.items()}
    open_towns = {t: g for t, g in grids.items() if not _settled(g)}
    candidates = [c for c in method.levelled if any(c in g.missing for g in open_towns.values())]
    plan: list[dict[str, Any]] = []
    known: tuple[str, ...] = ()
    while candidates and open_towns:
        def score(code: str) -> tuple[int, float, list[str]]:
            res = [_after_knowing(g, (*known, code)) for g in open_towns.values()]
            settled = [t for t, (s, _) in zip(open_towns, res) if s]
            return len(settled), -sum(m for _, m in res) / len(res), settled
        best = max(candidates, key=lambda c: score(c)[:2])
        n_settled, neg_mean, towns = score(best)
        known += (best,)
        candidates.remove(best)
        plan.append({"indicator": best, "towns_settled": n_settled, "towns": towns,
                     "mean_possible": round(-neg_mean, 2)})
    return plan
