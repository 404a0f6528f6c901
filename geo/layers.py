"""Read the project's layers (data/shapefiles, data/*.csv), each carrying its CRS."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from numpy.typing import ArrayLike, NDArray
import pandas as pd
from pyproj import Geod, Transformer

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DISPLAY_CRS = "EPSG:4326"
# Lambert conformal conic fitted to Kazakhstan (standard parallels 45 and 51 N, centre 48 N 68 E):
# scale error under about 1.5 % between 40.5 and 55.5 N. Used only to find nearest points; every
# reported distance is geodesic on WGS84. Never EPSG:3857 (about 1.5x too long at 48 N).
KZ_LCC = ("+proj=lcc +lat_0=48 +lon_0=68 +lat_1=45 +lat_2=51 +x_0=0 +y_0=0 +datum=WGS84 +units=m "
          "+no_defs")
GEOD = Geod(ellps="WGS84")
TO_LCC = Transformer.from_crs(DISPLAY_CRS, KZ_LCC, always_xy=True)
FROM_LCC = Transformer.from_crs(KZ_LCC, DISPLAY_CRS, always_xy=True)


def geodesic_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
                ) -> NDArray[np.float64]:
    """Geodesic distance on WGS84, km (vectorised)."""
    a, b, c, d = np.broadcast_arrays(*(np.asarray(x, float) for x in (lon1, lat1, lon2, lat2)))
    _, _, m = GEOD.inv(a.ravel(), b.ravel(), c.ravel(), d.ravel())
    return (np.asarray(m) / 1000.0).reshape(a.shape)


def chord_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
             ) -> NDArray[np.float64]:
    """Great-circle km on a sphere of 6,371 km (vectorised): a metric, so that a route between two
    points is at least ``geo.routing.MetricRouting.bound_factor`` x their chord."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    h = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2)
    return np.asarray(2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


@dataclass
class Layers:
    roads: gpd.GeoDataFrame
    railways: gpd.GeoDataFrame
    corridors: gpd.GeoDataFrame
    oblasts: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    cities: gpd.GeoDataFrame
    waypoints: pd.DataFrame
    access_roads: pd.DataFrame
    corridor_table: pd.DataFrame
    # designated tourist destinations and protected areas (points); may be empty
    tourism: gpd.GeoDataFrame
    # officially approved agglomerations: core city, level, members; may be empty
    agglomerations: pd.DataFrame


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _points(df: pd.DataFrame) -> gpd.GeoDataFrame:
    xy = gpd.points_from_xy(df["lon"].astype(float), df["lat"].astype(float))
    g = gpd.GeoDataFrame(df, geometry=xy, crs=DISPLAY_CRS)
    g["population"] = pd.to_numeric(g["population"], errors="coerce")
    return g


def load_layers(data_dir: str | Path = DATA_DIR) -> Layers:
    d = Path(data_dir)
    shp = d / "shapefiles"

    def read(name: str) -> gpd.GeoDataFrame:
        g = gpd.read_file(shp / f"{name}.shp", engine="pyogrio")
        if g.crs is None:
            raise ValueError(f"{shp / name}.shp has no CRS (.prj missing): "
                             "every layer must carry its CRS")
        for col in g.columns:
            if col != "geometry" and not pd.api.types.is_numeric_dtype(g[col]):
                g[col] = g[col].fillna("")  # shapefiles store empty text as NULL
        return g.to_crs(DISPLAY_CRS)

    return Layers(
        roads=read("roads"), railways=read("railways"), corridors=read("corridors"),
        oblasts=read("oblasts"),
        towns=_points(_csv(d / "towns.csv")), cities=_points(_csv(d / "large_cities.csv")),
        waypoints=_csv(d / "network" / "waypoints.csv"), access_roads=_csv(d / "access_roads.csv"),
        corridor_table=_csv(d / "network" / "corridors_table.csv"),
        tourism=_sites(d / "tourism_sites.csv"),
        agglomerations=_csv(d / "agglomerations.csv") if (d / "agglomerations.csv").exists()
        else pd.DataFrame(columns=["agglomeration", "level", "member_ru", "member_type", "town_id",
                                   "lat", "lon", "source", "quote"]),
    )


def _sites(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        return gpd.GeoDataFrame({"id": [], "name_en": [], "kind": []}, geometry=[], crs=DISPLAY_CRS)
    df = _csv(path)
    xy = gpd.points_from_xy(df["lon"].astype(float), df["lat"].astype(float))
    return gpd.GeoDataFrame(df, geometry=xy, crs=DISPLAY_CRS)
