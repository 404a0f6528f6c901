"""Reproduce the paper's three towns: printed vs recomputed values and levels, with the errata."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from .engine import DATA_DIR, evaluate_records, load_expert_judgments, read_csv_records
from .method import Indicator, Method, load_method
from .scenarios import score_scenarios, spearman

PAPER_DIR = DATA_DIR / "paper"
PAPER_SOURCE = ("Maimurunova A., Auezova Z., Daniyarova M., Imramziyeva M. (2025), Bulletin of "
                "KazUEFIT No. 1 (58), pp. 372-380, Tables 2-5")
PAPER_INPUTS = "data/paper/inputs.csv"


def printed_tolerance(printed: str) -> float:
    """One unit of the last printed digit: covers both rounding and the paper's truncation."""
    exponent = Decimal(printed.strip()).as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N' or 'F': NaN or infinity
        raise ValueError(f"printed value '{printed}' is not a finite number")
    return 10.0 ** exponent


def load_paper(paper_dir: Path | None = None) -> dict[str, Any]:
    d = Path(paper_dir) if paper_dir else PAPER_DIR
    return {
        "inputs": read_csv_records(d / "inputs.csv"),
        "printed": read_csv_records(d / "printed.csv"),
        "table5": {r["town"]: r for r in read_csv_records(d / "table5.csv")},
        "errata": {(r["town"], r["output"], r["table"]): r
                   for r in read_csv_records(d / "errata.csv")},
    }


def recomputed_value(result: dict[str, Any], output: str) -> float:
    """The recomputed figure the paper prints as ``output`` (an indicator, or
    investment_item_<n>)."""
    if output.startswith("investment_item_"):
        item = int(output.rsplit("_", 1)[1]) - 1
        return float(result["details"]["investment"]["items"][item])
    return float(result["indices"][output])


