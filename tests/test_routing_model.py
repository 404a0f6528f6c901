"""geo.agglomeration.SpatialModel on the shipped network: the towns' answers (one bounded search per
town, or read from the town tables when built) equal whole-graph multi-source searches for every
kind of change; after the first answer, no whole-graph search, and no background work."""

import threading

import numpy as np
import pytest

from geo.agglomeration import SpatialModel
from geo.params import parse_params
from geo.routing import TownField

CHANGES = [
    {},
    {"large_city_min_pop": 300_000},
    {"large_city_min_pop": 1_000_000},
    {"large_city_statuses": "republican"},
    {"large_city_statuses": "oblast centre"},
    {"large_city_min_pop": 5_000_000},  # no city selected
    {"speed_international": 70, "speed_oblast": 95},
    {"detour_republican": 1.6, "large_city_min_pop": 300_000},
    {"own_city_counts": "false"},
    {"planned_roads": [{"from": "Karazhal", "to": "Zhezkazgan", "class": "republican"}]},
    {"planned_roads": [{"from": "Arkalyk", "to": "Kostanay", "class": "international"}],
     "speed_international": 120},
    {"speed_international": 120},  # after a planned road: its routes are no bound any more
]


def answers(model, raw):
    d = model.derive(parse_params(raw))
    return [(t.nearest_city_id, t.road_km, t.fua_city_id, t.travel_min, t.route) for t in d.towns]


class Searched(SpatialModel):
    """The reference: every field one whole-graph multi-source search (with the planned roads
    inserted into it), as before town tables and bounded searches."""

    def field(self, params, metric, rows, planned=()):
        routing = self.metric(params, metric)
        edges = [(a, b, p.km if metric == "km" else p.minutes) for a, b, p in planned]
        base = routing.field(np.asarray(rows, dtype=np.int64))
        return base.with_planned(edges) if edges else base


@pytest.fixture(scope="module")
def models():
    tabled = SpatialModel()
    tabled.build_town_tables(parse_params({}))
    return Searched(), SpatialModel(), tabled


@pytest.mark.parametrize("raw", CHANGES, ids=[str(c)[:60] for c in CHANGES])
def test_town_answers_equal_whole_graph_searches(models, raw):
    searched, model, tabled = models
    want = answers(searched, raw)
    assert answers(model, raw) == want
    assert answers(tabled, raw) == want


def test_no_thread_and_town_fields():
    """Nothing runs in the background; a change answers with a TownField (the shipped network is
    small: its towns' searches may cost more than one multi-source search, which then answers;
    the 2M-edge benchmark counts no whole-graph search)."""
    model = SpatialModel()
    before = threading.active_count()
    for raw in CHANGES:
        answers(model, raw)
    p = parse_params({})
    assert isinstance(model.field(p, "min", np.array([0, 2])), TownField)
    assert threading.active_count() == before


def test_a_planned_road_searches_only_the_towns_it_can_reach_sooner(models):
    """A road far from most towns (lower bound: bound_factor x the great-circle km to its ends)
    leaves their answers as they were, unsearched."""
    _, model, _ = models
    p = parse_params({"planned_roads": [{"from": "Karazhal", "to": "Zhezkazgan",
                                         "class": "republican"}]})
    net = model.network(p)
    base = model.field(parse_params({}), "km", np.arange(len(model._source_ids(net))))
    planned = model.planned_edges(p, net)
    routing = model.metric(p, "km")
    edges = tuple((a, b, q.km) for a, b, q in planned)
    reach = model._within_reach(p, routing, edges, base, model.town_nodes(p))
    assert 0 < reach.sum() < len(reach) // 2



def test_a_cached_answer_keeps_no_routing_alive():
    """A field in the cache (here read from the town tables) finds every node's answer through the
    model's routing cache: once the routing of its weights is evicted, nothing holds it (its graph
    is not memory the caches' budget cannot see), and the field's every-node answer is still the
    routing's."""
    import gc
    import weakref

    model = SpatialModel()
    p = parse_params({"speed_oblast": 77})
    model.build_town_tables(p)
    rows = np.arange(len(model.metric(p, "min").sources))
    field = model.field(p, "min", rows)
    assert isinstance(field, TownField) and field._full is None
    gone = weakref.ref(model.metric(p, "min"))
    model._metrics.items.clear()
    gc.collect()
    assert gone() is None
    want = model.metric(p, "min").field(rows).dist
    assert np.array_equal(field.dist, want)
