"""Heavy state loaded once per process (layers, network, method, data) and results per parameters."""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

from flask import current_app

from geo.agglomeration import SpatialModel, fua_catchments
from geo.params import defaults, validate_params
from scoring import load_expert_judgments, load_method
from scoring.atlas import build_atlas, load_special, load_statistics, parse_statistics_upload
from scoring.paper import compare, load_paper, scenario_comparison

COMPARE_KEYS = ("aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction")


class Atlas:
    """The application's domain service: validated parameters in, scored towns out."""

    def __init__(self, data_dir=None, *, upload_dir=None, cache_size: int = 32):
        from geo.layers import load_layers

        self.spatial = SpatialModel(load_layers(data_dir) if data_dir else None)
        self.method = load_method()
        self.statistics = load_statistics(self.method)
        self.special = load_special()
        self.experts = load_expert_judgments(method=self.method)
        self.paper = load_paper()
        self.paper_rows = compare(self.method, self.paper)
        self.paper_scenarios = scenario_comparison(self.method, self.paper)
        self.layers = self.spatial.layers
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.cache_size = cache_size
        self.default_params = defaults()
        self.upload_path = Path(upload_dir) / "statistics_upload.csv" if upload_dir else None
        self.uploaded, self.uploaded_name = {}, None
        if self.upload_path and self.upload_path.exists():  # what a planner stored before
            self.uploaded = self._parse(self.upload_path.read_text(encoding="utf-8"), self.upload_path.name)
            self.uploaded_name = self.upload_path.name

    def _town_ids(self) -> dict:
        return {str(v).strip().lower(): tid for tid, r in self.metas.items()
                for v in (tid, r["name_en"], r["name_kk"], r["name_ru"], r["name_en_full"]) if v}

    def _parse(self, text: str, filename: str) -> dict:
        return parse_statistics_upload(text, self.method, self._town_ids(), filename=filename)

    def statistics_now(self) -> dict:
        """The shipped statistics with the planner's uploaded values laid over them."""
        merged = {t: dict(v) for t, v in self.statistics.items()}
        for tid, values in self.uploaded.items():
            merged.setdefault(tid, {}).update(values)
        return merged

    def upload_statistics(self, text: str, filename: str) -> dict:
        """Validate the whole file first; store it (atomically) only when it has no problem."""
        parsed = self._parse(text, filename)  # raises InputError: nothing changes
        if self.upload_path:
            self.upload_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.upload_path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.upload_path)
        with self._lock:
            self.uploaded, self.uploaded_name = parsed, filename
            self._cache.clear()
        return parsed

    def clear_upload(self) -> None:
        if self.upload_path and self.upload_path.exists():
            self.upload_path.unlink()
        with self._lock:
            self.uploaded, self.uploaded_name = {}, None
            self._cache.clear()

    @staticmethod
    def key(params: dict) -> str:
        return json.dumps(params, sort_keys=True, ensure_ascii=False)

    def results(self, raw: dict | None = None) -> dict:
        """Validated parameters -> atlas with catchments and the changes from the defaults."""
        params = validate_params(raw)
        k = self.key(params)
        with self._lock:
            if k in self._cache:
                self._cache.move_to_end(k)
                return self._cache[k]
        derived = self.spatial.derive(params)
        atlas = build_atlas(derived, self.method, statistics=self.statistics_now(), special=self.special,
                            experts=self.experts)
        atlas["catchments"] = fua_catchments(derived)
        atlas["planned"] = [{k2: v for k2, v in p.items() if k2 in ("from", "to", "class", "km", "min", "coords")}
                            for p in derived["planned"]]
        atlas["selected_cities"] = derived["selected_cities"]
        base = atlas if params == self.default_params else self.results({})
        atlas["changes"] = self._changes(base, atlas)
        with self._lock:
            self._cache[k] = atlas
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return atlas

    def _changes(self, base: dict, new: dict) -> dict:
        """town id -> list of {what, from, to} that differ from the default parameters."""
        out = {}
        for a, b in zip(base["towns"], new["towns"]):
            diff = []
            for k in COMPARE_KEYS:
                if a["inputs"][k] != b["inputs"][k]:
                    diff.append({"what": k, "from": a["inputs"][k], "to": b["inputs"][k]})
            for k in self.method.levelled:
                if a["levels"][k] != b["levels"][k]:
                    diff.append({"what": f"level:{k}", "from": a["levels"][k], "to": b["levels"][k]})
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


def init_app(app) -> None:
    """Load the atlas once, at start-up (not per request)."""
    app.extensions["atlas"] = Atlas(app.config.get("DATA_DIR"), upload_dir=app.config["UPLOAD_DIR"])


def get_atlas() -> Atlas:
    return current_app.extensions["atlas"]
