"""The Folium map: built in plain functions, then rendered in parts into our own template."""
from __future__ import annotations

import folium
import folium.plugins
import geopandas as gpd
from flask import render_template, url_for
from markupsafe import Markup

from .security import add_nonce
from .serialize import category, colour

KZ_CENTER, KZ_ZOOM = [48.2, 67.5], 5
ROAD_STYLE = {"international": dict(color="#b2182b", weight=3), "republican": dict(color="#ef8a62", weight=2),
              "oblast": dict(color="#8c6d31", weight=1.5), "link": dict(color="#999999", weight=1.5, dash_array="2 4")}


def vendor_assets() -> tuple[list, list]:
    """Leaflet, jQuery (Folium's popups) and the fullscreen plugin, served by this app."""
    js = [("leaflet", url_for("views.vendor", path="leaflet/dist/leaflet.js")),
          ("jquery", url_for("views.vendor", path="jquery/dist/jquery.min.js"))]
    css = [("leaflet_css", url_for("views.vendor", path="leaflet/dist/leaflet.css"))]
    return js, css


def marker_style(town: dict, method) -> dict:
    """Filled when all six indicators have a level; hollow and dashed (provisional) otherwise;
    undetermined towns white with a dashed dark ring, towns without any level light grey and dotted."""
    c = colour(town, method)
    cat = category(town)
    if cat == "undetermined":
        return {"radius": 8, "color": "#444444", "weight": 2, "fill": True, "fillColor": c, "fillOpacity": 0.9,
                "dashArray": "3 3"}
    if cat == "none":
        return {"radius": 7, "color": "#888888", "weight": 1.5, "fill": True, "fillColor": c, "fillOpacity": 0.9,
                "dashArray": "1 3"}
    if town["scenario"]["provisional"]:
        return {"radius": 9, "color": c, "weight": 3, "fill": True, "fillColor": c, "fillOpacity": 0.15,
                "dashArray": "4 3"}
    return {"radius": 10, "color": "#222222", "weight": 1.5, "fill": True, "fillColor": c, "fillOpacity": 0.9,
            "dashArray": None}


def js_safe(html: str) -> str:
    """Folium puts popup/tooltip HTML inside a JavaScript template literal: neutralise ` and ${."""
    return str(html).replace("`", "&#96;").replace("${", "&#36;{")


def popup_html(town: dict, meta: dict, t, method, query: str) -> str:
    return js_safe(render_template("_popup.html", town=town, meta=meta, t=t, method=method, query=query))


def tooltip_text(town: dict, meta: dict, t) -> str:
    rec = t.verdict(town["scenario"])
    extra = f" ({town['scenario']['completeness']})" if town["scenario"]["provisional"] else ""
    return js_safe(Markup("{}: {}{}").format(t.name(meta), rec, extra))


def _geojson(group, gdf, style_of, tip_fields: list[str], style_fields: tuple = (), aliases: list[str] | None = None):
    """One GeoJson layer per group (far fewer Folium elements than a PolyLine per feature)."""
    if gdf.empty:
        return
    # folium calls style_function once with an empty test feature: styles read properties with .get
    columns = list(dict.fromkeys([*tip_fields, *style_fields, "geometry"]))
    folium.GeoJson(gdf[columns].to_json(), style_function=lambda f: style_of(f.get("properties") or {}),
                   tooltip=folium.GeoJsonTooltip(tip_fields, aliases=aliases or tip_fields, labels=bool(aliases))
                   ).add_to(group)


