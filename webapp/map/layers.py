"""The map's layers as GeoJSON from the API, so that the map page itself stays small.

``GET /api/layers/<name>.geojson`` (webapp.api.routes) answers one layer, rendered once per what it
depends on and the stored state (webapp.model ``Atlas.cached``), kept as bytes with its gzip and an
ETag (webapp.http). The page learns each layer's URL with ``v=`` a version of those inputs
(``layer_urls``, ``Atlas.version``; no layer is rendered to learn it): such a URL names one content
for ever, so it is served with ``Cache-Control: immutable`` for a year and a repeat visit fetches
nothing; a URL without the current ``v`` is revalidated (ETag, 304).

What a layer depends on (its cache key and URL):

- ``oblasts`` (the basemap, names in the page's language), ``official`` (official agglomerations),
  ``tourism`` (the sites special_tourism is derived from): the language only;
- ``roads`` (every class; the page splits them into the layer control's four road layers and writes
  their tooltips): the network version (``network=``);
- ``railways``, ``corridors``: the network version and the language: an imported
  version draws its own roads and railways (and has no named corridors, as in geo.versions);
- ``access`` (access links): every spatial parameter and the language;
- ``catchments`` (FUA catchments): every spatial parameter (the page names the cities);
- ``water`` (context: lakes and the wide reaches of rivers, OpenStreetMap via the npm packages
  ``@geo-maps/earth-lakes-1km`` and ``@geo-maps/earth-rivers-1km``, installed by ``npm ci``, never
  downloaded at run time): nothing (drawn without names or tooltips, so in no language).

No tooltip shows an internal id (a road's R_... or LINK:..., a town's id): a road is named by its
official index and name, a quotation in Russian said to be one, and its class in the page's
language; a feature's ``ru_line`` is the index of a tooltip line the page marks ``lang="ru"`` (a
quotation).

Every feature carries ``tip`` (a road: only its official index and name): the lines of its tooltip,
already in the page's language (the page escapes them). Coordinates are rounded to ``DIGITS``
decimals: 1e-4 degrees is at most 11 m, a hundredth of a millimetre on a 1:1,000,000 map. A large
imported network is drawn simplified (``limit_roads``): its edges merged per class and road,
simplified to about 200 m, and, beyond ``MAX_VERTICES`` coordinates, the lowest classes left out
(named in the answer's ``omitted``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import current_app, url_for

from scoring.pipeline import Pipeline
from geo.layers import KZ_LCC
from geo.params import Params
from geo.versions import SHIPPED

from webapp.http import Body, render

DIGITS = 4
MAX_FEATURES = 5_000  # roads drawn one feature per edge up to this many edges
MAX_VERTICES = (
    200_000  # coordinates of the road layer a browser is asked to draw at most (about 2 MB of JSON)
)
SIMPLIFY_DEG = 0.002  # about 200 m: a fifth of a millimetre at 1:1,000,000
# The context layer of water (data/README.md): the package shipping each kind of shape, the smallest
# part drawn (km2, measured in the Lambert conformal conic projection of geo.layers) and the
# simplification at load (about 500 m: half a millimetre at 1:1,000,000).
WATER_PACKAGES = {"lake": "@geo-maps/earth-lakes-1km", "river": "@geo-maps/earth-rivers-1km"}
WATER_MIN_KM2 = {"lake": 100.0, "river": 1.0}
WATER_SIMPLIFY_DEG = 0.005
KM_PER_DEGREE = 111.32  # of latitude, and at most of longitude (at the equator)
log = logging.getLogger(__name__)
CLASS_ORDER = (
    "international",
    "republican",
    "oblast",
    "link",
)  # kept first when the budget is short


# -- geometry -------------------------------------------------------------------------------------


def rounded(coords, digits: int | None = None):
    """GeoJSON coordinates (nested lists) rounded to ``digits`` decimals (default ``DIGITS``)."""
    digits = DIGITS if digits is None else digits
    if coords and isinstance(coords[0], (int, float)):
        return [round(float(c), digits) for c in coords]
    return [rounded(c, digits) for c in coords]


def rounded_geometries(geoms, digits: int | None = None) -> list[dict]:
    """GeoJSON geometries (dicts) of shapely ``geoms``, 2-D, coordinates rounded to ``digits``
    decimals (default ``DIGITS``) at once (the same values as ``rounded``, without a Python loop per
    coordinate)."""
    digits = DIGITS if digits is None else digits
    arr = shapely.force_2d(np.asarray(geoms, dtype=object))
    arr = shapely.set_coordinates(arr, np.round(shapely.get_coordinates(arr), digits))
    return [shapely.geometry.mapping(g) for g in arr]


def _geometry(geom) -> dict:
    g = shapely.geometry.mapping(geom)
    return {"type": g["type"], "coordinates": rounded(g["coordinates"])}


def feature(geom, props: dict) -> dict:
    return {"type": "Feature", "properties": props, "geometry": _geometry(geom)}


def collection(features: list, **members) -> dict:
    return {"type": "FeatureCollection", "features": features, **members}


def rounded_collection(fc: dict) -> dict:
    """A FeatureCollection (dict) with its coordinates rounded (properties untouched)."""
    return collection(
        [
            {
                **f,
                "geometry": {
                    "type": f["geometry"]["type"],
                    "coordinates": rounded(f["geometry"]["coordinates"]),
                },
            }
            for f in fc["features"]
            if f.get("geometry")
        ]
    )


# -- the layers ------------------------------------------------------------------------------------


def oblasts(svc, t) -> dict:
    """The basemap: oblast polygons (simplified and rounded once per process, webapp.model) named in
    ``t``'s language."""
    fc = json.loads(svc.oblasts_geojson)
    for f in fc["features"]:
        label = t.region(f["properties"]["name_en"])
        f["properties"] = {"label": label, "tip": [label]}
    return fc


