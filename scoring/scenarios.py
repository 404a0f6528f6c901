"""Scenario suitability from the six levels, by the rule in data/method/scenario_rules.csv.

The scores and the qualifying scenarios come from :mod:`scoring.kernel` (one row); this module says
them in words: the recommendation, the tie, and every '+' with the rule's rationale.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import kernel
from .method import Method

Scores = Mapping[str, int]


def score_scenarios(levels: Mapping[str, str | None], method: Method) -> dict[str, Any]:
    """Count, per scenario, the indicators whose level the rule marks '+'.

    Returns {"scores", "recommended", "tie", "tied", "summary", "completeness", "available",
    "provisional", "reasons", "explanation"}; missing levels (None) are skipped and reported
    through completeness. ``tie`` is true when more scenarios qualify (score within
    ``recommend_margin`` of the top) than ``recommend_max`` allows; ``tied`` then lists all of them
    in rule order (else []), while ``recommended`` keeps its cut list for backward compatibility.
    ValueError for a level that is not a band of its indicator.
    """
    levelled = method.levelled
    pos = {c: kernel.position_of(c, levels.get(c), method) for c in levelled}
    available = [c for c in levelled if pos[c] != kernel.MISSING]
    tables = kernel.vote_tables(method)
    row = kernel.scores(pos, method, tables)
    scores = {s: int(v) for s, v in zip(method.rules, row)}
    reasons = _reasons(pos, levels, tables, method)
    mask = int(kernel.outcome(row, pos, kernel.margin_of(method)))
    close = kernel.members(mask, method)
    recommended = _ordered(close, scores, method)[: method.settings["recommend_max"]]
    tied = close if kernel.is_tie(len(close), method) else []
    completeness = f"{len(available)}/{len(levelled)}"
    summary = summarise(scores, recommended, tied, method) if available else "insufficient data"
    return {
        "scores": scores,
        "recommended": recommended,
        "tie": bool(tied),
        "tied": tied,
        "summary": summary,
        "completeness": completeness,
        "available": available,
        "provisional": len(available) < len(levelled),
        "reasons": reasons,
        "explanation": explain(scores, reasons, summary, completeness, available, method),
    }


def _reasons(pos: Mapping[str, int], levels: Mapping[str, str | None],
             tables: Mapping[str, kernel.ScoreArray], method: Method
             ) -> dict[str, list[dict[str, Any]]]:
    """Per scenario, the indicators that gave it a '+' (the kernel's votes), with the rationale."""
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in method.rules}
    for code, p in pos.items():
        if p == kernel.MISSING:
            continue
        plus = tables[code][p]
        for i, s in enumerate(method.rules):
            if plus[i]:
                out[s].append({"indicator": code, "level": levels[code],
                               "rationale": method.rules[s][code][1]})
    return out


def _ordered(names: list[str], scores: Scores, method: Method) -> list[str]:
    """Highest score first, rule order among equal scores."""
    order = {s: i for i, s in enumerate(method.scenarios)}
    return sorted(names, key=lambda s: (-scores[s], order[s]))


def recommend(scores: Scores, method: Method) -> list[str]:
    """Top scenario, plus the next ones within the margin (at most recommend_max)."""
    return _ordered(qualifying(scores, method), scores, method)[: method.settings["recommend_max"]]


def qualifying(scores: Scores, method: Method) -> list[str]:
    """Every scenario whose score is within ``recommend_margin`` of the top, in rule order.

    Parameters
    ----------
    scores : dict
        Scenario id -> score (non-empty).
    method : Method
        Supplies the scenario order and ``recommend_margin``.

    Returns
    -------
    list of str
        The qualifying scenarios, ordered as in scenarios.csv.
    """
    names = [s for s in method.scenarios if s in scores]
    row = np.array([scores[s] for s in names])
    mask = int(kernel.qualifying_mask(row, kernel.margin_of(method)))
    return [s for i, s in enumerate(names) if mask >> i & 1]


def tied_scenarios(scores: Scores, method: Method) -> list[str]:
    """The qualifying scenarios when there are more than ``recommend_max`` of them, else [].

    Parameters
    ----------
    scores : dict
        Scenario id -> score (non-empty).
    method : Method
        Supplies ``recommend_margin`` and ``recommend_max``.

    Returns
    -------
    list of str
        All qualifying scenarios in rule order when the recommendation would cut some of them.
    """
    close = qualifying(scores, method)
    return close if kernel.is_tie(len(close), method) else []


def _join(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def summarise(scores: Scores, recommended: list[str], tied: list[str], method: Method) -> str:
    """One line: the recommendation, or the tie said as a tie.

    Parameters
    ----------
    scores : dict
        Scenario id -> score.
    recommended : list of str
        The (cut) recommendation.
    tied : list of str
        The tied scenarios ([] when there is no tie).
    method : Method
        Supplies ``recommend_margin``.

    Returns
    -------
    str
        E.g. "recommended: innovative" or
        "no single recommendation: balanced, innovative and diversification tie at 3".
    """
    if not tied:
        return f"recommended: {' + '.join(recommended)}"
    best, margin = max(scores[s] for s in tied), method.settings["recommend_margin"]
    how = f"tie at {best}" if margin == 0 else f"tie within {margin:g} of the top score {best}"
    return f"no single recommendation: {_join(tied)} {how}"


def explain(scores: Scores, reasons: Mapping[str, list[dict[str, Any]]], summary: str,
            completeness: str, available: list[str], method: Method) -> str:
    """The summary, the completeness and every scenario's '+' with the levels that gave them."""
    if not available:
        return "insufficient data: no indicator has a level, so no scenario is recommended"
    parts = []
    for s in sorted(scores, key=lambda s: -scores[s]):
        why = ", ".join(f"{r['level'].replace('_', ' ')} {r['indicator'].replace('_', ' ')}"
                        for r in reasons[s])
        parts.append(f"{s} +{scores[s]}" + (f": {why}" if why else ""))
    head = f"{summary} (from {completeness} indicators"
    head += ", provisional)" if len(available) < len(method.levelled) else ")"
    return head + ". " + "; ".join(parts)


def _ranks(values: list[float]) -> list[float]:
    """Average ranks (1-based), ties share the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (Pearson on average ranks); None if either side is constant."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("spearman needs two sequences of the same length >= 2")
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    if va == 0 or vb == 0:
        return None
    return cov / float((va * vb) ** 0.5)
