"""Golden values: the paper's three towns, computed here independently of the engine."""

import math

import pytest

from scoring import evaluate_records
from scoring.paper import compare, load_paper, scenario_comparison

# The paper's inputs typed from methodology.md section 5 (independent of data/paper/inputs.csv).
PAPER = {
    "Balkhash": dict(
        m1=80,
        m2=27.3,
        e=(15, 41, 5, 2.3),
        a=(111, 4.2, 1.4, 95),
        d=(10, 49),
        inv=((9, 94), (9, 96), (298, 12300), (557, 11159)),
        ag=(0, 100, 100),
        sp=(100, 100),
    ),
    "Karazhal": dict(
        m1=71,
        m2=50,
        e=(0.8, 46, 8.6, 0.5),
        a=(115, 1.6, 0.7, 96),
        d=(4, 49),
        inv=((3, 94), (11, 96), (652, 12300), (652, 11159)),
        ag=(0, 0, 100),
        sp=(100, 0),
    ),
    "Temirtau": dict(
        m1=82,
        m2=12,
        e=(25, 36, 8.6, 5.2),
        a=(93, 7.2, 0.7, 95.4),
        d=(3.5, 53),
        inv=((14, 94), (15, 96), (741, 12300), (1288, 11159)),
        ag=(100, 100, 100),
        sp=(100, 0),
    ),
}


def independent(t):
    econ = sum(t["e"]) / 4
    soc = sum(t["a"]) / 4
    return {
        "mono_profile": math.sqrt(t["m1"] * t["m2"]),
        "economy": econ,
        "social": soc,
        "economy_social": math.sqrt(econ * soc),
        "demographic": math.sqrt(sum(t["d"])),
        "investment": math.sqrt(sum(100 * c / n for c, n in t["inv"])),
        "agglomeration": math.sqrt(sum(t["ag"])),
        "special": math.sqrt(sum(t["sp"])),
    }


@pytest.fixture(scope="module")
def results(method):
    recs = load_paper()["inputs"]
    return {r["town"]: r for r in evaluate_records(recs, method)}


@pytest.mark.parametrize("town", list(PAPER))
def test_recomputed_values_match_independent_calculation(results, town):
    expected = independent(PAPER[town])
    for code, value in expected.items():
        assert results[town]["indices"][code] == pytest.approx(value, abs=1e-9), code


# Section 6's recomputed column, to the precision printed there.
@pytest.mark.parametrize(
    "town,code,value,places",
    [
        ("Balkhash", "mono_profile", 46.73, 2),
        ("Balkhash", "economy_social", 28.93, 2),
        ("Balkhash", "investment", 5.135, 3),
        ("Karazhal", "investment", 5.079, 3),
        ("Karazhal", "demographic", 7.28, 2),
        ("Temirtau", "social", 49.075, 3),
        ("Temirtau", "economy_social", 30.29, 2),
        ("Balkhash", "economy", 15.825, 3),
        ("Karazhal", "economy", 13.975, 3),
        ("Temirtau", "economy", 18.7, 3),
    ],
)
def test_section6_recomputed_column(results, town, code, value, places):
    assert round(results[town]["indices"][code], places) == pytest.approx(value)


LEVELS = {  # recomputed levels (methodology.md sections 5 and 6)
    "Balkhash": dict(
        mono_profile="medium",
        economy_social="above_average",
        demographic="average",
        investment="above_average",
        agglomeration="above_average",
        special="high",
    ),
    "Karazhal": dict(
        mono_profile="medium",
        economy_social="above_average",
        demographic="below_average",
        investment="above_average",
        agglomeration="average",
        special="average",
    ),
    "Temirtau": dict(
        mono_profile="low",
        economy_social="high",
        demographic="average",
        investment="above_average",
        agglomeration="high",
        special="average",
    ),
}


@pytest.mark.parametrize("town", list(LEVELS))
def test_recomputed_levels(results, town):
    assert results[town]["levels"] == LEVELS[town]
    assert results[town]["scenario"]["completeness"] == "6/6"
    assert results[town]["missing"] == []


def test_printed_values_within_rounding_unless_an_erratum_explains(method):
    rows = compare(method)
    assert len(rows) == 37
    for r in rows:
        flagged = r["value_differs"] or r["level_differs"]
        if not flagged:
            assert abs(r["recomputed"] - float(r["printed"])) < r["tolerance"]
        # every disagreement has a recorded reason, and every recorded reason a disagreement
        assert (r["reason"] is not None) == flagged, (r["town"], r["output"], r["table"])


def test_flagged_disagreements_are_the_errata(method):
    flagged = {
        (r["town"], r["output"], r["table"])
        for r in compare(method)
        if r["value_differs"] or r["level_differs"]
    }
    assert flagged == {
        ("Balkhash", "mono_profile", "Table 2"),
        ("Balkhash", "investment_item_3", "Table 4"),
        ("Balkhash", "investment", "Table 4"),
        ("Karazhal", "investment_item_3", "Table 4"),
        ("Karazhal", "investment", "Table 4"),
        ("Karazhal", "demographic", "Table 5"),
        ("Temirtau", "economy_social", "Table 3"),
        ("Temirtau", "investment", "Table 4"),
    }


def test_balkhash_printed_mono_profile_is_100_minus_root(results):
    assert 100 - results["Balkhash"]["indices"]["mono_profile"] == pytest.approx(53, abs=0.5)


def test_scenario_calibration_against_table5(method):
    comp = {c["town"]: c for c in scenario_comparison(method)}
    assert set(comp["Balkhash"]["from_paper_levels"]["recommended"]) <= {
        "innovative",
        "diversification",
    }
    assert comp["Karazhal"]["from_paper_levels"]["recommended"] == ["balanced"]
    assert comp["Temirtau"]["from_paper_levels"]["recommended"] == ["diversification"]
    # Karazhal's Table 5 reading of demographic (above average) still recommends balanced first
    from scoring.paper import paper_levels
    from scoring.scenarios import score_scenarios

    alt = score_scenarios(paper_levels(load_paper(), "Karazhal", prefer_table="Table 5"), method)
    assert alt["recommended"][0] == "balanced"
    for c in comp.values():
        assert c["spearman_paper_levels"] > 0.5
        assert all(0 <= v <= 6 for v in c["from_paper_levels"]["scores"].values())


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    from scoring.scenarios import spearman

    cases = [
        ([1, 4, 2, 1], [1, 5, 2, 3]),
        ([0, 3, 4, 4], [0, 4, 5, 5]),
        ([3, 1, 2, 5, 5], [1, 2, 3, 4, 5]),
    ]
    for a, b in cases:
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
