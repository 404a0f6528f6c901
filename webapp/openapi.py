"""An OpenAPI 3 description of the JSON API, built from the parameter specs (served at /api/openapi.json).

The query parameters and the recompute body are generated from ``data/method/geo_params.csv`` (types,
ranges, allowed values), so the description cannot drift from the one parser ``geo.params.parse_params``.
The test suite fuzzes the API against this description (tests/test_fuzz.py).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from geo.params import MAX_PLANNED, MAX_PLANNED_TEXT, MAX_TEXT, VERSION_NAME, Spec, load_specs, plannable_classes

from .i18n import LANGS
from .layers import LAYERS

bp = Blueprint("openapi", __name__, url_prefix="/api")
JSON = "application/json"
_OBJECT = {"type": "object"}


def _value_schema(spec: Spec, *, in_query: bool) -> dict:
    """The JSON schema of one parameter's value (as text in a query string, or as a JSON value)."""
    if spec.type in ("number", "integer"):
        return {"type": spec.type, "minimum": spec.min, "maximum": spec.max}
    if spec.type == "bool":
        return {"type": "boolean"}
    if spec.type == "version":  # a name; an unknown version answers 400 naming the field
        return {"type": "string", "pattern": VERSION_NAME.pattern, "maxLength": 64}
    items = {"type": "string", "enum": list(spec.allowed)}
    return {"type": "array", "items": items, "minItems": 1, "uniqueItems": True} | (
        {} if in_query else {"maxItems": len(spec.allowed)})


def _end_schema() -> dict:
    return {"oneOf": [{"type": "string", "minLength": 1, "maxLength": MAX_TEXT,
                       "description": "a town or large city name in any language"},
                      {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                       "description": "[lon, lat]"}]}


def planned_road_schema() -> dict:
    """One planned road of the recompute body."""
    return {"type": "object", "required": ["from", "to"],
            "properties": {"from": _end_schema(), "to": _end_schema(),
                           "class": {"type": "string", "enum": list(plannable_classes())}}}


def query_parameters() -> list[dict]:
    """Every spatial parameter, ``planned_roads`` (JSON text) and ``lang`` as optional query parameters."""
    out = [{"name": name, "in": "query", "required": False, "description": spec.description,
            "schema": _value_schema(spec, in_query=True), "style": "form", "explode": False}
           for name, spec in load_specs().items()]
    out.append({"name": "planned_roads", "in": "query", "required": False,
                "description": 'JSON list of {"from", "to", "class"}',
                "schema": {"type": "string", "maxLength": MAX_PLANNED_TEXT}})
    out.append({"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": list(LANGS)}})
    return out


def recompute_body_schema() -> dict:
    """The recompute body: the same names as the query parameters, as JSON values."""
    props: dict[str, Any] = {name: _value_schema(spec, in_query=False) for name, spec in load_specs().items()}
    props["planned_roads"] = {"type": "array", "items": planned_road_schema(), "maxItems": MAX_PLANNED}
    return {"type": "object", "properties": props, "additionalProperties": False}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema or _OBJECT}}}


def _errors(*codes: int) -> dict:
    text = {400: "invalid input: a message per field", 401: "sign in as an editor", 403: "cross-site request refused", 404: "not found",
            413: "request body too large",
            414: "query string too long"}
    schema = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    return {str(c): _json(text[c], schema) for c in codes}


