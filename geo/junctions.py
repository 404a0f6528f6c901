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
from .params import Params, load_road_classes
from .results import Flag, LineHit, PlannedEdge, Reason

_Line = tuple[str, str, str, str, BaseGeometry]  # id, type, name, corridors, geometry


def line_distances_km(points_lonlat: np.ndarray, geoms: Sequence[BaseGeometry | None]
                      ) -> np.ndarray:
    """Geodesic km from each point to the nearest point of each line (nearest found in KZ_LCC); a
    line of several parts (a road's sections) is as near as its nearest part, each part's nearest
    point found on its own (the projection's nearest part need not be the geodesically nearest)."""
    px, py = TO_LCC.transform(points_lonlat[:, 0], points_lonlat[:, 1])
    pts = shapely.points(px, py)
    out = np.empty((len(pts), len(geoms)))
    for j, g in enumerate(geoms):
        if g is not None and shapely.get_num_geometries(g) > 1:
            out[:, j] = line_distances_km(points_lonlat, list(shapely.get_parts(g))).min(axis=1)
            continue
        coords = shapely.get_coordinates(g)
        lx, ly = TO_LCC.transform(coords[:, 0], coords[:, 1])
        projected = (shapely.transform(g, lambda c, lx=lx, ly=ly: np.stack([lx, ly], 1))
                     if len(coords) else g)
        shortest = shapely.shortest_line(pts, projected)
        ends = shapely.get_coordinates(shortest).reshape(-1, 2, 2)[:, 1, :]
        elon, elat = FROM_LCC.transform(ends[:, 0], ends[:, 1])
        out[:, j] = geodesic_km(points_lonlat[:, 0], points_lonlat[:, 1], elon, elat)
    return out


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
        self.dist = line_distances_km(self.town_points, measured)  # the geometries are not kept

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
