"""Pages: the map, a town's breakdown, and the vendored front-end assets.

Views stay thin.
"""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.security import safe_join

from geo import ParamError
from geo.params import MAX_PLANNED, MAX_PLANNED_TEXT, load_specs, plannable_classes

from webapp.store.auth import current_editor
from webapp.pages.brief import brief_context, robust_towns
from webapp.http import COMPRESSIBLE, Body, render, respond, respond_versioned
from webapp.map.layers import layer_urls, page_specs, rounded
from webapp.i18n import LANGS, NAME_COLUMNS, T, pick_lang
from webapp.pages.mapview import (
    HALO,
    LINES,
    build_map,
    glance,
    legend,
    marker_style,
    popup_extras,
    popup_html,
    render_parts,
    small_route_map,
    tooltip_text,
    town_signals,
)
from webapp.model import get_atlas
from webapp.security import clip
from webapp.params import from_args, queries, without_version
from webapp.map.serialize import (
    CATEGORY_COLOURS,
    category,
    collection,
    colour,
    draws_label,
    verdict_kind,
)

bp = Blueprint("views", __name__)
EXPORTS = {
    "csv": "CSV",
    "xlsx": "Excel (XLSX)",
    "params.json": "CSV: parameters (JSON)",
    "geojson": "GeoJSON",
    "gpkg": "GeoPackage",
    "zip": "Shapefile (zip)",
}


def export_extra(fmt: str, lang: str) -> str:
    """What the map page's export link adds in ``lang``: the columns named in it and, for the CSV,
    the form Excel opens in one go with that language's settings (';', decimal commas)."""
    if lang == "en":
        return ""
    return {"csv": f"headers={lang}&excel={lang}", "xlsx": f"headers={lang}"}.get(fmt, "")


def translator(svc, lang: str | None) -> T:
    """The page's translator, knowing the large cities' names."""
    t = T(pick_lang(lang), svc.method)
    t.cities = svc.city_rows
    return t


def localized_errors(errors: dict, t: T, specs: dict, reasons: dict | None = None) -> dict:
    """Field messages for the page: English as the parser says them; in kk and ru the field's label,
    what is wrong (``reasons``: ``ParamError.reasons``) and the allowed range (the API keeps the
    parser's English). static/app.js says the API's answers the same way."""
    if t.lang == "en":
        return errors
    out = {}
    for name, msg in errors.items():
        spec = specs.get(name)
        if name == "planned_roads":
            out[name] = road_message(msg, t)
            continue
        if name == "_more":  # more problems than a message lists
            out[name] = t("params_more").format(re.sub(r"\D+", " ", msg).split()[0])
            continue
        reason = (reasons or {}).get(name, "other")
        key = f"param_{reason}" if reason in PARAM_REASONS else "invalid_field"
        text = t(key).format(field=t.param(name))
        if reason in ("number", "blank", "whole", "range", "other") and spec is not None:
            if spec.min is not None and spec.max is not None:
                text += " " + t.allowed(spec)
        out[name] = text
    return out


PARAM_REASONS = ("number", "blank", "whole", "range", "empty", "choice", "unknown")  # translations


def road_message(msg: str, t: T) -> str:
    """A planned road's problem (the parser's English) in the page's language, as static/app.js
    ``roadProblem`` says it: the same point twice, a point off the Earth, an unknown end, an end
    too far from the network; else that an end was not recognised."""
    title = t("planned_roads")
    if "same network point" in msg:
        return f"{title}: {t('road_same_point')}"
    if "out of range" in msg:
        return f"{title}: {t('road_point_range')}"
    if m := re.match(r"^'(.*)' is not (a known|routable)", msg):
        return f"{title}: {t('road_unknown_end').replace('{end}', clip(m.group(1), 80))}"
    if m := re.match(r"^(.*) is \d+ km from the network", msg):
        return f"{title}: {t('road_far_end').replace('{end}', clip(m.group(1), 80))}"
    return t("invalid_roads")


