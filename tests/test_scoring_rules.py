"""Bands, validation, missing inputs, scenario rule, properties."""

import math
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import InputError, MethodError, evaluate_records, load_method
from scoring.levels import level_of
from scoring.validate import validate_records

FULL = dict(
    mono_output_share=80,
    mono_employment_share=27.3,
    econ_industrial_output=15,
    econ_profitable_share=41,
    econ_fixed_investment=5,
    econ_budget_revenue=2.3,
    social_unemployment=111,
    social_culture_facilities=4.2,
    social_edu_med_facilities=1.4,
    social_avg_wage=95,
    demo_natural_growth=10,
    demo_active_share=49,
    inv_projects_done=9,
    inv_projects_done_total=94,
    inv_projects_planned=9,
    inv_projects_planned_total=96,
    inv_jobs_created=298,
    inv_jobs_created_total=12300,
    inv_jobs_planned=557,
    inv_jobs_planned_total=11159,
    aggl_in_fua=0,
    aggl_near_large_city=100,
    aggl_corridor_junction=100,
    special_raw_materials=100,
    special_tourism=100,
)


@pytest.mark.parametrize(
    "code,value,level",
    [
        ("agglomeration", 10.0, "average"),
        ("agglomeration", 10.0 + 1e-9, "above_average"),
        ("agglomeration", 0.0, "low"),
        ("agglomeration", 5.0, "low"),
        ("agglomeration", 15.0, "above_average"),
        ("agglomeration", math.sqrt(300), "high"),
        ("demographic", 7.5, "below_average"),
        ("demographic", 7.52, "average"),
        ("demographic", 9.0, "average"),
        ("demographic", 11.5, "above_average"),
        ("demographic", 11.50001, "high"),
        ("economy_social", 30.0, "above_average"),
        ("economy_social", 30.0001, "high"),
        ("economy_social", 5, "very_low"),
        ("economy_social", 15, "low"),
        ("mono_profile", 35, "low"),
        ("mono_profile", 35.01, "medium"),
        ("mono_profile", 70.01, "high"),
        ("investment", 2.5, "low"),
        ("investment", 5, "average"),
        ("investment", 7.5, "above_average"),
        ("investment", 7.6, "high"),
        ("special", 10, "average"),
        ("special", 10.1, "high"),
    ],
)
def test_band_boundaries(method, code, value, level):
    assert level_of(value, method.indicators[code].bands) == level


def test_missing_value_has_no_level(method):
    assert level_of(None, method.indicators["special"].bands) is None


def test_validation_reports_every_problem_with_town_field_value_and_range(method):
    bad = [
        dict(FULL, town="A", mono_output_share=120, aggl_in_fua=50),
        dict(FULL, town="B", inv_projects_done=100, inv_jobs_created=1.5, demo_active_share="abc"),
        dict(FULL, town="C", inv_jobs_planned_total=0, colour="red", social_avg_wage=-1),
        dict(FULL, town="", econ_profitable_share="inf"),
    ]
    with pytest.raises(InputError) as exc:
        validate_records(bad, method, source="towns.csv")
    msg = str(exc.value)
    expected = [
        (
            "towns.csv row 2 town 'A': field 'mono_output_share' value 120 is out of range;"
            " allowed: 0 to 100 (%)"
        ),
        "towns.csv row 2 town 'A': field 'aggl_in_fua' value 50 is out of range; allowed: 0 or 100",
        (
            "towns.csv row 3 town 'B': field 'inv_projects_done' value 100 is above its total"
            " 'inv_projects_done_total' 94"
        ),
        (
            "towns.csv row 3 town 'B': field 'inv_jobs_created' value 1.5 is out of range; allowed:"
            " a whole number"
        ),
        "towns.csv row 3 town 'B': field 'demo_active_share' value 'abc' is not a number",
        (
            "towns.csv row 4 town 'C': field 'inv_jobs_planned_total' value 0 is out of range;"
            " allowed: a whole number > 0"
        ),
        "towns.csv row 4 town 'C': field 'colour' is not a canonical input",
        "towns.csv row 4 town 'C': field 'social_avg_wage' value -1 is out of range; allowed: >= 0",
        "towns.csv row 5: field 'town' is empty",
        "towns.csv row 5 town '': field 'econ_profitable_share' value 'inf' is not finite",
    ]
    for e in expected:
        assert e in msg, e
    assert len(exc.value.problems) == len(expected)


def test_indices_may_exceed_100_and_growth_may_be_negative(method):
    res = evaluate_records(
        [dict(FULL, town="X", social_unemployment=140, demo_natural_growth=-3)], method
    )[0]
    assert res["indices"]["demographic"] == pytest.approx(math.sqrt(46))


def test_negative_radicand_is_an_error(method):
    with pytest.raises(InputError, match="sum to -1; allowed: a sum >= 0"):
        validate_records(
            [dict(FULL, town="X", demo_natural_growth=-50, demo_active_share=49)], method
        )


def test_duplicate_town_is_an_error(method):
    with pytest.raises(InputError, match="town appears twice"):
        validate_records([dict(FULL, town="X"), dict(FULL, town="X")], method)


