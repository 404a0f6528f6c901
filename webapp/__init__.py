"""Flask application factory (config passed in, so tests can swap data)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    app.config.from_mapping(
        DATA_DIR=None,  # None: the shipped data/
        VENDOR_DIR=str(ROOT / "node_modules"),
        UPLOAD_DIR=None,  # None: the instance folder
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        VENDOR_PACKAGES=("leaflet", "jquery", "leaflet.fullscreen"),
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    if app.config["UPLOAD_DIR"] is None:
        app.config["UPLOAD_DIR"] = app.instance_path
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.jinja_env.globals["inf"] = float("inf")

    from . import api, http, model, views

    model.init_app(app)
    http.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    return app
