"""``aggl_corridor_junction``: distinct major lines within a radius of each town."""
from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from .additions import PLACED
from .layers import FROM_LCC, TO_LCC, Layers, geodesic_km
from .params import Params, load_road_classes, load_specs
from .results import Flag, LineHit, PlannedEdge, Reason

_Line = tuple[str, str, str, str, BaseGeometry]  # id, type, name, corridors, geometry


# projected metres per geodesic metre in KZ_LCC, at most, where a town's junction lines can be (the
# point scale is 0.9986-1.023 over 40-95 E, 35-60 N; tests/test_junctions.py): with a margin
LCC_SCALE_MAX = 1.05
PARTS_BATCH = 100_000  # line parts projected and indexed at a time


def line_distances_km(points_lonlat: np.ndarray, geoms: Sequence[BaseGeometry | None],
                      within_km: float = np.inf) -> np.ndarray:
    """Geodesic km from each point to the nearest point of each line (nearest found in KZ_LCC); a
    line of several parts (a road's sections) is as near as its nearest part, each part's nearest
    point found on its own (the projection's nearest part need not be the geodesically nearest).
    A line with no part within ``within_km`` of a point (or with no part at all) is ``inf`` there:
    not measured.

    Vectorised over the parts: all projected in one call and put in an R-tree; per point, the parts
    the tree finds within reach (``within_km`` x ``LCC_SCALE_MAX`` projected, plus 1 km) each get
    their nearest point, one inverse projection and one geodesic call (at 2M imported edges some
    10^6 parts: measuring each from every town took minutes)."""
    px, py = TO_LCC.transform(points_lonlat[:, 0], points_lonlat[:, 1])
    pts = shapely.points(px, py)
    lines = np.asarray(list(geoms), dtype=object)
    out = np.full((len(pts), len(lines)), np.inf)
    reach_m = within_km * 1000.0 * LCC_SCALE_MAX + 1000.0
    # the lines in batches of some PARTS_BATCH parts: a million projected parts and their tree
    # would hold some 500 MB at once
    counts = np.maximum(shapely.get_num_geometries(lines), 1)
    batch = np.cumsum(counts) // PARTS_BATCH
    for b in np.unique(batch):
        cols = np.flatnonzero(batch == b)
        parts, owner = shapely.get_parts(lines[cols], return_index=True)
        projected = shapely.transform(
            parts, lambda c: np.column_stack(TO_LCC.transform(c[:, 0], c[:, 1])))
        tree = shapely.STRtree(projected)
        for i, point in enumerate(pts):
            near = (tree.query(point, predicate="dwithin", distance=reach_m)
                    if np.isfinite(reach_m) else np.arange(len(parts)))
            if not len(near):
                continue
            shortest = shapely.shortest_line(point, projected[near])
            ends = shapely.get_coordinates(shortest).reshape(-1, 2, 2)[:, 1, :]
            elon, elat = FROM_LCC.transform(ends[:, 0], ends[:, 1])
            row = out[i, cols]
            np.minimum.at(row, owner[near],
                          geodesic_km(points_lonlat[i, 0], points_lonlat[i, 1], elon, elat))
            out[i, cols] = row
    out[out > within_km] = np.inf  # measured beyond the radius: as if not (any radius is below)
    return out


def reach_km() -> float:
    """How far the towns' lines are measured: the largest radius a planner may set
    (data/method/geo_params.csv, ``corridor_km`` max)."""
    top = load_specs()["corridor_km"].max
    return np.inf if top is None else float(top)


