"""Bring your own network: import a road graph from OSM or a GIS line layer as a named version.

    python -m geo import-network kazakhstan.osm.pbf --name osm-2026-06
    python -m geo import-network roads.gpkg --name ministry --class-col CLASS --ref-col INDEX
    python -m geo networks

An ``ImportedNetwork`` has node lon/lat (EPSG:4326) and edge arrays like geo.network.Network (u, v,
km, cls, road) plus ``minutes``, ``speed_kmh`` and ``oneway`` per edge: km is the geodesic length
(WGS84) of the real geometry, minutes the sum of its parts at their own speeds, and a one-way edge
runs from u to v. ``road`` holds the ``ref`` (road numbers, ``;``-separated). Versions are saved to
``instance/networks/<NAME>/`` (``network.npz``, ``railways.gpkg``, ``meta.json``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray
import pandas as pd
import pyogrio  # type: ignore[import-untyped]  # no stubs, no py.typed (as in scoring.loaders)
import shapely

from ._errors import NetworkImportError
from ._netbuild import RawWays, contract, coordinate_keys, largest_component, segments
from ._osm import (DEFAULT_HIGHWAYS, load_highway_classes, normalise_ref, parse_maxspeed,
                   parse_oneway, read_osm, split_refs, stderr_progress)
from .layers import DISPLAY_CRS, TO_LCC, geodesic_km
from .params import VERSION_NAME

__all__ = ["ImportedNetwork", "NetworkImportError", "import_network", "save_version",
           "load_version", "delete_version", "list_versions", "snap_points", "import_network_main",
           "networks_main", "DEFAULT_ROOT"]

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "instance" / "networks"
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")
# A line layer is opened only as the format its suffix names: the file's first bytes must be that
# format's
# signature, so GDAL cannot pick another driver from the content (a VRT, a CSV, a remote /vsicurl/
# source).
# XML formats (GML, KML) are not accepted: their content cannot be told from a VRT's by a signature.
LAYER_SIGNATURES = {".shp": (b"\x00\x00\x27\x0a",), ".gpkg": (b"SQLite format 3\x00",),
                    ".geojson": (b"{",), ".json": (b"{",), ".fgb": (b"fgb\x03",)}
LINE_SUFFIXES = tuple(LAYER_SIGNATURES)
LINE_COLUMNS = ("class", "ref", "speed", "oneway")
# a line layer's columns found by name when none are given (the web upload: no mapping form);
# case-insensitive, first match
COLUMN_NAMES = {"class": ("highway", "class", "road_class"), "speed": ("maxspeed", "speed"),
                "oneway": ("oneway",), "ref": ("ref",)}
FORMAT_VERSION = 2  # 2: posted maxspeed parts and the edges' geometry
OPTIONAL_ARRAYS = ("posted_km", "posted_min", "geom_offsets", "geom_lon", "geom_lat", "geom_km",
                   "geom_maxspeed")
_NAME = VERSION_NAME  # the rule the `network` parameter checks too (geo.params)
_Table = dict[str, dict[str, Any]]  # highway value -> {class, speed_kmh, oneway_implied}
_Progress = Callable[[dict[str, int]], None]  # called with the running counts of a read


@dataclass
class ImportedNetwork:
    """A road graph imported from a file, with the railways of the same source and a report.

    Attributes
    ----------
    lon, lat, node_key : numpy.ndarray
        Per node: WGS84 degrees; the OSM node id (or, for a line layer, the rounded-coordinate key).
    u, v, km, minutes, speed_kmh, oneway, cls, road : numpy.ndarray
        Per edge. ``oneway``: travel only from u to v. ``road``: the ``ref`` ("" where none).
    railways : geopandas.GeoDataFrame
        ``railway=rail`` lines, EPSG:4326 (empty for a line layer).
    report : dict
        Source, sha256, date, counts, what was dropped, seconds, and ``peak_rss_mb``: the peak
        resident memory of the process up to the end of the import (ru_maxrss, so it includes
        earlier work).
    posted_km, posted_min : numpy.ndarray
        Per edge: km of its parts with a posted maxspeed, and their minutes at that speed (routing
        uses them with ``maxspeed_use`` = use; the rest of the edge runs at the planner's class
        speed).
    geom_offsets, geom_lon, geom_lat, geom_km, geom_maxspeed : numpy.ndarray
        The real geometry of each edge (see ``_geometry``), so a town snaps onto the road where it
        is and its km along a contracted chain are exact. None for a version saved before they
        existed (format 1): its edges are then straight.
    """

    lon: np.ndarray
    lat: np.ndarray
    node_key: np.ndarray
    u: np.ndarray
    v: np.ndarray
    km: NDArray[np.float64]
    minutes: NDArray[np.float64]
    oneway: np.ndarray
    cls: np.ndarray
    road: np.ndarray
    railways: gpd.GeoDataFrame
    report: dict[str, Any] = field(default_factory=dict)
    crs: str = DISPLAY_CRS
    posted_km: np.ndarray | None = None
    posted_min: np.ndarray | None = None
    geom_offsets: np.ndarray | None = None
    geom_lon: np.ndarray | None = None
    geom_lat: np.ndarray | None = None
    geom_km: np.ndarray | None = None
    geom_maxspeed: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.lon)

    @property
    def n_edges(self) -> int:
        return len(self.u)

    @property
    def speed_kmh(self) -> np.ndarray:
        """Mean speed per edge, km / minutes (a chain with several speeds gives their harmonic
        mean)."""
        return self.km / self.minutes * 60.0

    def ref_edges(self, ref: str) -> np.ndarray:
        """Indices of the edges carrying road number ``ref`` (spelling-insensitive: M-36 = M36 = m
        36)."""
        want = normalise_ref(ref)
        codes, names = pd.factorize(self.road)
        hit = np.array([want in {normalise_ref(r) for r in split_refs(n)} for n in names],
                       dtype=bool)
        return np.flatnonzero(hit[codes]) if len(names) else np.zeros(0, dtype=np.int64)


# ---------------------------------------------------------------- reading


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        return "osm"
    if name.endswith(LINE_SUFFIXES):
        return "lines"
    raise NetworkImportError(f"{path.name}: unknown file type; give an OpenStreetMap extract "
                             f"({', '.join(OSM_SUFFIXES)}) or a GIS line layer "
                             f"({', '.join(LINE_SUFFIXES)})")


def _highway_rows(highways: Iterable[str] | None, table: _Table) -> _Table:
    chosen = list(highways) if highways else list(DEFAULT_HIGHWAYS)
    unknown = [h for h in chosen if h not in table]
    if unknown:
        raise NetworkImportError(f"highway value(s) {', '.join(unknown)} not in "
                                 f"osm_highway_classes.csv; choose from {', '.join(table)} "
                                 "or add a row (class, speed) to that table")
    return {h: table[h] for h in chosen}


def _read_osm_file(path: Path, highways: _Table, progress: _Progress | None
                   ) -> tuple[RawWays, gpd.GeoDataFrame, dict[str, int]]:
    try:
        return read_osm(path, highways, progress=progress)
    except RuntimeError as exc:  # libosmium's io / pbf / xml errors
        raise NetworkImportError(f"{path.name} could not be read as OpenStreetMap data ({exc}); "
                                 "the file is corrupt or truncated: download the extract again "
                                 "and check its checksum") from exc


def _check_signature(path: Path) -> None:
    """The file starts with the signature of the format its suffix names (JSON: after spaces or a
    BOM)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(LAYER_SIGNATURES[suffix]):
        raise NetworkImportError(f"{path.name} is not a {suffix} file: its content is another "
                                 f"format; save the layer as {suffix} (or GeoPackage) and import "
                                 "it again")


