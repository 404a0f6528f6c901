"""JSON API and exports.

Bad input answers 400 with a message per field, never 500.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, g, request
from werkzeug.exceptions import HTTPException

from geo import ParamError
from scoring import InputError
from scoring.pipeline import Pipeline
from geo.params import default_params, load_specs, parse_params

from webapp.pages.brief import api_parts, official_signal_columns, robust_towns
from webapp.store.auth import current_editor, editor_required
from webapp.i18n import LANGS, pick_lang
from webapp.model import get_atlas
from webapp.store.stats_io import (
    StatsFileError,
    export_csv,
    problem_lines,
    template_csv,
    template_xlsx,
)
from webapp.store.db import StoreError
from webapp.params import from_args, queries, without_version
from webapp.security import BodyError, cap_messages, clip, load_json_body
from webapp.map.serialize import (
    collection,
    encode_checked,
    export_headers,
    export_params,
    feature,
    flat_rows,
    to_csv,
    to_geopackage,
    to_shapefile_zip,
    to_xlsx,
)
from webapp.http import Body, render, respond, respond_versioned
from webapp.map.layers import LAYERS, layer_urls
from webapp.map.layers import rendered as rendered_layer
from webapp.map.layers import version as layer_version
from webapp.pages.views import display_once, popups_once, popups_url, translator

bp = Blueprint("api", __name__, url_prefix="/api")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _bad(fields: dict, status: int = 400, reasons: dict | None = None):
    """400 naming each bad field; ``reasons``: what is wrong with each (``ParamError.reasons``),
    for a page that words it in its language."""
    body = {"error": "invalid parameters", "fields": fields}
    return (body | {"reasons": reasons} if reasons else body), status


def _payload(params, *, clean: bool = True) -> dict:
    svc = get_atlas()
    atlas = svc.results(params)
    t = translator(svc, request.args.get("lang"))
    fc = collection(atlas, svc.metas, svc.method, clean=clean)
    query, _ = queries(params, t.lang, LANGS)
    fc["display"] = display_once(
        atlas, svc, t, params
    )  # data only: popups and catchments are fetched
    fc["popups_url"] = popups_url(svc, t, params)
    fc["permalink_query"] = query
    fc["layers"] = layer_urls(
        svc, params, t
    )  # the page re-fetches what changed (network, access links)
    return fc


def _payload_response(params, *, conditional: bool):
    """The towns payload as JSON bytes, serialised once per parameters and language (gzip, ETag)."""
    lang = pick_lang(request.args.get("lang"))

    def build() -> str:  # encoded once, without the cleaning copy when nothing needs cleaning
        return (
            encode_checked(
                lambda: _payload(params, clean=False),
                lambda: _payload(params),
                current_app.json.dumps,
            )
            + "\n"
        )

    body = get_atlas().cached(
        ("payload", params, lang), lambda: render(build(), "application/json")
    )
    return respond(body, conditional=conditional)


@bp.errorhandler(ParamError)
def param_error(exc: ParamError):
    return _bad(
        {clip(k, 60): clip(v, 1000) for k, v in exc.field_errors.items()},  # long bad values
        reasons={clip(k, 60): v for k, v in exc.reasons.items()},
    )


@bp.errorhandler(BodyError)
def body_error(exc: BodyError):
    return _bad(
        {"body": f'{exc.description}; send a JSON object of parameters, e.g. {{"fua_minutes": 90}}'}
    )


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return {"error": exc.name.lower(), "message": clip(exc.description)}, exc.code


@bp.get("/params")
def params():
    return {
        "defaults": default_params().as_dict(),
        "specs": {k: s.as_dict() for k, s in load_specs().items()},
    }


@bp.get("/towns")
def towns():
    return _payload_response(from_args(request.args), conditional=True)


def _layer_params():
    """The request's parameters without ``v`` (the layer's version, not a parameter)."""
    return from_args(without_version(request.args))


@bp.get("/layers/<name>.geojson")
def layer(name: str):
    """One map layer as GeoJSON (webapp.map.layers): gzip, ETag; with ``v`` (its version) a year."""
    if name not in LAYERS:
        abort(404, f"Layer '{clip(name, 60)}' does not exist; use one of: {', '.join(LAYERS)}.")
    svc = get_atlas()
    params = _layer_params()
    t = translator(svc, request.args.get("lang"))
    if name == "catchments":
        refused = _catchments_too_large(svc, params, t)
        if refused is not None:
            return refused
    return respond_versioned(
        rendered_layer(name, svc, params, t), layer_version(name, svc, params, t.lang)
    )


def catchment_pieces(fc: dict) -> int:
    """Road pieces of a catchments FeatureCollection (each piece a line of two points): what its
    JSON's size grows with (about 45 bytes a piece), counted before it is serialised."""
    return sum(len(f["geometry"]["coordinates"]) for f in fc["features"])


