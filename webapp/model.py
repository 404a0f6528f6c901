"""The web app's service: the domain pipeline loaded once, results cached per Params and data revision.

The pipeline (scoring.pipeline) does the work; this module caches (bounded, thread-safe, with a
generation check so that no answer computed before a data change is stored after it) and reads the
statistical and curated inputs and the expert judgments from the store (webapp.store). A change of
the store's head revision, made here, by another process or by the command line, drops the cache.
Two caches: scored results per Params (entries), and what is rendered from them (popups, pages, JSON
bytes; webapp.http) per key, bounded in bytes; a data change empties both.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from flask import current_app, has_request_context, request
from sqlalchemy.exc import DatabaseError

from geo.params import Params, default_params
from scoring.loaders import load_data_texts
from scoring.paper import compare, load_paper, scenario_comparison
from scoring.pipeline import Pipeline

from .http import Rendered
from .stats_io import ValueRow, read_values, screen
from .store import Store

COMPARE_ROLES = ("derived",)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """The stored data at one head revision, screened for scoring."""

    head: int
    statistics: dict
    curated: dict
    experts: dict
    errors: dict = field(default_factory=dict)  # town id ('' = no town) -> reasons a stored value was not used
    stamp: tuple = ()  # the head revision's time, author, kind and file (Store.revision_stamp)


class _Flight:
    """One computation in progress: the waiters' event and, once done, its value."""

    def __init__(self):
        self.done, self.value, self.ok = threading.Event(), None, False


