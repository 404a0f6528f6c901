"""Write the synthetic tiny network of tests/data/tiny_network.json in the layout load_layers reads."""
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, box

SPEC = Path(__file__).parent / "data" / "tiny_network.json"


def write_tiny(dest: Path) -> Path:
    spec = json.loads(SPEC.read_text())
    shp = dest / "shapefiles"
    (dest / "network").mkdir(parents=True, exist_ok=True)
    shp.mkdir(parents=True, exist_ok=True)
    crs = "EPSG:4326"

    def lines(rows, keys):
        return gpd.GeoDataFrame([{k: r[k] for k in keys} for r in rows],
                                geometry=[LineString(r["coords"]) for r in rows], crs=crs)

    lines(spec["roads"], ["road_id", "class", "name_ru", "corridors"]).to_file(shp / "roads.shp")
    lines(spec["railways"], ["line_id", "name", "status"]).to_file(shp / "railways.shp")
    gpd.GeoDataFrame({"corr_id": ["X"], "name": ["none"], "type": ["x"], "roads": ["R1"], "planned": ["yes"]},
                     geometry=[LineString([(60, 40), (60.1, 40)])], crs=crs).to_file(shp / "corridors.shp")
    gpd.GeoDataFrame({"pcode": ["T1"], "name_en": ["Test oblast"]}, geometry=[box(69, 47, 76, 50)],
                     crs=crs).to_file(shp / "oblasts.shp")
    towns = pd.DataFrame(spec["towns"]).assign(name_kk="", name_ru="", population="")
    towns.to_csv(dest / "towns.csv", index=False)
    pd.DataFrame(spec["cities"]).assign(name_kk="", name_ru="").to_csv(dest / "large_cities.csv", index=False)
    pd.DataFrame(spec["waypoints"]).assign(matched_name="").to_csv(dest / "network" / "waypoints.csv", index=False)
    pd.DataFrame(columns=["town_id", "road_name", "connects_to_waypoint", "status", "source", "note"]).to_csv(
        dest / "access_roads.csv", index=False)
    pd.DataFrame(columns=["corridor_id"]).to_csv(dest / "network" / "corridors_table.csv", index=False)
    return dest