def _read_layer(path: Path) -> gpd.GeoDataFrame:
    _check_signature(path)
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError) as exc:
        raise NetworkImportError(f"{path.name} could not be read as a GIS layer ({exc}); the file "
                                 "is corrupt or incomplete (a shapefile needs its .shp, .shx and "
                                 ".dbf)") from exc
    if gdf.crs is None:
        raise NetworkImportError(f"{path.name} has no coordinate reference system (a shapefile "
                                 "without .prj?): set it with "
                                 "`ogr2ogr -a_srs EPSG:xxxx out.gpkg in.shp` or "
                                 "GeoDataFrame.set_crs('EPSG:xxxx') and save again; "
                                 "it is never guessed")
    return gdf


def _check_columns(gdf: gpd.GeoDataFrame, columns: dict[str, str]) -> None:
    bad = {k: c for k, c in columns.items() if c and c not in gdf.columns}
    unknown = [k for k in columns if k not in LINE_COLUMNS]
    if bad or unknown:
        have = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        parts = ([f"--{k}-col {c} is not a column" for k, c in bad.items()]
                 + [f"unknown mapping '{k}'" for k in unknown])
        raise NetworkImportError("; ".join(parts) + f"; the layer has: {have}")


def _line_classes(values: pd.Series, table: _Table) -> pd.Series:
    text = values.fillna("").astype(str).str.strip()
    unknown = sorted(set(text) - set(table))
    if unknown:
        raise NetworkImportError(f"class value(s) {', '.join(map(repr, unknown[:10]))} unknown; "
                                 "use project classes or OSM highway values "
                                 f"({', '.join(table)}) or add rows to osm_highway_classes.csv")
    return text


