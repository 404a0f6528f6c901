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

from .i18n import NAME_COLUMNS

CATEGORY_COLOURS = {"two": "#F0E442", "tie": "#0072B2", "undetermined": "#FFFFFF", "none": "#D9D9D9"}


def category(town: dict) -> str:
    """none (no level at all), undetermined (missing data leave several outcomes), tie, two, or the scenario."""
    s = town["scenario"]
    if not s["recommended"] and not s.get("tie"):
        return "none"
    if not s.get("settled", True):
        return "undetermined"
    if s.get("tie"):
        return "tie"
    return s["recommended"][0] if len(s["recommended"]) == 1 else "two"


def colour(town: dict, method) -> str:
    cat = category(town)
    return CATEGORY_COLOURS.get(cat) or method.scenarios[cat]["colour"]


_LEAVES = frozenset({str, int, bool, type(None)})


def _clean(x):
    """``x`` ready for JSON: non-finite floats as None, keys starting with '_' dropped, tuples as lists.

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
        "id": town["id"], **{c: meta[c] for c in NAME_COLUMNS},
        "oblast": meta["oblast"], "population": meta["population"], "population_year": meta["population_year"],
        "population_source": meta["source_population"],
        "inputs": town["inputs"], "provenance": town["provenance"], "indices": town["indices"],
        "levels": town["levels"], "scenario": {k: town["scenario"][k] for k in
                                               ("scores", "recommended", "completeness", "provisional", "explanation",
                                                    "tie", "tied", "summary", "possible", "settled", "decisive",
                                                    "decisive_worst", "decisive_mean")},
        "category": category(town), "colour": colour(town, method), "missing": town["missing"],
        "agglomeration": town["agglomeration"], "expert": town.get("expert"),
        "paper_agglomeration": town.get("paper_agglomeration"),
    }
    return {"type": "Feature", "id": town["id"],
            "geometry": {"type": "Point", "coordinates": [float(meta["lon"]), float(meta["lat"])]},
            "properties": _clean(props) if clean else props}


def collection(atlas: dict, metas: dict, method, *, clean: bool = True) -> dict:
    """The towns as GeoJSON. ``clean=False``: the records as they are (for ``encode_checked``)."""
    tidy = _clean if clean else (lambda x: x)
    return {"type": "FeatureCollection",
            "crs_note": "coordinates are WGS84 longitude/latitude (EPSG:4326)",
            "parameters": tidy(atlas["parameters"]),
            "changes": atlas.get("changes", {}),
            "planned": tidy(atlas.get("planned", [])),
            "features": [feature(t, metas[t["id"]], method, clean=clean) for t in atlas["towns"]]}


_PRIVATE = re.compile(r'[{,]\s*"_')  # a key (or a listed string) starting with "_" in JSON text


def encode_checked(raw: Callable[[], Any], cleaned: Callable[[], Any], dumps: Callable[..., str]) -> str:
    """JSON text of ``cleaned()``, usually made from ``raw()`` (built without the cleaning walk) in one
    encoding: when the raw text has no NaN or infinity (``allow_nan=False`` refuses them) and no key
    starting with "_", cleaning would have changed nothing, so it is the same text; otherwise the
    cleaned value is encoded (the text is then exactly what it always was)."""
    try:
        text = dumps(raw(), allow_nan=False)
    except ValueError:
        return dumps(cleaned())
    return dumps(cleaned()) if _PRIVATE.search(text) else text



def flat_rows(atlas: dict, metas: dict, method) -> list[dict]:
    rows = []
    for t in atlas["towns"]:
        m = metas[t["id"]]
        a = t["agglomeration"]
        row = {"id": t["id"], **{c: m[c] for c in NAME_COLUMNS}, "lon": m["lon"], "lat": m["lat"]}
        row |= {k: t["inputs"][k] for k in method.inputs}
        row |= {f"{k}_status": t["provenance"][k]["status"] for k in method.inputs}
        row |= {f"idx_{k}": t["indices"][k] for k in method.indicators}
        row |= {f"lvl_{k}": t["levels"][k] for k in method.levelled}
        row |= {f"score_{s}": v for s, v in t["scenario"]["scores"].items()}
        row |= {"recommended": "|".join(t["scenario"]["recommended"]), "completeness": t["scenario"]["completeness"],
                "provisional": t["scenario"]["provisional"], "nearest_large_city": a["nearest_large_city"],
                "road_km": a["road_km"], "travel_min": a["travel_min"], "assumed_access": a["assumed_access"],
                "lines_within_radius": "|".join(a["lines_within_radius"]), "unroutable": a["unroutable"] or ""}
        rows.append(row)
    return rows


def export_params(atlas: dict) -> dict:
    """The parameters and data revision that produced an export (the CSV's sidecar, also inside the zip)."""
    return {"parameters": _clean(atlas["parameters"]), "data_revision": atlas.get("data_revision"),
            "crs": "EPSG:4326"}


def to_csv(atlas: dict, metas: dict, method) -> str:
    """A plain CSV (header row, one row per town): pandas.read_csv reads it without options.
    The parameters are in the sidecar (export_params, GET /api/export.params.json)."""
    rows = flat_rows(atlas, metas, method)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def shapefile_fields(method) -> dict:
    """flat_rows column -> shapefile field name (at most 10 characters), from the method tables."""
    keep = {"id": "id", **{c: c for c in NAME_COLUMNS}}
    keep |= {name: spec.export_name for name, spec in method.inputs.items()}
    keep |= {f"idx_{k}": ind.export_name for k, ind in method.indicators.items()}
    keep |= {f"lvl_{k}": "l" + method.indicators[k].export_name[1:] for k in method.levelled}
    keep |= {f"score_{s}": f"sc_{s[:7]}" for s in method.scenarios}
    keep |= {"recommended": "recommend", "completeness": "complete", "nearest_large_city": "near_city",
             "road_km": "road_km", "travel_min": "travel_min", "assumed_access": "assumed"}
    return keep


def _frame(rows: list[dict], data: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=[Point(float(r["lon"]), float(r["lat"])) for r in rows], crs="EPSG:4326")


def to_geopackage(atlas: dict, metas: dict, method) -> bytes:
    """A GeoPackage layer 'monotowns' with the CSV's full column names (no 10-character limit)."""
    rows = flat_rows(atlas, metas, method)
    gdf = _frame(rows, rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "monotowns.gpkg"
        gdf.to_file(path, driver="GPKG", layer="monotowns", engine="pyogrio")
        return path.read_bytes()


def to_shapefile_zip(atlas: dict, metas: dict, method) -> bytes:
    rows = flat_rows(atlas, metas, method)
    keep = shapefile_fields(method)
    data = [{keep[k]: (str(v) if isinstance(v, bool) else v) for k, v in r.items() if k in keep} for r in rows]
    gdf = _frame(rows, data)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "monotowns.shp"
        gdf.to_file(path, driver="ESRI Shapefile", encoding="UTF-8", engine="pyogrio")
        path.with_suffix(".cpg").write_text("UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(Path(d).iterdir()):
                z.write(f, f.name)
            z.writestr("parameters.json", json.dumps(export_params(atlas), ensure_ascii=False, indent=1))
            z.writestr("fields.csv", "field,column\n" + "".join(f"{v},{k}\n" for k, v in keep.items()))
        return buf.getvalue()
