"""Network versions: the shipped schematic network, or one imported with ``python -m geo
import-network``.

An imported version becomes the same ``Layers`` the shipped data give (geo.layers), as
``ImportedLayers``:
its edges are road lines (each drawn straight between its two nodes, with ``km_factor`` = the edge's
real geometric length / the straight length; they serve the corridor count and drawing), its main
railways the railway layer; towns, cities, oblasts, tourism sites and official agglomerations stay
the shipped ones. The layers carry the imported graph itself, from which the spatial model builds
its routing graph (geo.network.build_imported: towns snapped onto the real geometry, one-way edges,
posted maxspeed); the derivation is otherwise the same (geo.agglomeration.SpatialModel).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .layers import DISPLAY_CRS, Layers, geodesic_km, load_layers
from .network import CLASS_OF_IMPORT, Network
from .routing import Topology, TownTable, TravelEdges
from .netimport import DEFAULT_ROOT, ImportedNetwork, list_versions, load_version

SHIPPED = "shipped"


def version_info(name: str, root: str | Path = DEFAULT_ROOT) -> dict[str, Any]:
    """What a result records of the network that produced it: name, source file, date, checksum."""
    if name == SHIPPED:
        return {"name": SHIPPED,
                "source": "data/sources (schematic network of official road names)",
                "date": "", "sha256": ""}
    hit = next((v for v in list_versions(root) if v["name"] == name), None)
    if hit is None:
        raise ValueError(f"no network version '{name}'; known: {', '.join(available(root))}")
    return {k: hit[k] for k in ("name", "source", "date", "sha256")}


def available(root: str | Path = DEFAULT_ROOT) -> list[str]:
    """The shipped network and every saved version."""
    return [SHIPPED] + [v["name"] for v in list_versions(root)]


def _road_lines(net: ImportedNetwork) -> gpd.GeoDataFrame:
    """One straight line per edge, its real length kept through ``km_factor``."""
    ok = net.u != net.v
    u, v = net.u[ok], net.v[ok]
    straight = geodesic_km(net.lon[u], net.lat[u], net.lon[v], net.lat[v])
    factor = np.where(straight > 1e-6, net.km[ok] / np.maximum(straight, 1e-6), np.nan)
    coords = np.stack([np.stack([net.lon[u], net.lat[u]], 1),
                       np.stack([net.lon[v], net.lat[v]], 1)], 1)
    cls = pd.Series(net.cls[ok]).replace(CLASS_OF_IMPORT).astype(str).values
    return gpd.GeoDataFrame({"road_id": [str(r) or f"e{i}" for i, r in enumerate(net.road[ok])],
                             "class": cls, "name_ru": [str(r) for r in net.road[ok]],
                             "corridors": "",
                             "km_factor": factor, "len_source": "imported geometry"},
                            geometry=shapely.linestrings(coords), crs=DISPLAY_CRS)


def _railways(net: ImportedNetwork) -> gpd.GeoDataFrame:
    rail = net.railways
    if rail.empty:
        return gpd.GeoDataFrame({"line_id": [], "name": [], "status": []}, geometry=[],
                                crs=DISPLAY_CRS)
    main = rail[rail["main"]] if "main" in rail.columns and rail["main"].any() else rail
    ids = [f"rail{i}" for i in range(len(main))]
    return gpd.GeoDataFrame({"line_id": ids, "name": ids, "status": "operating"},
                            geometry=main.geometry.values, crs=DISPLAY_CRS)


@dataclass
class ImportedLayers(Layers):
    """Layers of an imported version, carrying the imported graph itself: the spatial model builds
    its routing graph from it (geo.network.build_imported: real geometry, one-way edges, posted
    speeds), while ``roads`` (one straight line per edge) serves the corridor count and drawing.

    ``roads`` given as None is built from ``imported`` when first read (about 1 GB and 6 s at 2M
    edges): a worker whose junction lines are stored with the version (geo.agglomeration) builds it
    only if the map draws the roads.
    """

    imported: ImportedNetwork | None = None
    folder: Path | None = None  # the version's folder: where its first use is stored


def _lazy_roads(self: ImportedLayers) -> gpd.GeoDataFrame:
    roads = self.__dict__.get("_roads")
    if roads is None:
        assert self.imported is not None  # roads None only with an imported network
        roads = self.__dict__["_roads"] = _road_lines(self.imported)
    return roads


def _set_roads(self: ImportedLayers, roads: gpd.GeoDataFrame | None) -> None:
    self.__dict__["_roads"] = roads


ImportedLayers.roads = property(_lazy_roads, _set_roads)  # type: ignore[assignment]


def layers_for(name: str, root: str | Path = DEFAULT_ROOT, base: Layers | None = None) -> Layers:
    """The layers of a network version (``shipped``: the data root's own)."""
    base = base or load_layers()
    if name == SHIPPED:
        return base
    net = load_version(name, root)
    return imported_layers(net, base, folder=Path(root) / name)


def imported_layers(net: ImportedNetwork, base: Layers, *, folder: Path | None = None
                    ) -> ImportedLayers:
    """``base`` (towns, cities, oblasts ...) with the roads (built when first read) and railways of
    an imported network."""
    empty = pd.DataFrame(columns=base.waypoints.columns)
    layers = {f.name: getattr(base, f.name) for f in fields(Layers) if f.name != "roads"}
    layers |= {"railways": _railways(net), "corridors": base.corridors.iloc[0:0],
               "waypoints": empty, "access_roads": base.access_roads.iloc[0:0]}
    return ImportedLayers(roads=None, **layers, imported=net, folder=folder)  # type: ignore[arg-type]


# -- what the first use computes, stored once per version ------------------------------------------

FIRST_USE = "first_use"  # folder of a version: one sub-folder per snapping key
# 2: the topology's parallel-edge groups, one-byte class codes; 3: the edges' chords; 5 (4 never
# released): the weights' inputs in the travel graph's order, the class codes per edge
# (routing.TravelEdges)
FIRST_USE_FORMAT = 5
_NET_ARRAYS = ("lon", "lat", "u", "v", "km", "cls", "road", "assumed", "factor", "oneway",
               "posted_km", "posted_min")
_NET_DICTS = ("town_node", "city_node", "access", "unroutable")
FirstUse = tuple[Network, Topology, TravelEdges]


def first_use_key(towns: pd.DataFrame, cities: pd.DataFrame, snap_km: float,
                  on_network_km: float) -> str:
    """What the routing graph of an imported version depends on besides the version: the towns'
    and cities' ids and points and the snapping distances (a short sha256)."""
    points = [[str(i), float(g.x), float(g.y)] for df in (towns, cities)
              for i, g in zip(df["id"], df.geometry)]
    text = json.dumps([FIRST_USE_FORMAT, points, float(snap_km), float(on_network_km)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_first_use(folder: Path, key: str) -> FirstUse | None:
    """The stored routing graph, topology and weight inputs of a version, memory-mapped read-only
    (every process maps the same pages); None when not stored yet."""
    where = folder / FIRST_USE / key
    if not (where / "meta.json").is_file():
        return None
    meta = json.loads((where / "meta.json").read_text(encoding="utf-8"))

    def load(name: str) -> np.ndarray:
        return cast(np.ndarray, np.load(where / f"{name}.npy", mmap_mode="r"))
    fields_: dict[str, Any] = {k: load(k) for k in _NET_ARRAYS if k in meta["arrays"]}
    fields_ |= {k: meta[k] for k in _NET_DICTS}
    net = Network(**fields_, names=cast(list[str], load("names")), crs=meta["crs"])
    topology = Topology.from_arrays(meta["nodes"], {k: load(f"topology_{k}")
                                                    for k in meta["topology"]})
    edges = TravelEdges.from_arrays({k: load(f"edges_{k}") for k in meta["edges"]},
                                    meta["class_names"])
    return net, topology, edges


def save_first_use(folder: Path, key: str, first: FirstUse) -> None:
    """Store what ``load_first_use`` reads (written aside, then renamed into place: a reader
    never sees half of it; when two processes race, the first one's stays)."""
    net, topology, edges = first
    dest = folder / FIRST_USE / key
    tmp = folder / FIRST_USE / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        kept = [k for k in _NET_ARRAYS if getattr(net, k) is not None]
        for k in kept:
            np.save(tmp / f"{k}.npy", np.asarray(getattr(net, k)))
        np.save(tmp / "names.npy", np.asarray(net.names, dtype=str))
        for k, a in topology.arrays().items():
            np.save(tmp / f"topology_{k}.npy", a)
        for k, a in edges.arrays().items():
            np.save(tmp / f"edges_{k}.npy", np.asarray(a))
        meta = {"format": FIRST_USE_FORMAT, "arrays": kept, "nodes": topology.n, "crs": net.crs,
                "topology": list(topology.arrays()), "edges": list(edges.arrays()),
                "class_names": edges.names,
                **{k: getattr(net, k) for k in _NET_DICTS}}
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        if not dest.exists():
            os.rename(tmp, dest)
    except OSError:
        if not (dest / "meta.json").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def table_file(folder: Path, first_key: str, metric: str, weights: tuple[Any, ...]) -> Path:
    """Where a metric's town table (geo.routing.TownTable) for these weight parameters is stored
    with the version's first use."""
    text = json.dumps([FIRST_USE_FORMAT, metric, weights], default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return folder / FIRST_USE / first_key / f"table-{digest}.npz"


def save_table(path: Path, table: TownTable) -> None:
    """Store a town table (written aside, then renamed into place)."""
    flat = [p for row in table.paths for p in row]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in flat])]).astype(np.int64)
    nodes = np.concatenate(flat) if flat else np.zeros(0, np.int32)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    with open(tmp, "wb") as fh:
        np.savez(fh, cols=table.cols, dist=table.dist, nodes=nodes, offsets=offsets)
    os.replace(tmp, path)


def load_table(path: Path) -> TownTable | None:
    """A stored town table, or None."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        cols, dist, nodes, offsets = z["cols"], z["dist"], z["nodes"], z["offsets"]
    k = dist.shape[1]
    flat = [nodes[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return TownTable(cols, dist, tuple(tuple(flat[i * k:(i + 1) * k]) for i in range(len(cols))))


def lines_file(folder: Path, towns: pd.DataFrame, major: list[str], reach_km: float) -> Path:
    """Where the version's junction lines (geo.junctions.Lines) measured from these towns, with
    these road classes as major lines, as far as ``reach_km``, are stored."""
    points = [[str(i), float(g.x), float(g.y)] for i, g in zip(towns["id"], towns.geometry)]
    text = json.dumps([FIRST_USE_FORMAT, points, sorted(major), reach_km])
    return folder / FIRST_USE / f"lines-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Store named arrays (written aside, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    named: dict[str, Any] = dict(arrays)
    with open(tmp, "wb") as fh:
        np.savez(fh, **named)
    os.replace(tmp, path)


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays stored by ``save_arrays``, or None."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