def limit_roads(
    roads: gpd.GeoDataFrame,
    *,
    max_features: int = MAX_FEATURES,
    max_vertices: int = MAX_VERTICES,
    tolerance: float = SIMPLIFY_DEG,
) -> tuple[gpd.GeoDataFrame, dict]:
    """The roads a browser can draw: as they are up to ``max_features``; beyond, merged per class
    and road (one multi-line each), simplified by ``tolerance`` degrees, and classes kept in
    CLASS_ORDER while their coordinates fit ``max_vertices``.

    Returns the roads and what was done (``simplified``: the tolerance; ``omitted``: class -> edges
    left out).
    """
    if len(roads) <= max_features:
        return roads, {}
    # one multi-line per class and road name (unnamed edges: one per class), merged and simplified
    # at once
    codes = roads.groupby(["class", "name_ru"], sort=False).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    lines = shapely.multilinestrings(roads.geometry.values[order], indices=codes[order])
    lines = shapely.simplify(shapely.line_merge(lines), tolerance, preserve_topology=False)
    first = pd.Series(np.arange(len(roads))).groupby(codes).first().to_numpy()
    named = roads["name_ru"].to_numpy()[first].astype(str)
    merged = gpd.GeoDataFrame(
        {
            "class": roads["class"].to_numpy()[first],
            "name_ru": named,
            "road_id": np.where(named != "", roads["road_id"].to_numpy()[first].astype(str), ""),
            "edges": np.bincount(codes),
        },
        geometry=lines,
        crs=roads.crs,
    )
    merged["vertices"] = shapely.get_num_coordinates(merged.geometry.values)
    kept, omitted, used = [], {}, 0
    rank = {c: i for i, c in enumerate(CLASS_ORDER)}
    for cls in sorted(merged["class"].unique(), key=lambda c: rank.get(c, len(rank))):
        part = merged[merged["class"] == cls]
        n = int(part["vertices"].sum())
        if used + n <= max_vertices:
            kept.append(part)
            used += n
        else:
            omitted[str(cls)] = int(part["edges"].sum())
    out = gpd.GeoDataFrame(pd.concat(kept), crs=roads.crs) if kept else merged.iloc[0:0]
    return out.drop(columns=["edges", "vertices"]), {"simplified": tolerance, "omitted": omitted}


