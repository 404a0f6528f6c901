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

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .layers import DISPLAY_CRS, Layers, geodesic_km, load_layers
from .network import CLASS_OF_IMPORT
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
    speeds), while ``roads`` (one straight line per edge) serves the corridor count and drawing."""

    imported: ImportedNetwork | None = None


def layers_for(name: str, root: str | Path = DEFAULT_ROOT, base: Layers | None = None) -> Layers:
    """The layers of a network version (``shipped``: the data root's own)."""
    base = base or load_layers()
    if name == SHIPPED:
        return base
    net = load_version(name, root)
    return imported_layers(net, base)


def imported_layers(net: ImportedNetwork, base: Layers) -> ImportedLayers:
    """``base`` (towns, cities, oblasts ...) with the roads and railways of an imported network."""
    empty = pd.DataFrame(columns=base.waypoints.columns)
    layers = replace(base, roads=_road_lines(net), railways=_railways(net),
                     corridors=base.corridors.iloc[0:0], waypoints=empty,
                     access_roads=base.access_roads.iloc[0:0])
    return ImportedLayers(**{f.name: getattr(layers, f.name) for f in fields(Layers)}, imported=net)
