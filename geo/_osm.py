"""Read roads and railways from an OpenStreetMap extract (.osm.pbf, .osm) in one streaming pass.

Node locations go to an on-disk index (``sparse_file_array``) so memory does not grow with the
extract; only the ways of the chosen ``highway`` values and ``railway=rail`` reach Python (a C++
tag filter drops the rest). Tag semantics (``maxspeed``, ``oneway``, ``ref``) live here too, as
the GIS line-layer reader shares them.
"""
from __future__ import annotations

import csv
import math
import re
import sys
import tempfile
from array import array
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from pathlib import Path

import geopandas as gpd
import numpy as np
from numpy.typing import DTypeLike
import osmium
import osmium.filter
import osmium.osm
from shapely.geometry import LineString

from ._netbuild import RawWays

HIGHWAY_TABLE = (Path(__file__).resolve().parent.parent / "data" / "method"
                 / "osm_highway_classes.csv")
DEFAULT_HIGHWAYS = ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
                    "secondary", "secondary_link")
MPH_KMH = 1.609344
_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*$", re.IGNORECASE)
ONEWAY_FORWARD = frozenset({"yes", "1", "true"})
ONEWAY_REVERSE = frozenset({"-1", "reverse"})


@lru_cache(maxsize=4)
def load_highway_classes(path: str | Path = HIGHWAY_TABLE) -> dict[str, dict[str, Any]]:
    """Road type -> {class, speed_kmh, oneway_implied}, checked in one place.

    Raises
    ------
    ValueError
        Listing every bad row (missing column, speed not a positive number, bad boolean).
    """
    rows: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                speed = float(row["speed_kmh"])
                if not 0 < speed <= 200:
                    raise ValueError
            except (KeyError, TypeError, ValueError):
                problems.append(f"row {n}: speed_kmh '{row.get('speed_kmh')}' "
                                "is not a speed in 0-200 km/h")
                continue
            if row.get("oneway_implied") not in ("true", "false") or not row.get("class"):
                problems.append(f"row {n}: needs a class and oneway_implied true or false")
                continue
            rows[row["highway"]] = {"class": row["class"], "speed_kmh": speed,
                                    "oneway_implied": row["oneway_implied"] == "true"}
    if problems:
        raise ValueError(f"{Path(path).name}: " + "; ".join(problems))
    return rows


def parse_maxspeed(value: str | None) -> float:
    """km/h from a ``maxspeed`` value, or NaN where the class default applies.

    ``"90"``, ``"90 km/h"`` -> 90; ``"50 mph"`` -> 80.47; ``"90;70"`` -> 70 (the lowest);
    ``"RU:urban"``, ``"none"``, ``"signals"``, anything else -> NaN.
    """
    if value is None:
        return math.nan
    speeds = []
    for part in str(value).split(";"):
        m = _SPEED.match(part)
        if m:
            x = float(m.group(1)) * (MPH_KMH if (m.group(2) or "").lower() == "mph" else 1.0)
            if 0 < x <= 200:
                speeds.append(x)
    return min(speeds) if speeds else math.nan


def parse_oneway(value: str | None, implied: bool = False) -> int:
    """1 (along the way), -1 (against it) or 0 (both ways) from a ``oneway`` value.

    No tag: ``implied`` (motorways). ``reversible``, ``alternating`` and unknown values: 0.
    """
    if value is None:
        return 1 if implied else 0
    text = str(value).strip().lower()
    if text in ONEWAY_FORWARD:
        return 1
    if text in ONEWAY_REVERSE:
        return -1
    return 0


def split_refs(ref: str) -> list[str]:
    """The road numbers of a ``ref`` value (``"M-36;E40"`` -> ``["M-36", "E40"]``)."""
    return [r.strip() for r in str(ref).split(";") if r.strip()]


def normalise_ref(ref: str) -> str:
    """A road number in one spelling for matching: ``"m 36"``, ``"M-36"``, ``"M36"`` ->
    ``"M36"``."""
    return re.sub(r"[\s\-_.]", "", str(ref)).upper()


