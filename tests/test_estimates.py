"""Interval estimates of missing inputs (issue 22): the file, the exact and probable parts, the
back-test."""

import csv
import io
import json
import math
import random
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from scoring import load_method
from scoring.__main__ import main
from scoring.engine import evaluate_many
from scoring.estimates import (
    Estimate,
    EstimateError,
    draw_masks,
    exact,
    load_estimates,
    reachable,
    with_estimates,
)
from scoring.uncertainty import assess

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PAPER_IDS = {"Balkhash": "balkhash", "Karazhal": "karazhal", "Temirtau": "temirtau"}


@pytest.fixture(scope="module")
def method():
    return load_method()


@pytest.fixture(scope="module")
def paper():
    """Town id -> the paper's printed inputs as floats."""
    with open(DATA / "paper" / "inputs.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {PAPER_IDS[r["town"]]: {k: float(v) for k, v in r.items() if k != "town"} for r in rows}


def _est(name, low, high, most_likely=None, town="x"):
    return Estimate(
        town, name, low, high, most_likely, 0.75, "test", "test source", "test", "2026-12-07"
    )


def _atlas(rows, method):
    """A minimal atlas (what with_estimates reads) from input rows: id -> inputs."""
    towns = [
        {"id": tid, "inputs": dict(inputs), "levels": r["levels"], "scenario": r["scenario"]}
        for (tid, inputs), r in zip(rows.items(), evaluate_many(list(rows.values()), method))
    ]
    return {"parameters": {}, "towns": towns}


# -- the exact part ----------------------------------------------------------------------------


@pytest.mark.parametrize("town", sorted(PAPER_IDS.values()))
def test_a_point_interval_equals_the_sourced_value(method, paper, town):
    values = paper[town]
    sourced = evaluate_many([values], method)[0]
    for name in ("demo_natural_growth", "social_avg_wage", "mono_output_share"):
        inputs = dict(values, **{name: None})
        point = {name: _est(name, values[name], values[name])}
        reach = reachable([inputs], [point], method)[0]
        levels = evaluate_many([inputs], method)[0]["levels"]
        code = method.inputs[name].indicator
        code = code if code in method.levelled else "economy_social"
        assert reach == {
            code: [[b.level for b in method.indicators[code].bands].index(sourced["levels"][code])]
        }
        got = exact(levels, reach, point, method)
        for key in ("possible", "settled", "decisive", "completions"):
            assert got[key] == sourced["scenario"][key], (name, key)


def test_an_interval_inside_one_band_settles_that_indicator(method, paper):
    # Karazhal without its demographic pair could be balanced, innovative or diversification;
    # 3.5..4.5 + 48.5..49.5 gives sqrt(52..54) = 7.21..7.35, inside 'below_average' (5, 7.5]: the
    # town is settled again (balanced), by these two estimates.
    inputs = dict(paper["karazhal"], demo_natural_growth=None, demo_active_share=None)
    est = {
        "demo_natural_growth": _est("demo_natural_growth", 3.5, 4.5, 4.0, "karazhal"),
        "demo_active_share": _est("demo_active_share", 48.5, 49.5, None, "karazhal"),
    }
    atlas = with_estimates(
        _atlas({"karazhal": inputs}, method), {"karazhal": est}, method, draws=50
    )
    s = atlas["towns"][0]["scenario"]
    assert s["without_estimates"] == {
        "possible": ["balanced", "innovative", "diversification"],
        "settled": False,
    }
    assert s["estimated_levels"] == {
        "demographic": {
            "levels": ["below_average"],
            "inputs": ["demo_natural_growth", "demo_active_share"],
        }
    }
    assert s["settled"] is True and s["possible"] == ["balanced"]
    assert s["settled_by"] == ["demo_active_share", "demo_natural_growth"]
    assert s["decisive"] is None
    assert set(atlas["towns"][0]["estimated"]) == set(est)


def test_an_interval_across_a_band_edge_reaches_both_bands(method, paper):
    inputs = dict(paper["balkhash"], demo_natural_growth=None)
    # sqrt(49 + 5) = 7.35 (below_average) .. sqrt(49 + 8) = 7.55 (average)
    reach = reachable(
        [inputs], [{"demo_natural_growth": _est("demo_natural_growth", 5, 8)}], method
    )[0]
    assert reach == {"demographic": [2, 3]}
    levels = evaluate_many([inputs], method)[0]["levels"]
    got = assess(levels, method, reach)
    brute = set()
    for level in ("below_average", "average"):
        brute |= set(assess(dict(levels, demographic=level), method)["possible"])
    assert set(got["possible"]) == brute


def test_intervals_never_override_sourced_values(method, paper):
    wild = {
        n: _est(n, 0, 100)
        for n in ("mono_output_share", "demo_active_share", "econ_profitable_share")
    }
    wild |= {
        "social_unemployment": _est("social_unemployment", 0, 1000),
        "demo_natural_growth": _est("demo_natural_growth", -50, 50),
    }
    atlas = with_estimates(
        _atlas({"temirtau": paper["temirtau"]}, method), {"temirtau": wild}, method, draws=200
    )
    town = atlas["towns"][0]
    sourced = evaluate_many([paper["temirtau"]], method)[0]
    assert town["estimated"] == {}
    assert town["levels"] == sourced["levels"]
    assert town["scenario"]["possible"] == sourced["scenario"]["possible"]
    assert town["scenario"]["estimated_levels"] == {}
    base = {n: [v] for n, v in paper["temirtau"].items()}
    assert (
        draw_masks(base, [wild], method, draws=200) == draw_masks(base, [{}], method, draws=200)
    ).all()


def test_the_pipeline_keeps_the_sourced_mode_unchanged(method):
    from scoring.pipeline import Pipeline

    pipe = Pipeline()
    plain, with_est = pipe.run(), pipe.run(estimates=True)
    assert "estimates" not in plain["parameters"]
    assert all("estimated" not in t and "likely" not in t["scenario"] for t in plain["towns"])
    for a, b in zip(plain["towns"], with_est["towns"]):
        assert a["inputs"] == b["inputs"] and a["levels"] == b["levels"]
        assert a["scenario"]["recommended"] == b["scenario"]["recommended"]
        assert set(b["scenario"]["possible"]) <= set(a["scenario"]["possible"])
        lk = b["scenario"]["likely"]
        assert lk["scenario"] in b["scenario"]["outcomes"] and 0 < lk["share"] <= 1
    # the paper's towns have all their statistics sourced: no estimate is used there
    assert all(t["estimated"] == {} for t in with_est["towns"] if t["id"] in PAPER_IDS.values())


def test_atlas_json_with_estimates(capsys):
    assert main(["atlas", "--json", "--with-estimates"]) == 0
    towns = json.loads(capsys.readouterr().out)
    aksu = next(t for t in towns if t["town"] == "Aksu")
    assert aksu["estimated"]["demo_natural_growth"] == {
        "low": -4.0,
        "high": 14.1,
        "method": "town_figure_pm",
        "source": (
            "https://github.com/Nurasssyl/Natural-Growth-Kazakhstan/blob/"
            "75f03b818b67052965e96b38809519b2f9f6b577/Audandar-natural-growth.csv"
        ),
    }
    assert set(aksu["scenario"]["likely"]) == {"scenario", "share", "coloured"}


# -- the file ------------------------------------------------------------------------------------


def test_the_estimates_file_is_what_the_rules_give():
    assert main(["build-estimates", "--check"]) == 0


def test_estimates_file_rows_recomputed_from_the_evidence(method):
    """Every row of data/estimates.csv from the evidence, by the note's arithmetic."""
    with open(DATA / "sources" / "estimates_evidence.csv", newline="", encoding="utf-8") as fh:
        ev = list(csv.DictReader(fh))
    with open(DATA / "towns.csv", newline="", encoding="utf-8") as fh:
        towns = {r["id"]: r for r in csv.DictReader(fh)}

    def fig(geo, ind, year=None, levels=None):
        for r in ev:
            if (
                (r["geography"], r["indicator"]) == (geo, ind)
                and year in (None, r["year"])
                and (levels is None or r["geography_level"] in levels)
            ):
                try:
                    return float(r["value"]), r
                except ValueError:
                    continue
        return None

    def expected(tid, name):
        town, oblast = towns[tid]["name_en"], towns[tid]["oblast"]
        if name == "demo_natural_growth":
            v = fig(town, "natural_growth_rate", "2023", ("town", "district"))[0]
            return v - 9, v + 9
        if name == "demo_active_share":
            if oblast == "Karaganda":
                share = 699.7e3 / 1377800 * 100
            elif oblast == "Pavlodar":
                share = 398.2e3 / 753484 * 100
            else:
                return 35, 60
            return share - 4, share + 4
        if name == "social_unemployment":
            own = fig(town, "unemployment_rate", levels=("town",))
            if own and own[1]["year"].isdigit():
                ref = fig(oblast, "unemployment_rate", own[1]["year"], ("oblast",))[0]
                age = 2025 - int(own[1]["year"])
                return 100 * own[0] / ref - 3 * age, 100 * own[0] / ref + 3 * age
            r = (
                fig(oblast, "unemployment_rate", "2022")[0]
                / fig("Kazakhstan", "unemployment_rate", "2022")[0]
            )
            return 80 * min(1, r), 185 * max(1, r)
        r = (
            fig(oblast, "avg_monthly_nominal_wage", "2022 (Jan-Dec)")[0]
            / fig("Kazakhstan", "avg_monthly_nominal_wage", "2022 (Jan-Dec)")[0]
        )
        return 58 * min(1, r), 155 * max(1, r)

    with open(DATA / "estimates.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * 24
    assert {r["town"] for r in rows} == set(towns) - set(PAPER_IDS.values())
    for r in rows:
        lo, hi = expected(r["town"], r["input"])
        # rounded outwards to 0.1: never narrower than the rule, at most 0.1 wider
        assert lo - 0.1 - 1e-9 <= float(r["low"]) <= lo + 1e-9, r
        assert hi - 1e-9 <= float(r["high"]) <= hi + 0.1 + 1e-9, r
        assert r["coverage"] == "0.75"
    assert load_estimates(DATA / "estimates.csv", method, towns=towns)


def _write(
    tmp_path, rows, header="town,input,low,high,most_likely,coverage,method,sources,made_by,made_at"
):
    path = tmp_path / "estimates.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_bad_estimate_rows_give_a_clear_error(tmp_path, method):
    tail = "0.75,rule,https://example.org,me,2026-12-07"
    path = _write(
        tmp_path,
        [
            f"aksu,demo_active_share,50,40,,{tail}",
            f"aksu,mono_output_share,-5,120,,{tail}",
            f"aksu,inv_projects_done_total,1,2,,{tail}",
            f"nowhere,social_avg_wage,50,60,,{tail}",
            f"aksu,social_avg_wage,50,60,70,{tail}",
            f"aksu,social_unemployment,abc,60,,{tail}",
            "aksu,demo_natural_growth,1,2,,1.5,,https://example.org,me,yesterday",
        ],
    )
    with pytest.raises(EstimateError) as err:
        load_estimates(path, method, towns=["aksu", "abay"])
    text = str(err.value)
    assert "estimates.csv row 2 fields 'low', 'high': 50 > 40" in text
    assert (
        "row 3 fields 'low', 'high': -5 to 120 outside mono_output_share's range 0 to 100" in text
    )
    assert "row 4 field 'input': 'inv_projects_done_total' cannot hold an estimate" in text
    assert "row 5 field 'town': 'nowhere' is not a town; allowed: abay, aksu" in text
    assert "row 6 field 'most_likely': 70 outside low-high" in text
    assert "row 7 field 'low': value 'abc' is not a finite number" in text
    assert "row 8 field 'coverage': 1.5; allowed: above 0, at most 1" in text
    assert "row 8 field 'method' is empty" in text
    assert "row 8 field 'made_at': 'yesterday'; allowed: a date YYYY-MM-DD" in text
    with pytest.raises(EstimateError, match="column.s. made_at missing"):
        load_estimates(
            _write(
                tmp_path,
                [],
                header="town,input,low,high,most_likely,coverage,method,sources,made_by",
            ),
            method,
        )
    dup = _write(tmp_path, [f"aksu,social_avg_wage,50,60,,{tail}"] * 2)
    with pytest.raises(EstimateError, match="row 3: a second estimate of social_avg_wage"):
        load_estimates(dup, method)


# -- the back-test -------------------------------------------------------------------------------


def _levels(values, method, shift):
    """Band positions of every levelled indicator, computed here from the formulas."""
    v = values
    econ = (
        v["econ_industrial_output"]
        + v["econ_profitable_share"]
        + v["econ_fixed_investment"]
        + v["econ_budget_revenue"]
    ) / 4
    social = (
        v["social_unemployment"]
        + v["social_culture_facilities"]
        + v["social_edu_med_facilities"]
        + v["social_avg_wage"]
    ) / 4
    pairs = [
        ("inv_projects_done", "inv_projects_done_total"),
        ("inv_projects_planned", "inv_projects_planned_total"),
        ("inv_jobs_created", "inv_jobs_created_total"),
        ("inv_jobs_planned", "inv_jobs_planned_total"),
    ]
    index = {
        "mono_profile": math.sqrt(v["mono_output_share"] * v["mono_employment_share"]),
        "economy_social": math.sqrt(econ * social),
        "demographic": math.sqrt(v["demo_natural_growth"] + v["demo_active_share"]),
        "investment": math.sqrt(sum(100 * v[c] / v[t] for c, t in pairs)),
        "agglomeration": math.sqrt(
            v["aggl_in_fua"] + v["aggl_near_large_city"] + v["aggl_corridor_junction"]
        ),
        "special": math.sqrt(v["special_raw_materials"] + v["special_tourism"]),
    }
    out = {}
    for code, x in index.items():
        bands = method.indicators[code].bands
        uppers = [b.upper * (1 + shift[code]) for b in bands[:-1]]
        out[code] = bands[sum(x > u for u in uppers)].level
    return out


def _outcome(levels, method, margin):
    scores = {s: sum(levels[c] in rule[c][0] for c in rule) for s, rule in method.rules.items()}
    best = max(scores.values())
    return frozenset(s for s, n in scores.items() if n >= best - margin)


def test_backtest_numbers_recomputed_independently(method, paper):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["backtest", "--json"]) == 0
    result = json.loads(out.getvalue())
    # coverage: the intervals of the rules (as recomputed above) hold the paper's values
    karaganda = 699.7e3 / 1377800 * 100  # labour force Q1 2016 / population 2019, %
    intervals = {
        "balkhash": {
            "demo_natural_growth": (7.38 - 9, 7.38 + 9),
            "demo_active_share": (karaganda - 4, karaganda + 4),
            "social_unemployment": (80 * 4.4 / 4.9, 185),
            "social_avg_wage": (58 * 283308 / 308033, 155),
        },
        "karazhal": {
            "demo_natural_growth": (12.37 - 9, 12.37 + 9),
            "demo_active_share": (35, 60),
            "social_unemployment": (80 * 4.3 / 4.9, 185),
            "social_avg_wage": (58, 155 * 404279 / 308033),
        },
        "temirtau": {
            "demo_natural_growth": (2.78 - 9, 2.78 + 9),
            "demo_active_share": (karaganda - 4, karaganda + 4),
            "social_unemployment": (80 * 4.4 / 4.9, 185),
            "social_avg_wage": (58 * 283308 / 308033, 155),
        },
    }
    inside = [
        lo <= paper[t][n] <= hi for t, ivs in intervals.items() for n, (lo, hi) in ivs.items()
    ]
    assert result["n"] == len(inside) == 12
    assert result["coverage"] == pytest.approx(sum(inside) / len(inside))
    assert result["level"] == 0.75 and result["coverage"] >= result["level"] - 0.1
    for c in result["checks"]:
        lo, hi = intervals[c["town"]][c["input"]]
        assert c["low"] == pytest.approx(lo, abs=0.1) and c["high"] == pytest.approx(hi, abs=0.1)
    # p_actual: an independent Monte Carlo of the same model (estimates uniform or triangular
    # within the rows' intervals, unestimated inputs at the paper's values with +-10 % errors,
    # band shifts +-10 %, margin uniform 0-1.25)
    rng = random.Random(7)
    n = 4000
    towns = {t["id"]: t for t in result["towns"]}
    rows = {(c["town"], c["input"]): c for c in result["checks"]}
    ml = {
        ("balkhash", "demo_natural_growth"): 7.38,
        ("karazhal", "demo_natural_growth"): 12.37,
        ("temirtau", "demo_natural_growth"): 2.78,
        ("karazhal", "demo_active_share"): 47.9,
        ("balkhash", "demo_active_share"): karaganda,
        ("temirtau", "demo_active_share"): karaganda,
    }
    statistical = method.input_names("statistical")
    for tid in intervals:
        actual = _outcome(
            _levels(paper[tid], method, dict.fromkeys(method.levelled, 0.0)), method, 0
        )
        assert " + ".join(sorted(actual)) == " + ".join(sorted(towns[tid]["actual"].split(" + ")))
        hits = 0
        for _ in range(n):
            values = {}
            for name, x in paper[tid].items():
                row = rows.get((tid, name))
                if row is not None:
                    m = ml.get((tid, name))
                    values[name] = (
                        rng.uniform(row["low"], row["high"])
                        if m is None
                        else rng.triangular(row["low"], row["high"], m)
                    )
                elif name in statistical:
                    spec = method.inputs[name]
                    y = x * (1 + rng.uniform(-0.1, 0.1))
                    y = y if spec.min is None else max(y, spec.min)
                    values[name] = y if spec.max is None else min(y, spec.max)
                else:
                    values[name] = x
            shift = {c: rng.uniform(-0.1, 0.1) for c in method.levelled}
            margin = rng.uniform(0, 1.25)
            hits += _outcome(_levels(values, method, shift), method, margin) == actual
        assert towns[tid]["p_actual"] == pytest.approx(hits / n, abs=0.06), tid


def test_pipeline_takes_an_estimate_table(method):
    from scoring.pipeline import Pipeline

    table = {
        "aksu": {
            "demo_natural_growth": _est("demo_natural_growth", 5.0, 5.1, None, "aksu"),
            "demo_active_share": _est("demo_active_share", 52.8, 52.9, None, "aksu"),
        }
    }
    atlas = Pipeline().run(estimates=True, estimate_table=table)
    towns = {t["id"]: t for t in atlas["towns"]}
    # sqrt(57.8 .. 58.0) = 7.60 .. 7.62: 'average'
    assert towns["aksu"]["scenario"]["estimated_levels"]["demographic"]["levels"] == ["average"]
    assert towns["aksu"]["levels"]["demographic"] is None  # a level from values only
    assert towns["abay"]["estimated"] == {}