@bp.app_template_global("params_not_applied")
def params_not_applied(t: T) -> list[str]:
    """The request's parameters that were refused (``request_params``), one message each in the
    page's language: a page other than the map shows them above its content, with the defaults."""
    errors = g.get("param_errors") or {}
    shown = localized_errors(errors, t, load_specs(), g.get("param_reasons"))
    if t.lang != "en":
        return [clip(m, 300) for m in shown.values()]
    return [clip(m if k == "_more" else f"{t.param(k)}: {m}", 300) for k, m in shown.items()]


def sorted_towns(towns: list, metas: dict, t: T) -> list:
    """The list's default order: alphabetical in the page's language."""
    return sorted(towns, key=lambda tw: t.sort_key(t.name(metas[tw["id"]])))


def request_params():
    """(atlas, params, errors) for the request's query; invalid parameters fall back to the
    defaults, and the page says so (``g.param_errors``: templates/base.html names them)."""
    svc = get_atlas()
    try:
        params = from_args(without_version(request.args))
        return svc.results(params), params, {}
    except ParamError as exc:
        g.param_errors, g.param_reasons = exc.field_errors, exc.reasons
        return svc.results(), svc.default_params, exc.field_errors


def asked_roads(args) -> list[dict]:
    """The query's planned roads as typed (its ``planned_roads`` JSON), each end a text or a
    [lon, lat] pair: what the map page lists again when they were refused, so the reader can mend
    them; [] when the text is not a JSON list."""
    text = args.get("planned_roads") or "[]"
    try:
        roads = json.loads(text) if len(text) <= MAX_PLANNED_TEXT else []
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's stack
        return []
    if not isinstance(roads, list):
        return []

    def text_of(value: str, limit: int) -> str:  # a lone surrogate (JSON's "\ud800") cannot be sent
        return clip(value.encode("utf-8", "replace").decode("utf-8"), limit)

    def end(value) -> str | list[float]:
        if isinstance(value, list) and len(value) == 2:
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                return [float(v) for v in value]
        if isinstance(value, str):
            return text_of(value, 200)
        try:
            return clip(json.dumps(value), 200)
        except RecursionError:
            return "…"

    return [
        {
            "from": end(r.get("from")),
            "to": end(r.get("to")),
            "class": text_of(str(r.get("class") or ""), 40),
        }
        for r in roads[:MAX_PLANNED]
        if isinstance(r, dict)
    ]


def display(atlas: dict, svc, t) -> dict:
    """Per town: marker style, tooltip and verdict in the page's language, its verdict's kind and
    category (the counts and filters above the list) and its answer as the robustness draws label
    it (``draws_label``: the shade-by-stability mode), for map updates.

    The popups are not here: the
    page fetches them (``popups_once``, ``GET /api/popups``), so a recompute answers with data only.
    """
    metas = svc.metas
    return {
        tw["id"]: {
            "style": marker_style(tw, svc.method),
            "tooltip": tooltip_text(tw, metas[tw["id"]], t),
            "label": t.verdict(tw["scenario"]),
            "short": t.verdict_short(tw["scenario"]),
            "kind": verdict_kind(tw["scenario"]),
            "category": category(tw),
            "answer": draws_label(tw["scenario"]),  # what a stability share must be about
        }
        for tw in atlas["towns"]
    }


class _Sized:
    """A cached value with its approximate size in bytes."""

    def __init__(self, value, nbytes: int):
        self.value, self.nbytes = value, nbytes


def display_once(atlas: dict, svc, t, params) -> dict:
    """``display`` made once per result and language (cached on the atlas service)."""

    def build() -> _Sized:
        shown = display(atlas, svc, t)
        return _Sized(shown, sum(len(d["tooltip"]) + 300 for d in shown.values()))

    return svc.cached(("display", params, t.lang), build).value  # objects, not bytes


def popups_once(atlas: dict, svc, t, params) -> dict:
    """Town id -> its popup HTML for ``params`` in ``t``'s language (rendered when first asked)."""

    def build() -> _Sized:
        query, _ = queries(params, t.lang, LANGS)
        extras, metas = popup_extras(atlas, svc, t), svc.metas
        shown = {
            tw["id"]: popup_html(tw, metas[tw["id"]], t, svc.method, query, extras[tw["id"]])
            for tw in atlas["towns"]
        }
        return _Sized(shown, sum(len(h) for h in shown.values()))

    return svc.cached(("popup-html", params, t.lang), build).value


