"""The town brief: what a planner takes to a meeting (issue 21).

``town_brief`` turns one scored town (``Pipeline.run``) and its robustness record
(``scoring.robustness``) into the brief's parts, as data: the verdict, how sure it is, what drives
it and which data would settle it. The templates say them in the page's language
(``templates/_brief.html``); nothing here is prose.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, url_for

from scoring.official import (
    Official,
    age_years,
    load_official,
    measures_for,
    shown_value,
    signals_for,
)

from webapp.i18n import T
from webapp.map.serialize import colour, draws_label, marker_style, verdict_kind
from webapp.robust import get_runner

DRIVERS_MAX = 3


@dataclass(frozen=True)
class Sureness:
    """How sure the verdict is, as one measure.

    kind : ``variants`` (the share of the method's plausible variants that give exactly this
        answer), ``data`` (missing data leave several answers: no share is given), ``likely`` (with
        estimates: the share of draws within the estimates' intervals that give the likely outcome),
        ``pending`` (the variants are still being computed), ``elsewhere`` (the variants are drawn
        at the default parameters, where the answer differs: ``others`` holds that answer; no
        share is given for this one) or ``none`` (no indicator has a level).
    """

    kind: str
    same: int | None = None  # of 100 variants
    others: list[tuple[str, int]] = field(
        default_factory=list
    )  # (outcome label, of 100), largest first
    draws: int | None = None
    moved_by: str | None = (
        None  # the uncertain choice that moves the answer most (Sobol total index)
    )
    missing: int = 0  # indicators without a level


@dataclass(frozen=True)
class Brief:
    """One town's brief (see the module's docstring)."""

    id: str
    kind: str  # recommended, two, tie, undetermined, none
    scenarios: list[str]  # recommended / tied / possible
    score: int | None
    known: int  # indicators with a level
    total: int
    sureness: Sureness
    drivers: list[
        dict
    ]  # {"indicator", "level", "scenario", "over"} or {"indicator", "missing": True}
    data_needed: list[dict]  # {"indicator", "inputs", "decisive"}
    provisional: bool


def _counts(completeness: str) -> tuple[int, int]:
    known, _, total = completeness.partition("/")
    return int(known), int(total)


def _scenarios_of(scenario: dict, kind: str) -> list[str]:
    if kind in ("undetermined", "likely"):
        return list(scenario["possible"])
    if kind == "tie":
        return list(scenario["tied"])
    return list(scenario["recommended"])


def sureness(scenario: dict, kind: str, robust: dict | None, *, missing: int) -> Sureness:
    """One measure: of 100 plausible variants of the method's choices, how many give exactly this
    answer.

    Undetermined towns get no share: the method's choices cannot settle what missing data leave
    open.
    """
    if kind == "none":
        return Sureness("none", missing=missing)
    if kind == "likely":  # with estimates: the share of the draws within the intervals
        share = scenario["likely"]["share"]
        return Sureness("likely", same=round(100 * share), missing=missing)
    if kind == "undetermined":
        return Sureness("data", missing=missing)
    if robust is None:
        return Sureness("pending", missing=missing)
    if robust["default"] != draws_label(scenario):  # drawn at parameters with another answer
        return Sureness("elsewhere", others=[(robust["default"], 0)], missing=missing)
    outcomes = sorted(robust["outcomes"].items(), key=lambda kv: -kv[1])
    same = robust["outcomes"].get(robust["default"], 0.0)
    others = [
        (label, round(100 * share)) for label, share in outcomes if label != robust["default"]
    ]
    drivers = robust.get("drivers") or {}
    moved_by = max(drivers, key=drivers.get) if drivers and same < 1 else None
    return Sureness(
        "variants",
        same=round(100 * same),
        others=[o for o in others if o[1] > 0],
        draws=robust.get("draws"),
        moved_by=moved_by,
        missing=missing,
    )


def drivers(town: dict, kind: str) -> list[dict]:
    """What decides the verdict: for a recommendation or a tie, the indicator levels that vote for
    it and not for the best scenario left out; for an undetermined town, its missing indicators, the
    most decisive first."""
    s = town["scenario"]
    if kind in ("undetermined", "likely", "none"):
        missing = [code for code, level in town["levels"].items() if level is None]
        first = s.get("decisive")
        missing.sort(key=lambda c: c != first)
        return [{"indicator": c, "missing": True} for c in missing[:DRIVERS_MAX]]
    chosen = _scenarios_of(s, kind)
    left = [k for k in s["scores"] if k not in chosen]
    over = max(left, key=lambda k: s["scores"][k]) if left else None
    against = {r["indicator"] for r in s["reasons"].get(over, [])} if over else set()
    out, seen = [], set()
    for sid in chosen:
        for r in s["reasons"].get(sid, []):
            if r["indicator"] not in against and r["indicator"] not in seen:
                seen.add(r["indicator"])
                out.append(
                    {
                        "indicator": r["indicator"],
                        "level": r["level"],
                        "scenario": sid,
                        "over": over,
                    }
                )
    return out[:DRIVERS_MAX]


def raw_inputs(code: str, method) -> list[str]:
    """An indicator's raw inputs, through the indicators it is built from (economy_social: economy's
    and social's), count/total pairs flattened."""
    out: list[str] = []
    for item in method.indicators[code].inputs:
        for name in item if isinstance(item, tuple) else (item,):
            out += raw_inputs(name, method) if name in method.indicators else [name]
    return out


