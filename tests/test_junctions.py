"""geo.junctions._merge_sections: pieces grouped and joined once per road give the point set one
union at a time gave, and the distance to the nearest piece."""

import numpy as np
import pyproj
import shapely
from hypothesis import given, settings, strategies as st
from shapely.geometry import LineString

from geo.junctions import LCC_SCALE_MAX, _merge_sections, line_distances_km
from geo.layers import KZ_LCC


def merge_one_at_a_time(rows: list[tuple]) -> list[tuple]:
    """The former implementation (quadratic on a road of many pieces), kept as the reference."""
    merged: dict[str, list] = {}
    for r in rows:
        if r[0] in merged:
            merged[r[0]][4] = shapely.union(merged[r[0]][4], r[4])
        else:
            merged[r[0]] = list(r)
    return [tuple(v) for v in merged.values()]


def sections(rid: str, coords: list, cuts: list[int], cls: str = "republican") -> list[tuple]:
    """A road through ``coords`` split at vertex indices ``cuts`` (as build.build_roads splits)."""
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(coords) - 1)), len(coords) - 1]
    return [
        (rid, cls, f"road {rid}", "", LineString(coords[a : b + 1]))
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


TOWNS = np.array([[69.0, 43.0], [70.3, 43.4], [71.1, 42.8], [68.2, 44.1], [70.0, 42.0]])


def test_grouped_union_equals_one_at_a_time_on_a_small_graph():
    # three roads: one in four sections, one crossing it in two, one single piece; ids interleaved
    a = sections(
        "A",
        [(68.0, 42.0), (68.5, 42.6), (69.2, 43.1), (70.0, 43.2), (70.8, 43.9), (71.5, 44.0)],
        [1, 2, 4],
    )
    b = sections("B", [(69.0, 44.5), (69.4, 43.5), (69.6, 42.5)], [1])
    c = sections("C", [(70.5, 41.8), (71.2, 42.9)], [])
    rows = [a[0], b[0], a[1], c[0], a[2], b[1], a[3]]
    new, old = _merge_sections(rows), merge_one_at_a_time(rows)
    assert (
        [r[:4] for r in new]
        == [r[:4] for r in old]
        == [
            ("A", "republican", "road A", ""),
            ("B", "republican", "road B", ""),
            ("C", "republican", "road C", ""),
        ]
    )
    assert all(n[4].equals(o[4]) for n, o in zip(new, old))  # the same point set
    assert new[2][4] is c[0][4]  # a road of one piece keeps its geometry object
    d_new = line_distances_km(TOWNS, [r[4] for r in new])
    d_old = line_distances_km(TOWNS, [r[4] for r in old])
    np.testing.assert_allclose(d_new, d_old, rtol=0, atol=1e-9)
    # and the distance to a merged road is the smallest distance to its pieces
    d_pieces = line_distances_km(TOWNS, [r[4] for r in a])
    np.testing.assert_allclose(d_new[:, 0], d_pieces.min(axis=1), rtol=0, atol=1e-9)


coord = st.tuples(st.floats(60.0, 80.0), st.floats(40.0, 55.0))


@settings(max_examples=40, deadline=None)
@given(
    roads=st.lists(
        st.tuples(
            st.lists(coord, min_size=2, max_size=8, unique=True),
            st.lists(st.integers(1, 6), max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
    order=st.randoms(use_true_random=False),
)
def test_grouped_union_property(roads, order):
    rows = [s for i, (coords, cuts) in enumerate(roads) for s in sections(f"R{i}", coords, cuts)]
    order.shuffle(rows)
    new, old = _merge_sections(rows), merge_one_at_a_time(rows)
    assert [r[:4] for r in new] == [r[:4] for r in old]
    d_new = line_distances_km(TOWNS, [r[4] for r in new])
    # exactly the nearest of the road's pieces (its sections are joined, not noded)
    for j, r in enumerate(new):
        pieces = [x[4] for x in rows if x[0] == r[0]]
        np.testing.assert_allclose(
            d_new[:, j], line_distances_km(TOWNS, pieces).min(axis=1), rtol=0, atol=1e-9
        )
    # (the union of a road crossing itself nodes it, which bends its projected segments a little
    # there: random roads may differ from it by some metres; test_grouped_union_equals_one_at_a_
    # time_on_a_small_graph checks a road that does not cross itself)


def test_kz_lcc_scale_is_within_the_reach_margin():
    """line_distances_km finds a line's parts within reach in the projection: projected metres
    per geodesic metre stay below LCC_SCALE_MAX wherever a town's lines can be (40-95 E,
    35-60 N)."""
    proj = pyproj.Proj(KZ_LCC)
    lon, lat = np.meshgrid(np.linspace(40, 95, 111), np.linspace(35, 60, 51))
    scale = np.asarray(proj.get_factors(lon.ravel(), lat.ravel()).parallel_scale)
    assert 0.99 < scale.min() and scale.max() < LCC_SCALE_MAX


@settings(max_examples=30, deadline=None)
@given(
    lines=st.lists(st.lists(coord, min_size=2, max_size=6, unique=True), min_size=1, max_size=6),
    within=st.floats(5.0, 400.0),
)
def test_lines_beyond_the_reach_are_not_measured(lines, within):
    """Measured up to ``within_km``: the same km as measuring every part, inf beyond it."""
    geoms = [LineString(c) for c in lines]
    everything = line_distances_km(TOWNS, geoms)
    got = line_distances_km(TOWNS, geoms, within_km=within)
    near = everything <= within
    assert np.array_equal(got[near], everything[near])
    assert np.all(np.isinf(got[~near]))


def test_parts_measured_in_batches_give_the_same_km(monkeypatch):
    """The lines' parts are projected and indexed some at a time (bounded memory at 2M edges):
    batches of 3 parts give what one batch gives."""
    import geo.junctions

    rng = np.random.default_rng(5)
    geoms = [shapely.MultiLineString([rng.uniform([60, 40], [80, 55], (3, 2)) for _ in range(k)])
             for k in (1, 4, 2, 7, 1)]
    whole = line_distances_km(TOWNS, geoms, within_km=300)
    monkeypatch.setattr(geo.junctions, "PARTS_BATCH", 3)
    assert np.array_equal(line_distances_km(TOWNS, geoms, within_km=300), whole)
    assert np.isfinite(whole).any()