def popups_url(svc, t, params) -> str:
    """The versioned URL of the popups for ``params`` in ``t``'s language."""
    return url_for(
        "api.popups", **params.to_query(), lang=t.lang, v=svc.version("popups", params, t.lang)
    )


# what the map page's script reads of each town (the API's full record is one request away)
MAP_PROPERTIES = (*NAME_COLUMNS, "colour", "category")
MAP_AGGLOMERATION = (
    "nearest_large_city",
    "nearest_large_city_id",
    "road_km",
    "travel_min",
    "path",
    "path_uses_planned",
)


def map_collection(fc: dict) -> dict:
    """The towns as the map page needs them at once: position, names, colour, scenario, the route to
    the nearest large city; popups and the rest of each record are fetched when needed."""
    feats = []
    for f in fc["features"]:
        p = f["properties"]
        scen = p["scenario"]
        props = {k: p[k] for k in MAP_PROPERTIES if k in p}
        props["scenario"] = {k: scen[k] for k in ("recommended", "provisional", "completeness")}
        props["agglomeration"] = {k: p["agglomeration"].get(k) for k in MAP_AGGLOMERATION}
        if props["agglomeration"]["path"]:
            props["agglomeration"]["path"] = rounded(props["agglomeration"]["path"])
        feats.append(
            {"type": "Feature", "id": f["id"], "geometry": f["geometry"], "properties": props}
        )
    return {
        "type": "FeatureCollection",
        "features": feats,
        "changes": fc.get("changes", {}),
        "planned": fc.get("planned", []),
    }


def _page_key() -> tuple:
    """The map page's cache key: language and parameters (the raw query when it is invalid)."""
    lang = pick_lang(request.args.get("lang"))
    try:
        return ("index", lang, from_args(without_version(request.args)))
    except ParamError:  # the query as sent, in its order (the messages follow it)
        raw = tuple(kv for kv in request.args.items(multi=True) if kv[0] != "v")
        return ("index-invalid", lang, raw)


def _page_and_script(key: tuple, build) -> tuple[Body, Body]:
    """A page and its map's script (``build()`` gives both as text), kept for visitors; made afresh
    for a signed-in editor, whose page carries their name and their session's CSRF token (never kept
    for, or served to, anyone else)."""

    def make() -> tuple[Body, Body]:
        html, script = build()
        return render(html, "text/html"), render(script, "application/javascript")

    return make() if current_editor() else get_atlas().cached(key, make)


def _page(key: tuple, build):
    """The page of ``key`` (an editor's: never answered 304, it is made for this response only)."""
    return respond(_page_and_script(key, build)[0], conditional=not current_editor())


def _script(key: tuple, build):
    """The map script of the page of ``key``: kept for a year when its URL names this version."""
    return respond_versioned(_page_and_script(key, build)[1], _script_version(key))


def _script_version(key: tuple) -> str:
    return get_atlas().version("script", *key)


def _script_url(endpoint: str, key: tuple, params, lang: str, **values) -> str:
    """The URL of a page's map script: the page's parameters and a version (``Atlas.version``)."""
    return url_for(endpoint, **values, **params.to_query(), lang=lang, v=_script_version(key))


@bp.get("/")
def index():
    """The map page, rendered once per parameters and language (webapp.http: gzip, ETag)."""
    return _page(_page_key(), _index_page)


@bp.get("/map.js")
def index_script():
    """The map page's Folium script (a file, so the CSP needs no inline script)."""
    return _script(_page_key(), _index_page)


