"""The web app's service: the domain pipeline loaded once, results cached per Params and data revision.

The pipeline (scoring.pipeline) does the work; this module only caches (bounded, thread-safe, with a
generation check so that no answer computed before a data change is stored after it) and keeps the
planner's uploaded statistics.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

from flask import current_app

from geo.params import Params, default_params
from scoring import InputError
from scoring.imports import parse_statistics_upload
from scoring.paper import compare, load_paper, scenario_comparison
from scoring.pipeline import Pipeline

COMPARE_ROLES = ("derived",)
log = logging.getLogger(__name__)
STALE_TMP_SECONDS = 60  # an upload writes in milliseconds; an older temporary file was cut short


class Atlas:
    """Validated parameters in, scored towns out (cached)."""

    def __init__(self, data_dir=None, *, upload_dir=None, cache_size: int = 32):
        self.pipeline = Pipeline(data_dir)
        self.spatial = self.pipeline.spatial
        self.method = self.pipeline.method
        self.layers = self.spatial.layers
        self.experts = self.pipeline.sources.experts
        paper_dir = self.pipeline.sources.root / "paper"
        self.paper = load_paper(paper_dir if paper_dir.is_dir() else None)
        self.paper_rows = compare(self.method, self.paper)
        self.paper_scenarios = scenario_comparison(self.method, self.paper)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every data change
        self.cache_size = cache_size
        self.default_params = default_params()
        self.upload_path = Path(upload_dir) / "statistics_upload.csv" if upload_dir else None
        self.uploaded, self.uploaded_name, self.upload_note = {}, None, None
        if self.upload_path:
            self._load_stored_upload()

    def _load_stored_upload(self) -> None:
        """Read what a planner stored before; a corrupt file is logged, noted and set aside, never fatal."""
        for tmp in self.upload_path.parent.glob(self.upload_path.name + ".*.tmp"):
            with contextlib.suppress(FileNotFoundError):  # another process may remove it first
                if time.time() - tmp.stat().st_mtime > STALE_TMP_SECONDS:  # a write cut short before os.replace
                    tmp.unlink()
        if not self.upload_path.exists():
            return
        try:
            self.uploaded = self._parse(self.upload_path.read_text(encoding="utf-8"), self.upload_path.name)
            self.uploaded_name = self.upload_path.name
        except (InputError, UnicodeDecodeError) as exc:
            aside = self.upload_path.with_name(self.upload_path.name + ".corrupt")
            os.replace(self.upload_path, aside)
            detail = "; ".join(exc.problems[:3]) if isinstance(exc, InputError) else "not UTF-8 text"
            self.upload_note = f"the stored statistics upload was unreadable and was set aside as {aside.name}: {detail}"
            log.error("%s", self.upload_note)

    def _parse(self, text: str, filename: str) -> dict:
        return parse_statistics_upload(text, self.method, self.spatial.places.town_id, filename=filename)

    def statistics_now(self) -> dict:
        """The shipped statistics with the planner's uploaded values laid over them."""
        merged = {t: dict(v) for t, v in self.pipeline.sources.statistics.items()}
        for tid, values in self.uploaded.items():
            merged.setdefault(tid, {}).update({k: v | {"status": "sourced"} for k, v in values.items()})
        return merged

    def upload_statistics(self, text: str, filename: str) -> dict:
        """Validate the whole file first; store it (atomically, a unique temporary file) only when valid."""
        parsed = self._parse(text, filename)  # raises InputError: nothing changes
        with self._lock:
            if self.upload_path:
                _atomic_write(self.upload_path, text)
            self.uploaded, self.uploaded_name, self.upload_note = parsed, filename, None
            self._data_changed()
        return parsed

    def clear_upload(self) -> None:
        with self._lock:
            if self.upload_path:
                self.upload_path.unlink(missing_ok=True)
            self.uploaded, self.uploaded_name, self.upload_note = {}, None, None
            self._data_changed()

    def _data_changed(self) -> None:
        self._generation += 1
        self._cache.clear()

    def results(self, params: Params | None = None) -> dict:
        """Params -> scored atlas with the changes from the defaults (cached per Params and data revision)."""
        params = params or self.default_params
        with self._lock:
            if params in self._cache:
                self._cache.move_to_end(params)
                return self._cache[params]
            generation, statistics = self._generation, self.statistics_now()
        atlas = self.pipeline.run(params, statistics=statistics)
        base = atlas if params == self.default_params else self.results(self.default_params)
        atlas["changes"] = self._changes(base, atlas)
        with self._lock:
            if generation == self._generation:  # no data change while computing: safe to keep
                self._cache[params] = atlas
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return atlas

    def _changes(self, base: dict, new: dict) -> dict:
        """town id -> list of {what, from, to} that differ from the default parameters."""
        compared = [n for n, s in self.method.inputs.items() if s.role in COMPARE_ROLES]
        out = {}
        for a, b in zip(base["towns"], new["towns"]):
            diff = [{"what": k, "from": a["inputs"][k], "to": b["inputs"][k]}
                    for k in compared if a["inputs"][k] != b["inputs"][k]]
            diff += [{"what": f"level:{k}", "from": a["levels"][k], "to": b["levels"][k]}
                     for k in self.method.levelled if a["levels"][k] != b["levels"][k]]
            if a["scenario"]["recommended"] != b["scenario"]["recommended"]:
                diff.append({"what": "scenario", "from": a["scenario"]["recommended"], "to": b["scenario"]["recommended"]})
            if diff:
                out[b["id"]] = diff
        return out

    @cached_property
    def metas(self) -> dict:
        """town id -> the town's row of data/towns.csv (names, oblast, population and sources)."""
        return {r["id"]: r for r in self.layers.towns.drop(columns="geometry").to_dict("records")}

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
        """The basemap layer, simplified for the page once per process (about 1 km)."""
        g = self.layers.oblasts.copy()
        g["geometry"] = g.geometry.simplify(0.01, preserve_topology=True)
        return g.to_json()


def _atomic_write(path: Path, text: str) -> None:
    """Write to a unique temporary file beside ``path``, fsync, then replace ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def init_app(app) -> None:
    """Load the atlas once, at start-up (not per request)."""
    app.extensions["atlas"] = Atlas(app.config.get("DATA_DIR"), upload_dir=app.config["UPLOAD_DIR"])


def get_atlas() -> Atlas:
    return current_app.extensions["atlas"]
