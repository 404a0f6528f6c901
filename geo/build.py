"""Build the project's data/ layers from the sourced facts kept in data/sources/.

    python -m geo.build [--sources PATH] [--out PATH]

Writes data/towns.csv, data/large_cities.csv, data/network/*.csv (copies, sources kept) and the
shapefiles in data/shapefiles/ (EPSG:4326, each with .prj and .cpg). Rerunning it reproduces the
committed files byte for byte (tests/test_geo_build.py checks that).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
from shapely import make_valid
from shapely.geometry import Point, shape

from . import additions

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = ROOT / "data" / "sources"
DEFAULT_OUT = ROOT / "data"
WGS84 = "EPSG:4326"
# about 0.5 km: keeps the page light; boundaries are for orientation only
OBLAST_SIMPLIFY_DEG = 0.005
SHP_NAMES = {"population": "pop", "population_year": "pop_year", "main_industry": "industry",
             # shapefile field names have at most 10 characters
             "population_source": "pop_source", "designation": "designat"}
NETWORK_FILES = ("roads.csv", "railways.csv", "corridors.csv", "inferred_links.csv")
PUBLISHED_FILE = "published_distances.csv"  # in sources/network/additions/, copied to network/
PLACED_FILE = "railways_placed.csv"  # in sources/network/additions/, copied to network/


def slug(name: str) -> str:
    return re.sub(r"[^a-z]+", "_", name.split("(")[0].strip().lower()).strip("_")


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def build_towns(sources: Path) -> pd.DataFrame:
    towns = read_csv(sources / "monotowns.csv")
    geo = read_csv(sources / "monotowns_geo.csv")
    if len(towns) != 27 or len(geo) != 27:
        raise ValueError(f"expected 27 monotowns, got {len(towns)} (monotowns.csv) "
                         f"and {len(geo)} (monotowns_geo.csv)")
    # both files list the towns in the same order; check by the first word of the English name
    for a, b in zip(towns["name_en"], geo["monotown"]):
        if slug(a) != slug(b):
            raise ValueError(f"monotowns.csv and monotowns_geo.csv disagree on order: "
                             f"{a!r} vs {b!r}")
    out = pd.DataFrame({
        "id": [slug(n) for n in towns["name_en"]],
        "name_en": [n.split(" (")[0] for n in towns["name_en"]],
        "name_kk": towns["name_kk"], "name_ru": towns["name_ru"],
        "name_en_full": towns["name_en"],
        "oblast": towns["oblast"], "oblast_2012": towns["oblast_2012"],
        "lat": geo["lat"], "lon": geo["lon"],
        "coord_source": "OpenStreetMap node " + geo["osm_id"] + " (ODbL)",
        "geonameid": geo["geonameid"],
        "population": towns["population"], "population_year": towns["population_year"],
        "population_scope": towns["population_scope"],
        "source_population": towns["source_population"],
        "city_forming_enterprise": towns["city_forming_enterprise"],
        "source_enterprise": towns["source_enterprise"], "main_industry": towns["main_industry"],
        "status_note": towns["status_note"],
        "source_monotown_status": towns["source_monotown_status"],
        "degurba_2025_class": geo["degurba_2025_class"],
        "nearest_rail_station": geo["nearest_rail_station"],
        "notes": towns["notes"],
    })
    return _with_facts(out, read_csv(sources / "town_facts.csv"))


def _with_facts(towns: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """Checked Kazakh names (where a source corrects the gathered one) and each town's status in
    2025."""
    facts = facts.set_index("town_id").reindex(towns["id"]).fillna("")
    fixed = facts["name_kk"].values != ""
    towns.loc[fixed, "name_kk"] = facts["name_kk"].values[fixed]
    towns["name_kk_source"] = facts["name_source"].values
    towns["status_2025"] = facts["status"].values
    towns["status_2025_source"] = facts["status_source"].values
    return towns


def build_cities(sources: Path) -> pd.DataFrame:
    cities = read_csv(sources / "large_cities.csv")
    way = read_csv(sources / "network" / "waypoints.csv")
    way = way[way["role"].isin(["N", "K"]) & (way["lat"] != "")]
    names_ru = []
    for _, c in cities.iterrows():
        lat, lon = float(c["lat"]), float(c["lon"])
        d = ((way["lat"].astype(float) - lat) ** 2 + (way["lon"].astype(float) - lon) ** 2) ** 0.5
        names_ru.append(way.loc[cast(int, d.idxmin()), "waypoint_name"] if d.min() < 0.1 else "")
    osm_pop = pd.to_numeric(cities["osm_population"], errors="coerce")
    gn_pop = pd.to_numeric(cities["geonames_population"], errors="coerce")
    return pd.DataFrame({
        "id": [slug(n) for n in cities["city"]],
        "name_en": cities["city"],
        # OSM's name; where OSM has no node (Kyzylorda) the sourced name_kk column of the sources
        "name_kk": [o if o else k for o, k in zip(cities["osm_name"], cities["name_kk"])],
        "name_ru": names_ru,
        "status": [s.split(" (")[0] for s in cities["status"]],
        "status_note": [s.split(" (", 1)[1].rstrip(")") if " (" in s else ""
                        for s in cities["status"]],
        "lat": cities["lat"], "lon": cities["lon"],
        "population": [str(int(o)) if pd.notna(o) else str(int(g))
                       for o, g in zip(osm_pop, gn_pop)],
        "population_source": ["OpenStreetMap population tag (ODbL)" if pd.notna(o) else
                              f"GeoNames {gid} (CC BY 4.0)"
                              for o, gid in zip(osm_pop, cities["geonameid"])],
        "coord_source": [f"OpenStreetMap node {int(float(o))} (ODbL)" if o.strip() else
                         f"GeoNames {g} (CC BY 4.0; approximate)"
                         for o, g in zip(cities["osm_id"], cities["geonameid"])],
        "name_ru_source": ["data/sources/network/waypoints.csv (road names as printed)" if n else ""
                           for n in names_ru],
        "name_kk_source": ["OpenStreetMap name tag (ODbL)" if o else k
                           for o, k in zip(cities["osm_name"], cities["name_kk_source"])],
    })


def corridor_table(sources: Path) -> pd.DataFrame:
    cor = read_csv(sources / "network" / "corridors.csv")
    cor.insert(0, "corridor_id", [f"C{i + 1:02d}" for i in range(len(cor))])
    cor["member_roads"] = [" ; ".join(re.findall(r"\b(?:KAZ\d+|KZ\d+-\d+|R_[A-Z0-9_]+)\b", r))
                           for r in cor["road_ids"]]
    cor["planned"] = ["yes" if re.search(r"PLANNED|UNDER CONSTRUCTION|planned", n + " " + t)
                      else "no" for n, t in zip(cor["corridor"], cor["type"])]
    return cor


def _corridor_members(corridors: pd.DataFrame) -> dict[str, list[str]]:
    member: dict[str, list[str]] = {}
    for _, c in corridors.iterrows():
        for rid in filter(None, c["member_roads"].split(" ; ")):
            member.setdefault(rid, []).append(c["corridor_id"])
    return member


def build_roads(sources: Path, corridors: pd.DataFrame) -> gpd.GeoDataFrame:
    """Gathered roads (schematic lines) with the project's sourced additions, split at published
    sections."""
    roads = read_csv(sources / "network" / "roads.csv").set_index("road_id")
    added = read_csv(sources / additions.ADDITIONS / "roads.csv")
    edits = read_csv(sources / additions.ADDITIONS / "road_edits.csv")
    lengths = read_csv(sources / additions.ADDITIONS / "road_lengths.csv")
    pts = additions.Points(additions.waypoints(sources))
    gj = json.loads((sources / "network" / "roads_schematic.geojson").read_text(encoding="utf-8"))
    member = _corridor_members(corridors)
    rows = []

    def add(rid: str, r: dict[str, str] | pd.Series, coords: additions.Coords) -> None:
        for part, factor, src in additions.sections(rid, coords, lengths, pts):
            rows.append({"road_id": rid, "index": r["index"], "old_index": r["old_index"],
                         "class": r["class"], "name_ru": r["name_ru"],
                         "corridors": " ; ".join(member.get(rid, [])),
                         "source": r["source_url"].split(" ; ")[0], "km_factor": factor,
                         "len_source": src, "basis": "", "pub_km": float("nan"),
                         "geometry": additions.line(part)})
    for f in gj["features"]:
        rid = f["properties"]["road_id"]
        if f["properties"]["class"] == "INFERRED_link":
            add(rid, {"index": "", "old_index": "", "class": "link", "name_ru": "", "source_url":
                      "INFERRED: joins a road end to the nearest road within 20 km "
                      "(data/sources/network/inferred_links.csv)"},
                f["geometry"]["coordinates"])
            continue
        coords = additions.insert_vertices(f["geometry"]["coordinates"],
                                           edits[edits["road_id"] == rid], pts,
                                           station=False, line=rid)
        add(rid, roads.loc[rid], coords)
    for _, r in added.iterrows():
        add(r["road_id"], r, additions.drawn(r["route_points"], pts, station=False))
    links = additions.published_links(read_csv(sources / additions.ADDITIONS / PUBLISHED_FILE), pts)
    for link in links:
        rows.append({"road_id": link["road_id"], "index": "", "old_index": "",
                     "class": link["class"], "name_ru": link["name_ru"], "corridors": "",
                     "source": link["source"], "km_factor": link["km_factor"],
                     "len_source": link["source"], "basis": additions.PUBLISHED,
                     "pub_km": link["published_km"],
                     "geometry": additions.line(link["coords"])})
    return gpd.GeoDataFrame(rows, crs=WGS84)


def build_railways(sources: Path) -> gpd.GeoDataFrame:
    """Gathered main railway lines with the project's sourced additions."""
    rail = read_csv(sources / "network" / "railways.csv").set_index("line_id")
    added = read_csv(sources / additions.ADDITIONS / "railways.csv")
    edits = read_csv(sources / additions.ADDITIONS / "railway_edits.csv")
    pts = additions.Points(additions.waypoints(sources))
    gj = json.loads((sources / "network" / "railways_schematic.geojson")
                    .read_text(encoding="utf-8"))
    rows = []
    for f in gj["features"]:
        lid = f["properties"]["line_id"]
        name = rail.loc[lid, "line_name"]
        coords = additions.insert_vertices(f["geometry"]["coordinates"],
                                           edits[edits["line_id"] == lid], pts,
                                           station=True, line=lid)
        rows.append({"line_id": lid, "name": name,
                     "status": "planned" if "[PLANNED]" in name else "operating",
                     "source": rail.loc[lid, "source_url"].split(" ; ")[0], "basis": "",
                     "geometry": additions.line(coords)})
    for _, r in added.iterrows():
        rows.append({"line_id": r["line_id"], "name": r["line_name"], "status": "operating",
                     "source": r["source_url"].split(" ; ")[0], "basis": "",
                     "geometry": additions.line(additions.drawn(r["stations"], pts, station=True))})
    placed = additions.placed_railways(read_csv(sources / additions.ADDITIONS / PLACED_FILE), pts)
    for line in placed:
        rows.append({"line_id": line["line_id"], "name": line["name"], "status": "operating",
                     "source": line["source"], "basis": additions.PLACED,
                     "geometry": additions.line(line["coords"])})
    return gpd.GeoDataFrame(rows, crs=WGS84)