def _index_page() -> tuple[str, str]:
    svc = get_atlas()
    t = translator(svc, request.args.get("lang"))
    atlas, params, errors = request_params()
    specs = load_specs()
    query, lang_query = queries(params, t.lang, LANGS)
    shown = display_once(atlas, svc, t, params)  # popups: fetched after the towns are drawn
    m, registry = build_map(atlas, svc, t, shown)
    boot = {
        "registry": registry,
        "collection": map_collection(collection(atlas, svc.metas, svc.method)),
        "layers": layer_urls(svc, params, t),
        "display": shown,
        "lang": t.lang,
        "i18n": t.as_dict(),
        "name_columns": NAME_COLUMNS,
        "params": atlas["parameters"]["spatial"],
        # a refused planned road: the parser's message and the roads as typed (app.js names it)
        "road_error": errors.get("planned_roads"),
        "asked_roads": asked_roads(request.args) if "planned_roads" in errors else [],
        "defaults": svc.default_params.as_dict(),
        "cities": {cid: t.name(c) for cid, c in svc.city_rows.items()},
        "city_names": {c["name_en"]: t.name(c) for c in svc.city_rows.values()},
        "places": svc.place_points,
        "lines": LINES,
        "layer_specs": page_specs(),
        "halo": HALO,
        "glance": glance(svc, t),
        "compare_max": 4,
        "urls": {
            "recompute": url_for("api.recompute"),
            "statistics": url_for("api.statistics"),
            "robustness": url_for("certainty.robustness_status"),
            "town": url_for("views.town", tid="__ID__"),
            "popups": popups_url(svc, t, params),
            "exports": {f: url_for("api.export", fmt=f) for f in EXPORTS},
            "compare": url_for("briefpages.compare"),
        },
    }
    parts = render_parts(m)
    script_key = ("index", t.lang, params)
    html = render_template(
        "index.html",
        t=t,
        parts=parts,
        atlas=atlas,
        metas=svc.metas,
        method=svc.method,
        specs=specs,
        planned_classes=plannable_classes(),
        errors=localized_errors(errors, t, specs, g.get("param_reasons")),
        query=query,
        legend=legend(svc.method, t),
        towns=sorted_towns(atlas["towns"], svc.metas, t),
        exports=EXPORTS,
        export_extra=export_extra,
        colour_of=lambda tw: colour(tw, svc.method),
        category_colours=CATEGORY_COLOURS,
        category_of=category,
        signals=town_signals(svc),
        glance=boot["glance"],
        uploaded_name=svc.uploaded_name,
        latest_revision=next(iter(svc.store.revisions()), None),
        data_note=svc.data_note,
        networks=svc.pipeline.versions(),
        boot=json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
        places=svc.places,
        lang_query=lang_query,
        preload=[
            *(u for k, u in boot["layers"].items() if k != "catchments"),
            boot["urls"]["popups"],
        ],  # catchments: only when their group is shown
        map_script=_script_url("views.index_script", script_key, params, t.lang),
    )
    return html, str(parts["script"])


@bp.get("/town/<tid>")
def town(tid: str):
    """A town's page, rendered once per town, parameters and language (webapp.http)."""
    return _page(("town", tid, *_page_key()), lambda: _town_page(tid))  # [2]: a valid query?


@bp.get("/town/<tid>/map.js")
def town_script(tid: str):
    """The town page's small map script (a file, so the CSP needs no inline script)."""
    return _script(("town", tid, *_page_key()), lambda: _town_page(tid))


def town_page_html(tid: str, *, for_pdf: bool = False) -> str:
    """The town page's HTML (``for_pdf``: the brief alone, as printed; webapp.pages.briefpages)."""
    return _town_page(tid, for_pdf=for_pdf)[0]


def _town_page(tid: str, *, for_pdf: bool = False) -> tuple[str, str]:
    """The town page and its small map's script: the brief on top (webapp.pages.brief), everything
    behind it below in details."""
    svc = get_atlas()
    t = translator(svc, request.args.get("lang"))
    atlas, params, errors = request_params()
    rec = next((x for x in atlas["towns"] if x["id"] == tid), None)
    if rec is None:
        abort(404, clip(t("town_unknown").format(tid)))
    meta = svc.metas[tid]
    paper_name = next((r["town"] for r in svc.paper_rows if r["town"].lower() == tid), None)
    query, lang_query = queries(params, t.lang, LANGS)
    city = svc.city_rows.get(rec["agglomeration"].get("nearest_large_city_id"))
    small = small_route_map(
        rec, meta, t, oblasts=svc.oblasts_geojson, city=city, style=marker_style(rec, svc.method)
    )
    nondefault = {k: v for k, v in params.changed().items()}
    from webapp.pages.datapages import (
        published_distances,
    )  # local: the town page alone needs the validation table

    script_key = ("town", tid, "index", t.lang, params)
    html = render_template(
        "town.html",
        published=published_distances(svc, params, rec),
        t=t,
        town=rec,
        meta=meta,
        method=svc.method,
        atlas=atlas,
        errors=errors,
        small=small,
        query=query,
        nondefault=nondefault,
        default_url=url_for("views.town", tid=tid, lang=t.lang),
        paper_rows=[r for r in svc.paper_rows if r["town"] == paper_name],
        paper_scen=next((c for c in svc.paper_scenarios if c["town"] == paper_name), None),
        lang_query=lang_query,
        for_pdf=for_pdf,
        map_script=_script_url("views.town_script", script_key, params, t.lang, tid=tid),
        **brief_context(svc, t, rec, robust_towns(), query),
    )
    return html, str(small["script"])