def _catchments_too_large(svc, params, t):
    """413 naming the limit and the value when the catchments of ``params`` have more road pieces
    than ``MAX_CATCHMENT_PIECES`` (0: no limit); None when they may be sent."""
    limit = int(current_app.config.get("MAX_CATCHMENT_PIECES") or 0)
    if limit <= 0:
        return None
    pieces = catchment_pieces(Pipeline.catchments(svc.results(params)))
    if pieces <= limit:
        return None
    message = t("catchments_too_large").format(value=pieces, limit=limit)
    return {
        "error": "answer too large",
        "message": message,
        "limit": {"name": "MAX_CATCHMENT_PIECES", "value": limit},
        "value": pieces,
    }, 413


@bp.get("/popups")
def popups():
    """Every town's popup (HTML, in the page's language) for the parameters: the map fetches them
    once."""
    svc = get_atlas()
    params = _layer_params()
    t = translator(svc, request.args.get("lang"))

    def build() -> Body:
        shown = popups_once(svc.results(params), svc, t, params)
        return render(current_app.json.dumps(shown), "application/json")

    body = svc.cached(("popups", params, t.lang), build)
    return respond_versioned(body, svc.version("popups", params, t.lang))


@bp.get("/towns/<tid>")
def town(tid: str):
    svc = get_atlas()
    atlas = svc.results(from_args(request.args))
    rec = next((x for x in atlas["towns"] if x["id"] == tid), None)
    if rec is None:
        abort(404, f"Town '{tid}' does not exist.")
    out = feature(rec, svc.metas[tid], svc.method)
    out["parameters"] = collection(atlas, svc.metas, svc.method)["parameters"]
    return out | api_parts(svc, rec)  # what the government decided, measures, unscored evidence


@bp.post("/recompute")
def recompute():
    body = (
        load_json_body(request.get_data()) if request.is_json else None
    )  # BodyError: 400 naming "body"
    if not isinstance(body, dict):
        return _bad({"body": 'send a JSON object of parameters, e.g. {"fua_minutes": 90}'})
    g.stores_nothing = True  # a recompute stores nothing: its answer is made from one stored state
    return _payload_response(parse_params(body), conditional=False)


@bp.get("/export.<fmt>")
def export(fmt: str):
    """The towns as the map shows them: csv, xlsx, geojson, gpkg, zip (shapefile) and the parameters
    (params.json).

    ``headers=kk|ru|en``: column names in that language (CSV, XLSX); ``excel=kk|ru|en``: a CSV for
    Excel (UTF-8 with BOM; ';' and decimal commas for ru and kk).
    """
    svc = get_atlas()
    atlas = svc.results(
        from_args({k: v for k, v in request.args.items() if k not in ("headers", "excel")})
    )
    metas = svc.metas
    if fmt == "geojson":
        fc = collection(atlas, metas, svc.method)
        return Response(
            json.dumps(fc, ensure_ascii=False),
            mimetype="application/geo+json",
            headers={"Content-Disposition": "attachment; filename=monotowns.geojson"},
        )
    if fmt == "params.json":
        return Response(
            json.dumps(export_params(atlas), ensure_ascii=False, indent=1),
            mimetype="application/json",
            headers={"Content-Disposition": "attachment; filename=monotowns.params.json"},
        )
    if fmt not in ("csv", "xlsx", "gpkg", "zip"):
        abort(
            404,
            f"Export format '{fmt}' does not exist; use csv, xlsx, params.json, geojson, gpkg or"
            " zip.",
        )
    problems = {
        k: f"one of {', '.join(LANGS)}"
        for k in ("headers", "excel")
        if request.args.get(k) not in (None, *LANGS)
    }
    if problems:
        return {
            "error": "bad request",
            "message": "invalid export options",
            "fields": problems,
        }, 400
    rows = flat_rows(atlas, metas, svc.method, robust_towns(), official_signal_columns(svc, atlas))
    lang = request.args.get("headers")
    headers = export_headers(translator(svc, lang), svc.method, list(rows[0])) if lang else None
    if fmt == "csv":
        return Response(
            to_csv(rows, headers=headers, excel=request.args.get("excel")),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=monotowns.csv"},
        )
    if fmt == "xlsx":
        return Response(
            to_xlsx(rows, export_params(atlas), headers=headers),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": "attachment; filename=monotowns.xlsx"},
        )
    if fmt == "gpkg":
        return Response(
            to_geopackage(rows),
            mimetype="application/geopackage+sqlite3",
            headers={"Content-Disposition": "attachment; filename=monotowns.gpkg"},
        )
    return Response(
        to_shapefile_zip(rows, atlas, svc.method),
        mimetype="application/zip",
        headers={"Content-Disposition": "attachment; filename=monotowns_shapefile.zip"},
    )


