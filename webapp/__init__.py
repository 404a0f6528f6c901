"""Flask application (placeholder until the web map lands)."""
from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__)
    if test_config:
        app.config.update(test_config)

    @app.get("/")
    def index():
        return "Monotown Scenario Atlas: the map is under construction; see `python -m scoring paper`."

    return app
