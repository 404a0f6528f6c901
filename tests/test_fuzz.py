"""Fuzzing: schemathesis against /api/openapi.json (WSGI, in process, no network) and hypothesis
against the one parameter parser.

Zero server errors allowed; the figures go to test-artifacts/fuzz.json.
"""

import json
import string
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from geo import ParamError
from geo.params import Params, load_specs, parse_params
from webapp.api.openapi import openapi_document

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EXAMPLES = (
    40  # per API operation and generation mode; derandomized, so every run sends the same requests
)
STATUSES: Counter = Counter()
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    """An app of its own (its own upload folder), so fuzzed uploads touch no other test's state; the
    per-client limit of new computations is off (tests/test_hardening.py tests it)."""
    from webapp import create_app

    return create_app(
        {
            "TESTING": False,
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("fuzz_uploads")),
            "COSTLY_PER_MINUTE": 0,
        }
    )  # hundreds of new parameter sets a minute: no limit here


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)


# (method, path, mode): valid requests for every operation, invalid ones where there is input to
# break
# not fuzzed: this description itself, and /api/robustness (a GET starts the robustness draws:
# minutes
# of CPU; tests/test_robustness.py covers it)
NOT_FUZZED = ("/api/openapi.json", "/api/robustness")
OPERATIONS = [
    (method.upper(), path, mode)
    for path, ops in openapi_document()["paths"].items()
    if path not in NOT_FUZZED
    for method, op in ops.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or "parameters" in op or "requestBody" in op
]


def _fields(response) -> set:
    try:
        body = response.json()
    except ValueError:
        return set()
    return set(body.get("fields") or ()) if isinstance(body, dict) else set()


@schemathesis.check
def positive_data_accepted(ctx, response, case):
    """schemathesis' ``positive_data_acceptance`` (a request valid by the description is not refused
    as invalid), except a 400 naming only ``planned_roads``: whether a road's end is a known place
    routable at the request's ``snap_km``, or a point's latitude lies in -90..90, is more than
    OpenAPI 3.0 can say (the description of ``planned_roads`` says these answer 400)."""
    if response.status_code == 400 and _fields(response) == {"planned_roads"}:
        return None
    return positive_data_acceptance(ctx, response, case)


# every response check schemathesis applies to a single request; an anonymous write must answer 401
# (positive data: a request without credentials), an invalid request 4xx (negative data)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_accepted,
]


@pytest.mark.parametrize("method,path,mode", OPERATIONS)
def test_api_fuzzed_never_a_server_error(api_schema, method, path, mode):
    """Every generated request (valid and invalid) answers 2xx or a documented 4xx, never 5xx, with
    a documented content type and a body that matches its documented schema (asked uncompressed:

    the in-process client does not undo gzip); a valid request is not refused as invalid, an invalid
    one is refused (schemathesis' positive and negative data checks).
    """
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @SETTINGS
    def run(case):
        response = case.call_and_validate(checks=CHECKS, headers={"Accept-Encoding": "identity"})
        STATUSES[response.status_code] += 1

    run()


# lone surrogates arrive as JSON escapes (a query string is decoded as UTF-8 with replacement)
SURROGATE_ROADS = [
    '[{"from": "\\ud800", "to": "Zhezkazgan"}]',
    '[{"from": "Karazhal", "to": "\\udfff"}]',
    '[{"from": [67.7, 47.8], "to": "Zhezkazgan", "class": "\\udc80"}]',
    '"\\ud800"',
]
PAGE_QUERY = st.dictionaries(
    st.sampled_from([*load_specs(), "planned_roads", "lang"]) | st.text(max_size=20),
    st.text(max_size=40)
    | st.sampled_from(["0", "5000000", "1e999", "9" * 400, "[{]", str(10**25), *SURROGATE_ROADS]),
    max_size=5,
)