def roads(layers) -> dict:
    """Roads of every class (``class``); ``tip`` holds only the official index (KAZ01; never an
    internal id such as R_URA_TAS or LINK:...) and name as printed (Russian; none for a connector
    link): the page adds the class in its language and says the name is quoted as printed (app.js
    roadTip), so one answer serves every language.

    A large imported version is limited (``limit_roads``).
    """
    return _roads(layers.roads)


def _roads(table: gpd.GeoDataFrame) -> dict:
    drawn, done = limit_roads(table)

    def clean(col):
        vals = (
            drawn[col].fillna("").astype(str).str.strip()
            if col in drawn.columns
            else pd.Series("", drawn.index)
        )
        return vals.where(~vals.str.lower().isin(["nan", "none"]), "")

    # a link whose length is a published road distance (geo.additions): drawn dashed, its source
    # named
    pub_km = drawn["pub_km"] if "pub_km" in drawn.columns else pd.Series(float("nan"), drawn.index)
    feats = [
        feature(
            g,
            {"class": c, "tip": [x for x in (i, n) if x]}
            | (
                {"pub": {"km": round(float(k), 1), "source": src}}
                if b == "published_distance"
                else {}
            ),
        )
        for g, c, i, n, b, k, src in zip(
            drawn.geometry.values,
            drawn["class"],
            clean("index"),
            clean("name_ru"),
            clean("basis"),
            pub_km,
            clean("source"),
        )
        if g is not None and not g.is_empty
    ]
    return collection(feats, **done)


def _line_id(table, column: str):
    """A line's id for its translation (data/texts.csv keys), "" where the table has none (an
    import)."""
    return table[column].astype(str) if column in table.columns else [""] * len(table)


def railways(layers, t) -> dict:
    """Railways named in ``t``'s language (data/texts.csv, file shapefiles/railways.shp, by
    line_id)."""
    r = layers.railways
    basis = r["basis"].fillna("").astype(str) if "basis" in r.columns else [""] * len(r)
    return collection(
        [
            feature(
                g,
                {
                    "status": str(s),
                    "tip": (
                        [
                            t.text("shapefiles/railways.shp", i, "name", str(n)),
                            t("planned") if s == "planned" else t("operating"),
                        ]
                        + ([t("rail_placed")] if b == "placed_end" else [])
                    ),
                }
                | ({"placed": 1} if b == "placed_end" else {}),
            )
            for g, s, n, i, b in zip(
                r.geometry.values, r["status"], r["name"], _line_id(r, "line_id"), basis
            )
            if g is not None
        ]
    )


def corridors(layers, t) -> dict:
    """Operating corridors named in ``t``'s language (data/texts.csv, file shapefiles/corridors.shp,
    by corr_id)."""
    c = layers.corridors[layers.corridors["planned"] == "no"]
    return collection(
        [
            feature(g, {"tip": [t.text("shapefiles/corridors.shp", i, "name", str(n))]})
            for g, n, i in zip(c.geometry.values, c["name"], _line_id(c, "corr_id"))
            if g is not None
        ]
    )


def official(svc, t) -> dict:
    """The official agglomerations, named by their core city in the page's language; the members
    stay as the decree lists them (Russian, a quotation)."""
    fc = rounded_collection(svc.official_areas)
    for f in fc["features"]:
        p = f["properties"]
        f["properties"] = {"tip": [t.city_named(p["agglomeration"]), p["members"]], "ru_line": 1}
    return fc


def tourism(layers, t) -> dict:
    """The sourced sites that special_tourism is derived from (points)."""
    s = layers.tourism
    return collection(
        [
            feature(g, {"tip": [f"{t.tourism_site({'id': i, 'name_en': n})} ({t.choice(k)})"]})
            for g, i, n, k in zip(s.geometry.values, s["id"], s["name_en"], s["kind"])
        ]
    )


