"""Flask application factory (config passed in, so tests can swap data)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    from flask import Flask  # here: ``python -m webapp.serve`` imports this package before it can set up

    instance = os.environ.get("INSTANCE_DIR")  # the database and secret key (default: instance/)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static",
                instance_path=str(Path(instance).resolve()) if instance else None)
    app.config.from_mapping(
        DATA_DIR=None,  # None: the shipped data/
        VENDOR_DIR=str(ROOT / "node_modules"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),  # None: SQLite in the instance folder
        SECRET_KEY=os.environ.get("SECRET_KEY"),  # None: one kept in the instance folder
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        NETWORKS_ROOT=os.environ.get("NETWORKS_ROOT"),  # None: instance/networks (geo.netimport.DEFAULT_ROOT)
        NETWORK_UPLOAD_MB=1024,  # an uploaded network file (POST /networks) may be this large
        NETWORK_IMPORT_WAIT=5.0,  # seconds POST /networks waits for the import before answering "running"
        VENDOR_PACKAGES=("leaflet", "leaflet.fullscreen"),
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.jinja_env.globals["inf"] = float("inf")
    from .i18n import LANGS, LANGUAGES

    app.jinja_env.globals.update(langs=LANGS, language_names=LANGUAGES)  # a page's language switch

    from . import api, auth, briefpages, certainty, cli, datapages, http, model, networks, openapi, security, views

    networks.init_app(app)  # first: its upload limit must be set before the CSRF check reads the form
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
    return app