def _collection() -> dict:
    return {"type": "object", "required": ["type", "features", "parameters"],
            "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"},
                           "parameters": _OBJECT}}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def openapi_document() -> dict:
    """The whole OpenAPI 3.0 document (every route under /api)."""
    q = query_parameters()
    towns = {"200": _json("every town as a GeoJSON FeatureCollection", _collection()), **_errors(400, 414)}
    stats = _json("the uploaded statistics", {"type": "object", "required": ["file", "towns"]})
    version = {"name": "v", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200},
               "description": "the answer's ETag, as the map page names it (not a parameter)"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Monotown Scenario Atlas API", "version": "1"},
        "paths": {
            "/api/params": {"get": {"summary": "defaults and specs of the spatial parameters",
                                    "responses": {"200": _json("defaults and specs")}}},
            "/api/towns": {"get": {"summary": "all towns scored at the given parameters", "parameters": q,
                                   "responses": towns}},
            "/api/towns/{tid}": {"get": {
                "summary": "one town", "parameters": [{"name": "tid", "in": "path", "required": True,
                                                      "schema": {"type": "string"}}, *q],
                "responses": {"200": _json("one town as a GeoJSON Feature"), **_errors(400, 404, 414)}}},
            "/api/recompute": {"post": {
                "summary": "all towns scored at the parameters of a JSON body",
                "requestBody": {"required": True, "content": {JSON: {"schema": recompute_body_schema()}}},
                "responses": {"200": _json("as GET /api/towns", _collection()), **_errors(400, 403, 413)}}},
            "/api/export.{fmt}": {"get": {
                "summary": "all towns as a plain CSV (its parameters: params.json), GeoJSON, GeoPackage or a zipped shapefile",
                "parameters": [{"name": "fmt", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": ["csv", "params.json", "geojson", "gpkg", "zip"]}}, *q],
                "responses": {"200": {"description": "the export", "content": {
                    "text/csv": {"schema": {"type": "string"}}, "application/geo+json": {"schema": _OBJECT},
                    "application/zip": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": _OBJECT},
                    "application/geopackage+sqlite3": {"schema": {"type": "string", "format": "binary"}}}},
                    **_errors(400, 404, 414)}}},
            "/api/statistics": {
                "get": {"summary": "the latest revision of the stored statistics", "responses": {"200": stats}},
                "post": {"summary": "import a CSV or XLSX of inputs (an editor, with the CSRF token; rejected whole "
                                    "on any problem, else one new revision)",
                         "requestBody": {"required": True, "content": {
                             "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                                 "file": {"type": "string", "format": "binary"}}}},
                             "text/csv": {"schema": {"type": "string"}}}},
                         "responses": {"200": _json("stored as a new revision"), **_errors(400, 401, 403, 413)}},
                "delete": {"summary": "restore the shipped values (a rollback to revision 1; an editor)",
                           "responses": {"200": _json("the new revision"), **_errors(400, 401, 403)}}},
            "/api/statistics/template.{fmt}": {"get": {
                "summary": "the import template (canonical columns, units, allowed ranges)",
                "parameters": [{"name": "fmt", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": ["csv", "xlsx"]}}],
                "responses": {"200": {"description": "the template", "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **_errors(404)}}},
            "/api/statistics/export.csv": {"get": {
                "summary": "the current values in the import format",
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}}},
            "/api/statistics/revisions": {"get": {"summary": "every revision, newest first",
                                                  "responses": {"200": _json("revisions")}}},
            "/api/statistics/revisions/{rev}": {"get": {
                "summary": "one revision and what it changed",
                "parameters": [{"name": "rev", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _json("the revision and its changes"), **_errors(404)}}},
            "/api/statistics/rollback": {"post": {
                "summary": "the values as at revision N, as a new revision (an editor, with the CSRF token)",
                "requestBody": {"required": True, "content": {JSON: {"schema": {
                    "type": "object", "required": ["revision"], "properties": {"revision": {"type": "integer"}}}}}},
                "responses": {"200": _json("the new revision"), **_errors(400, 401, 403, 413)}}},
            "/api/networks": {"get": {
                "summary": "the road network versions (name, source, date, sha256, nodes, edges, km) and the "
                           "state of the latest import", "responses": {"200": _json("versions and import state")}}},
            "/api/networks/import-status": {"get": {
                "summary": "the state of the latest network upload's import (idle, running, done, failed)",
                "responses": {"200": _json("import state")}}},
            "/api/layers/{name}.geojson": {"get": {
                "summary": "one map layer as GeoJSON, in the query's language and, where it depends on them, its "
                           "network version or parameters (v = its ETag: cached for a year)",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": list(LAYERS)}}, *q, version],
                "responses": {"200": {"description": "the layer", "content": {
                    "application/geo+json": {"schema": _OBJECT}}}, **_errors(400, 404, 414)}}},
            "/api/popups": {"get": {
                "summary": "every town's popup (HTML in the query's language) at the given parameters",
                "parameters": [*q, version],
                "responses": {"200": _json("town id -> popup HTML"), **_errors(400, 414)}}},
            "/api/openapi.json": {"get": {"summary": "this description", "responses": {"200": _json("OpenAPI 3")}}},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> dict:
    """The OpenAPI description of this API."""
    return openapi_document()