def build_corridors(sources: Path, corridors: pd.DataFrame) -> gpd.GeoDataFrame:
    gj = json.loads((sources / "network" / "corridors_schematic.geojson")
                    .read_text(encoding="utf-8"))
    geoms = {f["properties"]["corridor"]: shape(f["geometry"]) for f in gj["features"]}
    rows = []
    for _, c in corridors.iterrows():
        if c["corridor"] not in geoms:
            continue
        rows.append({"corr_id": c["corridor_id"], "name": c["corridor"], "type": c["type"],
                     "roads": c["member_roads"], "planned": c["planned"],
                     "source": c["source_url"].split(" ; ")[0], "geometry": geoms[c["corridor"]]})
    return gpd.GeoDataFrame(rows, crs=WGS84)


def build_tourism(sources: Path) -> pd.DataFrame:
    """Designated tourist destinations and protected areas with a sourced point (the rest are listed
    in data/README.md as not placed)."""
    sites = read_csv(sources / "tourism_sites.csv")
    sites = sites[(sites["lat"] != "") & (sites["lon"] != "")].copy()
    sites.insert(0, "id", [f"T{i + 1:02d}" for i in range(len(sites))])
    return sites


def build_oblasts(sources: Path) -> gpd.GeoDataFrame:
    g = gpd.read_file(sources / "oblasts" / "kz-adm1.geojson")
    valid: list[Any] = [geom if geom.is_valid else make_valid(geom) for geom in g.geometry]
    g["geometry"] = valid  # West Kazakhstan
    g["geometry"] = g.geometry.simplify(OBLAST_SIMPLIFY_DEG, preserve_topology=True)
    g = g.rename(columns={"ADM1_EN": "name_en", "ADM1_PCODE": "pcode"})
    g = g[["pcode", "name_en", "geometry"]]
    return g.set_crs(WGS84, allow_override=True)


