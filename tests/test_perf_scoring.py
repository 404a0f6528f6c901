"""The cached scoring path (scoring.engine) gives exactly what the straightforward evaluation
gives."""

import dataclasses
import json

import numpy as np
import pytest

from geo.params import parse_params
from scoring.engine import evaluate_inputs, evaluate_uncached
from scoring.pipeline import Pipeline

PARAM_SETS = [
    {},
    {"near_km": 30},
    {"near_km": 250, "fua_minutes": 150},
    {"fua_minutes": 20},
    {"large_city_statuses": ["republican"]},
    {"speed_republican": 40, "corridor_km": 40},
    {"tourism_km": 0, "corridor_min_lines": 3},
    {"near_km": 100.5, "own_city_counts": False},
]
RESULT_KEYS = ("indices", "levels", "scenario", "missing", "details")


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline()


def _dump(x) -> str:
    return json.dumps(
        x, sort_keys=False
    )  # key order matters to the pages and the API: compared too


@pytest.mark.parametrize("raw", PARAM_SETS, ids=[json.dumps(p) for p in PARAM_SETS])
def test_pipeline_scores_equal_the_reference_for_every_town(pipeline, raw):
    atlas = pipeline.run(parse_params(raw))
    assert len(atlas["towns"]) == 27
    for town in atlas["towns"]:
        reference = evaluate_uncached(town["inputs"], pipeline.method)
        assert _dump({k: town[k] for k in RESULT_KEYS}) == _dump(reference), town["id"]


def test_a_second_run_equals_the_first_and_shares_nothing(pipeline):
    first = pipeline.run(parse_params({"near_km": 42}))
    before = _dump(first["towns"])
    first["towns"][0]["scenario"]["possible"].append("mutated")
    first["towns"][0]["levels"].clear()
    second = pipeline.run(parse_params({"near_km": 42}))
    assert _dump(second["towns"]) == before


def test_values_equal_but_written_differently_are_not_confused(method):
    inputs = {name: None for name in method.inputs}
    name = next(n for n, s in method.inputs.items() if s.role == "derived")
    plus = evaluate_inputs(inputs | {name: 0.0}, method)
    minus = evaluate_inputs(inputs | {name: -0.0}, method)
    assert _dump(plus) == _dump(evaluate_uncached(inputs | {name: 0.0}, method))
    assert _dump(minus) == _dump(evaluate_uncached(inputs | {name: -0.0}, method))


def test_numpy_values_are_scored_without_the_cache(method):
    inputs = {name: None for name in method.inputs}
    name = next(n for n, s in method.inputs.items() if s.role == "derived")
    got = evaluate_inputs(inputs | {name: np.float64(1.0)}, method)
    assert got["indices"] == evaluate_uncached(inputs | {name: np.float64(1.0)}, method)["indices"]


def test_each_method_has_its_own_cache(method):
    """A method with another margin must not reuse the first one's answers."""
    inputs = {name: None for name in method.inputs} | {n: 1.0 for n in list(method.inputs)[:4]}
    wide = dataclasses.replace(method, settings=method.settings | {"recommend_margin": 6})
    a, b = evaluate_inputs(inputs, method), evaluate_inputs(inputs, wide)
    assert _dump(a) == _dump(evaluate_uncached(inputs, method))
    assert _dump(b) == _dump(evaluate_uncached(inputs, wide))
