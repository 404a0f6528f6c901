"""An OpenAPI 3 description of the JSON API, built from the parameter specs (served at
/api/openapi.json).

The query parameters and the recompute body are generated from ``data/method/geo_params.csv``
(types, ranges, allowed values), so the description cannot drift from the one parser
``geo.params.parse_params``. The test suite fuzzes the API against this description
(tests/test_fuzz.py).
"""

from __future__ import annotations

from typing import Any, Sequence

from flask import Blueprint

from geo.params import (
    MAX_PLANNED,
    MAX_PLANNED_TEXT,
    MAX_TEXT,
    VERSION_NAME,
    Spec,
    load_specs,
    plannable_classes,
)

from webapp.i18n import DEFAULT_LANG, LANGS
from webapp.map.layers import LAYERS

bp = Blueprint("openapi", __name__, url_prefix="/api")
JSON = "application/json"
_OBJECT = {"type": "object"}


def _value_schema(spec: Spec, *, versions: Sequence[str] | None = None) -> dict:
    """The JSON schema of one parameter's value (as text in a query string, or as a JSON value).

    ``versions``: the network versions this app has now (the served description lists them; without
    them a version is any well-formed name, and an unknown one answers 400 naming the field).
    """
    if spec.type in ("number", "integer"):
        return {"type": spec.type, "minimum": spec.min, "maximum": spec.max}
    if spec.type == "bool":
        return {"type": "boolean"}
    if spec.type == "version":
        if versions:
            return {"type": "string", "enum": list(versions)}
        return {"type": "string", "pattern": VERSION_NAME.pattern, "maxLength": 64}
    if spec.type == "choice":  # one of the allowed values
        return {"type": "string", "enum": list(spec.allowed)}
    items = {"type": "string", "enum": list(spec.allowed)}  # a repeated value counts once
    return {"type": "array", "items": items, "minItems": 1}


# what a schema cannot say of a road's ends (OpenAPI 3.0 gives both numbers of [lon, lat] one range)
PLANNED_ENDS = (
    f"At most {MAX_PLANNED} roads. A 400 naming planned_roads answers an end that is not a known"
    " town, large city or road waypoint, one farther than snap_km from the network (or otherwise"
    " not routable at the request's parameters), a latitude beyond -90..90, or a road whose two"
    " ends are one network point."
)


def _end_schema() -> dict:
    return {
        "oneOf": [
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TEXT,
                "description": "a town or large city name in any language",
            },
            {
                "type": "array",
                "items": {"type": "number", "minimum": -180, "maximum": 180},
                "minItems": 2,
                "maxItems": 2,
                "description": "[lon, lat]: longitude -180..180, latitude -90..90",
            },
        ]
    }


def planned_road_schema() -> dict:
    """One planned road of the recompute body."""
    return {
        "type": "object",
        "required": ["from", "to"],
        "properties": {
            "from": _end_schema(),
            "to": _end_schema(),
            "class": {"type": "string", "enum": list(plannable_classes())},
        },
    }


def query_parameters(versions: Sequence[str] | None = None) -> list[dict]:
    """Every spatial parameter, ``planned_roads`` (JSON text) and ``lang`` as optional query
    parameters."""
    out = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": spec.description,
            "schema": _value_schema(spec, versions=versions),
            "style": "form",
            "explode": False,
        }
        for name, spec in load_specs().items()
    ]
    out.append(
        {
            "name": "planned_roads",
            "in": "query",
            "required": False,
            "description": (
                f"JSON text (at most {MAX_PLANNED_TEXT} characters) of a list of "
                '{"from", "to", "class"}. ' + PLANNED_ENDS
            ),
            "content": {
                JSON: {
                    "schema": {
                        "type": "array",
                        "items": planned_road_schema(),
                        "maxItems": MAX_PLANNED,
                    }
                }
            },
        }
    )
    out.append(
        {
            "name": "lang",
            "in": "query",
            "required": False,
            # any text is accepted: a language the atlas does not have gives the default one
            "schema": {"type": "string", "examples": list(LANGS)},
            "description": f"the answer's language: {', '.join(LANGS)}; any other value gives "
            f"the default ({DEFAULT_LANG})",
        }
    )
    return out