def build_map(atlas: dict, svc, t, display: dict) -> tuple[folium.Map, dict]:
    """The map with every layer; returns it and the registry (JS names of markers and groups)."""
    layers = svc.layers
    js, css = vendor_assets()
    m = folium.Map(location=KZ_CENTER, zoom_start=KZ_ZOOM, tiles=None, control_scale=True, min_zoom=3)
    m.default_js, m.default_css = js, css

    obl = folium.FeatureGroup(name=t("layers_oblasts"), show=True).add_to(m)
    folium.GeoJson(svc.oblasts_geojson, style_function=lambda f: {"color": "#6b6b6b", "weight": 1, "fillColor": "#f4f1ea",
                                                                  "fillOpacity": 1}, tooltip=folium.GeoJsonTooltip(["name_en"], labels=False)).add_to(obl)

    roads = layers.roads
    for cls, key in (("international", "layers_roads_int"), ("republican", "layers_roads_rep"),
                     ("oblast", "layers_roads_obl"), ("link", "layers_links")):
        g = folium.FeatureGroup(name=t(key), show=cls != "link").add_to(m)
        style = ROAD_STYLE[cls]
        _geojson(g, roads[roads["class"] == cls], lambda p, s=style: {"color": s["color"], "weight": s["weight"],
                                                                         "dashArray": s.get("dash_array")},
                 ["road_id", "name_ru"])
    rail = folium.FeatureGroup(name=t("layers_rail"), show=True).add_to(m)
    _geojson(rail, layers.railways, lambda p: {"color": "#333333", "weight": 2,
                                                "dashArray": "8 4" if p.get("status") == "planned" else "1 3"},
             ["name", "status"], ("status",))
    cor = folium.FeatureGroup(name=t("layers_corridors"), show=False).add_to(m)
    _geojson(cor, layers.corridors[layers.corridors["planned"] == "no"],
             lambda p: {"color": "#7570b3", "weight": 6, "opacity": 0.35}, ["name"])

    access = folium.FeatureGroup(name=t("layers_access"), show=True).add_to(m)
    links = gpd.GeoDataFrame.from_features(atlas["access_links"]["features"], crs="EPSG:4326")
    _geojson(access, links, lambda p: {"color": "#555555", "weight": 2 if p.get("assumed") else 1.5,
                                       "dashArray": "6 5" if p.get("assumed") else None}, ["link", "note"], ("assumed",))

    official = folium.FeatureGroup(name=t("layers_official"), show=False).add_to(m)
    if svc.official_areas["features"]:
        folium.GeoJson(svc.official_areas, style_function=lambda f: {"color": "#1b9e77", "weight": 1.5,
                                                                     "fillColor": "#1b9e77", "fillOpacity": 0.12,
                                                                     "dashArray": "5 4"},
                       tooltip=folium.GeoJsonTooltip(["agglomeration", "level", "members"])).add_to(official)

    tourism = folium.FeatureGroup(name=t("layers_tourism"), show=False).add_to(m)
    for _, s in layers.tourism.iterrows():  # the sourced sites that special_tourism is derived from
        folium.CircleMarker([s.geometry.y, s.geometry.x], radius=5, color="#1b7837", weight=2, fill=True,
                            fill_color="#a6dba0", fill_opacity=0.9,
                            tooltip=js_safe(Markup("{} ({})").format(s["name_en"], t.choice(s["kind"])))).add_to(tourism)

    cities = folium.FeatureGroup(name=t("layers_cities"), show=True).add_to(m)
    for _, c in layers.cities.iterrows():
        folium.CircleMarker([c.geometry.y, c.geometry.x], radius=5, color="#000000", weight=2, fill=True,
                            fill_color="#ffffff", fill_opacity=1,
                            tooltip=js_safe(Markup("{} ({}, {:,})").format(t.name(c.to_dict()), t.choice(c["status"]),
                                                                           int(c["population"])))).add_to(cities)

    groups = {k: folium.FeatureGroup(name=t(label), show=show).add_to(m) for k, label, show in
              (("fua", "layers_fua", False), ("routes", "layers_routes", False), ("planned", "layers_planned", True))}
    towns = folium.FeatureGroup(name=t("layers_towns"), show=True).add_to(m)
    markers = {}
    metas = svc.metas
    for town in atlas["towns"]:
        meta, d = metas[town["id"]], display[town["id"]]
        mk = folium.CircleMarker([float(meta["lat"]), float(meta["lon"])], **_folium_style(d["style"]),
                                 tooltip=folium.Tooltip(d["tooltip"]), popup=folium.Popup(d["popup"], max_width=340))
        mk.add_to(towns)
        markers[town["id"]] = mk.get_name()
    fs = folium.plugins.Fullscreen(position="topleft")
    fs.default_js = [("Control.Fullscreen.js", url_for("views.vendor", path="leaflet.fullscreen/Control.FullScreen.js"))]
    fs.default_css = [("Control.FullScreen.css", url_for("views.vendor", path="leaflet.fullscreen/Control.FullScreen.css"))]
    fs.add_to(m)
    control = folium.LayerControl(collapsed=True, position="topright").add_to(m)
    registry = {"map": m.get_name(), "markers": markers, "groups": {k: g.get_name() for k, g in groups.items()},
                "control": control.get_name()}
    return m, registry


def _folium_style(style: dict) -> dict:
    return {"radius": style["radius"], "color": style["color"], "weight": style["weight"], "fill": style["fill"],
            "fill_color": style["fillColor"], "fill_opacity": style["fillOpacity"], "dash_array": style["dashArray"]}


def render_parts(m: folium.Map, *, nonce: str | None = None) -> dict:
    """Folium's header, map HTML and script, rendered for our template.

    With ``nonce``, every ``<script>`` tag of the header carries it (the Content-Security-Policy
    allows no inline script without it); the template wraps ``script`` in a nonced tag itself.
    """
    root = m.get_root()
    root.render()
    header = root.header.render()
    return {"header": Markup(add_nonce(header, nonce) if nonce else header), "html": Markup(root.html.render()),
            "script": Markup(root.script.render())}


def small_route_map(town: dict, meta: dict, t, *, nonce: str | None = None) -> dict:
    """A small map of one town's route to its nearest large city and its access link."""
    js, css = vendor_assets()
    a = town["agglomeration"]
    m = folium.Map(location=[float(meta["lat"]), float(meta["lon"])], zoom_start=7, tiles=None, control_scale=True)
    m.default_js, m.default_css = js, css
    pts = [[float(meta["lat"]), float(meta["lon"])]]
    if a.get("path") and a.get("road_km") is not None:
        folium.PolyLine(a["path"], color="#b2182b", weight=4, tooltip=js_safe(Markup.escape(
            f"{a['nearest_large_city']}: {a['road_km']:.0f} km"))).add_to(m)
        pts += a["path"]
    if a.get("access"):
        folium.PolyLine(a["access"]["coords"], color="#555555", weight=3,
                        dash_array="6 5" if a["access"]["assumed"] else None).add_to(m)
    folium.CircleMarker(pts[0], radius=8, color="#000", fill=True, fill_color="#ffd700", fill_opacity=1,
                        tooltip=js_safe(Markup.escape(t.name(meta)))).add_to(m)
    if len(pts) > 1:
        m.fit_bounds([[min(p[0] for p in pts), min(p[1] for p in pts)], [max(p[0] for p in pts), max(p[1] for p in pts)]])
    return render_parts(m, nonce=nonce)


__all__ = ["build_map", "render_parts", "small_route_map", "marker_style", "popup_html", "tooltip_text"]
