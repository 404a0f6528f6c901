"""geo.agglomeration.SpatialModel on the shipped network: no background work, and the town table
(built once it pays) gives the same answers as the multi-source searches."""

import threading

import numpy as np
import pytest

from geo.agglomeration import SpatialModel
from geo.params import parse_params
from geo.routing import TableField

CITY_SETS = [
    {},
    {"large_city_min_pop": 300_000},
    {"large_city_min_pop": 1_000_000},
    {"large_city_statuses": "republican"},
    {"large_city_statuses": "oblast centre"},
    {"large_city_min_pop": 5_000_000},
]


def answers(model, raw):
    d = model.derive(parse_params(raw))
    return [(t.nearest_city_id, t.road_km, t.fua_city_id, t.travel_min, t.route) for t in d.towns]


@pytest.fixture(scope="module")
def models():
    return SpatialModel(), SpatialModel()


def test_table_answers_equal_the_searches(models):
    searched, tabled = models
    p = parse_params({})
    for metric in ("km", "min"):
        tabled.metric(p, metric).town_table(tabled.town_nodes(p))
    for raw in CITY_SETS:
        assert answers(tabled, raw) == answers(searched, raw), raw
    assert tabled.metric(p, "km").searches == 0  # every city set read from the table
    assert searched.metric(p, "km").searches >= 3  # one per distinct city set


def test_table_built_once_it_pays_and_no_thread_started():
    model = SpatialModel()
    p = parse_params({})
    before = threading.active_count()
    model.derive(p)
    routing = model.metric(p, "km")
    assert not isinstance(model.field(p, "km", np.array([0, 1])), TableField)
    assert not routing.has_table(model.town_nodes(p))
    routing.searches = len(model.town_nodes(p))  # as after that many new city sets
    assert isinstance(model.field(p, "km", np.array([0, 2])), TableField)
    assert routing.has_table(model.town_nodes(p))
    assert threading.active_count() == before


def test_a_town_table_is_built_outside_the_field_cache_lock(monkeypatch):
    """The request that pays for a table does not hold the lock every cached field needs."""
    from geo.routing import MetricRouting

    model = SpatialModel()
    p = parse_params({})
    model.derive(p)
    held = []
    build = MetricRouting.town_table

    def spy(self, cols):
        held.append(model._fields.lock._is_owned())
        return build(self, cols)

    monkeypatch.setattr(MetricRouting, "town_table", spy)
    model.metric(p, "km").searches = 10**6
    assert isinstance(model.field(p, "km", np.array([0, 3])), TableField)
    assert held and not any(held)