class Atlas:
    """Validated parameters in, scored towns out (cached)."""

    def __init__(self, data_dir=None, *, store: Store, cache_size: int = 32, rendered_mb: int = 64,
                 networks_root=None):
        self.pipeline = Pipeline(data_dir, networks_root=networks_root)
        self.spatial = self.pipeline.spatial
        self.method = self.pipeline.method
        self.layers = self.spatial.layers
        self.store = store
        paper_dir = self.pipeline.sources.root / "paper"
        self.paper = load_paper(paper_dir if paper_dir.is_dir() else None)
        self.paper_rows = compare(self.method, self.paper)
        self.paper_scenarios = scenario_comparison(self.method, self.paper)
        self.texts = load_data_texts(self.pipeline.sources.root)  # every shown data text, translated (i18n)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every data change
        self.cache_size = cache_size
        self._rendered: OrderedDict = OrderedDict()
        self._flights: dict = {}  # key -> _Flight: what one thread is computing now (see _once)
        self._rendered_bytes, self.rendered_max = 0, rendered_mb * 1024 * 1024
        self.default_params = default_params()
        self._snapshot = Snapshot(-1, {}, {}, {})
        self._stamp = self._networks_stamp()
        self.data_note: str | None = None  # a problem met at start-up (a corrupt database set aside)
        self.shared = None  # webapp.shared.SharedRendered: rendered answers shared by processes (webapp.serve)
        self.fingerprint: str | None = None  # webapp.shared.fingerprint, computed at start-up with ``shared``
        seed_store(store, self.pipeline, self.town_id)

    def town_id(self, name: str) -> str | None:
        """A town's id from its id or its name in any language."""
        return self.spatial.places.town_id(name)

    @property
    def experts(self) -> dict:
        return self.snapshot().experts

    def _networks_stamp(self) -> int:
        """When the networks folder last changed (a version saved by any process): its mtime, 0 if none."""
        try:
            return os.stat(self.pipeline.networks_root).st_mtime_ns
        except OSError:
            return 0

    def snapshot(self) -> Snapshot:
        """The stored data now (re-read and screened only when the head revision moved).

        A new network version saved by another process (the networks folder changed) drops what was
        rendered too, as ``networks_changed`` does in the process that saved it.
        """
        head, stamp = self.store.head(), self._networks_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                self._data_changed()
            if head == self._snapshot.head:
                return self._snapshot
        towns = {t for t in self.metas}
        statistics, curated, errors = screen(self.store.current(head), self.method, towns)
        experts = {}
        for j in sorted(self.store.judgments(active_only=True), key=lambda j: j["id"]):
            experts[j["town_id"]] = j  # the latest active judgment of a town is shown beside its result
        snap = Snapshot(head, statistics, curated, experts, errors, self.store.revision_stamp(head))
        with self._lock:
            if snap.head > self._snapshot.head:
                self._snapshot = snap
                self._data_changed()
            return self._snapshot

    @property
    def uploaded_name(self) -> str | None:
        """The latest revision, as text for the page ('revision 3: import stats.csv by anna, ...')."""
        revs = self.store.revisions()
        if not revs:
            return None
        r = revs[0]
        return f"{r.id} ({r.kind}{': ' + r.filename if r.filename else ''}, {r.editor}, {r.created_at})"

    def import_file(self, raw: bytes, filename: str, *, editor: str) -> tuple[int, list[ValueRow]]:
        """Validate a whole CSV/XLSX file, then store it as one new revision (StatsFileError: nothing stored)."""
        rows = read_values(raw, filename, self.method, self.town_id)
        rev = self.store.apply([r.__dict__ | {"status": "sourced"} for r in rows], editor=editor,
                               kind="import", filename=filename, summary=f"{len(rows)} value(s) imported")
        self.snapshot()
        return rev, rows

    def rollback(self, to: int, *, editor: str) -> int:
        rev = self.store.rollback(to, editor=editor)
        self.snapshot()
        return rev

    def networks_changed(self) -> None:
        """A network version was added: drop what was rendered (the planner's list of versions)."""
        with self._lock:
            self._data_changed()

    def _data_changed(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._rendered.clear()
        self._rendered_bytes = 0

    @property
    def generation(self) -> int:
        """The data revision: bumped by every data change (part of every rendered-answer key)."""
        return self._generation

    def _once(self, key: tuple, build: Callable[[], Any]) -> tuple[Any, bool]:
        """``build()`` run by one thread per ``key`` at a time: a thread asking for a key being built waits
        for that answer instead of computing it again (16 clients asking for one new page cost one
        rendering). Returns (value, built here); call with the answer not cached. A failed build is
        not shared: the waiters then build (and fail) themselves."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            return (flight.value, False) if flight.ok else (build(), True)
        try:
            flight.value = build()
            flight.ok = True
            return flight.value, True
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _state(self) -> tuple:
        """The stored state an answer is rendered from, as every process sees it: the database's id, the
        head revision and its stamp, and the networks folder's stamp (call under ``_lock``)."""
        snap = self._snapshot
        return (self.store_id, snap.head, snap.stamp, self._stamp)

    @cached_property
    def store_id(self) -> str:
        return self.store.identity()

    def _frame_now(self) -> tuple[int, tuple]:
        """(generation, stored state) as they are now, read together (call after ``snapshot``)."""
        _ = self.store_id  # a query the first time: not under the lock
        with self._lock:
            return self._generation, self._state()

    def _sharing(self) -> bool:
        """Whether answers go to and come from the shared folder (set up, fingerprinted, no data note)."""
        return self.shared is not None and self.fingerprint is not None and not self.data_note

    def rendered(self, key: tuple, build: Callable[[], Any], *, share: bool = True) -> Any:
        """What is rendered from a result (popups, a page, JSON bytes), built once per key and generation.

        The value must have ``nbytes``; the cache holds at most ``rendered_mb`` (oldest dropped first).
        Built outside the lock, by one thread per key at a time; not kept when the data changed meanwhile.
        An answer rendered while another one is (the popups and layers of a page) takes the outer one's
        generation and stored state: what it is built from was read after the outer one began, so it is
        kept only if nothing changed since then. ``share``: also kept for the other processes
        (``_shared_or_build``; off for what is cheaper to make again than to read, such as vendor files).
        """
        self.snapshot()  # a change of the store (this or another process) first drops what was rendered
        outer = getattr(_rendering, "frame", None)
        frame = outer or self._frame_now()
        generation, state = frame
        key = (generation, request.script_root if has_request_context() else "", *key)  # URLs in it start there
        with self._lock:
            if key in self._rendered:
                self._rendered.move_to_end(key)
                return self._rendered[key]

        def make() -> Any:
            _rendering.frame = frame
            try:
                return self._shared_or_build(state, key[1:], build) if share else build()
            finally:
                _rendering.frame = outer
        value, built = self._once(("rendered", *key), make)
        if not built:
            return value
        with self._lock:
            if key[0] == self._generation and key not in self._rendered:
                self._rendered[key] = value
                self._rendered_bytes += _nbytes(value)
                while self._rendered_bytes > self.rendered_max and len(self._rendered) > 1:
                    _, old = self._rendered.popitem(last=False)
                    self._rendered_bytes -= _nbytes(old)
        return value

    def _shared_or_build(self, state: tuple, key: tuple, build: Callable[[], Any]) -> Any:
        """A rendered answer from the processes' shared folder (``webapp.shared``) when one rendered it
        from the same code, data and stored ``state``; else ``build()``, saved there when the stored
        state, read again after building, is still ``state`` (bytes only: a ``webapp.http.Rendered``)."""
        if not self._sharing():
            return build()
        name = self.shared.name(self.fingerprint, state, key)
        hit = self.shared.get(name)
        if hit is not None:
            return hit
        value = build()
        self.snapshot()  # the head and the networks stamp as they are now
        if self._frame_now()[1] == state and isinstance(value, Rendered):
            self.shared.put(name, value)
        return value

    def _shared_name_at(self, key: tuple) -> tuple[str | None, int]:
        """(the file of the answer ``key``, rendered at the root, for the stored state now, or None when
        the folder is not used; the generation that state is)."""
        if not self._sharing():
            return None, -1
        self.snapshot()
        generation, state = self._frame_now()
        return self.shared.name(self.fingerprint, state, ("", *key)), generation

    def shared_name(self, key: tuple) -> str | None:
        """The file of the answer ``key`` (rendered at the root) in the shared folder, for the stored state
        now; None when the folder is not used (none, no fingerprint, or a data note)."""
        return self._shared_name_at(key)[0]

    def preload_shared(self, key: tuple) -> bool:
        """Put the answer ``key`` in memory from the shared folder, if a process rendered it from this
        code, data and stored state (the first page at start-up, webapp.serve); True if it was there and
        the state did not move while it was read."""
        name, generation = self._shared_name_at(key)
        hit = self.shared.get(name) if name else None
        if hit is None:
            return False
        with self._lock:
            if generation != self._generation:  # a change meanwhile: the page read is not today's
                return False
            full = (generation, "", *key)
            if full not in self._rendered:
                self._rendered[full] = hit
                self._rendered_bytes += _nbytes(hit)
        return True

    @contextmanager
    def frame(self):
        """Within: answers rendered by this thread take the generation and stored state of now, as inside
        ``rendered`` (for a page rendered without the cache, a signed-in editor's: the popups and layers
        it renders are kept only if nothing changed since it began)."""
        if getattr(_rendering, "frame", None) is not None:
            yield
            return
        self.snapshot()
        _rendering.frame = self._frame_now()
        try:
            yield
        finally:
            _rendering.frame = None

    def results(self, params: Params | None = None) -> dict:
        """Params -> scored atlas with the changes from the defaults (cached per Params and data revision;
        computed by one thread per Params at a time)."""
        params = params or self.default_params
        self.snapshot()
        with self._lock:  # the snapshot and its generation read together (another thread may move both)
            snap, generation = self._snapshot, self._generation
            if params in self._cache:
                self._cache.move_to_end(params)
                return self._cache[params]
        atlas, built = self._once(("results", generation, snap.head, params), lambda: self._compute(params, snap))
        if built:
            with self._lock:
                if generation == self._generation:  # no data change while computing: safe to keep
                    self._cache[params] = atlas
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        return atlas

    def _compute(self, params: Params, snap: Snapshot) -> dict:
        atlas = self.pipeline.run(params, statistics=snap.statistics, curated=snap.curated, experts=snap.experts)
        for town in atlas["towns"]:
            town["data_errors"] = snap.errors.get(town["id"], [])
        atlas["data_revision"] = snap.head
        base = atlas if params == self.default_params else self.results(self.default_params)
        atlas["changes"] = self._changes(base, atlas)
        return atlas

    def _changes(self, base: dict, new: dict, *, inputs: str = "derived") -> dict:
        """town id -> list of {what, from, to} that differ between two results: the compared inputs
        (``inputs="derived"``: the agglomeration inputs; ``"all"``: every input, for a data change),
        the nearest large city, its road km and minutes, the levels and the recommendation."""
        compared = [n for n, s in self.method.inputs.items() if inputs == "all" or s.role in COMPARE_ROLES]
        out = {}
        for a, b in zip(base["towns"], new["towns"]):
            diff = [{"what": k, "from": a["inputs"][k], "to": b["inputs"][k]}
                    for k in compared if a["inputs"][k] != b["inputs"][k]]
            diff += _access_changes(a["agglomeration"], b["agglomeration"])
            diff += [{"what": f"level:{k}", "from": a["levels"][k], "to": b["levels"][k]}
                     for k in self.method.levelled if a["levels"][k] != b["levels"][k]]
            if a["scenario"]["recommended"] != b["scenario"]["recommended"]:
                diff.append({"what": "scenario", "from": a["scenario"]["recommended"], "to": b["scenario"]["recommended"]})
            if diff:
                out[b["id"]] = diff
        return out

    def data_changes(self, before: dict) -> dict:
        """What a data change (an import, a rollback) changed at the default parameters: town id -> diffs."""
        return self._changes(before, self.results(self.default_params), inputs="all")

    @cached_property
    def metas(self) -> dict:
        """town id -> the town's row of data/towns.csv (names, oblast, population and sources)."""
        return {r["id"]: r for r in self.layers.towns.drop(columns="geometry").to_dict("records")}

    @cached_property
    def city_rows(self) -> dict:
        """large city id -> its row of data/large_cities.csv (names in three languages)."""
        return {r["id"]: r for r in self.layers.cities.drop(columns="geometry").to_dict("records")}

    @cached_property
    def place_points(self) -> dict:
        """Every town and large-city name (three languages, lower case) -> [lat, lon]: the page draws
        a planned road's ends before Apply."""
        out = {}
        for r in self.layers.towns.to_dict("records") + self.layers.cities.to_dict("records"):
            for c in ("name_en", "name_ru", "name_kk", "id"):
                if r.get(c):
                    out[str(r[c]).lower()] = [round(float(r["geometry"].y), 4), round(float(r["geometry"].x), 4)]
        return out

    @cached_property
    def places(self) -> list[str]:
        """Every town and large-city name in the three languages (planned-road suggestions)."""
        rows = self.layers.towns.to_dict("records") + self.layers.cities.to_dict("records")
        return sorted({r[c] for r in rows for c in ("name_en", "name_ru", "name_kk") if r[c]})

    @cached_property
    def official_areas(self) -> dict:
        """The officially approved agglomerations as schematic areas (once per process)."""
        return self.spatial.official.areas_geojson()

    @cached_property
    def oblasts_geojson(self) -> str:
        """The basemap layer for the page, once per process: simplified (about 1 km), 2-D, coordinates
        rounded as every layer's (``webapp.layers.rounded_geometries``), with the shapefile's attributes."""
        import pandas as pd
        import shapely

        from .layers import rounded_geometries

        g = self.layers.oblasts
        shapes = rounded_geometries(shapely.simplify(g.geometry.values, 0.01, preserve_topology=True))
        props = json.loads(pd.DataFrame(g.drop(columns=g.geometry.name)).to_json(orient="records", force_ascii=False))
        return json.dumps({"type": "FeatureCollection", "features": [
            {"id": str(i), "type": "Feature", "properties": p, "geometry": shape}
            for i, p, shape in zip(g.index, props, shapes)]},
            ensure_ascii=False)


_rendering = threading.local()  # .frame: (generation, state) of the answer this thread is rendering


def _nbytes(value) -> int:
    return int(getattr(value, "nbytes", 0) or len(str(value)))


ACCESS_FIELDS = (("nearest_large_city", None), ("road_km", 1), ("travel_min", 0))


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
    """The shipped statistical and curated values (data/statistics.csv, data/curated.csv) as store rows."""
    rows = []
    for table in (pipeline.sources.statistics, pipeline.sources.curated):
        for tid, inputs in table.items():
            for name, r in inputs.items():
                value = float(r["value"]) if r["value"].strip() else None
                rows.append({"town_id": tid, "input": name, "value": value, "unit": r["unit"], "period": r["period"],
                             "source": r["source"], "note": r["note"], "status": r["status"]})
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
    """Open and migrate the store. A SQLite file that is not a readable database is logged, set aside
    as ``*.corrupt`` and replaced by a new store (seeded with the shipped data): never a reason not to
    start. Returns the store and the note to show (None when all was well)."""
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
        note = f"the stored database was unreadable and was set aside as {aside.name} ({exc.orig or exc}); " \
               "the shipped values are in use"
        log.error("%s", note)
        store = Store(url)
        store.migrate()
        return store, note


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) and len(url) > len(prefix) else None


def init_app(app) -> None:
    """Open (create, migrate, seed) the store and load the atlas once, at start-up (not per request)."""
    store, note = open_store(database_url(app))
    app.extensions["store"] = store
    app.extensions["atlas"] = Atlas(app.config.get("DATA_DIR"), store=store,
                                    networks_root=app.config.get("NETWORKS_ROOT"))
    app.extensions["atlas"].data_note = note
    importer = app.extensions.get("network_import")
    if importer is not None:  # the import state in the store: seen by every worker process
        importer.attach(store)


def get_atlas() -> Atlas:
    return current_app.extensions["atlas"]


def get_store() -> Store:
    return current_app.extensions["store"]
