"""Evaluate towns: inputs -> indices -> levels -> scenario scores, with every step explained."""
from __future__ import annotations

import csv
from pathlib import Path

from .indicators import compute_indices
from .levels import level_of
from .method import Method, load_method
from .scenarios import score_scenarios
from .uncertainty import assess
from .validate import validate_records

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def evaluate_inputs(inputs: dict, method: Method) -> dict:
    """One town's validated inputs (None = missing) -> result record."""
    computed = compute_indices(inputs, method)
    indices = {code: res["value"] for code, res in computed.items()}
    levels = {code: level_of(indices[code], method.indicators[code].bands) for code in method.levelled}
    scenario = score_scenarios(levels, method) | assess(levels, method)
    missing = [name for name in method.inputs if inputs.get(name) is None]
    return {
        "indices": indices,
        "levels": levels,
        "scenario": {k: scenario[k] for k in ("scores", "recommended", "completeness", "provisional",
                                              "explanation", "reasons", "tie", "tied", "summary",
                                              "possible", "settled", "decisive", "decisive_worst",
                                              "decisive_mean", "completions")},
        "missing": missing,
        "details": {code: {"substituted": res["substituted"], "missing": res["missing"],
                           "items": res["items"]} for code, res in computed.items()},
    }


def evaluate_records(records: list[dict], method: Method | None = None, *, source: str = "input",
                     experts: dict | None = None) -> list[dict]:
    """Validate every record (raising InputError with all problems) and evaluate each town."""
    method = method or load_method()
    clean = validate_records(records, method, source=source)
    out = []
    for rec in clean:
        town = rec.pop("town")
        result = {"town": town, **evaluate_inputs(rec, method), "inputs": rec}
        if experts and town in experts:
            result["expert"] = experts[town]
        out.append(result)
    return out


def read_csv_records(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def load_expert_judgments(path: str | Path | None = None, method: Method | None = None) -> dict:
    """Expert-recorded scenarios of data/expert_judgments.csv (or ``path``)."""
    from .loaders import load_expert_judgments as load

    return load(Path(path) if path else DATA_DIR / "expert_judgments.csv", method or load_method())