@bp.get("/statistics")
def statistics():
    """The stored values now (one per town and input) and the head revision."""
    svc = get_atlas()
    snap = svc.snapshot()
    return {
        "revision": snap.head,
        "file": svc.uploaded_name,
        "values": svc.store.current(snap.head),
        "errors": snap.errors,
    }


def _upload() -> tuple[str, bytes] | None:
    file = request.files.get("file")
    if file is not None:
        return file.filename or "upload.csv", file.read()
    if request.mimetype in ("text/csv", "text/plain"):
        return "upload.csv", request.get_data()
    if request.mimetype == XLSX_MIME:
        return "upload.xlsx", request.get_data()
    return None


@bp.post("/statistics")
@editor_required
def upload_statistics():
    """Import a CSV or XLSX of statistical/curated inputs: rejected whole on any problem, else one
    new revision."""
    svc = get_atlas()
    sent = _upload()
    if sent is None:
        return {
            "error": "invalid upload",
            "problems": ["send a CSV or XLSX file as multipart field 'file', or a text/csv body"],
        }, 400
    name, raw = sent
    before = svc.results()
    try:
        rev, rows = svc.import_file(raw, name, editor=current_editor())
    except InputError as exc:
        lang = request.args.get("lang")
        problems = (  # in the page's language when it says which (?lang=kk|ru)
            problem_lines(exc, name, translator(svc, lang))
            if lang in LANGS and isinstance(exc, StatsFileError)
            else cap_messages(exc.problems)
        )
        return {
            "error": "invalid upload",
            "file": name,
            "problems": problems,
            "kept": svc.uploaded_name,
        }, 400
    return {
        "file": name,
        "revision": rev,
        "towns": sorted({r.town_id for r in rows}),
        "values": len(rows),
        "changed": svc.data_changes(before),
        "outranked": svc.outranked(rows, rev),
    }


@bp.delete("/statistics")
@editor_required
def delete_statistics():
    """Restore the shipped values: a rollback to revision 1 (itself a new revision)."""
    svc = get_atlas()
    before = svc.results()
    rev = svc.rollback(1, editor=current_editor())
    return {"revision": rev, "rollback_to": 1, "changed": svc.data_changes(before)}


@bp.get("/statistics/template.<fmt>")
def statistics_template(fmt: str):
    """The import template: canonical columns, then '#unit' and '#allowed' rows (CSV or XLSX)."""
    method = get_atlas().method
    if fmt == "csv":
        return Response(
            template_csv(method),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=statistics_template.csv"},
        )
    if fmt == "xlsx":
        return Response(
            template_xlsx(method),
            mimetype=XLSX_MIME,
            headers={"Content-Disposition": "attachment; filename=statistics_template.xlsx"},
        )
    abort(404, f"Template format '{fmt}' does not exist; use csv or xlsx.")


@bp.get("/statistics/export.csv")
def statistics_export():
    """The current values in the import format (town, year, source, note, inputs)."""
    svc = get_atlas()
    return Response(
        export_csv(svc.store.current(), svc.method),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=statistics.csv"},
    )


@bp.get("/statistics/revisions")
def statistics_revisions():
    return {"revisions": [r.__dict__ for r in get_atlas().store.revisions()]}


@bp.get("/statistics/revisions/<int:rev>")
def statistics_revision(rev: int):
    store = get_atlas().store
    try:
        return {"revision": store.revision(rev).__dict__, "changes": store.changes(rev)}
    except StoreError as exc:
        abort(404, str(exc))


@bp.post("/statistics/rollback")
@editor_required
def statistics_rollback():
    """Body {"revision": N}: the values as at revision N, as a new revision."""
    body = request.get_json(silent=True)
    to = body.get("revision") if isinstance(body, dict) else None
    if not isinstance(to, int) or isinstance(to, bool):
        return {
            "error": "invalid rollback",
            "message": 'send {"revision": N} with N a revision number',
        }, 400
    try:
        rev = get_atlas().rollback(to, editor=current_editor())
    except StoreError as exc:
        return {"error": "invalid rollback", "message": str(exc)}, 400
    return {"revision": rev, "rollback_to": to}
