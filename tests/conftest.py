from pathlib import Path

import pytest

from scoring import load_method

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """The SYNTHETIC tiny dataset written as a complete data root (tests/tiny.py)."""
    from tiny import write_tiny

    return write_tiny(tmp_path_factory.mktemp("tiny_root"))


@pytest.fixture(scope="session")
def tiny_app(tiny_root, tmp_path_factory):
    """The whole app pointed at the tiny data root (no national network loaded)."""
    from webapp import create_app

    db = tmp_path_factory.mktemp("tiny_db") / "atlas.sqlite3"
    return create_app({"TESTING": True, "DATA_DIR": str(tiny_root), "DATABASE_URL": f"sqlite:///{db}",
                       "SECRET_KEY": "test"})


@pytest.fixture()
def tiny_client(tiny_app):
    return tiny_app.test_client()
