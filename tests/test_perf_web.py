"""The towns payload encoded once without the cleaning copy is the text the cleaned payload
gives."""

import json
import math

import pytest
from flask import current_app

from geo.params import parse_params
from webapp.api import routes as api
from webapp.map.serialize import _PRIVATE, _clean, encode_checked


def _dumps(obj, **kw):
    return json.dumps(obj, ensure_ascii=False, **kw)


@pytest.mark.parametrize(
    "value",
    [
        {
            "a": 1.5,
            "b": [1, "x", None],
            "c": {"d": 'target="_blank"'},
        },  # nothing to clean: encoded once
        {"a": float("nan"), "b": [float("inf"), 2.0]},  # non-finite numbers become null
        {
            "a": 1,
            "_private": 2,
            "b": {"_x": 3, "y": [{"_z": 4}]},
        },  # keys starting with "_" are dropped
        {"a": ["_listed", "_also"], "b": ("t", 1)},  # a listed string starting with "_" stays
        {"a": -math.inf, "_b": float("nan")},
    ],
)
def test_encode_checked_equals_encoding_the_cleaned_value(value):
    assert encode_checked(lambda: value, lambda: _clean(value), _dumps) == _dumps(_clean(value))


@pytest.mark.parametrize("raw", [{}, {"near_km": 33.3}, {"fua_minutes": 150, "near_km": 250}])
@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_recompute_answer_is_the_cleaned_payload(app, client, raw, lang):
    got = client.post(f"/api/recompute?lang={lang}", json=raw)
    assert got.status_code == 200
    with app.test_request_context(f"/api/recompute?lang={lang}", method="POST"):
        expected = current_app.json.dumps(api._payload(parse_params(raw))) + "\n"
        fast = current_app.json.dumps(api._payload(parse_params(raw), clean=False), allow_nan=False)
    assert _PRIVATE.search(fast) is None  # the shipped answers take the one-encoding path
    assert got.get_data(as_text=True) == expected
    assert len(got.get_json()["features"]) == 27
