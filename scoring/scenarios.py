"""Scenario suitability from the six levels, by the rule in data/method/scenario_rules.csv."""
from __future__ import annotations

from .method import Method


def score_scenarios(levels: dict, method: Method) -> dict:
    """Count, per scenario, the indicators whose level the rule marks '+'.

    Returns {"scores", "recommended", "completeness", "available", "provisional", "reasons",
    "explanation"}; missing levels (None) are skipped and reported through completeness.
    """
    levelled = method.levelled
    available = [c for c in levelled if levels.get(c) is not None]
    scores, reasons = {}, {}
    for scenario, rule in method.rules.items():
        plus = [(ind, levels[ind]) for ind in available
                if ind in rule and levels[ind] in rule[ind][0]]
        scores[scenario] = len(plus)
        reasons[scenario] = [{"indicator": ind, "level": lv, "rationale": rule[ind][1]} for ind, lv in plus]
    recommended = recommend(scores, method) if available else []
    completeness = f"{len(available)}/{len(levelled)}"
    return {
        "scores": scores,
        "recommended": recommended,
        "completeness": completeness,
        "available": available,
        "provisional": len(available) < len(levelled),
        "reasons": reasons,
        "explanation": explain(scores, reasons, recommended, completeness, available, method),
    }


def recommend(scores: dict, method: Method) -> list[str]:
    """Top scenario, plus the next ones within the margin (at most recommend_max)."""
    margin = method.settings["recommend_margin"]
    order = {s: i for i, s in enumerate(method.scenarios)}
    best = max(scores.values())
    close = [s for s in scores if scores[s] >= best - margin]
    close.sort(key=lambda s: (-scores[s], order[s]))
    return close[: method.settings["recommend_max"]]


def explain(scores, reasons, recommended, completeness, available, method) -> str:
    if not available:
        return "insufficient data: no indicator has a level, so no scenario is recommended"
    parts = []
    for s in sorted(scores, key=lambda s: -scores[s]):
        why = ", ".join(f"{r['level'].replace('_', ' ')} {r['indicator'].replace('_', ' ')}" for r in reasons[s])
        parts.append(f"{s} +{scores[s]}" + (f": {why}" if why else ""))
    head = f"recommended: {' + '.join(recommended)} (from {completeness} indicators"
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
    return cov / (va * vb) ** 0.5
