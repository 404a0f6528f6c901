"""Reproduce the paper's three towns: printed vs recomputed values and levels, with the errata."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from .engine import DATA_DIR, evaluate_records, load_expert_judgments, read_csv_records
from .method import Method, load_method
from .scenarios import score_scenarios, spearman

PAPER_DIR = DATA_DIR / "paper"
PAPER_SOURCE = ("Maimurunova A., Auezova Z., Daniyarova M., Imramziyeva M. (2025), Bulletin of KazUEFIT "
                "No. 1 (58), pp. 372-380, Tables 2-5")


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
        "errata": {(r["town"], r["output"], r["table"]): r for r in read_csv_records(d / "errata.csv")},
    }


def recomputed_value(result: dict[str, Any], output: str) -> float:
    """The recomputed figure the paper prints as ``output`` (an indicator, or investment_item_<n>)."""
    if output.startswith("investment_item_"):
        return float(result["details"]["investment"]["items"][int(output.rsplit("_", 1)[1]) - 1])
    return float(result["indices"][output])


def compare(method: Method | None = None, paper: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per printed figure: printed and recomputed value and level, flags and the reason."""
    method = method or load_method()
    paper = paper or load_paper()
    results = {r["town"]: r for r in evaluate_records(paper["inputs"], method, source="data/paper/inputs.csv")}
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


def paper_levels(paper: dict[str, Any], town: str, *, prefer_table: str = "Table 3") -> dict[str, Any]:
    """The six levels as the paper prints them (Table 2-4, or Table 5 where they disagree)."""
    rows = [r for r in paper["printed"] if r["town"] == town and r["printed_level"]]
    levels: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r["table"] != prefer_table):
        levels.setdefault(r["output"], r["printed_level"])
    return levels


def scenario_comparison(method: Method | None = None, paper: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per town: the paper's '+' counts, the rule's scores from the paper's levels and from the
    recomputed levels, and Spearman's rank correlation of each with the paper."""
    method = method or load_method()
    paper = paper or load_paper()
    results = {r["town"]: r for r in evaluate_records(paper["inputs"], method, source="data/paper/inputs.csv")}
    out = []
    for town, t5 in paper["table5"].items():
        plus = {s: int(t5[s]) for s in method.scenarios}
        from_paper = score_scenarios(paper_levels(paper, town), method)
        from_recomputed = results[town]["scenario"]
        order = list(method.scenarios)
        out.append({
            "town": town, "paper_plus": plus, "paper_note": t5.get("note") or "",
            "paper_levels": paper_levels(paper, town),
            "from_paper_levels": {"scores": from_paper["scores"], "recommended": from_paper["recommended"],
                                  "explanation": from_paper["explanation"]},
            "from_recomputed_levels": {"scores": from_recomputed["scores"],
                                       "recommended": from_recomputed["recommended"],
                                       "explanation": from_recomputed["explanation"]},
            "spearman_paper_levels": spearman([plus[s] for s in order], [from_paper["scores"][s] for s in order]),
            "spearman_recomputed_levels": spearman([plus[s] for s in order],
                                                   [from_recomputed["scores"][s] for s in order]),
        })
    return out


def _f(x: object, nd: int = 4) -> str:
    if x is None:
        return "-"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def report(method: Method | None = None) -> str:
    """The human-readable reproduction report for ``python -m scoring paper``."""
    method = method or load_method()
    paper = load_paper()
    rows = compare(method, paper)
    lines = [
        "Reproduction of the paper's three reference towns",
        f"Source: {PAPER_SOURCE}",
        "Method: data/method/*.csv (formulas as read in methodology.md section 3; bands upper-inclusive).",
        "'printed' is the paper's figure; 'recomputed' is this engine on the paper's own inputs",
        "(Tables 2-4). A value is flagged when it differs by one unit of its last printed digit or more",
        "(the paper truncates as often as it rounds); a level is flagged when it differs.",
        "",
        "Formulas (inputs are the paper's standardised shares and indices, Tables 2-4):",
        *[f"  {i.code:15} ({i.symbol:6}) = {i.formula}" for i in method.indicators.values()],
        "Levels: " + method.settings["boundary_rule_text"],
        *[f"  {i.code:15} " + " < ".join(f"{b.level} <= {b.upper:g}" if b.upper != float("inf") else b.level
                                          for b in i.bands) for i in method.indicators.values() if i.levelled],
        "",
    ]
    head = f"{'town':9} {'output':18} {'table':8} {'printed':>8} {'printed level':14} {'recomputed':>11} {'level':14} flag"
    for town in dict.fromkeys(r["town"] for r in rows):
        lines += [head, "-" * len(head)]
        for r in (x for x in rows if x["town"] == town):
            flag = []
            if r["value_differs"]:
                flag.append("VALUE")
            if r["level_differs"]:
                flag.append("LEVEL")
            lines.append(f"{r['town']:9} {r['output']:18} {r['table']:8} {r['printed']:>8} "
                         f"{_f(r['printed_level']):14} {_f(r['recomputed']):>11} {_f(r['recomputed_level']):14} "
                         f"{'+'.join(flag) or 'ok'}")
        lines.append("")
    lines.append("Why they differ (errata):")
    flagged = [r for r in rows if r["value_differs"] or r["level_differs"]]
    for r in flagged:
        why = r["reason"] or "UNEXPLAINED: no erratum recorded in data/paper/errata.csv"
        lines.append(f"  * {r['town']} {r['output']} ({r['table']}): printed {r['printed']}"
                     f"{' ' + r['printed_level'] if r['printed_level'] else ''}, recomputed "
                     f"{r['recomputed']:.4f}{' ' + r['recomputed_level'] if r['recomputed_level'] else ''}. {why}"
                     f"{' [' + r['found_by'] + ']' if r['found_by'] else ''}")
    lines += ["", "Scenario assessment: the paper's Table 5 ('+' counts, an expert judgment) beside this project's",
              "rule (data/method/scenario_rules.csv: one '+' per indicator whose level the rule lists, 0-6).",
              "The paper gives no rule of its own; no additive rule reproduces Table 5 exactly.", ""]
    experts = load_expert_judgments(method=method)
    for c in scenario_comparison(method, paper):
        lines.append(f"{c['town']}:")
        lines.append(f"  {'scenario':16} {'paper +':>8} {'rule (paper levels)':>20} {'rule (recomputed levels)':>25}")
        for s in method.scenarios:
            lines.append(f"  {s:16} {c['paper_plus'][s]:>8} {c['from_paper_levels']['scores'][s]:>20} "
                         f"{c['from_recomputed_levels']['scores'][s]:>25}")
        lines.append(f"  recommended (paper levels): {' + '.join(c['from_paper_levels']['recommended'])}; "
                     f"(recomputed levels): {' + '.join(c['from_recomputed_levels']['recommended'])}")
        lines.append(f"  Spearman's rho vs paper: {_f(c['spearman_paper_levels'], 3)} (paper levels), "
                     f"{_f(c['spearman_recomputed_levels'], 3)} (recomputed levels)")
        lines.append(f"  why: {c['from_paper_levels']['explanation']}")
        if c["paper_note"]:
            lines.append(f"  note: {c['paper_note']}")
        if c["town"] in experts:
            e = experts[c["town"]]
            lines.append(f"  expert judgment (not computed): {' + '.join(e['scenarios'])} - {e['rationale']} "
                         f"({e['author']}, {e['date']})")
        lines.append("")
    return "\n".join(lines)


__all__ = ["compare", "scenario_comparison", "report", "load_paper", "paper_levels", "printed_tolerance"]
