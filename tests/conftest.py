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


@pytest.fixture()
def app(tmp_path):
    """A new app with its own database and networks folder for each test (flaskr's habit): nothing a
    test stores or caches reaches another test.

    The shipped data are read once per process (geo).
    """
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'atlas.sqlite3'}",
            "SECRET_KEY": "test",
            "NETWORKS_ROOT": str(tmp_path / "networks"),
        }
    )


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """The SYNTHETIC tiny dataset written as a complete data root (tests/tiny.py)."""
    from tiny import write_tiny

    return write_tiny(tmp_path_factory.mktemp("tiny_root"))


@pytest.fixture()
def tiny_app(tiny_root, tmp_path):
    """The whole app pointed at the tiny data root (no national network loaded), new for each
    test."""
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tiny_root),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'atlas.sqlite3'}",
            "SECRET_KEY": "test",
            "NETWORKS_ROOT": str(tmp_path / "networks"),
        }
    )


@pytest.fixture()
def tiny_client(tiny_app):
    return tiny_app.test_client()
