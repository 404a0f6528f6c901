"""Merge sourced statistics, derived agglomeration inputs and curated special potential for all
27 towns, and score them. Every input keeps its provenance: sourced, derived (how) or missing."""
from __future__ import annotations

import csv
from pathlib import Path

from ._errors import InputError
from .engine import DATA_DIR, evaluate_inputs, load_expert_judgments
from .method import Method, load_method
from .validate import validate_record

AGGL = ("aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction")
SPECIAL = ("special_raw_materials", "special_tourism")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_statistics(method: Method, path: Path | None = None) -> dict:
    """town_id -> {input: {value, unit, period, source, note}}; every problem raised together."""
    path = Path(path) if path else DATA_DIR / "statistics.csv"
    out, problems = {}, []
    for n, r in enumerate(_rows(path), start=2):
        if r["input"] not in method.inputs or r["input"].startswith(("aggl_", "special_")):
            problems.append(f"{path.name} row {n} town '{r['town_id']}': field 'input' value '{r['input']}'; "
                            "allowed: a canonical statistical input (agglomeration is derived, special is curated)")
            continue
        if not r["source"].strip():
            problems.append(f"{path.name} row {n} town '{r['town_id']}': field 'source' is empty; allowed: a document and year")
        out.setdefault(r["town_id"], {})[r["input"]] = {k: r[k] for k in ("value", "unit", "period", "source", "note")}
    for town, vals in out.items():
        _, probs = validate_record({k: v["value"] for k, v in vals.items()}, method,
                                   where=f"{path.name} town '{town}'")
        problems += [p for p in probs if "not a canonical input" not in p]
    if problems:
        raise InputError(problems, source=path.name)
    return out


def load_special(path: Path | None = None) -> dict:
    path = Path(path) if path else DATA_DIR / "special_potential.csv"
    out, problems = {}, []
    for n, r in enumerate(_rows(path), start=2):
        for key, basis in (("special_raw_materials", "raw_materials_basis"), ("special_tourism", "tourism_basis")):
            if r[key] not in ("", "0", "100"):
                problems.append(f"{path.name} row {n} town '{r['town_id']}': field '{key}' value '{r[key]}'; allowed: 0, 100 or empty")
            if not r[basis].strip():
                problems.append(f"{path.name} row {n} town '{r['town_id']}': field '{basis}' is empty; allowed: a source or rationale")
        out[r["town_id"]] = r
    if problems:
        raise InputError(problems, source=path.name)
    return out


def _aggl_provenance(rec: dict, params: dict) -> dict:
    if rec.get("unroutable"):
        why = f"missing: town is unroutable ({rec['unroutable']})"
        return {k: {"value": None, "status": "missing", "source": why} for k in AGGL[:2]} | {
            "aggl_corridor_junction": _junction_prov(rec, params)}
    fua = (f"derived: fastest road time to a large city ({rec['fua_city']}) {rec['travel_min']:.0f} min, "
           f"{'within' if rec['aggl_in_fua'] else 'beyond'} fua_minutes = {params['fua_minutes']:g} min")
    near = (f"derived: road distance to the nearest large city ({rec['nearest_large_city']}) {rec['road_km']:.0f} km, "
            f"{'within' if rec['aggl_near_large_city'] else 'beyond'} near_km = {params['near_km']:g} km")
    if rec["assumed_access"]:
        fua += "; includes an assumed access link"
        near += "; includes an assumed access link"
    return {"aggl_in_fua": {"value": rec["aggl_in_fua"], "status": "derived", "source": fua},
            "aggl_near_large_city": {"value": rec["aggl_near_large_city"], "status": "derived", "source": near},
            "aggl_corridor_junction": _junction_prov(rec, params)}


def _junction_prov(rec: dict, params: dict) -> dict:
    ids = {x["identity"] for x in rec["lines_detail"]}
    text = (f"derived: {len(ids)} distinct major line(s) within corridor_km = {params['corridor_km']:g} km "
            f"({', '.join(x['id'] for x in rec['lines_detail']) or 'none'}); needs {params['corridor_min_lines']}")
    return {"value": rec["aggl_corridor_junction"], "status": "derived", "source": text}