def test_missing_inputs_leave_indicator_and_level_null(method):
    rec = {k: v for k, v in FULL.items() if k not in ("special_tourism", "econ_budget_revenue")}
    rec["inv_jobs_planned"] = "NA"
    res = evaluate_records([dict(rec, town="X")], method)[0]
    assert res["indices"]["special"] is None and res["levels"]["special"] is None
    assert res["indices"]["economy"] is None and res["indices"]["economy_social"] is None
    assert res["levels"]["economy_social"] is None
    assert res["indices"]["investment"] is None
    assert res["indices"]["social"] == pytest.approx(52.9)
    assert res["missing"] == ["econ_budget_revenue", "inv_jobs_planned", "special_tourism"]
    assert res["scenario"]["completeness"] == "3/6"
    assert res["scenario"]["provisional"] is True
    assert "provisional" in res["scenario"]["explanation"]
    # scores only count the three levels that exist
    assert max(res["scenario"]["scores"].values()) <= 3


def test_no_data_at_all_recommends_nothing(method):
    res = evaluate_records([{"town": "Empty"}], method)[0]
    assert res["scenario"]["completeness"] == "0/6"
    assert res["scenario"]["recommended"] == []
    assert "insufficient data" in res["scenario"]["explanation"]
    assert all(v is None for v in res["indices"].values())


def test_margin_recommends_two_when_close(tmp_path, method):
    d = tmp_path / "method"
    shutil.copytree(method.source_dir, d)
    s = (d / "method.json").read_text().replace('"recommend_margin": 0', '"recommend_margin": 1')
    (d / "method.json").write_text(s)
    m1 = load_method(d)
    res = evaluate_records(
        [dict(FULL, town="Temirtau-like", mono_employment_share=12, mono_output_share=82)], m1
    )[0]
    assert len(res["scenario"]["recommended"]) == 2


@pytest.mark.parametrize(
    "file,old,new,message",
    [
        (
            "bands.csv",
            "agglomeration,3,above_average,15",
            "agglomeration,3,above_average,8",
            (
                "bands.csv row 23 (agglomeration/above_average): upper_bound 8.0 must be above the"
                " previous band's 10.0"
            ),
        ),
        (
            "bands.csv",
            "special,3,high,",
            "special,3,high,50",
            "the last band must have an empty upper_bound",
        ),
        ("bands.csv", "special,2,average,10", "special,2,average,ten", "'ten' is not a number"),
        (
            "indicators.csv",
            ",geometric_mean,mono_output_share",
            ",median,mono_output_share",
            "aggregation 'median' not one of",
        ),
        (
            "scenario_rules.csv",
            "inertial,investment,low",
            "inertial,investment,lowest",
            "level(s) lowest not bands of investment",
        ),
        (
            "inputs.csv",
            "aggl_in_fua,agglomeration,binary",
            "aggl_in_fua,agglomeration,boolean",
            "kind 'boolean'",
        ),
        (
            "method.json",
            '"recommend_margin": 0',
            '"recommend_margin": -1',
            "recommend_margin must be a number >= 0",
        ),
    ],
)
def test_method_file_errors_name_the_row(tmp_path, method, file, old, new, message):
    d = tmp_path / "method"
    shutil.copytree(method.source_dir, d)
    text = (d / file).read_text()
    assert old in text
    (d / file).write_text(text.replace(old, new))
    with pytest.raises(MethodError) as exc:
        load_method(d)
    assert message in str(exc.value)


share = st.floats(0, 100, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(a=share, b=share)
def test_geometric_mean_symmetric_and_bounded(method, a, b):
    r1 = evaluate_records(
        [{"town": "x", "mono_output_share": a, "mono_employment_share": b}], method
    )[0]
    r2 = evaluate_records(
        [{"town": "x", "mono_output_share": b, "mono_employment_share": a}], method
    )[0]
    assert r1["indices"]["mono_profile"] == pytest.approx(r2["indices"]["mono_profile"])
    assert min(a, b) - 1e-9 <= r1["indices"]["mono_profile"] <= max(a, b) + 1e-9


@settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 5000), data=st.data())
def test_more_projects_never_lower_investment(method, total, data):
    c1 = data.draw(st.integers(0, total))
    c2 = data.draw(st.integers(c1, total))
    base = dict(
        inv_projects_done_total=total,
        inv_projects_planned=1,
        inv_projects_planned_total=10,
        inv_jobs_created=5,
        inv_jobs_created_total=100,
        inv_jobs_planned=5,
        inv_jobs_planned_total=100,
    )
    lo = evaluate_records([dict(base, town="x", inv_projects_done=c1)], method)[0]["indices"][
        "investment"
    ]
    hi = evaluate_records([dict(base, town="x", inv_projects_done=c2)], method)[0]["indices"][
        "investment"
    ]
    assert hi >= lo


@settings(max_examples=100, deadline=None)
@given(a=st.sampled_from([0, 100]), b=st.sampled_from([0, 100]), c=st.sampled_from([0, 100]))
def test_agglomeration_bounds(method, a, b, c):
    r = evaluate_records(
        [{"town": "x", "aggl_in_fua": a, "aggl_near_large_city": b, "aggl_corridor_junction": c}],
        method,
    )[0]
    assert 0 <= r["indices"]["agglomeration"] <= math.sqrt(300)
    assert r["scenario"]["completeness"] == "1/6"
