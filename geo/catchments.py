"""FUA catchments: the parts of the road network within ``fua_minutes`` of each large city."""
from __future__ import annotations

import numpy as np

from .network import Network
from .routing import Routing


def _partial_edges(lon, lat, u, v, fu, fv) -> list:
    """Edge pieces reachable from either end: whole edges, or the reached fraction from each end."""
    parts = []
    for k in np.flatnonzero((fu > 0) | (fv > 0)):
        a, b = u[k], v[k]
        pa, pb = (lon[a], lat[a]), (lon[b], lat[b])
        if fu[k] + fv[k] >= 1:
            parts.append([pa, pb])
            continue
        if fu[k] > 0:
            parts.append([pa, (lon[a] + (lon[b] - lon[a]) * fu[k], lat[a] + (lat[b] - lat[a]) * fu[k])])
        if fv[k] > 0:
            parts.append([pb, (lon[b] + (lon[a] - lon[b]) * fv[k], lat[b] + (lat[a] - lat[b]) * fv[k])])
    return parts


def fua_catchments(net: Network, routing: Routing, rows, city_ids: list[str], minutes: float) -> dict:
    """GeoJSON FeatureCollection: per selected large city (matrix row), its network within ``minutes``."""
    u, v, w = routing.u, routing.v, np.maximum(routing.weights["min"], 1e-9)
    feats = []
    for row in rows:
        d = routing.dist["min"][row]
        fu = np.clip((minutes - d[u]) / w, 0, 1)
        fv = np.clip((minutes - d[v]) / w, 0, 1)
        parts = _partial_edges(net.lon, net.lat, u, v, fu, fv)
        if parts:
            feats.append({"type": "Feature", "properties": {"city": city_ids[row], "minutes": minutes},
                          "geometry": {"type": "MultiLineString",
                                       "coordinates": [[[float(x), float(y)] for x, y in p] for p in parts]}})
    return {"type": "FeatureCollection", "features": feats}
