"""The serving environment (.venv, ``make run``) holds no test tool (issue 24, item 7).

``requirements.txt`` lists what the app needs to serve; ``requirements-test.txt`` adds the test
tools (``-r requirements.txt``) for the test environment ``.venv-test`` that ``make test`` builds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVING_PYTHON = ROOT / ".venv" / "bin" / "python"
# what must never be importable where the app serves, whatever requirements-test.txt says
ALWAYS_TEST_TOOLS = {
    "pytest",
    "hypothesis",
    "schemathesis",
    "mypy",
    "ruff",
    "playwright",
    "salib",
    "pandana",
}


def _name(requirement: str) -> str:
    """A requirement line's distribution name, normalised as PEP 503 does (``SALib`` ->
    ``salib``)."""
    name = re.split(r"[\s\[=<>!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(path: Path) -> set[str]:
    """The distribution names a requirements file lists itself (not those of a ``-r`` file)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {_name(line) for line in lines if line and not line.startswith("-")}


def installed(python: Path) -> set[str]:
    """Every distribution installed where ``python`` runs (importlib.metadata over its sys.path)."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return {_name(n) for n in json.loads(out.stdout) if n}


def test_the_requirements_are_split():
    serving, tests = (
        requirements(ROOT / "requirements.txt"),
        requirements(ROOT / "requirements-test.txt"),
    )
    assert "-r requirements.txt" in (ROOT / "requirements-test.txt").read_text().splitlines()
    assert not serving & tests
    assert ALWAYS_TEST_TOOLS <= tests
    assert {"flask", "gunicorn", "geopandas"} <= serving


@pytest.fixture(scope="module")
def serving_packages() -> set[str]:
    if not SERVING_PYTHON.exists():
        pytest.skip("no serving environment: make install builds .venv")
    return installed(SERVING_PYTHON)


def test_the_serving_environment_has_no_test_tool(serving_packages):
    tools = requirements(ROOT / "requirements-test.txt") | ALWAYS_TEST_TOOLS
    assert not serving_packages & tools, sorted(serving_packages & tools)
    assert requirements(ROOT / "requirements.txt") <= serving_packages


def test_the_tests_do_not_run_from_the_serving_environment():
    """Make test runs pytest from .venv-test: this process is not the serving environment's."""
    assert Path(sys.prefix).resolve() != (ROOT / ".venv").resolve()


def test_the_serving_environment_serves(tmp_path, serving_packages):
    """The app starts and answers from .venv alone (no test tool imported on the way)."""
    code = (
        "import sys; from webapp import create_app; "
        "app = create_app({'TESTING': True, 'DATABASE_URL': sys.argv[1], 'SECRET_KEY': 'x', "
        "'NETWORKS_ROOT': sys.argv[2]}); c = app.test_client(); "
        "assert c.get('/api/params').status_code == 200; "
        "assert c.get('/api/towns').status_code == 200; "
        "import webapp.serve, gunicorn; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pytest', 'hypothesis', 'schemathesis', 'mypy', 'playwright', 'SALib', 'pandana')); "
        "assert not bad, bad"
    )
    subprocess.run(
        [
            str(SERVING_PYTHON),
            "-c",
            code,
            f"sqlite:///{tmp_path / 'a.sqlite3'}",
            str(tmp_path / "networks"),
        ],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
