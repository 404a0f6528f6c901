"""Atlas results as GeoJSON, CSV and a zipped shapefile (EPSG:4326, with .prj and .cpg)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
from shapely.geometry import Point

from webapp.i18n import NAME_COLUMNS

CATEGORY_COLOURS = {
    "two": "#F0E442",
    "tie": "#0072B2",
    "undetermined": "#FFFFFF",
    "none": "#D9D9D9",
}


# with estimates (issue 22): the scenario's probable part and what the estimates reached
ESTIMATE_KEYS = (
    "likely",
    "shares",
    "outcomes",
    "estimated_levels",
    "settled_by",
    "without_estimates",
)


def likely_outcome(town: dict) -> dict | None:
    """With estimates: the likely outcome of an undetermined town when the map draws it in its
    colour ({scenario: label, share, coloured}), else None."""
    s = town["scenario"]
    lk = s.get("likely")
    return lk if lk and lk.get("coloured") and not s.get("settled", True) else None


def category(town: dict) -> str:
    """None (no level at all), undetermined (missing data leave several outcomes), tie, two, or the
    scenario."""
    s = town["scenario"]
    if not s["recommended"] and not s.get("tie"):
        return "none"
    if not s.get("settled", True):
        return "likely" if likely_outcome(town) else "undetermined"
    if s.get("tie"):
        return "tie"
    return s["recommended"][0] if len(s["recommended"]) == 1 else "two"


def verdict_kind(scenario: dict) -> str:
    """None, undetermined, tie, two or recommended: ``category`` without naming the scenario."""
    cat = category({"scenario": scenario})
    return cat if cat in ("none", "undetermined", "tie", "two", "likely") else "recommended"


def colour(town: dict, method) -> str:
    cat = category(town)
    if cat == "likely":  # the likely outcome's colour: a scenario's, two scenarios' or a tie's
        label = town["scenario"]["likely"]["scenario"]
        if label.startswith("tie: "):
            return CATEGORY_COLOURS["tie"]
        names = label.split(" + ")
        return method.scenarios[names[0]]["colour"] if len(names) == 1 else CATEGORY_COLOURS["two"]
    return CATEGORY_COLOURS.get(cat) or method.scenarios[cat]["colour"]


def marker_style(town: dict, method) -> dict:
    """The marker of a town: see style_for."""
    return style_for(
        category(town), colour(town, method), provisional=town["scenario"]["provisional"]
    )


def style_for(cat: str, fill: str, *, provisional: bool) -> dict:
    """Filled (opaque) when all six indicators have a level; hollow and dashed in the scenario's
    colour (provisional) otherwise; undetermined towns white with a dashed dark ring; towns without
    any level small, grey and dotted (insufficient data: smaller and greyer than every other
    state)."""
    if cat == "undetermined":
        return {
            "radius": 8,
            "color": "#333333",
            "weight": 2,
            "fill": True,
            "fillColor": fill,
            "fillOpacity": 1,
            "dashArray": "3 3",
        }
    if (
        cat == "likely"
    ):  # from estimates: the likely outcome's colour, lighter, with a dotted dark ring
        return {
            "radius": 9,
            "color": "#333333",
            "weight": 2,
            "fill": True,
            "fillColor": fill,
            "fillOpacity": 0.55,
            "dashArray": "1 3",
        }
    if cat == "none":
        return {
            "radius": 5,
            "color": "#777777",
            "weight": 1.5,
            "fill": True,
            "fillColor": fill,
            "fillOpacity": 1,
            "dashArray": "1 2",
        }
    if provisional:
        return {
            "radius": 9,
            "color": fill,
            "weight": 3,
            "fill": True,
            "fillColor": fill,
            "fillOpacity": 0.15,
            "dashArray": "4 3",
        }
    return {
        "radius": 10,
        "color": "#222222",
        "weight": 1.5,
        "fill": True,
        "fillColor": fill,
        "fillOpacity": 1,
        "dashArray": None,
    }


_LEAVES = frozenset({str, int, bool, type(None)})


def _clean(x):
    """``x`` ready for JSON: non-finite floats as None, keys starting with '_' dropped, tuples as
    lists.

    Copy on write: a dict or list needing no change is returned as it is (shared with the cached
    atlas, which nothing changes once scored), so a clean record costs a walk, not a deep copy.
    """
    kind = type(x)
    if kind in _LEAVES:
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        out, changed = {}, False
        for k, v in x.items():
            if isinstance(k, str) and k.startswith("_"):
                changed = True
                continue
            c = v if type(v) in _LEAVES else _clean(v)
            changed = changed or c is not v
            out[k] = c
        return out if changed else x
    if isinstance(x, (list, tuple)):
        out = [v if type(v) in _LEAVES else _clean(v) for v in x]
        return x if kind is list and all(a is b for a, b in zip(out, x)) else out
    return x


def feature(town: dict, meta: dict, method, *, clean: bool = True) -> dict:
    props = {
        "id": town["id"],
        **{c: meta[c] for c in NAME_COLUMNS},
        "oblast": meta["oblast"],
        "population": meta["population"],
        "population_year": meta["population_year"],
        "population_source": meta["source_population"],
        "inputs": town["inputs"],
        "provenance": town["provenance"],
        "indices": town["indices"],
        "levels": town["levels"],
        "scenario": {
            k: town["scenario"][k]
            for k in (
                "scores",
                "recommended",
                "completeness",
                "provisional",
                "explanation",
                "tie",
                "tied",
                "summary",
                "possible",
                "settled",
                "decisive",
                "decisive_worst",
                "decisive_mean",
            )
        }
        | {k: town["scenario"][k] for k in ESTIMATE_KEYS if k in town["scenario"]},
        "category": category(town),
        "colour": colour(town, method),
        "missing": town["missing"],
        "agglomeration": town["agglomeration"],
        "expert": town.get("expert"),
        **({"estimated": town["estimated"]} if "estimated" in town else {}),
        "paper_agglomeration": town.get("paper_agglomeration"),
    }
    return {
        "type": "Feature",
        "id": town["id"],
        "geometry": {"type": "Point", "coordinates": [float(meta["lon"]), float(meta["lat"])]},
        "properties": _clean(props) if clean else props,
    }


def collection(atlas: dict, metas: dict, method, *, clean: bool = True) -> dict:
    """The towns as GeoJSON.

    ``clean=False``: the records as they are (for ``encode_checked``).
    """
    tidy = _clean if clean else (lambda x: x)
    return {
        "type": "FeatureCollection",
        "crs_note": "coordinates are WGS84 longitude/latitude (EPSG:4326)",
        "parameters": tidy(atlas["parameters"]),
        "changes": atlas.get("changes", {}),
        "planned": tidy(atlas.get("planned", [])),
        "features": [feature(t, metas[t["id"]], method, clean=clean) for t in atlas["towns"]],
    }


_PRIVATE = re.compile(r'[{,]\s*"_')  # a key (or a listed string) starting with "_" in JSON text


def encode_checked(
    raw: Callable[[], Any], cleaned: Callable[[], Any], dumps: Callable[..., str]
) -> str:
    """JSON text of ``cleaned()``, usually made from ``raw()`` (built without the cleaning walk) in
    one encoding: when the raw text has no key starting with "_" and no NaN or infinity (the app's
    JSON writes a non-finite float ``null``, as the cleaning does; a standard-library encoding
    with ``allow_nan=False`` refuses it), cleaning would have changed nothing, so it is the same
    text; otherwise the cleaned value is encoded."""
    try:
        text = dumps(raw(), allow_nan=False)
    except ValueError:
        return dumps(cleaned())
    # a substring test first: the regular expression alone takes 1.5 ms over a 265 kB answer
    return dumps(cleaned()) if '"_' in text and _PRIVATE.search(text) else text


def verdict_label(scenario: dict) -> str:
    """What the map says of a town, in no language: the recommendation (``a`` or ``a|b``),
    ``tie: a|b|c``, ``undetermined: a|b|c`` (the possible scenarios), ``likely: <outcome>`` (with
    estimates) or ``none`` (the export's ``result``; the changes tables compare it)."""
    kind = verdict_kind(scenario)
    if kind == "none":
        return "none"
    if kind == "likely":
        return "likely: " + scenario["likely"]["scenario"]
    chosen = {"undetermined": scenario["possible"], "tie": scenario["tied"]}.get(
        kind, scenario["recommended"]
    )
    return {"undetermined": "undetermined: ", "tie": "tie: "}.get(kind, "") + "|".join(chosen)


def draws_label(scenario: dict) -> str | None:
    """The answer as the robustness run labels an outcome (``a``, ``a + b``, ``tie: a/b/c``:
    ``scoring.kernel.outcome_label``); None for a town the data leave undetermined (or likely, or
    without any level): the method's choices do not decide it. The run draws at the default
    parameters: its shares speak of this answer only when its ``default`` is this label."""
    kind = verdict_kind(scenario)
    rules = list(scenario["scores"])  # the method's rule order, as the kernel's labels have it
    if kind == "tie":
        return "tie: " + "/".join(sorted(scenario["tied"], key=rules.index))
    if kind in ("recommended", "two"):  # ``recommended`` is ordered by score
        return " + ".join(sorted(scenario["recommended"], key=rules.index))
    return None


def result_columns(town: dict, stability: dict | None, mode: str = "sourced") -> dict:
    """What the map says of a town, as export columns: ``result`` (the recommendation, ``tie: a|b``,
    ``undetermined: a|b|c``, ``likely: <outcome>`` with estimates, or ``none``), its kind, the
    possible scenarios, ``stability`` (the share of the robustness draws at the default parameters
    that give the answer, empty where the answer is not the one at the default parameters; for a
    likely town the share of the draws with estimates that give the likely outcome; empty for an
    undetermined town) and the ``mode`` (sourced, or with
    estimates)."""
    s = town["scenario"]
    kind = verdict_kind(s)
    share = None
    if kind == "likely":
        share = s["likely"]["share"]
    elif (rec := (stability or {}).get(town["id"])) and rec["default"] == draws_label(s):
        share = round(rec["outcomes"].get(rec["default"], 0.0), 3)
    return {
        "result": verdict_label(s),
        "result_kind": kind,
        "possible": "|".join(s["possible"]),
        "stability": share,
        "mode": mode,
    }


def flat_rows(
    atlas: dict, metas: dict, method, stability: dict | None = None, official: dict | None = None
) -> list[dict]:
    """One row per town: names, point, the map's result, inputs with status, indices, levels,
    scores; ``official`` (town id -> its signals as ``webapp.pages.brief.official_signal_columns``
    gives them) adds the government's signals and their agreement with the result."""
    rows = []
    mode = "with estimates" if "estimates" in atlas["parameters"] else "sourced"
    for t in atlas["towns"]:
        m = metas[t["id"]]
        a = t["agglomeration"]
        row = {"id": t["id"], **{c: m[c] for c in NAME_COLUMNS}}
        row |= {"lon": float(m["lon"]), "lat": float(m["lat"])}  # numbers (towns.csv gives text)
        row |= result_columns(t, stability, mode)
        if official is not None:
            row |= official.get(t["id"], {"official": "", "official_agreement": ""})
        row |= {k: t["inputs"][k] for k in method.inputs}
        row |= {f"{k}_status": t["provenance"][k]["status"] for k in method.inputs}
        row |= {f"idx_{k}": t["indices"][k] for k in method.indicators}
        row |= {f"lvl_{k}": t["levels"][k] for k in method.levelled}
        row |= {f"score_{s}": v for s, v in t["scenario"]["scores"].items()}
        settled = category(t) not in ("undetermined", "likely", "tie", "none")
        row |= {
            "recommended": "|".join(t["scenario"]["recommended"]) if settled else "",
            "completeness": t["scenario"]["completeness"],
            "provisional": t["scenario"]["provisional"],
            "nearest_large_city": a["nearest_large_city"],
            "road_km": a["road_km"],
            "travel_min": a["travel_min"],
            "assumed_access": a["assumed_access"],
            "lines_within_radius": "|".join(a["lines_within_radius"]),
            "unroutable": a["unroutable"] or "",
        }
        rows.append(row)
    return rows


def export_params(atlas: dict) -> dict:
    """The parameters and data revision that produced an export (the CSV's sidecar, also inside the
    zip)."""
    return {
        "parameters": _clean(atlas["parameters"]),
        "data_revision": atlas.get("data_revision"),
        "crs": "EPSG:4326",
    }


def to_csv(rows: list[dict], *, headers: dict | None = None, excel: str | None = None) -> str:
    """A CSV of ``flat_rows``: plain by default (comma, dot decimals: pandas.read_csv reads it
    without options); ``excel`` = a language: UTF-8 with BOM, and for ru/kk ';' with decimal commas
    (what Excel opens in one go with Russian or Kazakh settings). ``headers``: column code -> the
    shown name. The parameters are in the sidecar (export_params, GET /api/export.params.json)."""
    comma = excel in ("ru", "kk")
    buf = io.StringIO()
    if excel:
        buf.write("\ufeff")
    w = csv.writer(buf, delimiter=";" if comma else ",", lineterminator="\n")
    w.writerow([(headers or {}).get(k, k) for k in rows[0]])
    for r in rows:
        w.writerow([_cell(v, comma) for v in r.values()])
    return buf.getvalue()


def _cell(v, comma: bool):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if comma and isinstance(v, float):
        return repr(v).replace(".", ",")
    return v


def to_xlsx(rows: list[dict], params: dict, *, headers: dict | None = None) -> bytes:
    """An XLSX workbook: sheet 'towns' (the CSV's rows), 'parameters' (what produced them) and
    'columns' (code and shown name of every column)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "towns"
    ws.append([(headers or {}).get(k, k) for k in rows[0]])
    for r in rows:
        ws.append([_cell(v, False) if not isinstance(v, bool) else str(v) for v in r.values()])
    ws.freeze_panes = "B2"
    ps = wb.create_sheet("parameters")
    ps.append(["parameter", "value"])
    for k, v in _flatten(params):
        ps.append([k, v])
    cs = wb.create_sheet("columns")
    cs.append(["code", "name"])
    for k in rows[0]:
        cs.append([k, (headers or {}).get(k, k)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _flatten(x, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested dict as (dotted key, scalar) pairs; lists as JSON text."""
    if isinstance(x, dict):
        return (
            [
                kv
                for k, v in x.items()
                for kv in _flatten(
                    v, f"{prefix}{k}." if not isinstance(v, dict) else f"{prefix}{k}."
                )
            ]
            if x
            else []
        )
    return [
        (
            prefix.rstrip("."),
            json.dumps(x, ensure_ascii=False) if isinstance(x, (list, tuple)) else x,
        )
    ]


def shapefile_fields(method) -> dict:
    """flat_rows column -> shapefile field name (at most 10 characters), from the method tables."""
    keep = {"id": "id", **{c: c for c in NAME_COLUMNS}}
    keep |= {name: spec.export_name for name, spec in method.inputs.items()}
    keep |= {f"idx_{k}": ind.export_name for k, ind in method.indicators.items()}
    keep |= {f"lvl_{k}": "l" + method.indicators[k].export_name[1:] for k in method.levelled}
    keep |= {f"score_{s}": f"sc_{s[:7]}" for s in method.scenarios}
    keep |= {
        "result": "result",
        "result_kind": "res_kind",
        "possible": "possible",
        "stability": "stability",
        "mode": "mode",
        "official": "official",
        "official_agreement": "off_agree",
    }
    keep |= {
        "recommended": "recommend",
        "completeness": "complete",
        "nearest_large_city": "near_city",
        "road_km": "road_km",
        "travel_min": "travel_min",
        "assumed_access": "assumed",
    }
    return keep


def _frame(rows: list[dict], data: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        data, geometry=[Point(float(r["lon"]), float(r["lat"])) for r in rows], crs="EPSG:4326"
    )


def to_geopackage(rows: list[dict]) -> bytes:
    """A GeoPackage layer 'monotowns' with the CSV's full column names (no 10-character limit)."""
    gdf = _frame(rows, rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "monotowns.gpkg"
        gdf.to_file(path, driver="GPKG", layer="monotowns", engine="pyogrio")
        return path.read_bytes()


def to_shapefile_zip(rows: list[dict], atlas: dict, method) -> bytes:
    keep = shapefile_fields(method)
    data = [
        {keep[k]: str(v) if isinstance(v, bool) else v for k, v in r.items() if k in keep}
        for r in rows
    ]
    gdf = _frame(rows, data)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "monotowns.shp"
        gdf.to_file(path, driver="ESRI Shapefile", encoding="UTF-8", engine="pyogrio")
        path.with_suffix(".cpg").write_text("UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(Path(d).iterdir()):
                z.write(f, f.name)
            z.writestr(
                "parameters.json", json.dumps(export_params(atlas), ensure_ascii=False, indent=1)
            )
            z.writestr(
                "fields.csv", "field,column\n" + "".join(f"{v},{k}\n" for k, v in keep.items())
            )
        return buf.getvalue()


def export_headers(t, method, columns: list[str]) -> dict:
    """Column code -> its name in ``t``'s language (``headers=ru`` on an export)."""
    names = {
        c: t("col_" + c)
        for c in (
            "id",
            "name_en",
            "name_kk",
            "name_ru",
            "lon",
            "lat",
            "result",
            "result_kind",
            "official",
            "official_agreement",
            "possible",
            "stability",
            "mode",
            "recommended",
            "completeness",
            "provisional",
            "nearest_large_city",
            "road_km",
            "travel_min",
            "assumed_access",
            "lines_within_radius",
            "unroutable",
        )
    }
    for k in method.inputs:
        names[k] = f"{t.input_desc(k)} ({k})"
        names[f"{k}_status"] = f"{t.input_desc(k)}: {t('status')}"
    names |= {f"idx_{k}": f"{t.indicator(k)}: {t('value')}" for k in method.indicators}
    names |= {f"lvl_{k}": f"{t.indicator(k)}: {t('level')}" for k in method.levelled}
    names |= {f"score_{s}": f"{t.scenario(s)}: +" for s in method.scenarios}
    return {c: names.get(c, c) for c in columns}