def _lines_to_raw(gdf: gpd.GeoDataFrame, columns: dict[str, str], table: _Table,
                  default_class: str) -> tuple[RawWays, dict[str, int]]:
    cls = (_line_classes(gdf[columns["class"]], table) if columns.get("class")
           else pd.Series(default_class, gdf.index))
    speed = (gdf[columns["speed"]].map(lambda x: parse_maxspeed(None if pd.isna(x) else str(x)))
             if columns.get("speed") else pd.Series(math.nan, gdf.index))
    default = cls.map(lambda c: table[c]["speed_kmh"])
    direction = (gdf[columns["oneway"]].map(lambda x: parse_oneway(None if pd.isna(x) else str(x)))
                 if columns.get("oneway") else pd.Series(0, gdf.index))
    ref = (gdf[columns["ref"]].fillna("").astype(str).map(lambda r: ";".join(split_refs(r)))
           if columns.get("ref") else pd.Series("", gdf.index))
    geoms = np.asarray(gdf.geometry.values)
    back = direction.to_numpy() == -1
    geoms[back] = shapely.reverse(geoms[back])
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    per_way = np.bincount(idx, minlength=len(gdf))
    offsets = np.concatenate([[0], np.cumsum(per_way)]).astype(np.int64)
    cls_codes, cls_names = pd.factorize(cls.map(lambda c: table[c]["class"]))
    ref_codes, ref_names = pd.factorize(ref)
    raw = RawWays(key=coordinate_keys(coords[:, 0], coords[:, 1]), lon=coords[:, 0].copy(),
                  lat=coords[:, 1].copy(), offsets=offsets, cls=cls_codes, ref=ref_codes,
                  speed_kmh=speed.fillna(default).to_numpy(float),
                  oneway=direction.to_numpy() != 0, cls_names=list(cls_names),
                  ref_names=list(ref_names),
                  maxspeed=speed.to_numpy(float))
    counts = {"road_ways": int(len(gdf)), "maxspeed_used": int(speed.notna().sum()),
              "oneway_ways": int((direction != 0).sum())}
    return raw, counts


def _named_columns(gdf: gpd.GeoDataFrame) -> dict[str, str]:
    """The layer's columns for ``LINE_COLUMNS`` found by their usual names (``COLUMN_NAMES``)."""
    by_lower = {str(c).lower(): str(c) for c in gdf.columns if c != gdf.geometry.name}
    found = {k: next((by_lower[n] for n in names if n in by_lower), "")
             for k, names in COLUMN_NAMES.items()}
    return {k: c for k, c in found.items() if c}