def build_atlas(derived: dict, method: Method | None = None, *, statistics: dict | None = None,
                special: dict | None = None, experts: dict | None = None, paper_inputs: dict | None = None) -> dict:
    """One scored record per town from the spatial derivation plus sourced data."""
    method = method or load_method()
    statistics = load_statistics(method) if statistics is None else statistics
    special = load_special() if special is None else special
    experts = load_expert_judgments(method=method) if experts is None else experts
    if paper_inputs is None:
        paper_inputs = {r["town"].lower(): r for r in _rows(DATA_DIR / "paper" / "inputs.csv")}
    params = derived["params"]
    known = {r["id"] for r in derived["towns"]}
    unknown = [f"{name}: town_id '{t}' is not one of the towns ({', '.join(sorted(known))})"
               for name, table in (("statistics.csv", statistics), ("special_potential.csv", special))
               for t in table if t not in known]
    if unknown:
        raise InputError(unknown, source="data/")
    towns = []
    for rec in derived["towns"]:
        tid = rec["id"]
        prov = {}
        for name, spec in method.inputs.items():
            if name in AGGL:
                continue
            if name in SPECIAL:
                row = special.get(tid, {})
                basis = row.get("raw_materials_basis" if name == "special_raw_materials" else "tourism_basis", "")
                val = row.get(name, "")
                prov[name] = {"value": float(val) if val != "" else None,
                              "status": "missing" if val == "" else ("derived" if basis.startswith("derived") else "sourced"),
                              "source": basis or "missing: not in data/special_potential.csv", "unit": spec.unit}
                continue
            s = statistics.get(tid, {}).get(name)
            prov[name] = ({"value": float(s["value"]), "status": "sourced", "source": s["source"], "unit": s["unit"],
                           "period": s["period"]} if s else
                          {"value": None, "status": "missing", "source": "missing: no sourced value", "unit": spec.unit})
        prov |= {k: v | {"unit": method.inputs[k].unit} for k, v in _aggl_provenance(rec, params).items()}
        inputs = {k: prov[k]["value"] for k in method.inputs}
        result = evaluate_inputs(inputs, method)
        entry = {"id": tid, "town": rec["town"], **result, "inputs": inputs, "provenance": prov,
                 "agglomeration": {k: v for k, v in rec.items() if k not in ("town", "id")}}
        if tid in experts or rec["town"] in experts:
            entry["expert"] = experts.get(tid) or experts.get(rec["town"])
        if tid in paper_inputs:
            entry["paper_agglomeration"] = [
                {"input": k, "paper": float(paper_inputs[tid][k]), "derived": inputs[k],
                 "differs": inputs[k] is None or float(paper_inputs[tid][k]) != inputs[k],
                 "why": prov[k]["source"] + "; the paper states its value without a spatial rule"}
                for k in AGGL]
        towns.append(entry)
    return {"parameters": {"spatial": {k: v for k, v in params.items()}, "method": method.as_parameters()},
            "towns": towns}


def parse_statistics_upload(text: str, method: Method, town_ids: dict, *, filename: str = "upload.csv") -> dict:
    """A planner's CSV of statistical inputs -> town_id -> {input: {value, unit, period, source, note}}.

    Columns: ``town`` (id or name in any language), ``source`` and ``period`` (required: no value without
    a document and a year), and any canonical statistical inputs (empty cell = not provided). Every problem
    of the file is raised together; nothing is accepted from a file with any problem."""
    import io

    problems: list[str] = []
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as exc:
        raise InputError([f"{filename}: not a readable CSV ({exc})"], source=filename) from None
    allowed = [n for n in method.inputs if not n.startswith(("aggl_", "special_"))]
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
        tid = town_ids.get(name.lower())
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