@bp.get("/table")
def table():
    """Every town with all indicator values and levels, sortable; the same rows as the CSV
    export."""
    svc = get_atlas()
    t = translator(svc, request.args.get("lang"))
    atlas, params, errors = request_params()
    query, lang_query = queries(params, t.lang, LANGS)
    return render_template(
        "table.html",
        t=t,
        lang_query=lang_query,
        query=query,
        method=svc.method,
        towns=sorted_towns(atlas["towns"], svc.metas, t),
        metas=svc.metas,
        colour_of=lambda tw: colour(tw, svc.method),
        rank=lambda code, lv: [b.level for b in svc.method.indicators[code].bands].index(lv),
    )


@bp.get("/method")
def method_page():
    """How the map works, in the page's language."""
    from scoring.backtest import backtest

    svc = get_atlas()
    t = translator(svc, request.args.get("lang"))
    checked = svc.cache.get(("backtest",), backtest)  # the estimates' honesty check (issue 22)
    return render_template(
        "method.html",
        t=t,
        method=svc.method,
        legend=legend(svc.method, t),
        backtest=checked,
        metas=svc.metas,
    )


@bp.get("/vendor/<path:path>")
def vendor(path: str):
    """Front-end packages installed from the npm registry at set-up (never a CDN at run time)."""
    package, _, inner = path.partition("/")
    if package not in current_app.config["VENDOR_PACKAGES"]:
        abort(404, clip(f"'{package}' is not a served package."))
    folder = Path(current_app.config["VENDOR_DIR"]) / package
    kind = mimetypes.guess_type(inner)[0] or ""
    if not kind.startswith(COMPRESSIBLE):  # images: as they are
        # joined below the package's own folder, so ".." cannot leave it (send_from_directory
        # refuses that)
        return send_from_directory(folder, inner, max_age=86400)
    target = safe_join(str(folder), inner)  # None for a path that would leave the package's folder
    if target is None or not Path(target).is_file():
        abort(404, clip(f"'{path}' is not a file of a served package."))
    # scripts and styles: kept as bytes with their gzip (leaflet.js: 148 KB, 43 KB gzipped) and an
    # ETag
    body = get_atlas().cache.get(("vendor", path), lambda: render(Path(target).read_bytes(), kind))
    resp = respond(body)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.app_errorhandler(404)
def not_found(err):
    if request.path.startswith("/api/"):
        return {"error": "not found", "message": clip(err.description)}, 404
    svc = get_atlas()
    t = T(pick_lang(request.args.get("lang")), svc.method)
    heading = None if request.endpoint in ("views.town", "views.town_script") else t("page_gone")
    return render_template(
        "error.html", t=t, heading=heading, message=clip(err.description)
    ), 404


@bp.app_errorhandler(413)
def too_large(err):
    """A request body over MAX_CONTENT_LENGTH (an upload): said on a page, in its language."""
    limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / 1024 / 1024
    if request.path.startswith("/api/"):
        return {"error": "request entity too large",
                "message": f"the request is larger than {limit:g} MB, the most taken"}, 413
    svc = get_atlas()
    t = T(pick_lang(request.args.get("lang")), svc.method)  # the form is not read: too large
    back = request.referrer if urlsplit(request.referrer or "").netloc == request.host else None
    message = t("too_large").format(t.number(limit, 0 if float(limit).is_integer() else 1))
    return render_template(
        "error.html", t=t, heading=t("too_large_title"), message=message, back=back
    ), 413