def recompute_body_schema(versions: Sequence[str] | None = None) -> dict:
    """The recompute body: the same names as the query parameters, as JSON values."""
    props: dict[str, Any] = {
        name: _value_schema(spec, versions=versions) for name, spec in load_specs().items()
    }
    props["planned_roads"] = {
        "description": PLANNED_ENDS,
        "type": "array",
        "items": planned_road_schema(),
        "maxItems": MAX_PLANNED,
    }
    return {"type": "object", "properties": props, "additionalProperties": False}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema or _OBJECT}}}


def _errors(*codes: int) -> dict:
    text = {
        400: (
            "invalid input: a message per field (`fields`, English) and, for parameters, what is"
            " wrong with each (`reasons`: number, whole, range, empty, choice, unknown, roads or"
            " other); on a change of data by a signed-in editor, also a missing or wrong CSRF token"
            " (X-CSRF-Token)"
        ),
        401: "not signed in as an editor (checked first: an anonymous change is always a 401)",
        403: "cross-site request refused (Origin or Sec-Fetch-Site of another site)",
        404: "not found",
        409: "another import runs",
        413: "request body too large (MAX_CONTENT_LENGTH)",
        414: "query string too long",
        422: (
            "planned roads x the network's edges above MAX_PLANNED_ROAD_EDGES: too costly to route"
            " (limit and value named)"
        ),
        429: (
            "more new parameter sets from this client than COSTLY_PER_MINUTE in 60 s (any route;"
            " one asked before is free): wait Retry-After seconds"
        ),
        503: (
            "the database cannot be written (disk full or read-only): nothing was changed;"
            " Retry-After"
        ),
    }
    schema = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    return {str(c): _json(text[c], schema) for c in codes}


_TOO_LARGE = {
    "type": "object",
    "required": ["error", "message", "limit", "value"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "limit": {
            "type": "object",
            "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": "integer"}},
        },
        "value": {"type": "integer"},
    },
}


def _collection() -> dict:
    return {
        "type": "object",
        "required": ["type", "features", "parameters"],
        "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {"type": "array"},
            "parameters": _OBJECT,
        },
    }


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY = {"type": "string", "format": "binary"}
_SOURCED = {"type": "object", "required": ["source"], "properties": {"source": {"type": "string"}}}
_LABELS = {
    "type": "object",
    "required": list(LANGS),
    "properties": {g: {"type": "string"} for g in LANGS},
}


def _town_schema() -> dict:
    """GET /api/towns/{tid}: a GeoJSON Feature, the parameters it was scored at, and what the
    government decided (``official``), the measures by scenario (``measures``) and the unscored
    evidence (``evidence``): every item with its ``source`` (webapp.pages.brief.api_parts)."""
    item = {
        **_SOURCED,
        "required": ["source", "labels"],
        "properties": {"source": {"type": "string"}, "labels": _LABELS, "date": {"type": "string"}},
    }
    family = {
        **_SOURCED,
        "required": ["id", "labels", "scenarios", "source"],
        "properties": {
            "id": {"type": "string"},
            "labels": _LABELS,
            "scenarios": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string"},
            "mapping": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "required": ["type", "properties", "parameters", "official", "measures", "evidence"],
        "properties": {
            "type": {"const": "Feature"},
            "geometry": _OBJECT,
            "properties": _OBJECT,
            "parameters": _OBJECT,
            "official": {
                "type": "array",
                "description": (
                    "decisions and programmes naming the town, with "
                    "this project's reading of them (data/official/signal_rules.csv)"
                ),
                "items": item,
            },
            "measures": {
                "type": "object",
                "required": ["scenarios", "common", "differs", "town"],
                "description": (
                    "measure families common to or differing between the town's "
                    "possible scenarios, and the measures funded for the town (data/official)"
                ),
                "properties": {
                    "scenarios": {"type": "array", "items": {"type": "string"}},
                    "common": {"type": "array", "items": family},
                    "differs": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": family},
                    },
                    "town": {"type": "array", "items": item},
                },
            },
            "evidence": {
                "type": "array",
                "description": "published figures that are not scored inputs",
                "items": item,
            },
        },
    }


