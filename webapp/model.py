"""The web app's service: the domain pipeline loaded once, results and rendered answers cached.

The pipeline (scoring.pipeline) does the work; this module reads the statistical and curated inputs
and the expert judgments from the store (webapp.store.db) and keeps what it computes and renders in
the one cache (webapp.cache), keyed by what was asked and the stored state it was made from: the
store's head revision (every import, edit, judgment and rollback, by any process, moves it) and the
networks folder's stamp (a network version saved by any process). A change makes new keys; nothing
is dropped by hand, and no answer computed before a change is served after it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, TypeVar

from flask import current_app, g, has_request_context, request
from sqlalchemy.exc import DatabaseError

from geo.params import Params, default_params
from scoring.atlas import stored_provenance
from scoring.estimates import Estimates, parse_row
from scoring.loaders import load_data_texts
from scoring.paper import compare, load_paper, scenario_comparison
from scoring.pipeline import Pipeline

from webapp.cache import DEFAULT_MB, Cache
from webapp.http import etag_of
from webapp.i18n import NAME_COLUMNS
from webapp.map.serialize import verdict_label
from webapp.store.stats_io import EstimateRow, ValueRow, read_file, screen
from webapp.store.db import Store, period_year

COMPARE_ROLES = ("derived",)
SAFE_METHODS = ("GET", "HEAD")  # requests that change nothing: the stored state read once for them
log = logging.getLogger(__name__)
V = TypeVar("V")


@dataclass(frozen=True)
class Snapshot:
    """The stored data at one head revision, screened for scoring."""

    head: int
    statistics: dict
    curated: dict
    experts: dict
    errors: dict = field(
        default_factory=dict
    )  # town id ('' = no town) -> reasons a stored value was not used
    estimates: Estimates = field(
        default_factory=dict
    )  # shipped data/estimates.csv, stored ones replacing
    # the stored inputs' provenance per town (scoring.atlas.stored_provenance): made once per state
    provenance: dict = field(default_factory=dict)


class Atlas:
    """Validated parameters in, scored towns out (cached)."""

    def __init__(
        self, data_dir=None, *, store: Store, cache_mb: int = DEFAULT_MB, networks_root=None
    ):
        self.pipeline = Pipeline(data_dir, networks_root=networks_root)
        self.spatial = self.pipeline.spatial
        self.method = self.pipeline.method
        self.layers = self.spatial.layers
        self.store = store
        paper_dir = self.pipeline.sources.root / "paper"
        self.paper = load_paper(paper_dir if paper_dir.is_dir() else None)
        self.paper_rows = compare(self.method, self.paper)
        self.paper_scenarios = scenario_comparison(self.method, self.paper)
        self.texts = load_data_texts(
            self.pipeline.sources.root
        )  # every shown data text, translated (i18n)
        self.cache = Cache(cache_mb * 1024 * 1024)
        self.default_params = default_params()
        # in every versioned URL (layers, popups, map scripts): a new start may draw differently
        # (code or data files changed), so its URLs are new; gunicorn's forked workers share it
        self.build_id = secrets.token_hex(4)
        self.data_note: str | None = (
            None  # a problem met at start-up (a corrupt database set aside)
        )
        seed_store(store, self.pipeline, self.town_id)

    def town_id(self, name: str) -> str | None:
        """A town's id from its id or its name in any language."""
        return self.spatial.places.town_id(name)

    @property
    def experts(self) -> dict:
        return self.snapshot().experts

    def _networks_stamp(self) -> int:
        """When the networks folder last changed (a version saved by any process): its mtime, 0 if
        none."""
        try:
            return os.stat(self.pipeline.networks_root).st_mtime_ns
        except OSError:
            return 0

    def state(self) -> tuple[int, int]:
        """(head revision, networks stamp): the stored state answers are made from, read once per
        GET request or request that stores nothing (``g.stores_nothing``, e.g. a recompute), so one
        answer is made from one state, and afresh otherwise (after a change)."""
        if has_request_context() and (request.method in SAFE_METHODS or g.get("stores_nothing")):
            if "atlas_state" not in g:
                g.atlas_state = (self.store.head(), self._networks_stamp())
            return g.atlas_state
        return self.store.head(), self._networks_stamp()

    def cached(self, key: tuple, build: Callable[[], V]) -> V:
        """``build()`` kept under ``key`` and the stored state (and the request's script root: URLs
        in rendered answers start there)."""
        root = request.script_root if has_request_context() else ""
        return self.cache.get((*key, root, *self.state()), build)

    def version(self, *key: Any) -> str:
        """A short version for a URL naming what ``key`` selects at the stored state now: the same
        in every worker of one start, new after a data change or a restart."""
        return etag_of(repr((key, self.state(), self.build_id)).encode())[:16]

    def snapshot(self) -> Snapshot:
        """The stored data at the head revision now, screened for scoring (read once a revision)."""
        head = self.state()[0]
        return self.cache.get(("snapshot", head), lambda: self._read(head))

    def _read(self, head: int) -> Snapshot:
        statistics, curated, errors = screen(self.store.current(head), self.method, set(self.metas))
        experts = {}
        for j in sorted(self.store.judgments(active_only=True), key=lambda j: j["id"]):
            experts[j["town_id"]] = (
                j  # the latest active judgment of a town is shown beside its result
            )
        estimates = stored_estimates(
            self.store.estimates(head),
            self.pipeline.sources.estimates,
            self.method,
            set(self.metas),
            errors,
        )
        stored = stored_provenance(self.method, statistics, curated, list(self.metas))
        return Snapshot(head, statistics, curated, experts, errors, estimates, stored)

    @property
    def uploaded_name(self) -> str | None:
        """The latest revision, as text for the page ('revision 3: import stats.csv by anna,
        ...')."""
        revs = self.store.revisions()
        if not revs:
            return None
        r = revs[0]
        return (
            f"{r.id} ({r.kind}{': ' + r.filename if r.filename else ''}, {r.editor},"
            f" {r.created_at})"
        )

    def import_file(
        self, raw: bytes, filename: str, *, editor: str
    ) -> tuple[int, list[ValueRow] | list[EstimateRow]]:
        """Validate a whole CSV/XLSX file of values or of interval estimates (told by its header),
        then store it as one new revision (StatsFileError: nothing stored)."""
        rows = read_file(raw, filename, self.method, self.town_id)
        estimates = any(isinstance(r, EstimateRow) for r in rows)
        status, what = ("estimate", "estimate(s)") if estimates else ("sourced", "value(s)")
        return (
            self.store.apply(
                [r.__dict__ | {"status": status} for r in rows],
                editor=editor,
                kind="import",
                filename=filename,
                summary=f"{len(rows)} {what} imported",
            ),
            rows,
        )

    def outranked(self, rows: list[ValueRow] | list[EstimateRow], rev: int) -> list[dict]:
        """Imported values that revision ``rev`` stored but scoring will not use: a value of a later
        period was stored before (scoring takes the latest period per town and input)."""
        if not rows or isinstance(rows[0], EstimateRow):
            return []
        before = {
            (r["town_id"], r["input"]): r
            for r in self.store.current(rev - 1)
            if r["value"] is not None and r["status"] != "missing"
        }
        out = []
        for r in rows:
            old = before.get((r.town_id, r.input))
            if old is not None and period_year(old["period"]) > period_year(r.period):
                out.append(
                    {
                        "town": r.town_id,
                        "input": r.input,
                        "period": r.period,
                        "stored_period": old["period"],
                        "stored_value": old["value"],
                    }
                )
        return out

    def rollback(self, to: int, *, editor: str) -> int:
        return self.store.rollback(to, editor=editor)

    def networks_changed(self) -> None:
        """A network version was saved: nothing to do (the networks stamp is in every key)."""

    def results(self, params: Params | None = None) -> dict:
        """Params -> scored atlas with the changes from the defaults (cached: Params and state)."""
        params = params or self.default_params
        head, stamp = self.state()
        return self._results(params, head, stamp)

    def _results(self, params: Params, head: int, stamp: int) -> dict:
        snap = self.cache.get(("snapshot", head), lambda: self._read(head))
        return self.cache.get(
            ("results", params, head, stamp), lambda: self._compute(params, snap, stamp)
        )

    def _compute(self, params: Params, snap: Snapshot, stamp: int) -> dict:
        atlas = self.pipeline.run(
            params,
            statistics=snap.statistics,
            curated=snap.curated,
            experts=snap.experts,
            estimate_table=snap.estimates,
            stored=snap.provenance,
        )
        for town in atlas["towns"]:
            town["data_errors"] = snap.errors.get(town["id"], [])
        atlas["data_revision"] = snap.head
        default = params == self.default_params
        base = atlas if default else self._results(self.default_params, snap.head, stamp)
        atlas["changes"] = self._changes(base, atlas)
        return atlas

    def _changes(self, base: dict, new: dict, *, inputs: str = "derived") -> dict:
        """Town id -> list of {what, from, to} that differ between two results: the compared inputs
        (``inputs="derived"``: the agglomeration inputs; ``"all"``: every input, for a data change),
        the nearest large city, its road km and minutes, the levels and the verdict the map shows
        (``scenario``: ``webapp.map.serialize.verdict_label``)."""
        compared = [
            n for n, s in self.method.inputs.items() if inputs == "all" or s.role in COMPARE_ROLES
        ]
        out = {}
        for a, b in zip(base["towns"], new["towns"]):
            diff = [
                {"what": k, "from": a["inputs"][k], "to": b["inputs"][k]}
                for k in compared
                if a["inputs"][k] != b["inputs"][k]
            ]
            diff += _access_changes(a["agglomeration"], b["agglomeration"])
            diff += [
                {"what": f"level:{k}", "from": a["levels"][k], "to": b["levels"][k]}
                for k in self.method.levelled
                if a["levels"][k] != b["levels"][k]
            ]
            was, now = verdict_label(a["scenario"]), verdict_label(b["scenario"])
            if was != now:  # what the map says (a tie, undetermined ...), not the raw ranking
                diff.append({"what": "scenario", "from": was, "to": now})
            if diff:
                out[b["id"]] = diff
        return out

    def data_changes(self, before: dict) -> dict:
        """What a data change (an import, a rollback) changed at the default parameters: town id ->
        diffs."""
        return self._changes(before, self.results(self.default_params), inputs="all")

    @cached_property
    def metas(self) -> dict:
        """Town id -> the town's row of data/towns.csv (names, oblast, population and sources)."""
        return {r["id"]: r for r in self.layers.towns.drop(columns="geometry").to_dict("records")}

    @cached_property
    def city_rows(self) -> dict:
        """Large city id -> its row of data/large_cities.csv (names in three languages)."""
        return {r["id"]: r for r in self.layers.cities.drop(columns="geometry").to_dict("records")}

    @cached_property
    def place_points(self) -> dict:
        """Every town and large-city name (three languages, lower case) -> [lat, lon]: the page
        draws a planned road's ends before Apply."""
        out = {}
        for r in self.layers.towns.to_dict("records") + self.layers.cities.to_dict("records"):
            for c in (*NAME_COLUMNS, "id"):
                if r.get(c):
                    out[str(r[c]).lower()] = [
                        round(float(r["geometry"].y), 4),
                        round(float(r["geometry"].x), 4),
                    ]
        return out

    @cached_property
    def places(self) -> list[str]:
        """Every town and large-city name in the three languages (planned-road suggestions)."""
        rows = self.layers.towns.to_dict("records") + self.layers.cities.to_dict("records")
        return sorted({r[c] for r in rows for c in NAME_COLUMNS if r[c]})

    @cached_property
    def official_areas(self) -> dict:
        """The officially approved agglomerations as schematic areas (once per process)."""
        return self.spatial.official.areas_geojson()

    @cached_property
    def oblasts_geojson(self) -> str:
        """The basemap layer for the page, once per process: simplified (about 1 km), 2-D,
        coordinates rounded as every layer's (``webapp.map.layers.rounded_geometries``), with the
        shapefile's attributes."""
        import pandas as pd
        import shapely

        from webapp.map.layers import rounded_geometries

        g = self.layers.oblasts
        shapes = rounded_geometries(
            shapely.simplify(g.geometry.values, 0.01, preserve_topology=True)
        )
        props = json.loads(
            pd.DataFrame(g.drop(columns=g.geometry.name)).to_json(
                orient="records", force_ascii=False
            )
        )
        return json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"id": str(i), "type": "Feature", "properties": p, "geometry": shape}
                    for i, p, shape in zip(g.index, props, shapes)
                ],
            },
            ensure_ascii=False,
        )