def data_needed(town: dict, method) -> list[dict]:
    """The indicators without a level and their missing inputs, the most decisive first."""
    missing = set(town["missing"])
    first = town["scenario"].get("decisive")
    rows = [
        {
            "indicator": code,
            "inputs": [i for i in raw_inputs(code, method) if i in missing],
            "decisive": code == first,
        }
        for code, level in town["levels"].items()
        if level is None
    ]
    return sorted(rows, key=lambda r: not r["decisive"])


def town_brief(town: dict, robust: dict | None, method) -> Brief:
    """The brief of one scored town; ``robust`` is its record of the robustness run (None: not
    yet)."""
    s = town["scenario"]
    kind = verdict_kind(s)
    known, total = _counts(s["completeness"])
    score = (
        max(s["scores"].values()) if kind in ("tie", "recommended", "two") and s["scores"] else None
    )
    return Brief(
        id=town["id"],
        kind=kind,
        scenarios=_scenarios_of(s, kind),
        score=score,
        known=known,
        total=total,
        sureness=sureness(s, kind, robust, missing=total - known),
        drivers=drivers(town, kind),
        data_needed=data_needed(town, method),
        provisional=bool(s.get("provisional")),
    )


# -- the small map, drawn as SVG (prints without a script) ----------------------------------------


@dataclass(frozen=True)
class Frame:
    """Longitude/latitude to SVG pixels: an equirectangular view scaled by cos(48 N) for
    Kazakhstan's middle latitude (display only; nothing is measured on it)."""

    west: float = 46.0
    east: float = 88.0
    south: float = 40.2
    north: float = 55.8
    width: float = 760.0

    @property
    def kx(self) -> float:
        return self.width / ((self.east - self.west) * math.cos(math.radians(48)))

    @property
    def height(self) -> float:
        return (self.north - self.south) * self.kx

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - self.west) * math.cos(math.radians(48)) * self.kx, 1),
            round((self.north - lat) * self.kx, 1),
        )


def svg_paths(geojson: dict, frame: Frame) -> list[str]:
    """One SVG path per polygon ring of a GeoJSON FeatureCollection (the oblast boundaries)."""
    out = []
    for f in geojson["features"]:
        g = f["geometry"]
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        for poly in polys:
            d = " ".join(
                "M" + " L".join(f"{x},{y}" for x, y in (frame.xy(*p[:2]) for p in ring)) + " Z"
                for ring in poly
            )
            out.append(d)
    return out