def compare(method: Method | None = None,
            paper: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per printed figure: printed and recomputed value and level, flags and the reason."""
    method = method or load_method()
    paper = paper or load_paper()
    results = {r["town"]: r for r in evaluate_records(paper["inputs"], method, source=PAPER_INPUTS)}
    rows = []
    for p in paper["printed"]:
        res = results[p["town"]]
        value = recomputed_value(res, p["output"])
        level = res["levels"].get(p["output"]) if p["output"] in method.levelled else None
        tol = printed_tolerance(p["printed"])
        value_differs = not abs(value - float(p["printed"])) < tol
        level_differs = bool(p["printed_level"]) and p["printed_level"] != level
        erratum = paper["errata"].get((p["town"], p["output"], p["table"]))
        rows.append({
            "town": p["town"], "output": p["output"], "table": p["table"],
            "printed": p["printed"], "printed_level": p["printed_level"] or None,
            "recomputed": value, "recomputed_level": level, "tolerance": tol,
            "value_differs": value_differs, "level_differs": level_differs,
            "reason": erratum["reason"] if erratum else None,
            "found_by": erratum["found_by"] if erratum else None,
            "note": p["note"],
        })
    return rows


def paper_levels(paper: dict[str, Any], town: str, *,
                 prefer_table: str = "Table 3") -> dict[str, str]:
    """The six levels as the paper prints them (Table 2-4, or Table 5 where they disagree)."""
    rows = [r for r in paper["printed"] if r["town"] == town and r["printed_level"]]
    levels: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r["table"] != prefer_table):
        levels.setdefault(r["output"], r["printed_level"])
    return levels


def scenario_comparison(method: Method | None = None,
                        paper: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per town: the paper's '+' counts, the rule's scores from the paper's levels and from the
    recomputed levels, and Spearman's rank correlation of each with the paper."""
    method = method or load_method()
    paper = paper or load_paper()
    results = {r["town"]: r for r in evaluate_records(paper["inputs"], method, source=PAPER_INPUTS)}
    out = []
    for town, t5 in paper["table5"].items():
        plus = {s: int(t5[s]) for s in method.scenarios}
        from_paper = score_scenarios(paper_levels(paper, town), method)
        from_recomputed = results[town]["scenario"]
        order = list(method.scenarios)
        out.append({
            "town": town, "paper_plus": plus, "paper_note": t5.get("note") or "",
            "paper_levels": paper_levels(paper, town),
            "from_paper_levels": {"scores": from_paper["scores"],
                                  "recommended": from_paper["recommended"],
                                  "explanation": from_paper["explanation"]},
            "from_recomputed_levels": {"scores": from_recomputed["scores"],
                                       "recommended": from_recomputed["recommended"],
                                       "explanation": from_recomputed["explanation"]},
            "spearman_paper_levels": spearman([plus[s] for s in order],
                                              [from_paper["scores"][s] for s in order]),
            "spearman_recomputed_levels": spearman([plus[s] for s in order],
                                                   [from_recomputed["scores"][s] for s in order]),
        })
    return out


def _f(x: object, nd: int = 4) -> str:
    if x is None:
        return "-"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def _bands_line(ind: Indicator) -> str:
    """'low <= 35 < medium <= 70 < high'."""
    return " < ".join(f"{b.level} <= {b.upper:g}" if b.upper != float("inf") else b.level
                      for b in ind.bands)


def _figure_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per town, a table of every printed figure beside the recomputed one, flagged."""
    head = (f"{'town':9} {'output':18} {'table':8} {'printed':>8} {'printed level':14} "
            f"{'recomputed':>11} {'level':14} flag")
    lines = []
    for town in dict.fromkeys(r["town"] for r in rows):
        lines += [head, "-" * len(head)]
        for r in (x for x in rows if x["town"] == town):
            flag = ["VALUE"] * r["value_differs"] + ["LEVEL"] * r["level_differs"]
            lines.append(f"{r['town']:9} {r['output']:18} {r['table']:8} {r['printed']:>8} "
                         f"{_f(r['printed_level']):14} {_f(r['recomputed']):>11} "
                         f"{_f(r['recomputed_level']):14} {'+'.join(flag) or 'ok'}")
        lines.append("")
    return lines


def _erratum_line(r: dict[str, Any]) -> str:
    """One flagged figure: printed, recomputed and why they differ."""
    why = r["reason"] or "UNEXPLAINED: no erratum recorded in data/paper/errata.csv"
    printed = r["printed"] + (" " + r["printed_level"] if r["printed_level"] else "")
    recomputed = f"{r['recomputed']:.4f}"
    recomputed += " " + r["recomputed_level"] if r["recomputed_level"] else ""
    found_by = f" [{r['found_by']}]" if r["found_by"] else ""
    return (f"  * {r['town']} {r['output']} ({r['table']}): printed {printed}, recomputed "
            f"{recomputed}. {why}{found_by}")


def _scenario_lines(c: dict[str, Any], method: Method, experts: dict[str, Any]) -> list[str]:
    """One town's Table 5 beside the rule's scores, the recommendations and Spearman's rho."""
    paper, recomputed = c["from_paper_levels"], c["from_recomputed_levels"]
    lines = [f"{c['town']}:",
             f"  {'scenario':16} {'paper +':>8} {'rule (paper levels)':>20} "
             f"{'rule (recomputed levels)':>25}"]
    lines += [f"  {s:16} {c['paper_plus'][s]:>8} {paper['scores'][s]:>20} "
              f"{recomputed['scores'][s]:>25}" for s in method.scenarios]
    lines.append(f"  recommended (paper levels): {' + '.join(paper['recommended'])}; "
                 f"(recomputed levels): {' + '.join(recomputed['recommended'])}")
    lines.append(f"  Spearman's rho vs paper: {_f(c['spearman_paper_levels'], 3)} (paper levels), "
                 f"{_f(c['spearman_recomputed_levels'], 3)} (recomputed levels)")
    lines.append(f"  why: {paper['explanation']}")
    if c["paper_note"]:
        lines.append(f"  note: {c['paper_note']}")
    if c["town"] in experts:
        e = experts[c["town"]]
        lines.append(f"  expert judgment (not computed): {' + '.join(e['scenarios'])} - "
                     f"{e['rationale']} ({e['author']}, {e['date']})")
    return lines + [""]


def report(method: Method | None = None) -> str:
    """The human-readable reproduction report for ``python -m scoring paper``."""
    method = method or load_method()
    paper = load_paper()
    rows = compare(method, paper)
    lines = [
        "Reproduction of the paper's three reference towns",
        f"Source: {PAPER_SOURCE}",
        "Method: data/method/*.csv (formulas as read in methodology.md section 3; bands "
        "upper-inclusive).",
        "'printed' is the paper's figure; 'recomputed' is this engine on the paper's own inputs",
        "(Tables 2-4). A value is flagged when it differs by one unit of its last printed digit or "
        "more",
        "(the paper truncates as often as it rounds); a level is flagged when it differs.",
        "",
        "Formulas (inputs are the paper's standardised shares and indices, Tables 2-4):",
        *[f"  {i.code:15} ({i.symbol:6}) = {i.formula}" for i in method.indicators.values()],
        "Levels: " + method.settings["boundary_rule_text"],
        *[f"  {i.code:15} " + _bands_line(i) for i in method.indicators.values() if i.levelled],
        "",
    ]
    lines += _figure_lines(rows)
    lines.append("Why they differ (errata):")
    lines += [_erratum_line(r) for r in rows if r["value_differs"] or r["level_differs"]]
    lines += ["",
              "Scenario assessment: the paper's Table 5 ('+' counts, an expert judgment) beside "
              "this project's",
              "rule (data/method/scenario_rules.csv: one '+' per indicator whose level the rule "
              "lists, 0-6).",
              "The paper gives no rule of its own; no additive rule reproduces Table 5 exactly.",
              ""]
    experts = load_expert_judgments(method=method)
    for c in scenario_comparison(method, paper):
        lines += _scenario_lines(c, method, experts)
    return "\n".join(lines)


__all__ = ["compare", "scenario_comparison", "report", "load_paper", "paper_levels",
           "printed_tolerance"]
