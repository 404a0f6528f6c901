"""JSON API and exports. Bad input answers 400 with a message per field, never 500."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.exceptions import HTTPException

from geo import ParamError
from scoring import InputError
from geo.params import default_params, load_specs, parse_params

from .i18n import LANGS, T, pick_lang
from .model import get_atlas
from .params import from_args, queries
from .serialize import collection, feature, to_csv, to_shapefile_zip
from .http import cached, respond
from .views import display_once

bp = Blueprint("api", __name__, url_prefix="/api")


def _bad(fields: dict, status: int = 400):
    return {"error": "invalid parameters", "fields": fields}, status


def _payload(params) -> dict:
    svc = get_atlas()
    atlas = svc.results(params)
    t = T(pick_lang(request.args.get("lang")), svc.method)
    fc = collection(atlas, svc.metas, svc.method)
    query, _ = queries(params, t.lang, LANGS)
    fc["catchments"] = atlas["catchments"]
    fc["display"] = display_once(atlas, svc, t, params, query)
    fc["permalink_query"] = query
    return fc


def _payload_response(params, *, conditional: bool):
    """The towns payload as JSON bytes, serialised once per parameters and language (gzip, ETag)."""
    lang = pick_lang(request.args.get("lang"))
    rendered = cached(("payload", params, lang), lambda: current_app.json.dumps(_payload(params)) + "\n",
                      "application/json")
    return respond(rendered, conditional=conditional)


@bp.errorhandler(ParamError)
def param_error(exc: ParamError):
    return _bad(exc.field_errors)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return {"error": exc.name.lower(), "message": exc.description}, exc.code


@bp.get("/params")
def params():
    return {"defaults": default_params().as_dict(), "specs": {k: s.as_dict() for k, s in load_specs().items()}}


@bp.get("/towns")
def towns():
    return _payload_response(from_args(request.args), conditional=True)


@bp.get("/towns/<tid>")
def town(tid: str):
    svc = get_atlas()
    atlas = svc.results(from_args(request.args))
    rec = next((x for x in atlas["towns"] if x["id"] == tid), None)
    if rec is None:
        abort(404, f"Town '{tid}' does not exist.")
    out = feature(rec, svc.metas[tid], svc.method)
    out["parameters"] = collection(atlas, svc.metas, svc.method)["parameters"]
    return out


@bp.post("/recompute")
def recompute():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad({"body": "send a JSON object of parameters, e.g. {\"fua_minutes\": 90}"})
    return _payload_response(parse_params(body), conditional=False)


@bp.get("/export.<fmt>")
def export(fmt: str):
    svc = get_atlas()
    atlas = svc.results(from_args(request.args))
    metas = svc.metas
    if fmt == "csv":
        return Response(to_csv(atlas, metas, svc.method), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=monotowns.csv"})
    if fmt == "geojson":
        fc = collection(atlas, metas, svc.method)
        return Response(json.dumps(fc, ensure_ascii=False), mimetype="application/geo+json",
                        headers={"Content-Disposition": "attachment; filename=monotowns.geojson"})
    if fmt == "zip":
        return Response(to_shapefile_zip(atlas, metas, svc.method), mimetype="application/zip",
                        headers={"Content-Disposition": "attachment; filename=monotowns_shapefile.zip"})
    abort(404, f"Export format '{fmt}' does not exist; use csv, geojson or zip.")


@bp.get("/statistics")
def statistics():
    """The planner's uploaded statistics (empty when none)."""
    svc = get_atlas()
    return {"file": svc.uploaded_name, "towns": svc.uploaded}


@bp.post("/statistics")
def upload_statistics():
    """Upload a CSV of statistical inputs; a file with any problem is rejected whole, the stored one kept."""
    svc = get_atlas()
    file = request.files.get("file")
    if file is not None:
        name, raw = file.filename or "upload.csv", file.read()
    elif request.mimetype in ("text/csv", "text/plain"):
        name, raw = "upload.csv", request.get_data()
    else:
        return {"error": "invalid upload", "problems": ["send a CSV file as multipart field 'file' or a text/csv body"]}, 400
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return {"error": "invalid upload", "problems": [f"{name}: not UTF-8 text"]}, 400
    try:
        parsed = svc.upload_statistics(text, name)
    except InputError as exc:
        return {"error": "invalid upload", "file": name, "problems": exc.problems,
                "kept": svc.uploaded_name}, 400
    return {"file": name, "towns": sorted(parsed), "values": sum(len(v) for v in parsed.values())}


@bp.delete("/statistics")
def delete_statistics():
    get_atlas().clear_upload()
    return {"file": None, "towns": {}}
