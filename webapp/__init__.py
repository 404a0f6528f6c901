"""Flask application factory (config passed in, so tests can swap data)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
MAX_ROW_ID = 2**63 - 1  # the largest id a database row can have (SQLite and PostgreSQL bigint)
LOCAL_HOSTS = ("127.0.0.1", "localhost")
WILDCARD_HOSTS = ("0.0.0.0", "::")  # listening on every address names no host
log = logging.getLogger(__name__)


def trusted_hosts(value: str | None, host: str | None) -> list[str]:
    """The host names this app answers to: TRUSTED_HOSTS (comma-separated; ``.example.org`` takes
    its subdomains too), else the loopback names and the configured HOST.

    A request naming another host gets 400, so a forged ``Host`` cannot reach the app (werkzeug's
    ``trusted_hosts``).
    """
    if value:
        return [h.strip() for h in value.split(",") if h.strip()]
    if host in WILDCARD_HOSTS:
        log.warning(
            "HOST=%s listens on every address but only %s are trusted host names: "
            "set TRUSTED_HOSTS to the names the atlas is reached by",
            host,
            ", ".join(LOCAL_HOSTS),
        )
    return [*LOCAL_HOSTS, *([host] if host and host not in (*LOCAL_HOSTS, *WILDCARD_HOSTS) else [])]


def _bounded_int_converter():
    """``<int:...>`` in every route, capped at the largest row id: ``/judgments/10^25/withdraw`` is
    a 404 (no such row), not an integer too large for the database (500)."""
    from werkzeug.routing import IntegerConverter

    class RowId(IntegerConverter):
        def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
            kwargs.setdefault("max", MAX_ROW_ID)
            super().__init__(map, *args, **kwargs)

    return RowId


def _storage_unavailable(exc):
    """A database that cannot be written (disk full, read-only file or folder, locked too long):

    503 with a clear message in the request's language; nothing was changed. The cause is logged,
    never shown (it may name server paths).
    """
    from flask import render_template, request

    from webapp.i18n import T, pick_lang
    from webapp.model import get_atlas

    log.error("database unavailable on %s %s: %s", request.method, request.path, exc)
    lang = pick_lang(request.values.get("lang"))
    t = T(lang)
    message = t("storage_unavailable")
    headers = {"Retry-After": "60"}
    if request.path.startswith("/api/") or request.is_json:
        return {"error": "service unavailable", "message": message}, 503, headers
    try:
        t = T(lang, get_atlas().method)
    except Exception:  # noqa: BLE001 - the message page needs no data
        pass
    return (
        render_template("error.html", t=t, heading=t("storage_unavailable_title"), message=message),
        503,
        headers,
    )


def create_app(test_config: dict | None = None) -> Flask:
    from flask import (
        Flask,
    )  # here: ``python -m webapp.serve`` imports this package before it can set up

    instance = os.environ.get("INSTANCE_DIR")  # the database and secret key (default: instance/)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=str(Path(instance).resolve()) if instance else None,
    )
    from webapp import http

    app.json = http.JSON(app)  # orjson; key order kept, UTF-8
    app.config.from_mapping(
        DATA_DIR=None,  # None: the shipped data/
        VENDOR_DIR=str(ROOT / "node_modules"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),  # None: SQLite in the instance folder
        SECRET_KEY=os.environ.get("SECRET_KEY"),  # None: one kept in the instance folder
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        NETWORKS_ROOT=os.environ.get(
            "NETWORKS_ROOT"
        ),  # None: instance/networks (geo.netimport.DEFAULT_ROOT)
        NETWORK_UPLOAD_MB=1024,  # an uploaded network file (POST /networks) may be this large
        # seconds POST /networks waits for the import before answering "running"
        NETWORK_IMPORT_WAIT=5.0,
        VENDOR_PACKAGES=("leaflet", "leaflet.fullscreen"),
        TRUSTED_HOSTS=trusted_hosts(os.environ.get("TRUSTED_HOSTS"), os.environ.get("HOST")),
        # new parameter sets per client and minute on /api/recompute and /api/export.<fmt> (0: no
        # limit)
        COSTLY_PER_MINUTE=int(os.environ.get("COSTLY_PER_MINUTE", "60")),
        # road pieces the catchments layer may send (each about 45 bytes of JSON; more: 413; 0: no
        # limit); the shipped network has at most 341 at any parameters
        MAX_CATCHMENT_PIECES=int(os.environ.get("MAX_CATCHMENT_PIECES", "100000")),
        # planned roads x network edges a request may ask to route (more: 422; 0: no limit): 5
        # planned roads on a 2-million-edge version, the 20 allowed on up to 500,000 edges
        MAX_PLANNED_ROAD_EDGES=int(os.environ.get("MAX_PLANNED_ROAD_EDGES", "10000000")),
    )
    if test_config:
        app.config.update(test_config)
        if app.testing and "COSTLY_PER_MINUTE" not in test_config:
            app.config["COSTLY_PER_MINUTE"] = (
                0  # unit tests ask for many exports; the limit's own tests set it
            )
    app.url_map.converters["int"] = _bounded_int_converter()  # before any route is added
    app.jinja_env.globals["inf"] = float("inf")
    from webapp.i18n import LANGS, LANGUAGES

    app.jinja_env.globals.update(langs=LANGS, language_names=LANGUAGES)  # a page's language switch

    from webapp import model, security
    from webapp.api import openapi
    from webapp.api import routes as api
    from webapp.pages import briefpages, certainty, datapages, networks, views
    from webapp.store import auth, cli

    networks.init_app(
        app
    )  # first: its upload limit must be set before the CSRF check reads the form
    auth.init_app(app)
    model.init_app(app)
    security.init_app(app)
    http.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(datapages.bp)
    app.register_blueprint(networks.bp)
    app.register_blueprint(certainty.bp)
    app.register_blueprint(briefpages.bp)
    cli.init_app(app)
    from sqlalchemy.exc import OperationalError

    app.register_error_handler(OperationalError, _storage_unavailable)
    return app
