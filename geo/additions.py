"""This project's sourced additions to the gathered network (data/sources/network/additions/).

The gathered facts draw roads and railways as straight lines between named waypoints. The additions,
each row with its source, add waypoints, whole roads and railways drawn through named waypoints,
vertices inserted into existing lines (``*_edits.csv``), and published section lengths
(``road_lengths.csv``): a section with a published length gets ``km_factor`` = published km /
geodesic km of its straight segments, used instead of the class's detour factor.

A published road distance between two named places is itself a source for a link of that length
(``published_distances.csv``), even when the road's name, index and route are unknown: the link
is drawn straight between the two waypoints (geometry assumed), its ``km_factor`` makes its road
km the published figure, and its ``basis`` is ``published_distance`` (length from a published
road distance; route not sourced).

A railway whose end station cannot be placed from a source (``railways_placed.csv``) is drawn
from its sourced station for its published length toward its published direction (a named
place): its ``basis`` is ``placed_end``; only its first vertex (the station) is sourced.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import LineString

from .layers import GEOD, geodesic_km

ADDITIONS = Path("network") / "additions"
PUBLISHED = "published_distance"  # ``basis`` of a link whose length is a published road distance
PLACED = "placed_end"  # ``basis`` of a railway whose far end is placed from length and direction


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def waypoints(sources: Path) -> pd.DataFrame:
    """The gathered waypoints and the added ones, in one table (the added last)."""
    base = _csv(sources / "network" / "waypoints.csv")
    added = _csv(sources / ADDITIONS / "waypoints.csv")
    return pd.concat([base, added[base.columns]], ignore_index=True)


class Points:
    """Waypoint coordinates by name; a road prefers road points, a railway its station points."""

    def __init__(self, way: pd.DataFrame):
        self.rows = way[way["lat"] != ""]

    def coords(self, name: str, *, station: bool = False) -> tuple[float, float]:
        hits = self.rows[self.rows["waypoint_name"] == name]
        if hits.empty:
            raise ValueError(f"waypoint '{name}' has no coordinates in the waypoint tables")
        pref = hits[(hits["role"] == "S") == station]
        r = (pref if len(pref) else hits).iloc[0]
        return float(r["lon"]), float(r["lat"])

    def names_at(self, xy: tuple[float, float]) -> set[str]:
        close = (np.abs(self.rows["lon"].astype(float) - xy[0]) < 1e-5) & (np.abs(self.rows["lat"].astype(float) - xy[1]) < 1e-5)
        return set(self.rows.loc[close, "waypoint_name"])


def insert_vertices(coords: list, edits: pd.DataFrame, points: Points, *, station: bool, line: str) -> list:
    """Insert each edit's waypoint after the vertex named ``after`` (file order)."""
    coords = list(coords)
    for _, e in edits.iterrows():
        at = next((i for i, xy in enumerate(coords) if e["after"] in points.names_at(xy)), None)
        if at is None:
            raise ValueError(f"{line}: no vertex named '{e['after']}' to insert '{e['insert']}' after")
        coords.insert(at + 1, points.coords(e["insert"], station=station))
    return coords


def drawn(route: str, points: Points, *, station: bool) -> list:
    """A ' | '-separated list of waypoint names -> their coordinates."""
    return [points.coords(n.strip(), station=station) for n in route.split("|") if n.strip()]


def sections(road_id: str, coords: list, lengths: pd.DataFrame, points: Points) -> list[tuple[list, float, str]]:
    """Split a road's vertices at its published sections: [(coords, km_factor or nan, source)]."""
    cuts = []
    for _, s in lengths[lengths["road_id"] == road_id].iterrows():
        i = _vertex(coords, s["from"], points, road_id)
        j = _vertex(coords, s["to"], points, road_id)
        i, j = min(i, j), max(i, j)
        geo = float(np.sum(geodesic_km(*np.array(coords[i:j]).T, *np.array(coords[i + 1:j + 1]).T)))
        cuts.append((i, j, float(s["length_km"]) / geo, s["source_url"].split(" ; ")[0]))
    out, start = [], 0
    for i, j, factor, src in sorted(cuts):
        if i > start:
            out.append((coords[start:i + 1], float("nan"), ""))
        out.append((coords[i:j + 1], factor, src))
        start = j
    if start < len(coords) - 1:
        out.append((coords[start:], float("nan"), ""))
    return out


def _vertex(coords: list, name: str, points: Points, road_id: str) -> int:
    hit = next((i for i, xy in enumerate(coords) if name in points.names_at(xy)), None)
    if hit is None:
        raise ValueError(f"road_lengths.csv: road {road_id} has no vertex named '{name}'")
    return hit


def line(coords: list) -> LineString:
    return LineString(coords)


def published_links(table: pd.DataFrame, points: Points) -> list[dict]:
    """One straight link per published road distance (published_distances.csv rows).

    Returns dicts with road_id, class, name_ru, coords, km_factor, published_km and source.
    ``km_factor`` = published km / geodesic km of the straight line, at least 1: a published figure
    shorter than the straight line between the two places (measured from a city's edge, or rounded)
    cannot be a road length between them, so the link gets the straight line's length, the least a
    road can have, and keeps the published figure beside it. Raises ValueError naming the row when
    a length is not a positive number.
    """
    out = []
    for _, r in table.iterrows():
        km = _positive_km(r["length_km"], f"published_distances.csv: {r['link_id']}")
        coords = [points.coords(r["from_point"]), points.coords(r["to_point"])]
        geo = float(geodesic_km(*coords[0], *coords[1]))
        out.append({"road_id": r["link_id"], "class": r["class"], "coords": coords,
                    "km_factor": max(km / geo, 1.0), "published_km": km,
                    "name_ru": f"{r['from_point']} – {r['to_point']}",
                    "source": r["source_url"].split(" ; ")[0]})
    return out


def placed_railways(table: pd.DataFrame, points: Points) -> list[dict]:
    """One straight railway per row: from its sourced station, ``length_km`` toward the named place.

    Raises ValueError naming the row when a length is not a positive number or the place toward
    which the line runs is the station itself.
    """
    out = []
    for _, r in table.iterrows():
        where = f"railways_placed.csv: {r['line_id']}"
        km = _positive_km(r["length_km"], where)
        start = points.coords(r["from_station"], station=True)
        toward = points.coords(r["toward"])
        if geodesic_km(*start, *toward) <= 0:
            raise ValueError(f"{where}: 'toward' is the station itself: no direction")
        bearing, _, _ = GEOD.inv(*start, *toward)
        lon, lat, _ = GEOD.fwd(*start, bearing, km * 1000.0)
        out.append({"line_id": r["line_id"], "name": r["line_name"],
                    "coords": [start, (float(lon), float(lat))],
                    "source": r["source_url"].split(" ; ")[0]})
    return out


def _positive_km(value: str, where: str) -> float:
    """A table's km field as a positive float, else ValueError naming the row and the field."""
    try:
        km = float(value)
    except ValueError:
        km = float("nan")
    if not np.isfinite(km) or km <= 0:
        raise ValueError(f"{where}: length_km must be a positive number of km, got {value!r}")
    return km
