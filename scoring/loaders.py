"""Read the data files scoring needs: input values (statistical and curated), expert judgments, the
paper's inputs. Every problem of a file is raised together, naming the file, row, field and rule."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ._errors import InputError
from .method import Method, TextKey, load_texts
from .validate import validate_record

VALUE_COLUMNS = ("town_id", "input", "value", "unit", "period", "source", "note")
STATUSES = ("sourced", "derived", "missing")
EXPERT_FIELDS = ("author", "date", "rationale", "source")


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def load_values(path: Path, method: Method, role: str) -> dict[str, dict[str, dict[str, str]]]:
    """A long table of input values (town_id, input, value, unit, period, source, note[, status]).

    Returns town_id -> {input: {value, unit, period, source, note, status}}. A row with an empty
    value records that a value was looked for and not found (status ``missing``, its note says
    where).
    Only inputs of ``role`` (data/method/inputs.csv) are allowed.
    """
    path = Path(path)
    rows = read_rows(path)
    out: dict[str, dict[str, dict[str, str]]] = {}
    problems: list[str] = []
    allowed = method.input_names(role)
    for n, r in enumerate(rows, start=2):
        where = f"{path.name} row {n} town '{r.get('town_id')}'"
        missing_cols = [c for c in VALUE_COLUMNS if c not in r]
        if missing_cols:
            raise InputError([f"{path.name}: column(s) {', '.join(missing_cols)} missing; "
                              f"required: {', '.join(VALUE_COLUMNS)}"], source=path.name)
        if r["input"] not in allowed:
            problems.append(f"{where}: field 'input' value '{r['input']}'; allowed: an input of "
                            f"role '{role}' ({', '.join(allowed)})")
            continue
        status = r.get("status") or ("sourced" if r["value"].strip() else "missing")
        if status not in STATUSES:
            problems.append(f"{where}: field 'status' value '{status}'; "
                            f"allowed: {', '.join(STATUSES)}")
        if not r["source"].strip():
            problems.append(f"{where}: field 'source' is empty; allowed: a document and year (or "
                            "where it was searched)")
        row = {k: r[k] for k in VALUE_COLUMNS[2:]} | {"status": status}
        out.setdefault(r["town_id"], {})[r["input"]] = row
    for town, vals in out.items():
        given = {k: v["value"] for k, v in vals.items() if v["value"].strip()}
        _, probs = validate_record(given, method, where=f"{path.name} town '{town}'")
        problems += probs
    if problems:
        raise InputError(problems, source=path.name)
    return out


def load_expert_judgments(path: Path, method: Method) -> dict[str, Any]:
    """Expert-recorded scenarios: town -> {scenarios, author, date, rationale, source}."""
    path = Path(path)
    problems: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(read_rows(path), start=2):
        scen = [s for s in row.get("scenarios", "").split("|") if s]
        bad = [s for s in scen if s not in method.scenarios]
        where = f"{path.name} row {n} town '{row.get('town')}'"
        if not scen or bad:
            problems.append(f"{where}: field 'scenarios' value '{row.get('scenarios')}'; allowed: "
                            f"'|'-separated ids from {', '.join(method.scenarios)}")
        for f in EXPERT_FIELDS:
            if not (row.get(f) or "").strip():
                problems.append(f"{where}: field '{f}' is empty; allowed: text")
        out[row["town"]] = {"scenarios": scen, **{f: row.get(f, "") for f in EXPERT_FIELDS}}
    if problems:
        raise InputError(problems, source=str(path.name))
    return out


def load_paper_inputs(path: Path) -> dict[str, dict[str, str]]:
    """The paper's printed inputs (Tables 2-4): lower-case town name -> row; {} when the file is
    absent."""
    path = Path(path)
    return {r["town"].lower(): r for r in read_rows(path)} if path.exists() else {}


# The data root's descriptive texts that pages show (data/texts.csv translates each):
# file -> (key column(s), fields)
TEXT_FIELDS = {
    "towns.csv": (("id",), ("city_forming_enterprise", "main_industry", "status_note",
                            "status_2025", "population_scope")),
    "paper/errata.csv": (("town", "output", "table"), ("reason", "found_by")),
    "paper/printed.csv": (("town", "output", "table"), ("note",)),
    "paper/table5.csv": (("town",), ("note",)),
    "expert_judgments.csv": (("town",), ("rationale",)),
    "tourism_sites.csv": (("id",), ("name_en",)),
    "reserves.csv": (("town_id",), ("statement", "as_of", "source_url")),  # a link is no text
}


def data_texts_required(root: Path) -> dict[TextKey, tuple[str, str | None]]:
    """(file, key, field) -> (where, English text) for every non-empty descriptive text of a data
    root."""
    req: dict[TextKey, tuple[str, str | None]] = {}
    for name, (keys, fields) in TEXT_FIELDS.items():
        path = Path(root) / name
        if not path.exists():
            continue
        for n, row in enumerate(read_rows(path), start=2):
            key = "/".join(row.get(k, "") for k in keys)
            for f in fields:
                text = (row.get(f) or "").strip()
                if text and not text.startswith(("http://", "https://")):
                    req[(name, key, f)] = (f"{name} row {n} ({key})", row[f])
    # railway names (a town page lists the lines within the corridor radius; the map's tooltips) and
    # corridor names (the map's tooltips)
    for shp, id_col in (("railways.shp", "line_id"), ("corridors.shp", "corr_id")):
        path = Path(root) / "shapefiles" / shp
        if not path.exists():
            continue
        import pyogrio  # type: ignore[import-untyped]  # no type information published

        names = pyogrio.read_dataframe(path, columns=[id_col, "name"], read_geometry=False)
        for n, (lid, text) in enumerate(zip(names[id_col], names["name"]), start=1):
            if text:
                where = f"shapefiles/{shp} feature {n} ({lid})"
                req[(f"shapefiles/{shp}", lid, "name")] = (where, text)
    return req


def load_data_texts(root: Path) -> dict[TextKey, dict[str, str]]:
    """The data root's translations (``texts.csv``): (file, key, field) -> {en, ru, kk}; every text
    a page shows must be translated, or InputError names the file, row and field
    (scoring.method.load_texts)."""
    problems: list[str] = []
    out = load_texts(Path(root) / "texts.csv", data_texts_required(root), problems)
    if problems:
        raise InputError(problems, source="texts.csv")
    return out