def _text(tags: osmium.osm.TagList, key: str) -> str:
    """A tag's value, "" where the way has none."""
    return tags.get(key, "") or ""


_Rail = tuple[int, str, str, bool, str, str, LineString]  # osm_id, usage, service, main, name, ref


class _Collector(osmium.SimpleHandler):
    """Copies the road and railway ways it is handed into flat arrays (see RawWays)."""

    def __init__(self, highways: dict[str, dict[str, Any]],
                 progress: Callable[[dict[str, int]], None] | None):
        super().__init__()
        self.highways, self.progress = highways, progress
        self.cls_names = sorted({h["class"] for h in highways.values()})
        self.key, self.lon, self.lat = array("q"), array("d"), array("d")
        self.offsets, self.cls, self.ref = array("q", [0]), array("h"), array("i")
        self.speed, self.oneway, self.maxspeed = array("d"), array("b"), array("d")
        self.ref_codes: dict[str, int] = {"": 0}
        self.rail: list[_Rail] = []
        self.counts = {"node_id_reached": 0, "ways_seen": 0, "road_ways": 0, "rail_ways": 0,
                       "ways_with_missing_nodes": 0, "missing_node_refs": 0, "maxspeed_used": 0,
                       "oneway_ways": 0, "rail_ways_too_short": 0}

    def node(self, n: osmium.osm.Node) -> None:
        """Reached only for nodes tagged ``place`` (sparse in real extracts): progress while
        indexing."""
        self.counts["node_id_reached"] = n.id
        if self.progress:
            self.progress(self.counts)

    def way(self, w: osmium.osm.Way) -> None:
        self.counts["ways_seen"] += 1
        if self.progress and self.counts["ways_seen"] % 100_000 == 0:
            self.progress(self.counts)
        tags = w.tags
        hw = tags.get("highway")
        if hw in self.highways:
            self._road(w, hw, tags)
        elif tags.get("railway") == "rail":
            self._rail(w, tags)

    def _vertices(self, w: osmium.osm.Way) -> tuple[list[int], list[float], list[float]]:
        ids: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        missing = 0
        for n in w.nodes:
            loc = n.location
            ids.append(n.ref)
            if loc.valid():
                xs.append(loc.lon)
                ys.append(loc.lat)
            else:
                xs.append(math.nan)
                ys.append(math.nan)
                missing += 1
        if missing:
            self.counts["ways_with_missing_nodes"] += 1
            self.counts["missing_node_refs"] += missing
        return ids, xs, ys

    def _road(self, w: osmium.osm.Way, hw: str, tags: osmium.osm.TagList) -> None:
        spec = self.highways[hw]
        ids, xs, ys = self._vertices(w)
        direction = parse_oneway(tags.get("oneway"), spec["oneway_implied"])
        if direction == -1:
            ids.reverse()
            xs.reverse()
            ys.reverse()
        self.key.extend(ids)
        self.lon.extend(xs)
        self.lat.extend(ys)
        self.offsets.append(len(self.key))
        speed = parse_maxspeed(tags.get("maxspeed"))
        self.counts["maxspeed_used"] += not math.isnan(speed)
        self.counts["oneway_ways"] += direction != 0
        self.speed.append(spec["speed_kmh"] if math.isnan(speed) else speed)
        self.maxspeed.append(speed)
        self.oneway.append(direction != 0)
        self.cls.append(self.cls_names.index(spec["class"]))
        ref = ";".join(split_refs(_text(tags, "ref")))
        self.ref.append(self.ref_codes.setdefault(ref, len(self.ref_codes)))
        self.counts["road_ways"] += 1

    def _rail(self, w: osmium.osm.Way, tags: osmium.osm.TagList) -> None:
        _, xs, ys = self._vertices(w)
        pts = [(x, y) for x, y in zip(xs, ys) if not math.isnan(x)]
        if len(pts) < 2:
            self.counts["rail_ways_too_short"] += 1
            return
        usage, service = _text(tags, "usage"), _text(tags, "service")
        self.rail.append((w.id, usage, service, usage == "main", _text(tags, "name"),
                          _text(tags, "ref"), LineString(pts)))
        self.counts["rail_ways"] += 1

    def raw(self) -> RawWays:
        """The collected roads as RawWays (arrays copied out of the Python buffers)."""
        def copy(buf: array[Any], dtype: DTypeLike) -> np.ndarray:
            return np.frombuffer(buf, dtype=dtype).copy()

        return RawWays(key=copy(self.key, np.int64), lon=copy(self.lon, float),
                       lat=copy(self.lat, float), offsets=copy(self.offsets, np.int64),
                       cls=copy(self.cls, np.int16), ref=copy(self.ref, np.int32),
                       speed_kmh=copy(self.speed, float),
                       oneway=copy(self.oneway, np.int8).astype(bool), cls_names=self.cls_names,
                       ref_names=list(self.ref_codes), maxspeed=copy(self.maxspeed, float))

    def railways(self) -> gpd.GeoDataFrame:
        """The ``railway=rail`` ways as lines in EPSG:4326 (``main``: tagged ``usage=main``)."""
        cols = ["osm_id", "usage", "service", "main", "name", "ref"]
        rows = self.rail
        return gpd.GeoDataFrame({c: [r[i] for r in rows] for i, c in enumerate(cols)},
                                geometry=[r[-1] for r in rows], crs="EPSG:4326")