ACCESS_FIELDS = (("nearest_large_city", None), ("road_km", 1), ("travel_min", 0))


def stored_estimates(
    rows: list[dict], shipped: Estimates, method, towns: set[str], errors: dict
) -> Estimates:
    """The estimates scoring uses: the shipped ones (data/estimates.csv), each replaced by a stored
    estimate of the same town and input.

    A stored row that fails the file's checks (whatever the database holds) is left out, with the
    reason in ``errors[town]``.
    """
    table: Estimates = {t: dict(e) for t, e in shipped.items()}
    for r in rows:
        text = {
            k: "" if r.get(k) is None else str(r[k])
            for k in ("town_id", "input", "low", "high", "most_likely", "coverage", "method")
        }
        problems: list[str] = []
        est = parse_row(
            text
            | {
                "town": text["town_id"],
                "sources": r.get("source") or "",
                "made_by": r.get("entered_by") or "",
                "made_at": (r.get("entered_at") or "")[:10],
            },
            f"stored estimate of {r['input']}",
            method,
            towns,
            problems,
        )
        if est is None:
            errors.setdefault(r["town_id"], []).extend(f"{p}; not used" for p in problems)
            continue
        table.setdefault(est.town, {})[est.input] = est
    return table


def _access_changes(a: dict, b: dict) -> list[dict]:
    """The nearest large city, road km (to 0.1 km) and minutes (to 1 min) where they differ."""
    out = []
    for key, digits in ACCESS_FIELDS:
        x, y = a.get(key), b.get(key)
        if digits is not None:
            x = None if x is None else round(float(x), digits)
            y = None if y is None else round(float(y), digits)
        if x != y:
            out.append({"what": key, "from": x, "to": y})
    return out


