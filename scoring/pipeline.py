"""The domain pipeline: sources + Params -> scored atlas, outside Flask.

``Pipeline(data_root).run(params)`` is what the CLI, the web app, the exports and the benchmarks
call. ``Sources`` holds everything read from a data root once (layers, method, statistics, curated
inputs, expert judgments, the paper's inputs); ``run`` derives the agglomeration inputs for the
parameters and scores every town.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo import ParamError
from geo.agglomeration import SpatialModel
from geo.layers import load_layers
from geo.netimport import DEFAULT_ROOT, NetworkImportError
from geo.params import Params, default_params
from geo.versions import SHIPPED, available, layers_for, version_info

from .atlas import Table, build_atlas
from .estimates import Estimates, load_estimates, with_estimates
from .loaders import load_expert_judgments, load_paper_inputs, load_values
from .method import DEFAULT_METHOD_DIR, Method, load_method
from .reserves import load_rule, reserve_values

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Sources:
    """What a data root provides, read and validated once."""

    root: Path
    method: Method
    statistics: dict[str, Any]  # town_id -> {input: row}, role statistical
    curated: dict[str, Any]  # town_id -> {input: row}, role curated
    experts: dict[str, Any]
    paper_inputs: dict[str, Any]
    estimates: Estimates = field(default_factory=dict)  # data/estimates.csv; {} when absent

    @classmethod
    def load(cls, root: str | Path | None = None) -> "Sources":
        """Read a data root (default: the shipped data/); its method/ folder if it has one, else
        the shipped method."""
        root = Path(root) if root else DATA_DIR
        method_dir = root / "method" if (root / "method").is_dir() else DEFAULT_METHOD_DIR
        method = load_method(method_dir)
        curated = load_values(root / "curated.csv", method, "curated")
        if (root / "reserves.csv").exists():
            rule = load_rule(method_dir / "raw_materials.json")
            curated = with_reserves(curated, reserve_values(root / "reserves.csv", rule))
        return cls(root=root, method=method,
                   statistics=load_values(root / "statistics.csv", method, "statistical"),
                   curated=curated,
                   experts=load_expert_judgments(root / "expert_judgments.csv", method),
                   paper_inputs=load_paper_inputs(root / "paper" / "inputs.csv"),
                   estimates=_estimates(root, method))


def _estimates(root: Path, method: Method) -> Estimates:
    """The data root's estimates.csv, validated against its towns.csv (ids); {} when absent."""
    path = root / "estimates.csv"
    if not path.exists():
        return {}
    towns = None
    if (root / "towns.csv").exists():
        import csv

        with open(root / "towns.csv", newline="", encoding="utf-8-sig") as fh:
            towns = [r["id"] for r in csv.DictReader(fh)]
    return load_estimates(path, method, towns=towns)


def with_reserves(curated: dict[str, Any], reserves: dict[str, Any]) -> dict[str, Any]:
    """Curated values with the reserve rule's: a sourced value (the paper's) stays, the rule's
    answer beside it as ``rule_check``; elsewhere the rule's value (or its reason for missing) is
    used."""
    out = {t: dict(v) for t, v in curated.items()}
    for town, rows in reserves.items():
        for name, row in rows.items():
            kept = out.setdefault(town, {}).get(name)
            if kept is not None and kept["status"] == "sourced":
                answer = row["value"] or "missing"
                kept["rule_check"] = f"the reserve rule gives {answer}: {row['source']}"
            else:
                out[town][name] = row
    return out


