"""FUA catchments: the parts of the road network within ``fua_minutes`` of a large city.

Each road piece belongs to the catchment of the large city reached fastest (functional urban areas
do not overlap); an edge reached from both ends by different cities is split where the two travel
times meet. A piece is in the catchment when a traveller on it can REACH the city within the minutes
(the node distances are to the city): on a one-way edge u -> v only the part before v that reaches v
in time counts, never a part "reached" through u against the direction of travel. Vectorised over
the edges: no Python loop per edge.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .routing import MIN_WEIGHT, NearestField


def _pieces(du: np.ndarray, dv: np.ndarray, su: np.ndarray, sv: np.ndarray, w: np.ndarray,
            minutes: float, oneway: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per edge: reached fraction from u and from v, their cities, after splitting contested edges.

    Returns (fu, fv, su, sv): the piece [u, u + fu] belongs to city su, [v, v - fv] to sv; an edge
    wholly reached by one city has fu = 1 and fv = 0. A one-way edge (u -> v) has fu = 0: no point
    of it can travel back to u.
    """
    fu = np.clip((minutes - du) / w, 0.0, 1.0)
    fv = np.clip((minutes - dv) / w, 0.0, 1.0)
    if oneway is not None:
        fu[oneway] = 0.0
    overlap = (fu + fv >= 1.0) & (fu > 0) & (fv > 0)
    same = overlap & (su == sv)
    fu[same], fv[same] = 1.0, 0.0  # one whole edge
    split = overlap & (su != sv)  # the two travel times meet at t: du + t w = dv + (1 - t) w
    t = np.clip((dv[split] - du[split] + w[split]) / (2 * w[split]), 0.0, 1.0)
    fu[split], fv[split] = t, 1.0 - t
    return fu, fv, su, sv


def fua_catchments(lon: np.ndarray, lat: np.ndarray, u: np.ndarray, v: np.ndarray,
                   w_min: np.ndarray, field: NearestField, city_ids: list[str], minutes: float,
                   oneway: np.ndarray | None = None) -> dict[str, Any]:
    """GeoJSON FeatureCollection: per large city (in row order), its network within ``minutes``.

    Parameters
    ----------
    lon, lat : node coordinates (EPSG:4326).
    u, v, w_min : edges and their travel minutes (planned roads appended).
    field : nearest selected large city by travel minutes for every node.
    city_ids : city id per routing row.
    minutes : the FUA threshold.
    oneway : per edge, travel only from u to v (optional; planned roads are two-way).
    """
    du, dv = field.dist[u], field.dist[v]
    reach = (du < minutes) | (dv < minutes)
    k = np.flatnonzero(reach)
    w = np.maximum(w_min[k], MIN_WEIGHT)
    fu, fv, su, sv = _pieces(du[k], dv[k], field.src[u[k]], field.src[v[k]], w, minutes,
                             None if oneway is None else np.asarray(oneway, dtype=bool)[k])
    ends = [(u[k], v[k], fu, su), (v[k], u[k], fv, sv)]
    parts, owners, order = [], [], []
    for side, (p, q, f, s) in enumerate(ends):
        m = f > 0
        x0, y0, x1, y1 = lon[p[m]], lat[p[m]], lon[q[m]], lat[q[m]]
        f = f[m]
        reached = np.stack([x0 + (x1 - x0) * f, y0 + (y1 - y0) * f], 1)
        parts.append(np.stack([np.stack([x0, y0], 1), reached], 1))
        owners.append(s[m])
        order.append(k[m] * 2 + side)  # edge order, u-piece before v-piece, as drawn before
    xy, owner, rank = np.concatenate(parts), np.concatenate(owners), np.concatenate(order)
    sort = np.lexsort((rank, owner))
    xy, owner = xy[sort], owner[sort]
    bounds = np.flatnonzero(np.diff(owner)) + 1
    feats = []
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(owner)]):
        if stop <= start or owner[start] < 0:
            continue
        feats.append({"type": "Feature",
                      "properties": {"city": city_ids[owner[start]], "minutes": minutes},
                      "geometry": {"type": "MultiLineString",
                                   "coordinates": xy[start:stop].tolist()}})
    return {"type": "FeatureCollection", "features": feats}