def _export_parameters(q: list[dict]) -> list[dict]:
    """GET /api/export.{fmt}: the format, the map's parameters and the spreadsheet options."""
    fmt = {
        "name": "fmt",
        "in": "path",
        "required": True,
        "schema": {
            "type": "string",
            "enum": ["csv", "xlsx", "params.json", "geojson", "gpkg", "zip"],
        },
    }
    options = [
        {
            "name": "headers",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(LANGS)},
            "description": "column names in this language (csv, xlsx)",
        },
        {
            "name": "excel",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(LANGS)},
            "description": (
                "a CSV for Excel in this language's locale: UTF-8 with BOM; ';' and decimal "
                "commas for ru and kk"
            ),
        },
    ]
    return [fmt, *q, *options]


def openapi_document(versions: Sequence[str] | None = None) -> dict:
    """The whole OpenAPI 3.0 document (every route under /api); ``versions``: the network
    versions."""
    q = query_parameters(versions)
    towns = {
        "200": _json("every town as a GeoJSON FeatureCollection", _collection()),
        **_errors(400, 414, 422, 429),
    }
    stats = _json(
        "the stored values now (one per town and input), the head revision, the last file",
        {
            "type": "object",
            "required": ["revision", "file", "values", "errors"],
            "properties": {
                "revision": {"type": "integer"},
                "values": {"type": "array"},
                "errors": _OBJECT,
            },
        },
    )
    version = {
        "name": "v",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "the answer's ETag, as the map page names it (not a parameter)",
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Monotown Scenario Atlas API", "version": "1"},
        "paths": {
            "/api/params": {
                "get": {
                    "summary": "defaults and specs of the spatial parameters",
                    "responses": {"200": _json("defaults and specs")},
                }
            },
            "/api/towns": {
                "get": {
                    "summary": "all towns scored at the given parameters",
                    "parameters": q,
                    "responses": towns,
                }
            },
            "/api/towns/{tid}": {
                "get": {
                    "summary": "one town",
                    "parameters": [
                        {
                            "name": "tid",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        *q,
                    ],
                    "responses": {
                        "200": _json(
                            "one town as a GeoJSON Feature, with official, measures and evidence",
                            _town_schema(),
                        ),
                        **_errors(400, 404, 414, 422, 429),
                    },
                }
            },
            "/api/recompute": {
                "post": {
                    "summary": "all towns scored at the parameters of a JSON body",
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": recompute_body_schema(versions)}},
                    },
                    "responses": {
                        "200": _json("as GET /api/towns", _collection()),
                        **_errors(400, 403, 413, 422, 429),
                    },
                }
            },
            "/api/export.{fmt}": {
                "get": {
                    "summary": (
                        "all towns as the map shows them: CSV, XLSX (with a sheet of the"
                        " parameters), the parameters alone (params.json), GeoJSON, GeoPackage or a"
                        " zipped shapefile"
                    ),
                    "parameters": _export_parameters(q),
                    "responses": {
                        "200": {
                            "description": "the export",
                            "content": {
                                "text/csv": {"schema": {"type": "string"}},
                                XLSX: {"schema": BINARY},
                                "application/geo+json": {"schema": _OBJECT},
                                "application/zip": {"schema": BINARY},
                                "application/json": {"schema": _OBJECT},
                                "application/geopackage+sqlite3": {"schema": BINARY},
                            },
                        },
                        **_errors(400, 404, 414, 422, 429),
                    },
                }
            },
            "/api/statistics": {
                "get": {
                    "summary": "the latest revision of the stored statistics",
                    "responses": {"200": stats},
                },
                "post": {
                    "summary": (
                        "import a CSV or XLSX of inputs (an editor, with the CSRF token; rejected"
                        " whole on any problem, else one new revision)"
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": _json("stored as a new revision"),
                        **_errors(400, 401, 403, 413, 503),
                    },
                },
                "delete": {
                    "summary": "restore the shipped values (a rollback to revision 1; an editor)",
                    "responses": {"200": _json("the new revision"), **_errors(400, 401, 403, 503)},
                },
            },
            "/api/statistics/template.{fmt}": {
                "get": {
                    "summary": "the import template (canonical columns, units, allowed ranges)",
                    "parameters": [
                        {
                            "name": "fmt",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": ["csv", "xlsx"]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the template",
                            "content": {
                                "text/csv": {"schema": {"type": "string"}},
                                XLSX: {"schema": {"type": "string", "format": "binary"}},
                            },
                        },
                        **_errors(404),
                    },
                }
            },
            "/api/statistics/export.csv": {
                "get": {
                    "summary": "the current values in the import format",
                    "responses": {
                        "200": {
                            "description": "CSV",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/api/statistics/revisions": {
                "get": {
                    "summary": "every revision, newest first",
                    "responses": {"200": _json("revisions")},
                }
            },
            "/api/statistics/revisions/{rev}": {
                "get": {
                    "summary": "one revision and what it changed",
                    "parameters": [
                        {
                            "name": "rev",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {"200": _json("the revision and its changes"), **_errors(404)},
                }
            },
            "/api/statistics/rollback": {
                "post": {
                    "summary": (
                        "the values as at revision N, as a new revision (an editor, with the CSRF"
                        " token)"
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["revision"],
                                    "properties": {"revision": {"type": "integer"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("the new revision"),
                        **_errors(400, 401, 403, 413, 503),
                    },
                }
            },
            "/api/networks": {
                "get": {
                    "summary": (
                        "the road network versions (name, source, date, sha256, nodes, edges, km)"
                        " and the state of the latest import"
                    ),
                    "responses": {"200": _json("versions and import state")},
                }
            },
            "/api/networks/import-status": {
                "get": {
                    "summary": (
                        "the state of the latest network upload's import (idle, running, done,"
                        " failed)"
                    ),
                    "responses": {"200": _json("import state")},
                }
            },
            "/api/layers/{name}.geojson": {
                "get": {
                    "summary": (
                        "one map layer as GeoJSON, in the query's language and, where it depends on"
                        " them, its network version or parameters (v = its ETag: cached for a year)"
                    ),
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": list(LAYERS)},
                        },
                        *q,
                        version,
                    ],
                    "responses": {
                        "200": {
                            "description": "the layer",
                            "content": {"application/geo+json": {"schema": _OBJECT}},
                        },
                        **_errors(400, 404, 414, 422, 429),
                        "413": _json(
                            "catchments: more road pieces than MAX_CATCHMENT_PIECES at these"
                            " parameters (the message, in the query's language, names the limit"
                            " and the value)",
                            _TOO_LARGE,
                        ),
                    },
                }
            },
            "/api/popups": {
                "get": {
                    "summary": (
                        "every town's popup (HTML in the query's language) at the given parameters"
                    ),
                    "parameters": [*q, version],
                    "responses": {
                        "200": _json("town id -> popup HTML"),
                        **_errors(400, 414, 422, 429),
                    },
                }
            },
            "/api/robustness": {
                "get": {
                    "summary": (
                        "how sure each recommendation is: the robustness draws at the default"
                        " parameters for the current data (state, progress, and when done one"
                        " record per town); a GET starts a missing run and changes no data"
                    ),
                    "responses": {"200": _json("state, progress and results")},
                }
            },
            "/api/openapi.json": {
                "get": {"summary": "this description", "responses": {"200": _json("OpenAPI 3")}}
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> dict:
    """The OpenAPI description of this API, with the network versions this app has now."""
    from webapp.model import get_atlas

    return openapi_document(get_atlas().pipeline.versions())