def _read_lines_file(path: Path, columns: dict[str, str] | None, table: _Table,
                     default_class: str) -> tuple[RawWays, gpd.GeoDataFrame, dict[str, Any]]:
    """``columns`` None: found by name (``_named_columns``)."""
    gdf = _read_layer(path)
    columns = _named_columns(gdf) if columns is None else columns
    _check_columns(gdf, columns)
    if default_class not in table:
        raise NetworkImportError(f"default class '{default_class}' unknown; "
                                 f"choose from {', '.join(table)}")
    n_all = len(gdf)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    kinds = gdf.geometry.geom_type.value_counts().to_dict()
    gdf = gdf[gdf.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    if gdf.empty:
        found = ", ".join(f"{k} x{v}" for k, v in kinds.items()) or "no geometries"
        raise NetworkImportError(f"{path.name} has no roads: no line geometries ({found})")
    gdf = gdf.to_crs(DISPLAY_CRS).explode(index_parts=False).reset_index(drop=True)
    with np.errstate(all="ignore"):  # a vertex at 1e308 projects to inf or nan: refused next
        xy = shapely.get_coordinates(gdf.geometry.values)
    _check_coordinates(xy[:, 0], xy[:, 1], path.name)
    raw, read = _lines_to_raw(gdf, columns, table, default_class)
    n_lines = sum(kinds.get(k, 0) for k in ("LineString", "MultiLineString"))
    counts: dict[str, Any] = {**read, "features": n_all, "features_not_lines": int(n_all - n_lines),
                              "columns": dict(columns),
                              "default_class_lines": 0 if columns.get("class") else len(gdf)}
    empty = gpd.GeoDataFrame({"osm_id": [], "usage": [], "service": [], "main": [], "name": [],
                              "ref": []}, geometry=[], crs=DISPLAY_CRS)
    return raw, empty, counts


# ---------------------------------------------------------------- topology


def _segment_attr(raw: RawWays, way: np.ndarray) -> np.ndarray:
    """One integer per segment from the class, ref and direction of its way."""
    n_cls = max(len(raw.cls_names), 1)
    attr: np.ndarray = ((raw.ref[way].astype(np.int64) * n_cls + raw.cls[way]) * 2
                        + raw.oneway[way])
    return attr


def _check_coordinates(lon: np.ndarray, lat: np.ndarray, name: str, *,
                       missing_ok: bool = False) -> None:
    """Every vertex finite, longitude in [-180, 180] and latitude in [-90, 90] (EPSG:4326).

    ``missing_ok``: NaN marks a vertex without a location (an OSM extract's missing node; dropped
    later).
    """
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if missing_ok:
        ok |= np.isnan(lon) & np.isnan(lat)
    bad = ~ok
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise NetworkImportError(f"{name}: {int(bad.sum())} vertex/vertices outside longitude "
                                 "-180..180, latitude -90..90 or not finite "
                                 f"(first: {float(lon[i])}, {float(lat[i])}); "
                                 "check the layer's CRS")


def _check_lengths(arrays: dict[str, np.ndarray], name: str) -> None:
    """Every edge's km and minutes finite and not negative."""
    for key in ("km", "minutes"):
        x = np.asarray(arrays[key], dtype=float)
        if not (np.isfinite(x) & (x >= 0)).all():
            raise NetworkImportError(f"{name}: an edge's {key} is not a finite, "
                                     "non-negative number")


def _build(raw: RawWays, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Node and edge arrays of the largest component (ImportedNetwork's array fields by name), and
    the topology part of the report."""
    if raw.n_ways == 0:
        raise NetworkImportError(f"{name} has no roads of the chosen types; "
                                 "check --highways (or the layer)")
    nodes, segs = segments(raw)
    if len(segs["a"]) == 0:
        raise NetworkImportError(f"{name}: {raw.n_ways} road way(s) but no segment with two "
                                 "located, distinct vertices (node locations missing from the "
                                 "extract?)")
    attr = _segment_attr(raw, segs["way"])
    edges = contract(len(nodes["key"]), segs, attr, raw.oneway[segs["way"]])
    ends = np.zeros(len(nodes["key"]), bool)  # nodes inside contracted chains are gone
    ends[edges["u"]] = ends[edges["v"]] = True
    nodes = {k: x[ends] for k, x in nodes.items()}
    renum = np.cumsum(ends) - 1
    edges["u"], edges["v"] = renum[edges["u"]], renum[edges["v"]]
    node_keep, edge_keep, dropped = largest_component(nodes["lon"], nodes["lat"], edges["u"],
                                                      edges["v"], edges["km"])
    new_index = np.cumsum(node_keep) - 1
    way = segs["way"][edges["seg"][edge_keep]]
    out = {"lon": nodes["lon"][node_keep], "lat": nodes["lat"][node_keep],
           "node_key": nodes["key"][node_keep],
           "u": new_index[edges["u"][edge_keep]], "v": new_index[edges["v"][edge_keep]],
           "km": edges["km"][edge_keep], "minutes": edges["minutes"][edge_keep],
           "oneway": raw.oneway[way],
           "cls": np.array(raw.cls_names, dtype=object)[raw.cls[way]],
           "road": np.array(raw.ref_names, dtype=object)[raw.ref[way]],
           "posted_km": edges["posted_km"][edge_keep],
           "posted_min": edges["posted_min"][edge_keep],
           **_geometry(raw, segs, edges, edge_keep)}
    topo = {"vertices": int(len(raw.key)), "segments": int(len(segs["a"])),
            "nodes_before": int(len(ends)), "edges_contracted": int(len(edges["u"])),
            "nodes": int(node_keep.sum()), "edges": int(edge_keep.sum()),
            "km": round(float(out["km"].sum()), 3), "dropped": {**segs["dropped"], **dropped}}
    return out, topo


def _geometry(raw: RawWays, segs: dict[str, Any], edges: dict[str, np.ndarray],
              edge_keep: np.ndarray) -> dict[str, np.ndarray]:
    """The real geometry of every kept edge, u to v: its vertices and, per segment, km and maxspeed.

    Vertices of edge e are ``geom_lon[geom_offsets[e]:geom_offsets[e + 1]]`` (u first, v last); its
    segments are ``geom_km[geom_offsets[e] - e:geom_offsets[e + 1] - e - 1]`` (one fewer).
    """
    seq = edges["seq"][edge_keep[edges["label"][edges["seq"]]]]
    new_id = np.cumsum(edge_keep) - 1
    seg_edge = new_id[edges["label"][seq]]
    n_edges = int(edge_keep.sum())
    per_edge = np.bincount(seg_edge, minlength=n_edges)
    offsets = np.concatenate([[0], np.cumsum(per_edge + 1)]).astype(np.int64)
    seg_offsets = offsets[:-1] - np.arange(n_edges)
    flip = edges["flip"][seq]
    start = segs["first"][seq] + flip
    slot = offsets[seg_edge] + (np.arange(len(seq)) - seg_offsets[seg_edge])
    lon, lat = np.empty(offsets[-1]), np.empty(offsets[-1])
    lon[slot], lat[slot] = raw.lon[start], raw.lat[start]
    last = offsets[1:] - 1  # v: the end of each edge's last segment
    last_seg = np.concatenate([[0], np.cumsum(per_edge)])[1:] - 1
    end = segs["first"][seq[last_seg]] + 1 - flip[last_seg]
    lon[last], lat[last] = raw.lon[end], raw.lat[end]
    return {"geom_offsets": offsets, "geom_lon": lon, "geom_lat": lat, "geom_km": segs["km"][seq],
            "geom_maxspeed": segs["maxspeed"][seq]}


# ---------------------------------------------------------------- public API


def import_network(path: str | Path, *, highways: Iterable[str] | None = None,
                   columns: dict[str, str] | None = None, default_class: str = "republican",
                   progress: _Progress | None = None, table: _Table | None = None
                   ) -> ImportedNetwork:
    """Import a road network from an OSM extract or a GIS line layer.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``/``.osm`` or a line layer (``.shp``, ``.gpkg``, ``.geojson``, ...).
    highways : iterable of str, optional
        OSM ``highway`` values to import (default motorway, trunk, primary, secondary and links).
    columns : dict, optional
        Line layers: column names for ``class``, ``ref``, ``speed``, ``oneway`` (each optional);
        None: the columns with their usual names (``COLUMN_NAMES``: highway or class, maxspeed,
        oneway, ref), as the web upload does.
    default_class : str
        Line layers without a class column: the class of every line.
    progress : callable, optional
        Called with running counts while an OSM file is read.
    table : dict, optional
        The class table (default data/method/osm_highway_classes.csv).

    Raises
    ------
    NetworkImportError
        Missing, empty, corrupt file; no roads; a layer without CRS; unknown columns or classes.
    """
    t0, path = time.perf_counter(), Path(path)
    table = table or load_highway_classes()
    if path.is_symlink() or not path.is_file():  # a local regular file: never a GDAL /vsi...: path
        raise NetworkImportError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise NetworkImportError(f"{path.name} is empty (0 bytes): the download or copy did not "
                                 "complete")
    kind = _kind(path)
    if kind == "osm":
        rows = _highway_rows(highways, table)
        raw, rail, counts = _read_osm_file(path, rows, progress)
    else:
        rows = {}
        raw, rail, counts = _read_lines_file(
            path, None if columns is None else dict(columns), table, default_class)
    # OSM: NaN = a node not in the extract
    _check_coordinates(raw.lon, raw.lat, path.name, missing_ok=True)
    arrays, topo = _build(raw, path.name)
    _check_lengths(arrays, path.name)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report = {"source": path.name, "file": path.name, "kind": kind, "bytes": path.stat().st_size,
              "sha256": _sha256(path), "imported_at": now,
              "highways": sorted(rows), "columns": counts.get("columns", {}),
              "read": counts, **topo, "railways": int(len(rail)),
              "seconds": round(time.perf_counter() - t0, 3),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return ImportedNetwork(**arrays, railways=rail, report=report)


def _check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise NetworkImportError(f"version name '{name}' not allowed: use 1-64 letters, digits, "
                                 "'.', '_' or '-', starting with a letter or digit")


def _write(net: ImportedNetwork, folder: Path, name: str) -> None:
    cls_codes, cls_names = pd.factorize(net.cls)
    road_codes, road_names = pd.factorize(net.road)
    np.savez(folder / "network.npz", lon=net.lon, lat=net.lat, node_key=net.node_key, u=net.u,
             v=net.v,
             km=net.km, minutes=net.minutes, oneway=net.oneway, cls_code=cls_codes.astype(np.int32),
             cls_names=np.array(cls_names, dtype=str), road_code=road_codes.astype(np.int32),
             road_names=np.array(road_names, dtype=str),
             **{k: getattr(net, k) for k in OPTIONAL_ARRAYS if getattr(net, k) is not None})
    if len(net.railways):
        net.railways.to_file(folder / "railways.gpkg", driver="GPKG", engine="pyogrio")
    meta = {"format": FORMAT_VERSION, "name": name, "report": net.report}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                      encoding="utf-8")


def save_version(net: ImportedNetwork, name: str, root: str | Path = DEFAULT_ROOT, *,
                 overwrite: bool = False) -> Path:
    """Save ``net`` as version ``name`` under ``root``; written to a temporary folder, then renamed.

    Raises
    ------
    NetworkImportError
        A bad name, or a version of that name exists and ``overwrite`` is false.
    """
    _check_name(name)
    root = Path(root)
    dest = root / name
    if dest.exists() and not overwrite:
        raise NetworkImportError(f"version '{name}' exists in {root}; choose another name or "
                                 "overwrite it")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    old = root / f".old-{name}-{uuid.uuid4().hex[:8]}"
    try:
        _write(net, tmp, name)
        if dest.exists():
            os.rename(dest, old)
        os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if old.exists():
        shutil.rmtree(old)
    return dest


def load_version(name: str, root: str | Path = DEFAULT_ROOT) -> ImportedNetwork:
    """A saved version, as it was imported.

    Raises
    ------
    NetworkImportError
        No such version.
    """
    _check_name(name)
    folder = Path(root) / name
    if not (folder / "meta.json").is_file():
        raise NetworkImportError(f"no network version '{name}' in {root}; "
                                 "see `python -m geo networks`")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    with np.load(folder / "network.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    _check_coordinates(a["lon"], a["lat"], f"network version '{name}'")  # saved before these checks
    _check_lengths(a, f"network version '{name}'")
    rail_file = folder / "railways.gpkg"
    rail = (gpd.read_file(rail_file, engine="pyogrio") if rail_file.exists()
            else gpd.GeoDataFrame({"osm_id": []}, geometry=[], crs=DISPLAY_CRS))
    return ImportedNetwork(lon=a["lon"], lat=a["lat"], node_key=a["node_key"], u=a["u"], v=a["v"],
                           km=a["km"], minutes=a["minutes"], oneway=a["oneway"],
                           cls=a["cls_names"].astype(object)[a["cls_code"]],
                           road=a["road_names"].astype(object)[a["road_code"]], railways=rail,
                           report=meta["report"],
                           **{k: a[k] for k in OPTIONAL_ARRAYS if k in a})


def delete_version(name: str, root: str | Path = DEFAULT_ROOT) -> None:
    """Remove the saved version ``name`` (renamed away first, so a reader never sees half of it).

    Raises
    ------
    NetworkImportError
        A bad name, or no such version.
    """
    _check_name(name)
    folder = Path(root) / name
    if not (folder / "meta.json").is_file():
        raise NetworkImportError(f"no network version '{name}'")
    gone = Path(root) / f".deleted-{name}-{uuid.uuid4().hex[:8]}"
    os.rename(folder, gone)
    shutil.rmtree(gone, ignore_errors=True)


def list_versions(root: str | Path = DEFAULT_ROOT) -> list[dict[str, Any]]:
    """Saved versions, by name: name, source, date, sha256, nodes, edges, km."""
    root = Path(root)
    out = []
    for meta_file in sorted(root.glob("*/meta.json")) if root.is_dir() else []:
        if meta_file.parent.name.startswith("."):
            continue
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        r = meta["report"]
        out.append({"name": meta["name"], "source": r["file"], "date": r["imported_at"],
                    "sha256": r["sha256"], "nodes": r["nodes"], "edges": r["edges"], "km": r["km"]})
    return out


def snap_points(imported: ImportedNetwork, points: Iterable[tuple[str, float, float]],
                max_km: float) -> pd.DataFrame:
    """Snap each (id, lon, lat) to its nearest node; farther than ``max_km``: unroutable, not
    dropped.

    The nearest node is found in the KZ_LCC projection; the distance reported is geodesic (WGS84).

    Returns
    -------
    pandas.DataFrame
        One row per point: id, lon, lat, node, node_lon, node_lat, km, routable, reason.
    """
    # here, not at import: the web app imports this module at start-up
    from scipy.spatial import cKDTree

    df = pd.DataFrame(list(points), columns=["id", "lon", "lat"])
    if imported.n_nodes == 0:
        raise NetworkImportError("the network has no nodes to snap to")
    tree = cKDTree(np.column_stack(TO_LCC.transform(imported.lon, imported.lat)))
    ok = np.isfinite(df["lon"].to_numpy(float)) & np.isfinite(df["lat"].to_numpy(float))
    node = np.full(len(df), -1, dtype=np.int64)
    if ok.any():
        node[ok] = tree.query(np.column_stack(TO_LCC.transform(df["lon"][ok].to_numpy(float),
                                                               df["lat"][ok].to_numpy(float))))[1]
    df["node"] = node
    df["node_lon"] = np.where(ok, imported.lon[node], np.nan)
    df["node_lat"] = np.where(ok, imported.lat[node], np.nan)
    df["km"] = np.where(ok, geodesic_km(df["lon"].fillna(0), df["lat"].fillna(0),
                                        df["node_lon"].fillna(0), df["node_lat"].fillna(0)), np.nan)
    df["routable"] = ok & (df["km"] <= max_km)
    far = df["km"].map(lambda k: f"{k:.1f} km from the nearest node, beyond {max_km:g} km")
    df["reason"] = np.where(~ok, "no coordinates", np.where(df["routable"], "", far))
    return df


# ---------------------------------------------------------------- command line


def _import_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m geo import-network",
                                 description="Import a road network (OSM extract or GIS line "
                                 "layer) as a named version.")
    ap.add_argument("file")
    ap.add_argument("--name", required=True, help="version name (letters, digits, '.', '_', '-')")
    ap.add_argument("--root", default=str(DEFAULT_ROOT),
                    help="folder of the versions (default %(default)s)")
    ap.add_argument("--highways", default=",".join(DEFAULT_HIGHWAYS),
                    help="OSM highway values, comma-separated")
    for col in LINE_COLUMNS:
        ap.add_argument(f"--{col}-col", default=None, help=f"line layers: the column holding {col}")
    ap.add_argument("--default-class", default="republican", help="line layers without --class-col")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace an existing version of that name")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    return ap


def _summary(name: str, r: dict[str, Any]) -> str:
    d = r["dropped"]
    return (f"saved '{name}': {r['nodes']:,} nodes, {r['edges']:,} edges, {r['km']:,.0f} km, "
            f"{r['railways']:,} railway ways\n"
            f"  dropped: {d['dropped_components']:,} detached component(s) with "
            f"{d['dropped_edges']:,} edges ({d['dropped_km']:,.1f} km); "
            f"{d['missing_segments']:,} segments with missing node locations\n"
            f"  {r['seconds']:.1f} s, peak memory {r['peak_rss_mb']:,.0f} MB, "
            f"sha256 {r['sha256'][:16]}")


def import_network_main(argv: list[str] | None = None) -> int:
    """``python -m geo import-network FILE --name NAME ...``; 0 on success, 1 on an import error."""
    args = _import_parser().parse_args(argv)
    columns = {c: getattr(args, f"{c}_col") for c in LINE_COLUMNS if getattr(args, f"{c}_col")}
    highways = [h.strip() for h in args.highways.split(",") if h.strip()]
    try:
        _check_name(args.name)
        if (Path(args.root) / args.name).exists() and not args.overwrite:
            raise NetworkImportError(f"version '{args.name}' exists in {args.root}; "
                                     "choose another name or --overwrite")
        net = import_network(args.file, highways=highways, columns=columns,
                             default_class=args.default_class, progress=stderr_progress)
        print(file=sys.stderr)
        save_version(net, args.name, args.root, overwrite=args.overwrite)
    except NetworkImportError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(net.report, ensure_ascii=False, indent=1) if args.json
          else _summary(args.name, net.report))
    return 0


def networks_main(argv: list[str] | None = None) -> int:
    """``python -m geo networks [--root DIR] [--json]``: the saved versions."""
    ap = argparse.ArgumentParser(prog="python -m geo networks",
                                 description="List the saved network versions.")
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = list_versions(args.root)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"no network versions in {args.root}")
        return 0
    print(f"{'name':20} {'source':28} {'date':25} {'sha256':12} {'nodes':>10} {'edges':>10}")
    for r in rows:
        print(f"{r['name']:20} {r['source'][:28]:28} {r['date']:25} {r['sha256'][:12]:12} "
              f"{r['nodes']:>10,} {r['edges']:>10,}")
    return 0