def shipped_rows(pipeline: Pipeline) -> list[dict]:
    """The shipped statistical and curated values (data/statistics.csv, data/curated.csv) as store
    rows."""
    rows = []
    for table in (pipeline.sources.statistics, pipeline.sources.curated):
        for tid, inputs in table.items():
            for name, r in inputs.items():
                value = float(r["value"]) if r["value"].strip() else None
                rows.append(
                    {
                        "town_id": tid,
                        "input": name,
                        "value": value,
                        "unit": r["unit"],
                        "period": r["period"],
                        "source": r["source"],
                        "note": r["note"],
                        "status": r["status"],
                    }
                )
    return rows


def shipped_judgments(pipeline: Pipeline, town_id) -> list[dict]:
    """data/expert_judgments.csv with each town resolved to its id."""
    return [{"town_id": town_id(name) or name, **j} for name, j in pipeline.sources.experts.items()]


def seed_store(store: Store, pipeline: Pipeline, town_id) -> bool:
    """Revision 1 = the shipped data, entered by SHIPPED_BY, when the store is empty."""
    return store.seed(shipped_rows(pipeline), shipped_judgments(pipeline, town_id))


def database_url(app) -> str:
    """DATABASE_URL from the config, else SQLite in the instance folder."""
    url = app.config.get("DATABASE_URL")
    if url:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(app.instance_path) / "atlas.sqlite3")