def access(atlas: dict, t, names: dict) -> dict:
    """Access links, each said as "<town>: 0,0 km" in ``t``'s language (the derivation labels them
    "<id>: 0.0 km"; ``names``: town id -> its row) and whether it is a sourced road or assumed
    straight."""
    fc = rounded_collection(atlas["access_links"])
    for f in fc["features"]:
        p = f["properties"]
        ident, _, km = str(p["link"]).rpartition(": ")
        ident = ident or str(p["link"])
        name = t.name(names[ident]) if ident in names else t.city(ident, ident)
        try:
            length = f"{t.number(float(km.split()[0]), 1)} {t('km')}"
        except (ValueError, IndexError):
            length = ""
        assumed = bool(p.get("assumed"))
        f["properties"] = {
            "assumed": assumed,
            "tip": [
                f"{name}: {length}" if length else name,
                t("access_tip_assumed" if assumed else "access_tip_sourced"),
            ],
        }
    return fc


def catchments(atlas: dict) -> dict:
    """FUA catchments as the derivation gives them (city, minutes), rounded; built when first
    asked."""
    fc = Pipeline.catchments(atlas)
    return {**fc, **rounded_collection(fc)}


def water_parts(path: Path, outline, min_km2: float) -> tuple[np.ndarray, np.ndarray]:
    """The polygons of one GeoJSON of water (``path``) inside ``outline`` (the country), each of at
    least ``min_km2`` (measured in metres, geo.layers.KZ_LCC), simplified by WATER_SIMPLIFY_DEG:
    (geometries, areas in km2)."""
    shapes = shapely.from_geojson(path.read_text(encoding="utf-8"))  # the package's one feature
    parts = shapely.get_parts(shapely.get_parts(shapes))  # the collection, then multi-polygons
    # a part is at most 111.32 km per degree either way: smaller ones cannot reach min_km2
    big = shapely.area(parts) * KM_PER_DEGREE**2 >= min_km2
    parts = shapely.make_valid(parts[big & shapely.intersects(parts, shapely.box(*outline.bounds))])
    shapely.prepare(outline)
    inside = shapely.within(parts, outline)  # only those crossing the border are cut
    parts = shapely.get_parts(np.where(inside, parts, shapely.intersection(parts, outline)))
    parts = parts[shapely.get_type_id(parts) == 3]  # polygons (a cut may leave lines or points)
    km2 = gpd.GeoSeries(parts, crs="EPSG:4326").to_crs(KZ_LCC).area.to_numpy() / 1e6
    keep = km2 >= min_km2
    simple = shapely.simplify(parts[keep], WATER_SIMPLIFY_DEG, preserve_topology=True)
    return simple, km2[keep]


def water(svc, vendor_dir: Path | None = None) -> dict:
    """Lakes (at least 100 km2: Balkhash, Zaysan, Alakol, the Aral ...) and the wide reaches of
    rivers inside the country (the union of the oblasts), from the npm packages of WATER_PACKAGES;
    ``kind`` (lake or river) and ``km2`` (the area drawn) on each. A package not installed is named
    in ``missing`` (and nothing of it drawn)."""
    folder = Path(vendor_dir or current_app.config["VENDOR_DIR"])
    oblasts = svc.layers.oblasts.geometry.values
    outline = shapely.make_valid(shapely.union_all(shapely.simplify(oblasts, 0.01)))
    feats, missing = [], []
    for kind, package in WATER_PACKAGES.items():
        path = folder / package / "map.geo.json"
        if not path.is_file():
            log.warning("context layer: %s is not installed (npm ci)", package)
            missing.append(package)
            continue
        shapes, km2 = water_parts(path, outline, WATER_MIN_KM2[kind])
        feats += [
            {"type": "Feature", "properties": {"kind": kind, "km2": round(float(a))}, "geometry": g}
            for g, a in zip(rounded_geometries(shapes), km2)
        ]
    return collection(feats, **({"missing": missing} if missing else {}))


def _network(svc, params: Params):
    """The layers of the parameters' network version (ParamError: an unknown version)."""
    return svc.pipeline.model(params.network).layers


def _roads_layer(svc, params: Params, t) -> dict:
    """``roads`` of the version, kept across changes of the statistics (1e6 edges: seconds)."""
    layers = _network(svc, params)
    return svc.cache.get(("roads", params.network, svc.state()[1]), lambda: roads(layers))


def _water_layer(svc) -> dict:
    """``water``, kept across changes of the stored data (it depends on none; about 3 s to read)."""
    return svc.cache.get(("water",), lambda: water(svc))


