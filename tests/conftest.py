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

    return create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})


@pytest.fixture()
def client(app):
    return app.test_client()