def _filters(highways: list[str], progress: bool) -> list[object]:  # osmium's HandlerLike
    """C++ filters: only road and rail ways reach Python, and (for progress) nodes tagged ``place``.

    Node ids are sorted in an extract, so the last id seen tells how far the node phase has got.
    A node callback for every node would cost about 1.5 s per million nodes.
    """
    tags = [("highway", h) for h in highways] + [("railway", "rail")]
    ways = osmium.filter.TagFilter(*tags)
    ways.enable_for(osmium.osm.WAY)
    nodes: osmium.BaseFilter
    if progress:
        nodes = osmium.filter.KeyFilter("place")
        nodes.enable_for(osmium.osm.NODE)
    else:
        nodes = osmium.filter.EntityFilter(osmium.osm.WAY)
    return [ways, nodes]


def read_osm(path: str | Path, highways: dict[str, dict[str, Any]], *,
             progress: Callable[[dict[str, int]], None] | None = None
             ) -> tuple[RawWays, gpd.GeoDataFrame, dict[str, int]]:
    """Roads (as RawWays) and railways of an OSM file, with counts of what was read.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf``, ``.osm`` (also ``.osm.bz2``/``.osm.gz``).
    highways : dict
        ``highway`` value -> row of the class table, for the values to import.
    progress : callable, optional
        Called with the running counts every 100,000 road or rail ways and at nodes tagged
        ``place``.

    Raises
    ------
    RuntimeError
        From osmium, when the file cannot be parsed (the caller names the error).
    """
    handler = _Collector(highways, progress)
    if progress:
        progress(handler.counts)
    with tempfile.TemporaryDirectory(prefix="osm-idx-") as tmp:
        idx = f"sparse_file_array,{Path(tmp) / 'locations.idx'}"
        filters = _filters(sorted(highways), progress is not None)
        handler.apply_file(str(path), locations=True, idx=idx, filters=filters)
    return handler.raw(), handler.railways(), handler.counts


def stderr_progress(counts: dict[str, int]) -> None:
    """A one-line progress indicator on stderr: node ids indexed, then road and rail ways read."""
    text = (f"nodes: indexing locations, at id {counts['node_id_reached']:,}"
            if not counts["ways_seen"] else
            f"ways: {counts['ways_seen']:,} read (roads {counts['road_ways']:,}, "
            f"railways {counts['rail_ways']:,})")
    print(f"\r  {text}    ", end="", file=sys.stderr, flush=True)