def map_svg(
    svc, t, towns: list[dict], *, focus: dict | None = None, label_all: bool = False
) -> dict:
    """The SVG map's parts: oblast paths, every town as the map draws it, the focus town larger with
    a line to its nearest large city, and the labels (every town on the region brief)."""
    frame = Frame()
    small = (
        focus is not None
    )  # the town brief's map is shown about 250 px wide: larger marks and text
    out: dict = {
        "width": frame.width,
        "height": round(frame.height, 1),
        "line": 1.4 if small else 0.7,
        "paths": svg_paths(json.loads(svc.oblasts_geojson), frame),
        "towns": [],
        "labels": [],
        "cities": [],
        "route": None,
        "label": t("region_brief"),
    }
    for tw in towns:
        meta = svc.metas[tw["id"]]
        x, y = frame.xy(float(meta["lon"]), float(meta["lat"]))
        st = marker_style(tw, svc.method)
        out["towns"].append(
            {
                "x": x,
                "y": y,
                "r": 16 if small else st["radius"] * 0.6,
                "fill": st["fillColor"],
                "stroke": st["color"],
                "width": 3 if small else 1,
                "dash": st["dashArray"],
                "name": t.name(meta),
            }
        )
        if label_all or small:
            out["labels"].append(
                {
                    "x": x,
                    "y": y,
                    "dx": 20 if small else 7,
                    "dy": 10 if small else 4,
                    "size": 34 if small else 10,
                    "bold": small,
                    "name": re.sub(r"\s*\(.*\)\s*$", "", t.name(meta)),  # as the map labels it
                }
            )
    if focus is not None:
        city = svc.city_rows.get(focus["agglomeration"].get("nearest_large_city_id"))
        if city:
            cx, cy = frame.xy(float(city["lon"]), float(city["lat"]))
            meta = svc.metas[focus["id"]]
            out["route"] = (*frame.xy(float(meta["lon"]), float(meta["lat"])), cx, cy)
            out["cities"].append({"x": cx, "y": cy, "name": t.name(city)})
            out["labels"].append(
                {
                    "x": cx,
                    "y": cy,
                    "dx": 12,
                    "dy": -10,
                    "size": 28,
                    "bold": False,
                    "name": t.name(city),
                }
            )
    marks = [(m["x"], m["y"], m["r"]) for m in out["towns"]] + [
        (c["x"], c["y"], 6.0) for c in out["cities"]
    ]
    out["labels"] = place_labels(out["labels"], marks, out["width"], out["height"])
    return out


def place_labels(labels: list[dict], marks: list[tuple[float, float, float]], width: float,
                 height: float) -> list[dict]:
    """Each label beside its mark where it covers no other label and no mark (x, y, radius):
    right of it, else left, above, below or a corner; else farther out with a leader line to the
    mark (``leader``), the crowded marks placed first; where nothing is free, right of the mark
    moved inside the map, with a leader. A label's box is estimated from its text (DejaVu Sans: at
    most about 0.68 of the font size per character, 0.74 in bold: an overestimate, so the text is
    anchored on the side that faces its mark). Adds ``tx``, ``ty`` (the anchor point: start, end or
    middle of the text's baseline), ``anchor`` and ``leader`` (x1, y1, x2, y2, or None)."""

    def box_of(lab: dict) -> tuple[float, float]:  # the glyphs' box: ascent 0.93, descent 0.24
        return len(lab["name"]) * lab["size"] * (0.74 if lab["bold"] else 0.68), lab["size"] * 1.2

    def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    boxes = [(x - r, y - r, x + r, y + r) for x, y, r in marks]
    crowd = [sum(abs(a["x"] - b["x"]) + abs(a["y"] - b["y"]) < 8 * a["size"] for b in labels)
             for a in labels]
    placed: list[tuple[float, ...]] = []
    out: list[dict] = [{} for _ in labels]
    for i in sorted(range(len(labels)), key=lambda k: -crowd[k]):
        lab = labels[i]
        w, h = box_of(lab)
        gap = max(lab["dx"] * 0.5, 3.0)
        r = next((mr for mx, my, mr in marks if mx == lab["x"] and my == lab["y"]), gap)
        x, y = lab["x"], lab["y"]
        own = (x - r, y - r, x + r, y + r)
        chosen = None
        for ring in (1, 2, 3, 4, 5):
            d = r + gap + (ring - 1) * h
            k = d * 0.7
            for cx, cy, anchor in ((x + d, y - h / 2, "start"), (x - d - w, y - h / 2, "end"),
                                   (x - w / 2, y - d - h, "middle"), (x - w / 2, y + d, "middle"),
                                   (x + k, y - k - h, "start"), (x + k, y + k, "start"),
                                   (x - k - w, y - k - h, "end"), (x - k - w, y + k, "end")):
                box = (cx, cy, cx + w, cy + h)
                inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
                if inside and not any(overlaps(box, b) for b in placed) and not any(
                    overlaps(box, b) for b in boxes if b != own
                ):
                    chosen = (box, ring, anchor)
                    break
            if chosen:
                break
        if chosen is None:  # nowhere free: right of the mark, moved inside the map
            bx = min(max(0.0, x + r + gap), max(0.0, width - w))
            by = min(max(0.0, y - h / 2), max(0.0, height - h))
            box = (bx, by, bx + w, by + h)
            chosen = (box, 1 if box[0] == x + r + gap else 2, "start" if bx > x else "end")
        box, ring, anchor = chosen
        placed.append(box)
        leader = None
        if ring > 1:  # from the mark's edge to the nearest point of the label's box
            nx, ny = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])
            dist = max(((nx - x) ** 2 + (ny - y) ** 2) ** 0.5, 1e-9)
            leader = (round(x + (nx - x) * r / dist, 1), round(y + (ny - y) * r / dist, 1),
                      round(nx, 1), round(ny, 1))
        tx = {"start": box[0], "end": box[2], "middle": (box[0] + box[2]) / 2}[anchor]
        out[i] = lab | {"tx": round(tx, 1), "ty": round(box[1] + 0.95 * lab["size"], 1),
                        "anchor": anchor, "leader": leader}
    return out


