"""Merge the derived agglomeration inputs with sourced statistics and curated inputs, and score.

Every input keeps its provenance: sourced (document, period), derived (how) or missing (why). The
role of each input (statistical, derived, curated) comes from data/method/inputs.csv.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from geo.results import Derivation, TownAccess

from ._errors import InputError
from .engine import evaluate_many
from .method import Method


Table = Mapping[str, Mapping[str, Mapping[str, str]]]  # town_id -> input -> row (load_values)
Provenance = dict[str, Any]  # value, status, source, unit[, period, rule_check]


def _from_table(table: Table, tid: str, name: str, unit: str, what: str) -> Provenance:
    row = table.get(tid, {}).get(name)
    if row is None:
        return {"value": None, "status": "missing", "source": f"missing: no {what} value",
                "unit": unit}
    if row["status"] == "missing" or not row["value"].strip():
        return {"value": None, "status": "missing", "source": f"missing: {row['source']}",
                "unit": unit, "period": row.get("period", "")}
    source = row["source"] if row["status"] == "sourced" else f"derived: {row['source']}"
    out: Provenance = {"value": float(row["value"]), "status": row["status"],
                       "unit": row["unit"] or unit, "source": source}
    out |= {"period": row["period"]} if row.get("period") else {}
    return out | ({"rule_check": row["rule_check"]} if row.get("rule_check") else {})


def _derived(town: TownAccess, name: str, rule: str, unit: str) -> Provenance:
    flag = town.flags().get(rule)
    if flag is None:
        return {"value": None, "status": "missing",
                "source": "missing: the spatial derivation has no rule for it", "unit": unit}
    prefix = "missing" if flag.value is None else "derived"
    return {"value": flag.value, "status": flag.status, "source": f"{prefix}: {flag.reason}",
            "unit": unit}


def provenance(town: TownAccess, method: Method, statistics: Table,
               curated: Table, stored: Mapping[str, Mapping[str, Provenance]] | None = None
               ) -> dict[str, Provenance]:
    """input name -> {value, status, source, unit[, period]} for one town; ``stored`` (of
    ``stored_provenance``, read-only) gives the stored inputs' ready made."""
    mine = stored.get(town.town_id) if stored is not None else None
    if mine is None:
        mine = stored_provenance(method, statistics, curated, [town.town_id])[town.town_id]
    return {name: (_derived(town, name, spec.derived_by, spec.unit) if spec.role == "derived"
                   else mine[name]) for name, spec in method.inputs.items()}


def stored_provenance(method: Method, statistics: Table, curated: Table,
                      town_ids: Iterable[str]) -> dict[str, dict[str, Provenance]]:
    """Each town's provenance of its stored (statistical and curated) inputs: the same for every
    parameter set, so that a caller keeping the tables (webapp.model's snapshot of a stored state)
    makes it once, not once per recompute. Shared between results: never modified."""
    return {tid: {name: _from_table(curated if spec.role == "curated" else statistics, tid, name,
                                    spec.unit, "curated" if spec.role == "curated" else "sourced")
                  for name, spec in method.inputs.items() if spec.role != "derived"}
            for tid in town_ids}


def input_years(prov: dict[str, Any]) -> list[str]:
    """The distinct years (four digits) in the periods of a town's non-missing inputs."""
    years = set()
    for p in prov.values():
        if p["value"] is not None and p.get("period"):
            years |= set(re.findall(r"\b(?:19|20)\d\d\b", str(p["period"])))
    return sorted(years)


def _paper_check(inputs: dict[str, Any], prov: dict[str, Provenance], paper_row: Mapping[str, str],
                 method: Method) -> list[dict[str, Any]]:
    """The paper's printed value of every derived input beside the derived one, and why they
    differ."""
    return [{"input": k, "paper": float(paper_row[k]), "derived": inputs[k],
             "differs": inputs[k] is None or float(paper_row[k]) != inputs[k],
             "why": prov[k]["source"] + "; the paper states its value without a spatial rule"}
            for k in method.input_names("derived") if k in paper_row]


def _check_towns(derivation: Derivation, tables: Mapping[str, Table]) -> None:
    known = {t.town_id for t in derivation.towns}
    unknown = [f"{name}: town_id '{t}' is not one of the towns ({', '.join(sorted(known))})"
               for name, table in tables.items() for t in table if t not in known]
    if unknown:
        raise InputError(unknown, source="data/")


def build_atlas(derivation: Derivation, method: Method, *, statistics: Table, curated: Table,
                experts: Mapping[str, Any] | None = None,
                paper_inputs: Mapping[str, Mapping[str, str]] | None = None,
                stored: Mapping[str, Mapping[str, Provenance]] | None = None) -> dict[str, Any]:
    """One scored record per town, with the parameters that produced it.

    Returns {"parameters": {"spatial", "method"}, "towns": [...]}; each town has id, town, indices,
    levels, scenario, missing, details, inputs, provenance, agglomeration (the TownAccess record),
    and where they exist the expert judgment and the paper's agglomeration inputs beside the
    derived ones.
    """
    experts, paper_inputs = experts or {}, paper_inputs or {}
    _check_towns(derivation, {"statistics": statistics, "curated": curated})
    if stored is None:
        stored = stored_provenance(method, statistics, curated,
                                   [t.town_id for t in derivation.towns])
    provs = [provenance(town, method, statistics, curated, stored) for town in derivation.towns]
    rows = [{k: prov[k]["value"] for k in method.inputs} for prov in provs]
    towns = []
    for town, prov, inputs, result in zip(derivation.towns, provs, rows,
                                          evaluate_many(rows, method)):
        entry = {"id": town.town_id, "town": town.town, **result, "inputs": inputs,
                 "provenance": prov, "agglomeration": town.as_record(),
                 "input_years": input_years(prov)}
        expert = experts.get(town.town_id) or experts.get(town.town)
        if expert:
            entry["expert"] = expert
        if town.town_id in paper_inputs:
            paper_row = paper_inputs[town.town_id]
            entry["paper_agglomeration"] = _paper_check(inputs, prov, paper_row, method)
        towns.append(entry)
    parameters = {"spatial": derivation.params.as_dict(), "method": method.as_parameters()}
    return {"parameters": parameters, "towns": towns}