def points(df: pd.DataFrame, cols: list[str]) -> gpd.GeoDataFrame:
    geom = [Point(float(x), float(y)) for x, y in zip(df["lon"], df["lat"])]
    return gpd.GeoDataFrame(df[cols].copy(), geometry=geom, crs=WGS84)


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path) -> None:
    gdf = gdf.copy()
    for col in gdf.columns:
        if col != "geometry" and gdf[col].dtype == object:
            gdf[col] = gdf[col].astype(str).str.slice(0, 254)
    gdf.to_file(path, driver="ESRI Shapefile", encoding="UTF-8", engine="pyogrio")
    path.with_suffix(".cpg").write_text("UTF-8")


def build(sources: Path = DEFAULT_SOURCES, out: Path = DEFAULT_OUT) -> dict[str, int]:
    """Build every layer into ``out``; return {name: row count}."""
    if not (sources / "monotowns.csv").exists():
        raise FileNotFoundError(f"{sources}/monotowns.csv not found: pass --sources PATH to the "
                                "folder of sourced facts")
    (out / "network").mkdir(parents=True, exist_ok=True)
    (out / "shapefiles").mkdir(parents=True, exist_ok=True)
    towns, cities = build_towns(sources), build_cities(sources)
    towns.to_csv(out / "towns.csv", index=False, lineterminator="\n")
    cities.to_csv(out / "large_cities.csv", index=False, lineterminator="\n")
    for name in NETWORK_FILES:
        shutil.copyfile(sources / "network" / name, out / "network" / name)
    additions.waypoints(sources).to_csv(out / "network" / "waypoints.csv", index=False,
                                        lineterminator="\n")
    for name in (PUBLISHED_FILE, PLACED_FILE):
        shutil.copyfile(sources / additions.ADDITIONS / name, out / "network" / name)
    shutil.copyfile(sources / "agglomerations.csv", out / "agglomerations.csv")
    tourism = build_tourism(sources)
    tourism.to_csv(out / "tourism_sites.csv", index=False, lineterminator="\n")
    cor = corridor_table(sources)
    cor.to_csv(out / "network" / "corridors_table.csv", index=False, lineterminator="\n")
    layers = {
        "roads": build_roads(sources, cor),
        "railways": build_railways(sources),
        "corridors": build_corridors(sources, cor),
        "towns": points(towns, ["id", "name_en", "name_kk", "name_ru", "oblast", "population",
                                "population_year", "main_industry"]).rename(columns=SHP_NAMES),
        "large_cities": points(cities, ["id", "name_en", "name_kk", "name_ru", "status",
                                        "population", "population_source"]
                               ).rename(columns=SHP_NAMES),
        "oblasts": build_oblasts(sources),
        "tourism": points(tourism, ["id", "name_en", "name_ru", "kind", "designation"]
                          ).rename(columns=SHP_NAMES),
    }
    for name, gdf in layers.items():
        write_shapefile(gdf, out / "shapefiles" / f"{name}.shp")
    return {name: len(g) for name, g in layers.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geo.build", description=__doc__)
    ap.add_argument("--sources", type=Path, default=DEFAULT_SOURCES,
                    help="folder with the gathered facts")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output data folder")
    args = ap.parse_args(argv)
    try:
        counts = build(args.sources, args.out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("built: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