# the parser's and the JSON bodies' cases: texts with lone surrogates, integers beyond 64 bits
NAMES = [*load_specs(), "planned_roads", "lang", "bogus"]
TEXT = (
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
    | st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e308",
            "nan",
            "inf",
            "9" * 400,
            "true",
            "republican,railway",
            "[1, 2]",
            "[" * 5000,
            '[{"from": "Karazhal", "to": "Zhezkazgan"}]',
            '[{"from": [0, 0], "to": "x", "class": 1}]',
            str(10**25),
            "\ud800",
            "a\udfffb",
            *SURROGATE_ROADS,
        ]
    )
    | st.text(st.characters(categories=["Cs", "Lu"]), max_size=6)
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**18) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("page", ["/", "/town/temirtau", "/town/karazhal"])
def test_pages_fuzzed_never_a_server_error(fuzz_app, page):
    """The pages take the same query: any query renders (bad values get a message beside the
    field)."""
    client = fuzz_app.test_client()

    @given(query=PAGE_QUERY)
    @example(query={"planned_roads": SURROGATE_ROADS[0]})
    @example(query={"planned_roads": SURROGATE_ROADS[2], "fua_minutes": str(10**25)})
    @settings(
        max_examples=15,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(query):
        with client.get(page, query_string=query) as r:
            STATUSES[r.status_code] += 1
            assert r.status_code == 200, (query, r.status_code)

    run()


@given(body=st.dictionaries(st.sampled_from(NAMES) | TEXT, JSON_VALUES, max_size=5))
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_recompute_bodies_with_surrogates_and_huge_numbers(fuzz_app, body):
    """JSON bodies holding lone surrogates (sent as ``\\udXXX`` escapes) and integers beyond 64
    bits:

    200 or 400, and the answer is valid UTF-8 (before: 500 from UnicodeEncodeError).
    """
    with fuzz_app.test_client().post(
        "/api/recompute", data=json.dumps(body, ensure_ascii=True), content_type="application/json"
    ) as r:
        STATUSES[r.status_code] += 1
        assert r.status_code in (200, 400), (body, r.status_code)
        r.get_data().decode("utf-8")


@given(number=st.integers(min_value=2**62) | st.sampled_from([10**25, 2**63 - 1, 2**63, 2**64]))
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_huge_path_integers_are_not_found(fuzz_app, number):
    """Integers beyond any row id in paths: 404, never OverflowError (the writes:
    tests/test_hardening.py)."""
    client = fuzz_app.test_client()
    for path in (f"/history/{number}", f"/api/statistics/revisions/{number}"):
        with client.get(path) as r:
            STATUSES[r.status_code] += 1
            assert r.status_code == 404, (path, r.status_code)


def test_fuzz_figures():
    """Runs after the fuzzed operations: how many requests, how many server errors (must be 0)."""
    total = sum(STATUSES.values())
    if total == 0:
        pytest.skip("run together with test_api_fuzzed_never_a_server_error")
    errors = sum(n for code, n in STATUSES.items() if code >= 500)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fuzz.json").write_text(
        json.dumps(
            {
                "requests": total,
                "server_errors": errors,
                "statuses": dict(sorted(STATUSES.items())),
            },
            indent=1,
        )
    )
    assert total >= 100 and errors == 0, STATUSES


# -- the parameter parser ------------------------------------------------------------------------


def _parse(raw) -> Params | ParamError:
    try:
        return parse_params(raw)
    except ParamError as exc:
        return exc


@given(
    st.dictionaries(
        st.sampled_from(NAMES) | st.text(string.printable, max_size=50), TEXT, max_size=8
    )
)
@settings(max_examples=300, derandomize=True, deadline=None, database=None)
def test_parse_params_text_gives_params_or_param_error(raw):
    """Any mapping of text (a query string) gives Params or ParamError, never another exception."""
    out = _parse(raw)
    assert isinstance(out, (Params, ParamError))
    if isinstance(out, ParamError):
        assert out.field_errors and len(out.field_errors) <= 21
        assert all(isinstance(k, str) and len(k) <= 40 for k in out.field_errors)


@given(st.dictionaries(st.sampled_from(NAMES), JSON_VALUES, max_size=6))
@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_parse_params_json_gives_params_or_param_error(raw):
    """Any JSON body gives Params or ParamError; accepted values are inside the documented
    ranges."""
    out = _parse(raw)
    assert isinstance(out, (Params, ParamError))
    if isinstance(out, Params):
        for name, spec in load_specs().items():
            if spec.type in ("number", "integer"):
                assert spec.min <= out[name] <= spec.max


# -- the statistics import: any bytes give rows or one report of problems, never another exception -

IMPORT_COLUMNS = st.sampled_from(
    [
        "town",
        "year",
        "period",
        "source",
        "note",
        "mono_output_share",
        "mono_employment_share",
        "special_raw_materials",
        "demo_natural_growth",
        "x",
    ]
)
CELLS = st.one_of(
    st.sampled_from(
        [
            "Rudny",
            "Temirtau",
            "Атлантида",
            "2023",
            "",
            "12,5",
            "1_0",
            "1e308",
            "nan",
            "-inf",
            "=1+1",
            "100",
            "0",
            "70",
            "  30 ",
            "doc",
        ]
    ),
    st.text(string.printable, max_size=12),
)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    header=st.lists(IMPORT_COLUMNS, min_size=1, max_size=7),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=8), max_size=5),
    junk=st.binary(max_size=40),
    as_xlsx_name=st.booleans(),
)
def test_import_parser_never_fails_otherwise(header, rows, junk, as_xlsx_name):
    from scoring import InputError, load_method
    from webapp.store.stats_io import read_values

    text = "\n".join(",".join(r) for r in [header, *rows]).encode() + junk
    method = load_method()
    try:
        out = read_values(
            text,
            "f.xlsx" if as_xlsx_name else "f.csv",
            method,
            lambda name: {"rudny": "rudny", "temirtau": "temirtau"}.get(name.strip().lower()),
        )
    except InputError as exc:
        assert exc.problems and all(isinstance(p, str) for p in exc.problems)
        return
    for row in out:  # an accepted file holds only finite values inside each input's range
        spec = method.inputs[row.input]
        assert row.value == row.value and abs(row.value) != float("inf")
        assert (spec.min is None or row.value >= spec.min) and (
            spec.max is None or row.value <= spec.max
        )