def open_store(url: str) -> tuple[Store, str | None]:
    """Open and migrate the store.

    A SQLite file that is not a readable database is logged, set aside as ``*.corrupt`` and replaced
    by a new store (seeded with the shipped data): never a reason not to start. Returns the store
    and the note to show (None when all was well).
    """
    store = Store(url)
    try:
        store.migrate()
        return store, None
    except DatabaseError as exc:
        path = _sqlite_path(url)
        if path is None or not path.exists():
            raise
        store.engine.dispose()
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        note = (
            f"the stored database was unreadable and was set aside as {aside.name}"
            f" ({exc.orig or exc}); the shipped values are in use"
        )
        log.error("%s", note)
        store = Store(url)
        store.migrate()
        return store, note


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url[len(prefix) :]) if url.startswith(prefix) and len(url) > len(prefix) else None


def init_app(app) -> None:
    """Open (create, migrate, seed) the store and load the atlas once, at start-up (not per
    request)."""
    store, note = open_store(database_url(app))
    app.extensions["store"] = store
    app.extensions["atlas"] = Atlas(
        app.config.get("DATA_DIR"), store=store, networks_root=app.config.get("NETWORKS_ROOT")
    )
    app.extensions["atlas"].data_note = note
    importer = app.extensions.get("network_import")
    if importer is not None:  # the import state in the store: seen by every worker process
        importer.attach(store)


def get_atlas() -> Atlas:
    return current_app.extensions["atlas"]


def get_store() -> Store:
    return current_app.extensions["store"]
