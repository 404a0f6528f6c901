"""A planner's CSV of statistical inputs, validated whole before anything is stored."""
from __future__ import annotations

import csv
import io

from ._errors import InputError
from .method import Method
from .validate import validate_record


def parse_statistics_upload(text: str, method: Method, town_id, *, filename: str = "upload.csv") -> dict:
    """A planner's CSV of statistical inputs -> town_id -> {input: {value, unit, period, source, note}}.

    Columns: ``town`` (id or name in any language), ``source`` and ``period`` (required: no value without
    a document and a year), and any canonical statistical inputs (empty cell = not provided). Every problem
    of the file is raised together; nothing is accepted from a file with any problem."""
    problems: list[str] = []
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as exc:
        raise InputError([f"{filename}: not a readable CSV ({exc})"], source=filename) from None
    allowed = method.input_names("statistical")
    for col in ("town", "source", "period"):
        if col not in fields:
            problems.append(f"{filename}: column '{col}' is missing; required columns: town, source, period")
    for col in fields:
        if col not in ("town", "source", "period", "note") and col not in allowed:
            problems.append(f"{filename}: column '{col}' is not a statistical input; allowed: {', '.join(allowed)} "
                            "(agglomeration inputs are derived, special potential is curated)")
    if not rows and not problems:
        problems.append(f"{filename}: no data rows")
    out, seen = {}, set()
    for n, row in enumerate(rows, start=2):
        name = (row.get("town") or "").strip()
        tid = town_id(name)
        where = f"{filename} row {n} town '{name}'"
        if tid is None:
            problems.append(f"{where}: field 'town' is not one of the 27 monotowns (id or name in kk, ru or en)")
            continue
        if tid in seen:
            problems.append(f"{where}: town appears twice")
        seen.add(tid)
        for col in ("source", "period"):
            if not (row.get(col) or "").strip():
                problems.append(f"{where}: field '{col}' is empty; allowed: a document (source) and a year or date (period)")
        values = {k: v for k, v in row.items() if k in allowed and v is not None and str(v).strip() != ""}
        if not values:
            problems.append(f"{where}: no statistical input given")
        clean, probs = validate_record(values, method, where=where)
        problems += [p for p in probs if "not a canonical input" not in p]
        out[tid] = {k: {"value": str(clean[k]), "unit": method.inputs[k].unit, "period": row["period"].strip(),
                        "source": f"uploaded: {row['source'].strip()} ({filename})", "note": row.get("note") or ""}
                    for k in values if clean.get(k) is not None}
    if problems:
        raise InputError(problems, source=filename)
    return out