def _access_layer(svc, params: Params, t) -> dict:
    return access(svc.results(params), t, svc.metas)


# -- the registry: one entry per layer the page fetches -------------------------------------------


@dataclass(frozen=True)
class Group:
    """One entry of the map's layer control: a layer's features (all, or those whose property
    ``where[0]`` is ``where[1]``), named ``label`` (translations.json), on at first if ``shown``."""

    key: str
    label: str
    shown: bool = True
    where: tuple[str, str] | None = None


@dataclass(frozen=True)
class Layer:
    """One map layer: built by ``build(svc, params, t)`` (a GeoJSON FeatureCollection), drawn by the
    page's script as ``draw`` ("lines": lines and polygons; "points": circle markers; "catchments":

    with the towns' data) in ``styles`` (Leaflet options: the default "", with the style of every
    ``style_when`` rule (property, value or None for any set value, style) a feature matches laid
    over it), with ``tip`` tooltips ("lines": the feature's own; "road": its class added), into
    ``groups``, and listed in the legend as ``legend`` ((style, label) pairs). Its content depends
    on the language, the network version or every parameter (``by_*``: its cache key and URL).
    """

    build: Callable[[Any, Params, Any], dict]
    groups: tuple[Group, ...] = ()
    styles: dict = field(default_factory=dict)
    style_when: tuple[tuple[str, str | None, str], ...] = ()
    draw: str = "lines"
    tip: str = "lines"
    legend: tuple[tuple[str, str], ...] = ()
    by_lang: bool = False
    by_network: bool = False
    by_params: bool = False

    def page_spec(self) -> dict:
        """What the page's script reads of it (boot data ``layer_specs``)."""
        return {
            "groups": [asdict(g) for g in self.groups],
            "styles": self.styles,
            "style_when": self.style_when,
            "draw": self.draw,
            "tip": self.tip,
        }


ROAD_LABELS = {
    "international": "layers_roads_int",
    "republican": "layers_roads_rep",
    "oblast": "layers_roads_obl",
    "link": "layers_links",
}
ROAD_STYLES = {
    "international": {"color": "#b2182b", "weight": 3},
    "republican": {"color": "#ef8a62", "weight": 2},
    "oblast": {"color": "#8c6d31", "weight": 1.5},
    "link": {"color": "#999999", "weight": 1.5, "dashArray": "2 4"},
}

