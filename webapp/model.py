"""The web app's service: the domain pipeline loaded once, results cached per Params and data revision.

The pipeline (scoring.pipeline) does the work; this module only caches (bounded, thread-safe, with a
generation check so that no answer computed before a data change is stored after it) and keeps the
planner's uploaded statistics. Two caches: scored results per Params (entries), and what is rendered
from them (popups, pages, JSON bytes; webapp.http) per key, bounded in bytes; a data change empties both.
"""
from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from flask import current_app

from geo.params import Params, default_params
from scoring.imports import parse_statistics_upload
from scoring.paper import compare, load_paper, scenario_comparison
from scoring.pipeline import Pipeline

COMPARE_ROLES = ("derived",)


class Atlas:
    """Validated parameters in, scored towns out (cached)."""

    def __init__(self, data_dir=None, *, upload_dir=None, cache_size: int = 32, rendered_mb: int = 64):
        self.pipeline = Pipeline(data_dir)
        self.spatial = self.pipeline.spatial
        self.method = self.pipeline.method
        self.layers = self.spatial.layers
        self.experts = self.pipeline.sources.experts
        self.paper = load_paper()
        self.paper_rows = compare(self.method, self.paper)
        self.paper_scenarios = scenario_comparison(self.method, self.paper)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every data change
        self.cache_size = cache_size
        self._rendered: OrderedDict = OrderedDict()
        self._rendered_bytes, self.rendered_max = 0, rendered_mb * 1024 * 1024
        self.default_params = default_params()
        self.upload_path = Path(upload_dir) / "statistics_upload.csv" if upload_dir else None
        self.uploaded, self.uploaded_name = {}, None
        if self.upload_path and self.upload_path.exists():  # what a planner stored before
            self.uploaded = self._parse(self.upload_path.read_text(encoding="utf-8"), self.upload_path.name)
            self.uploaded_name = self.upload_path.name

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
            self.uploaded, self.uploaded_name = parsed, filename
            self._data_changed()
        return parsed

    def clear_upload(self) -> None:
        with self._lock:
            if self.upload_path:
                self.upload_path.unlink(missing_ok=True)
            self.uploaded, self.uploaded_name = {}, None
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

    def rendered(self, key: tuple, build: Callable[[], Any]) -> Any:
        """What is rendered from a result (popups, a page, JSON bytes), built once per key and generation.

        The value must have ``nbytes``; the cache holds at most ``rendered_mb`` (oldest dropped first).
        Built outside the lock; not kept when the data changed meanwhile.
        """
        key = (self._generation, *key)
        with self._lock:
            if key in self._rendered:
                self._rendered.move_to_end(key)
                return self._rendered[key]
        value = build()
        with self._lock:
            if key[0] == self._generation and key not in self._rendered:
                self._rendered[key] = value
                self._rendered_bytes += _nbytes(value)
                while self._rendered_bytes > self.rendered_max and len(self._rendered) > 1:
                    _, old = self._rendered.popitem(last=False)
                    self._rendered_bytes -= _nbytes(old)
        return value

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
    def oblasts_geojson(self) -> str:
        """The basemap layer, simplified for the page once per process (about 1 km)."""
        g = self.layers.oblasts.copy()
        g["geometry"] = g.geometry.simplify(0.01, preserve_topology=True)
        return g.to_json()


def _nbytes(value) -> int:
    return int(getattr(value, "nbytes", 0) or len(str(value)))


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
