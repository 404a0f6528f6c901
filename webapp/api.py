"""JSON API and exports. Bad input answers 400 with a message per field, never 500."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import HTTPException

from geo import ParamError
from scoring import InputError
from geo.params import default_params, load_specs, parse_params

from .i18n import LANGS, T, pick_lang
from .model import get_atlas
from .params import from_args, queries
from .security import BodyError, cap_messages, clip, load_json_body
from .serialize import collection, feature, to_csv, to_shapefile_zip
from .views import display

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
    fc["display"] = display(atlas, svc, t, query)
    fc["permalink_query"] = query
    return fc


@bp.errorhandler(ParamError)
def param_error(exc: ParamError):
    return _bad({clip(k, 60): clip(v, 1000) for k, v in exc.field_errors.items()})  # a long list of bad values


@bp.errorhandler(BodyError)
def body_error(exc: BodyError):
    return _bad({"body": f"{exc.description}; send a JSON object of parameters, e.g. {{\"fua_minutes\": 90}}"})


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return {"error": exc.name.lower(), "message": clip(exc.description)}, exc.code


@bp.get("/params")
def params():
    return {"defaults": default_params().as_dict(), "specs": {k: s.as_dict() for k, s in load_specs().items()}}


@bp.get("/towns")
def towns():
    return _payload(from_args(request.args))


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
    body = load_json_body(request.get_data()) if request.is_json else None  # BodyError: 400 naming "body"
    if not isinstance(body, dict):
        return _bad({"body": "send a JSON object of parameters, e.g. {\"fua_minutes\": 90}"})
    return _payload(parse_params(body))


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
        name, raw = clip(file.filename or "upload.csv", 100), file.read()
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
        return {"error": "invalid upload", "file": name, "problems": cap_messages(exc.problems),
                "kept": svc.uploaded_name}, 400
    return {"file": name, "towns": sorted(parsed), "values": sum(len(v) for v in parsed.values())}


@bp.delete("/statistics")
def delete_statistics():
    get_atlas().clear_upload()
    return {"file": None, "towns": {}}