def scenario_names(t: T, ids: list[str], sep: str = ", ") -> str:
    return sep.join(t.scenario(s) for s in ids)


def outcome_words(t: T, others: list[tuple[str, int]]) -> str:
    """'Balanced (5), a tie of Balanced, Innovative, Diversification (23)' in the page's
    language."""
    return ", ".join(f"{t.outcome(label)} ({n})" for label, n in others)


def robust_towns(*, wait_s: float = 10.0) -> dict | None:
    """The robustness run's records by town id for the current data, waiting up to ``wait_s`` while
    it runs (it is started when missing and takes a few seconds once per data revision, see
    webapp.robust); None if it is not done by then."""
    runner, deadline = get_runner(current_app), time.monotonic() + wait_s
    while True:
        status = runner.status()
        if status.get("state") == "done":
            draws = status["result"]["draws"]
            return {tid: rec | {"draws": draws} for tid, rec in status["result"]["towns"].items()}
        if status.get("state") == "error" or time.monotonic() > deadline:
            return None
        time.sleep(0.1)


@functools.cache
def official_data(root: Path, towns: frozenset[str], scenarios: frozenset[str]) -> Official:
    """Data/official/ of a data root, read once per process (the files change with a release)."""
    return load_official(root, towns=set(towns), scenarios=set(scenarios))


def get_official(svc) -> Official:
    return official_data(
        svc.pipeline.sources.root, frozenset(svc.metas), frozenset(svc.method.scenarios)
    )


def _label(row: dict, lang: str) -> str:
    return row.get(f"label_{lang}") or row["label_en"]


def official_items(off: Official, tid: str, scenarios: list[str], lang: str) -> list[dict]:
    """A town's signals for the brief: label, date, source and agreement with the verdict's
    scenarios."""
    out = []
    for r in signals_for(off, tid, scenarios):
        shown = {
            "contradicts": r["contradicts"],
            "supports": [s for s in r["supports"] if s in scenarios],
            "differs": r["supports"],
            "neutral": [],
        }[r["agreement"]]
        out.append(
            {
                "label": _label(r, lang),
                "kind": r["kind"],
                "date": r["date"] or r.get("date_note", ""),
                "source_url": r["source_url"],
                "agreement": r["agreement"],
                "checked": r["checked"],
                "scenarios": shown,
            }
        )
    return out


def measure_items(off: Official, tid: str, scenarios: list[str], lang: str) -> dict:
    """The measure families common to the verdict's scenarios, those of one only, the town's own."""
    m = measures_for(off, tid, scenarios)

    def fam(r: dict) -> dict:
        return {"id": r["measure_id"], "label": _label(r, lang), "source_url": r["source_url"]}

    own = [
        {
            "label": _label(r, lang),
            "date": r["date"] or r.get("date_note", ""),
            "source_url": r["source_url"],
            "amount": float(r["amount"]) if r.get("amount") else None,
            "amount_unit": r.get("amount_unit"),
            "jobs": r.get("jobs"),
            "status": r.get("status"),
        }
        for r in m["town"]
    ]
    return {
        "common": [fam(r) for r in m["common"]],
        "differs": {sid: [fam(r) for r in rows] for sid, rows in m["differs"].items()},
        "town": own,
    }


