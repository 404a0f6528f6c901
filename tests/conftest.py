import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent



from scoring import load_method  # noqa: E402


@pytest.fixture(scope="session")
def method():
    return load_method()


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from webapp import create_app

    db = tmp_path_factory.mktemp("db") / "atlas.sqlite3"
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "test"})


@pytest.fixture()
def client(app):
    return app.test_client()
