"""SYNTHETIC road-like graphs for the benchmarks (fixed seed); they stand for no real place.

Delaunay triangulation of random points in a 1000 km square placed over central Kazakhstan (60-73 E,
44-53 N), 15 % of the edges dropped; each edge a road class (international, republican, link,
access) so the app's own speeds and detour factors weight it. 20 candidate large cities (2
republican, 18 oblast centres, populations 100k-2M) and 27 towns are random nodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay

from geo.agglomeration import SpatialModel
from geo.layers import geodesic_km
from geo.network import Network

SEED = 42
N_CITIES, N_TOWNS = 20, 27
CLASSES = np.array(["international", "republican", "link", "access"])
CLASS_SHARE = [0.1, 0.3, 0.3, 0.3]


def generate(target_edges: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Arrays of a SYNTHETIC graph with about ``target_edges`` edges (lon, lat, u, v, km, cls,
    cities, towns)."""
    rng = np.random.default_rng(seed)
    n = int(target_edges / 3 / 0.85) + 10
    xy = rng.random((n, 2))
    tri = Delaunay(xy).simplices
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    e = e[rng.random(len(e)) > 0.15]
    lon, lat = 60.0 + xy[:, 0] * 13.0, 44.0 + xy[:, 1] * 9.0
    u, v = e[:, 0].astype(np.int64), e[:, 1].astype(np.int64)
    picked = rng.choice(n, N_CITIES + N_TOWNS, replace=False)
    return {
        "lon": lon,
        "lat": lat,
        "u": u,
        "v": v,
        "km": geodesic_km(lon[u], lat[u], lon[v], lat[v]),
        "cls": rng.choice(len(CLASSES), size=len(u), p=CLASS_SHARE).astype(np.int8),
        "cities": picked[:N_CITIES],
        "towns": picked[N_CITIES:],
        "population": rng.integers(100_000, 2_000_000, N_CITIES),
    }


def save(arrays: dict, path: Path) -> Path:
    np.savez(path, **arrays)
    return path


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def city_ids() -> list[str]:
    return [f"city{i + 1}" for i in range(N_CITIES)]


def town_ids() -> list[str]:
    return [f"town{i + 1}" for i in range(N_TOWNS)]


def network(a: dict) -> Network:
    """The arrays as the app's Network (towns and cities are graph nodes, on the network)."""
    lon, lat = a["lon"], a["lat"]

    def on_network(node: int) -> dict:
        p = [float(lat[node]), float(lon[node])]
        return {
            "class": "access",
            "km": 0.0,
            "assumed": False,
            "sourced": False,
            "note": "SYNTHETIC node",
            "coords": [p, p],
        }

    towns = dict(zip(town_ids(), (int(x) for x in a["towns"])))
    cities = dict(zip(city_ids(), (int(x) for x in a["cities"])))
    return Network(
        lon=lon,
        lat=lat,
        names=[""] * len(lon),
        u=a["u"],
        v=a["v"],
        km=a["km"],
        cls=CLASSES[a["cls"]],
        road=np.full(len(a["u"]), "synthetic"),
        assumed=np.zeros(len(a["u"]), dtype=bool),
        factor=np.full(len(a["u"]), np.nan),
        town_node=towns,
        city_node=cities,
        access={k: on_network(n) for k, n in (towns | cities).items()},
        unroutable={},
    )


def model(a: dict, **options) -> SpatialModel:
    """A SpatialModel over the SYNTHETIC graph (SpatialModel.from_network)."""
    towns = pd.DataFrame(
        {
            "id": town_ids(),
            "name_en": town_ids(),
            "lon": a["lon"][a["towns"]],
            "lat": a["lat"][a["towns"]],
        }
    )
    status = ["republican"] * 2 + ["oblast centre"] * (N_CITIES - 2)
    cities = pd.DataFrame(
        {
            "id": city_ids(),
            "name_en": city_ids(),
            "status": status,
            "population": a["population"],
            "lon": a["lon"][a["cities"]],
            "lat": a["lat"][a["cities"]],
        }
    )
    return SpatialModel.from_network(network(a), towns, cities, **options)