def evidence_items(off: Official, tid: str, t: T) -> list[dict]:
    """Dated figures outside the method's units, each with its age in years and the input it
    approximates, in the page's language (numbers, units)."""
    return [
        {
            "label": _label(r, t.lang),
            "value": shown_value(r, lambda v: t.short(float(v), 3)),
            "unit": t.unit(r["unit"]),
            "date": r["date"],
            "age_years": age_years(r),
            "scope": r["scope"],
            "approximates": r["approximates_input"],
            "source_url": r["source_url"],
            "checked": r["checked"],
        }
        for r in off.evidence
        if r["town_id"] == tid
    ]


def brief_context(svc, t: T, rec: dict, robust: dict | None, query: str) -> dict:
    """What templates/_brief.html needs for one town."""
    b = town_brief(rec, (robust or {}).get(rec["id"]) if robust is not None else None, svc.method)
    off = get_official(svc)
    return {
        "brief": b,
        "brief_colour": colour(rec, svc.method),
        "svg": map_svg(svc, t, [rec], focus=rec) | {"label": t.name(svc.metas[rec["id"]])},
        "official": official_items(off, rec["id"], b.scenarios, t.lang),
        "measures": measure_items(off, rec["id"], b.scenarios, t.lang),
        "evidence": evidence_items(off, rec["id"], t),
        "pdf_url": url_for("briefpages.town_pdf", tid=rec["id"]) + ("?" + query if query else ""),
        "compare_url": url_for("briefpages.compare", towns=rec["id"]) + "&" + query,
    }


def api_parts(svc, rec: dict) -> dict:
    """``official``, ``measures`` and ``evidence`` of a town for the API: every item with
    ``source``."""
    off = get_official(svc)
    scenarios = _scenarios_of(rec["scenario"], verdict_kind(rec["scenario"]))
    labels = lambda r: {g: r[f"label_{g}"] for g in ("en", "ru", "kk")}  # noqa: E731
    official = [
        {
            "kind": r["kind"],
            "labels": labels(r),
            "date": r["date"],
            "source": r["source_url"],
            "checked": r["checked"] == "yes",
            "agreement": r["agreement"],
            "supports": r["supports"],
            "contradicts": r["contradicts"],
            "reading": "this project's (data/official/signal_rules.csv)",
        }
        for r in signals_for(off, rec["id"], scenarios)
    ]
    m = measures_for(off, rec["id"], scenarios)

    def family(r: dict) -> dict:
        return {
            "id": r["measure_id"],
            "labels": labels(r),
            "scenarios": r["scenarios"].split("|"),
            "source": r["source_url"],
            "mapping": "this project's (data/official/measures.csv)",
        }

    measures = {
        "scenarios": scenarios,
        "common": [family(r) for r in m["common"]],
        "differs": {k: [family(r) for r in v] for k, v in m["differs"].items()},
        "town": [
            {
                "measure": r["measure_id"],
                "labels": labels(r),
                "amount": r["amount"] or None,
                "amount_unit": r["amount_unit"] or None,
                "date": r["date"],
                "source": r["source_url"],
                "checked": r["checked"] == "yes",
            }
            for r in m["town"]
        ],
    }
    evidence = [
        {
            "metric": r["metric"],
            "labels": labels(r),
            "value": shown_value(r),
            "unit": r["unit"],
            "date": r["date"],
            "age_years": age_years(r),
            "scope": r["scope"],
            "approximates": r["approximates_input"],
            "source": r["source_url"],
            "checked": r["checked"] == "yes",
        }
        for r in off.evidence
        if r["town_id"] == rec["id"]
    ]
    return {"official": official, "measures": measures, "evidence": evidence}


def official_signal_columns(svc, atlas: dict) -> dict[str, dict[str, str]]:
    """Per town the export's ``official`` (signal kinds with their dates, newest first:

    'stagnating_2025 2025-03|status_2012_list 2012-05-25') and ``official_agreement``
    (kind:agreement with the town's result, by data/official/signal_rules.csv, this project's
    reading).
    """
    off = get_official(svc)
    out = {}
    for town in atlas["towns"]:
        scenarios = _scenarios_of(town["scenario"], verdict_kind(town["scenario"]))
        rows = signals_for(off, town["id"], scenarios)
        out[town["id"]] = {
            "official": "|".join(f"{r['kind']} {r['date']}".strip() for r in rows),
            "official_agreement": "|".join(f"{r['kind']}:{r['agreement']}" for r in rows),
        }
    return out