class Lines:
    """The major lines a junction may be made of, and every town's distance to each (km)."""

    def __init__(self, layers: Layers):
        major = {c for c, rc in load_road_classes().items() if rc.junction_line}
        # the major roads picked by one vectorised test, then their columns zipped as plain
        # arrays (an imported version has millions of roads: no per-row pandas access)
        rd, rw, co = layers.roads, layers.railways, layers.corridors
        rd = rd[rd["class"].isin(list(major)).to_numpy()]
        rows = [(i, c, f"road {i} {n or ''}".strip(), k or "", g)
                for i, c, n, k, g in zip(*(rd[x].to_numpy() for x in ("road_id", "class", "name_ru",
                                                                      "corridors")),
                                         np.asarray(rd.geometry.values))]
        rows += [(i, "railway", f"railway {n}", "", g)
                 for i, n, st, g in zip(rw["line_id"], rw["name"], rw["status"], rw.geometry.values)
                 if st == "operating"]
        placed = set(rw.loc[rw["basis"] == PLACED, "line_id"]) if "basis" in rw.columns else set()
        rows += [(i, "corridor", f"corridor {n}", "", g)
                 for i, n, pl, r, g in zip(co["corr_id"], co["name"], co["planned"], co["roads"],
                                           co.geometry.values)
                 if pl == "no" and not r]
        rows = _merge_sections(rows)
        self.ids: list[str] = [r[0] for r in rows]
        self.types = np.array([r[1] for r in rows])
        self.names = [r[2] for r in rows]
        self.corridors = [r[3] for r in rows]
        towns = layers.towns.geometry.values
        self.town_points = np.column_stack([shapely.get_x(towns), shapely.get_y(towns)])
        # a railway whose far end is placed (not sourced) is measured at its sourced station only
        measured = [shapely.get_point(g, 0) if i in placed else g
                    for i, g in zip(self.ids, (r[4] for r in rows))]
        # the geometries are not kept
        self.dist = line_distances_km(self.town_points, measured, within_km=reach_km())

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``from_arrays`` needs (to store with a network version)."""
        return {"ids": np.array(self.ids, dtype=str), "types": self.types.astype(str),
                "names": np.array(self.names, dtype=str),
                "corridors": np.array(self.corridors, dtype=str),
                "town_points": self.town_points, "dist": self.dist}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Lines":
        """Lines measured before (``arrays()``), without their layers."""
        self = cls.__new__(cls)
        self.ids, self.names = arrays["ids"].tolist(), arrays["names"].tolist()
        self.corridors, self.types = arrays["corridors"].tolist(), arrays["types"]
        self.town_points, self.dist = arrays["town_points"], arrays["dist"]
        return self

    def identity(self, j: int, group: bool) -> str:
        if group and self.corridors[j]:
            return "corridors:" + self.corridors[j]
        return self.ids[j]

    def junctions(self, params: Params, planned: tuple[PlannedEdge, ...] = ()
                  ) -> list[tuple[Flag, tuple[LineHit, ...]]]:
        """Per town (data order): the junction Flag and the LineHits within the radius."""
        types = set(params.corridor_line_types)
        within = (self.dist <= params.corridor_km) & np.isin(self.types, list(types))[None, :]
        extra = [(j, p) for j, p in enumerate(planned) if p.cls in types]
        pd_km = self._planned_distances([p for _, p in extra])
        out = []
        for i in range(len(self.town_points)):
            hits = [LineHit(self.ids[j], str(self.types[j]), self.names[j],
                            round(float(self.dist[i, j]), 2),
                            self.identity(int(j), params.group_named_corridors))
                    for j in np.flatnonzero(within[i])]
            hits += [LineHit(f"planned-{j + 1}", p.cls, f"planned {p.cls} road {p.start} - {p.end}",
                             round(float(pd_km[i, k]), 2), f"planned-{j + 1}")
                     for k, (j, p) in enumerate(extra) if pd_km[i, k] <= params.corridor_km]
            out.append((_flag(hits, params), tuple(hits)))
        return out

    def _planned_distances(self, planned: list[PlannedEdge]) -> np.ndarray:
        if not planned:
            return np.zeros((len(self.town_points), 0))
        geoms = [LineString([(p.coords[0][1], p.coords[0][0]), (p.coords[1][1], p.coords[1][0])])
                 for p in planned]
        return line_distances_km(self.town_points, geoms)


def _merge_sections(rows: list[_Line]) -> list[_Line]:
    """One line per id: a road split into sections (published lengths) is one line, parts united.

    The pieces are grouped by id first and joined once per id, in time linear in the pieces: line
    pieces as one MultiLineString (the same point set as their union, so the same distances,
    without noding them), other geometries by ``shapely.union_all``; an id with one piece keeps
    its geometry as it is. First-seen id order.
    """
    pieces: dict[str, list[BaseGeometry]] = {}
    first: dict[str, _Line] = {}
    for r in rows:
        pieces.setdefault(r[0], []).append(r[4])
        first.setdefault(r[0], r)
    return [r if len(pieces[i]) == 1 else (*r[:4], _joined(pieces[i])) for i, r in first.items()]


def _joined(parts: list[BaseGeometry]) -> BaseGeometry:
    geoms = np.empty(len(parts), dtype=object)
    geoms[:] = parts
    if (shapely.get_type_id(geoms) == 1).all():  # LineStrings
        return cast(BaseGeometry, shapely.multilinestrings(geoms))
    return shapely.union_all(parts)


def _flag(hits: list[LineHit], params: Params) -> Flag:
    distinct = len({h.identity for h in hits})
    inside = distinct >= params.corridor_min_lines
    return Flag(100 if inside else 0,
                Reason("corridor_junction", inside=inside, measured=distinct,
                       limit=params.corridor_km, param="corridor_km", unit="km",
                       lines=tuple(h.id for h in hits), need=params.corridor_min_lines))