# In the layer control's order (bottom to top on the map).
LAYERS = {
    "oblasts": Layer(
        lambda svc, params, t: oblasts(svc, t),
        (Group("oblasts", "layers_oblasts"),),
        {"": {"color": "#6b6b6b", "weight": 1, "fillColor": "#f4f1ea", "fillOpacity": 1}},
        by_lang=True,
    ),
    # context under everything else: not interactive (no tooltip, no keyboard stop)
    "water": Layer(
        lambda svc, params, t: _water_layer(svc),
        (Group("water", "layers_water"),),
        {
            "": {
                "color": "#4a90c2",
                "weight": 0.8,
                "fillColor": "#a9cfe8",
                "fillOpacity": 1,
                "interactive": False,
            }
        },
        legend=(("", "layers_water"),),
    ),
    "roads": Layer(
        _roads_layer,
        tuple(
            Group(f"road_{c}", label, c != "link", ("class", c)) for c, label in ROAD_LABELS.items()
        ),
        ROAD_STYLES | {"published": {"dashArray": "8 6"}},  # a published road distance
        style_when=tuple(("class", c, c) for c in ROAD_STYLES) + (("pub", None, "published"),),
        tip="road",
        legend=tuple((c, label) for c, label in ROAD_LABELS.items()),
        by_network=True,
    ),
    "railways": Layer(
        lambda svc, params, t: railways(_network(svc, params), t),
        (Group("rail", "layers_rail"),),
        {
            "": {"color": "#333333", "weight": 2, "dashArray": "1 3"},
            "planned": {"color": "#333333", "weight": 2, "dashArray": "8 4"},
        },
        style_when=(("status", "planned", "planned"), ("placed", None, "planned")),
        legend=(("", "legend_rail"), ("planned", "legend_rail_planned")),
        by_lang=True,
        by_network=True,
    ),
    "corridors": Layer(
        lambda svc, params, t: corridors(_network(svc, params), t),
        (Group("corridors", "layers_corridors", False),),
        {"": {"color": "#7570b3", "weight": 6, "opacity": 0.35}},
        legend=(("", "layers_corridors"),),
        by_lang=True,
        by_network=True,
    ),
    "access": Layer(
        _access_layer,
        (Group("access", "layers_access"),),
        {
            "": {"color": "#555555", "weight": 1.5},
            "assumed": {"color": "#555555", "weight": 2, "dashArray": "6 5"},
        },
        style_when=(("assumed", None, "assumed"),),
        legend=(("", "legend_access"), ("assumed", "legend_access_assumed")),
        by_lang=True,
        by_params=True,
    ),
    "official": Layer(
        lambda svc, params, t: official(svc, t),
        (Group("official", "layers_official", False),),
        {
            "": {
                "color": "#4d9221",
                "weight": 1.5,
                "dashArray": "5 4",
                "fillColor": "#7fbc41",
                "fillOpacity": 0.15,
            }
        },
        legend=(("", "layers_official"),),
        by_lang=True,
    ),
    "tourism": Layer(
        lambda svc, params, t: tourism(svc.layers, t),
        (Group("tourism", "layers_tourism", False),),
        {
            "": {
                "radius": 5,
                "color": "#1b7837",
                "weight": 2,
                "fill": True,
                "fillColor": "#a6dba0",
                "fillOpacity": 0.9,
            }
        },
        draw="points",
        legend=(("", "layers_tourism"),),
        by_lang=True,
    ),
    "catchments": Layer(
        lambda svc, params, t: catchments(svc.results(params)), draw="catchments", by_params=True
    ),
}


def cache_key(name: str, params: Params, lang: str) -> tuple:
    """The key of a layer's rendered bytes: only what its content depends on."""
    spec = LAYERS[name]
    return (
        "layer",
        name,
        lang if spec.by_lang else "",
        params if spec.by_params else (params.network if spec.by_network else SHIPPED),
    )


def query_of(name: str, params: Params, lang: str) -> dict:
    """The query items that select a layer's content (no more: shared layers share their URL)."""
    spec = LAYERS[name]
    q = {}
    if spec.by_params:
        q |= params.to_query()
    elif spec.by_network and params.network != SHIPPED:
        q["network"] = params.network
    if spec.by_lang:
        q["lang"] = lang
    return q


def build(name: str, svc, params: Params, t) -> dict:
    """Layer ``name`` for ``params`` in ``t``'s language (ParamError: an unknown network
    version)."""
    return LAYERS[name].build(svc, params, t)


def page_specs() -> dict:
    """Every layer as the page's script draws it (boot data ``layer_specs``)."""
    return {name: layer.page_spec() for name, layer in LAYERS.items()}


def rendered(name: str, svc, params: Params, t) -> Body:
    """The layer's bytes, gzip and ETag, rendered once per what it depends on (``Atlas.cached``)."""
    return svc.cached(
        cache_key(name, params, t.lang),
        lambda: render(
            json.dumps(build(name, svc, params, t), ensure_ascii=False, separators=(",", ":")),
            "application/geo+json",
        ),
    )


def version(name: str, svc, params: Params, lang: str) -> str:
    """The ``v`` of a layer's URL: a version of what its content depends on (``Atlas.version``)."""
    return svc.version(*cache_key(name, params, lang))


def layer_urls(svc, params: Params, t) -> dict:
    """Each layer's URL with ``v`` = ``version`` (a URL naming one content: cached for a year)."""
    return {
        name: url_for(
            "api.layer",
            name=name,
            **query_of(name, params, t.lang),
            v=version(name, svc, params, t.lang),
        )
        for name in LAYERS
    }


__all__ = [
    "LAYERS",
    "DIGITS",
    "Group",
    "Layer",
    "build",
    "layer_urls",
    "limit_roads",
    "page_specs",
    "rendered",
    "rounded",
    "version",
    "water",
]