class Pipeline:
    """Sources loaded once, one spatial model per network version; ``run`` per Params.

    Parameters
    ----------
    root : the data root (default: the shipped data/).
    networks_root : the folder of the imported network versions (default
        geo.netimport.DEFAULT_ROOT).
    max_versions : imported versions whose spatial models are kept at once (least recently used
        dropped).
    """

    def __init__(self, root: str | Path | None = None, *, networks_root: str | Path | None = None,
                 max_versions: int = 3):
        self.sources = Sources.load(root)
        self.spatial = SpatialModel(load_layers(self.sources.root))
        self.networks_root = Path(networks_root) if networks_root else DEFAULT_ROOT
        self.max_versions = max_versions
        # (name, sha256) -> SpatialModel of an imported version
        self._models: OrderedDict[tuple[str, str], SpatialModel] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def method(self) -> Method:
        return self.sources.method

    @staticmethod
    def catchments(atlas: dict[str, Any]) -> dict[str, Any]:
        """The FUA catchments (GeoJSON) of a result of ``run``, built on first use: only the map's
        catchment layer asks for them (a recompute does not pay for them)."""
        catchments: dict[str, Any] = atlas["_derivation"].catchments
        return catchments

    def versions(self) -> list[str]:
        """The network versions: ``shipped`` and every imported one."""
        return available(self.networks_root)

    def network_info(self, name: str) -> dict[str, Any]:
        """Name, source file, date and sha256 of a version; ParamError naming ``network`` if
        unknown."""
        try:
            return version_info(name, self.networks_root)
        except ValueError:
            known = ", ".join(self.versions())
            raise ParamError({"network": f"no network version '{name}'; known: {known}"}) from None

    def model(self, name: str = SHIPPED) -> SpatialModel:
        """The spatial model of a network version, built on first use (ParamError if unknown)."""
        if name == SHIPPED:
            return self.spatial
        key = (name, self.network_info(name)["sha256"])
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        try:
            model = SpatialModel(layers_for(name, self.networks_root, self.spatial.layers))
        except NetworkImportError as exc:
            raise ParamError({"network": str(exc)}) from None
        with self._lock:
            model = self._models.setdefault(key, model)
            while len(self._models) > self.max_versions:
                self._models.popitem(last=False)
        return model

    def run(self, params: Params | None = None, *, statistics: Table | None = None,
            curated: Table | None = None, experts: dict[str, Any] | None = None,
            estimates: bool = False, estimate_table: Estimates | None = None,
            stored: dict[str, Any] | None = None) -> dict[str, Any]:
        """Derive and score every town; ``statistics``, ``curated``, ``experts`` replace the shipped
        ones if given.

        ``estimates=True`` adds the interval estimates of data/estimates.csv where a value is
        missing (``scoring.estimates.with_estimates``: per town ``estimated``, the scenario's
        narrowed ``possible`` and ``likely``); the default is the sourced-only atlas.
        ``estimate_table`` (town -> input -> Estimate, ``scoring.estimates.load_estimates``)
        replaces the shipped estimates, as ``statistics`` does the statistics. ``stored``: the
        provenance of the given tables' inputs made once (scoring.atlas.stored_provenance).

        Returns the scored atlas (scoring.atlas.build_atlas) plus ``access_links``,
        ``planned`` and ``selected_cities`` from the derivation; ``parameters.network`` records the
        network version (name, source, date, sha256).

        Raises
        ------
        ParamError
            ``network`` names no known version (or a planned road cannot be placed).
        """
        params = params or default_params()
        estimates = estimates or params.estimates == "on"
        network = self.network_info(params.network)
        derivation = self.model(params.network).derive(params)
        s = self.sources
        atlas = build_atlas(derivation, s.method,
                            statistics=s.statistics if statistics is None else statistics,
                            curated=s.curated if curated is None else curated,
                            experts=s.experts if experts is None else experts,
                            paper_inputs=s.paper_inputs, stored=stored)
        atlas["parameters"]["network"] = network
        # its catchments are built when first asked (Pipeline.catchments)
        atlas["_derivation"] = derivation
        atlas["access_links"] = derivation.access_links
        atlas["planned"] = [p.as_dict() for p in derivation.planned]
        atlas["selected_cities"] = list(derivation.selected_cities)
        if estimates:
            table = s.estimates if estimate_table is None else estimate_table
            atlas = with_estimates(atlas, table, s.method)
        return atlas
