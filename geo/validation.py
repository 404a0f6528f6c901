"""Derived road distances held against independently published ones (data/validation/).

Each row of ``data/validation/road_distances.csv`` names a town, a city, a published distance, how
it was measured (``road``: explicitly by road; ``road_unspecified``: "N km from", not said how;
``rail``, ``straight``: another measure, shown but not judged) and whether the source makes that
city the nearest large city. ``validate`` derives the road km from the town to that city and a
verdict.

A row whose source is also the source of a length in the network, a link of published length
(geo.additions: a published road distance is a source for a link of that length) or a road section
of published length (km-posts, road_lengths.csv), is no independent check: its ``input_link`` names
that road, and the summary counts such rows apart.
"""
from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from .additions import PUBLISHED
from .agglomeration import SpatialModel
from .params import Params

TABLE = Path(__file__).resolve().parent.parent / "data" / "validation" / "road_distances.csv"
JUDGED = ("road", "road_unspecified")
TOLERANCE = 0.15  # road km within 15 % of the published figure


def load_table(path: Path = TABLE) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def validate(model: SpatialModel, params: Params, rows: list[dict[str, str]]
             ) -> list[dict[str, Any]]:
    """Per row: derived km to the named city, the ratio to the published km, the verdict, and the
    derived nearest large city (for rows whose source names the nearest)."""
    derivation = model.derive(params)
    inputs = _input_links(model)
    out = []
    for r in rows:
        town = derivation.town(r["town_id"])
        km = model.road_km(params, r["town_id"], r["city_id"])
        ratio, verdict = judge(km, r)
        out.append({"town": r["town_id"], "city": r["city_id"],
                    "derived_km": None if ratio is None or km is None else round(km, 1),
                    "published_km": float(r["published_km"]),
                    "ratio": None if ratio is None else round(ratio, 3),
                    "measure": r["measure"], "verdict": verdict,
                    "nearest_published": r["city_id"] if r["is_nearest"] == "yes" else None,
                    "nearest_derived": town.nearest_city_id, "source": r["source_url"],
                    "input_link": inputs.get(r["source_url"])})
    return out


def _input_links(model: SpatialModel) -> dict[str, str]:
    """source address -> id of the network road whose length is taken from it: a link of
    published length (``basis`` published_distance, ``source``) or a road section of published
    length (``len_source``, from road_lengths.csv)."""
    roads = model.layers.roads
    out: dict[str, str] = {}
    if "len_source" in roads.columns:
        sec = roads[roads["len_source"].fillna("").astype(str) != ""]
        out.update(zip(sec["len_source"], sec["road_id"]))
    if "basis" in roads.columns:
        pub = roads[roads["basis"] == PUBLISHED]
        out.update(zip(pub["source"], pub["road_id"]))
    return out


def judge(km: float | None, row: dict[str, str]) -> tuple[float | None, str]:
    """A derived road km against a row of the table: the ratio derived / published (None without a
    finite route) and the verdict of the 15 % rule (used by ``validate`` and by the town pages)."""
    ratio = km / float(row["published_km"]) if km is not None and np.isfinite(km) else None
    return ratio, _verdict(ratio, row["measure"])


def _verdict(ratio: float | None, measure: str) -> str:
    if ratio is None:
        return "unroutable"
    if measure not in JUDGED:
        return f"not judged ({measure})"
    if abs(ratio - 1) <= TOLERANCE:
        return "ok"
    return "too long" if ratio > 1 else "too short"


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and worst relative error over the judged rows; nearest-city agreement."""
    judged = [r for r in results if r["measure"] in JUDGED and r["ratio"] is not None]
    errors = [abs(r["ratio"] - 1) for r in judged]
    worst = max(judged, key=lambda r: abs(r["ratio"] - 1)) if judged else None
    named = [r for r in results if r["nearest_published"]]
    independent = [r for r in judged if not r.get("input_link")]
    return {"rows": len(results), "judged": len(judged),
            "within_15pct": sum(e <= TOLERANCE for e in errors),
            "judged_independent": len(independent),
            "within_15pct_independent": sum(abs(r["ratio"] - 1) <= TOLERANCE for r in independent),
            "median_error": round(statistics.median(errors), 3) if errors else None,
            "worst": None if worst is None else {k: worst[k] for k in ("town", "city", "ratio")},
            "nearest_as_published": sum(r["nearest_published"] == r["nearest_derived"]
                                        for r in named),
            "nearest_named": len(named)}
