"""The method kernel (scoring/kernel.py): rows evaluated together equal each town's scalar path and
an independent plain-Python reading of the method files; a rule changed in the data reaches every
user (Pipeline.run, the missing-data completions, the robustness draws)."""

import copy
import csv
import dataclasses
import itertools
import math
import random
import shutil

import numpy as np
import pytest

from scoring import evaluate_records, kernel, load_method
from scoring.draws import design, load_choices
from scoring.engine import evaluate_uncached
from scoring.paper import load_paper
from scoring.pipeline import Pipeline
from scoring.robustness import DrawModel, default_mismatches
from scoring.scenarios import score_scenarios
from scoring.uncertainty import assess


def _random_inputs(method, n, seed):
    """Towns with valid random inputs, about a fifth of them missing."""
    rng = random.Random(seed)
    towns = []
    for _ in range(n):
        row = {}
        for name, spec in method.inputs.items():
            if rng.random() < 0.2:
                row[name] = None
            elif spec.kind == "binary":
                row[name] = rng.choice([0.0, 100.0])
            elif spec.kind == "total":
                row[name] = float(rng.randint(1, 500))
            elif spec.kind == "count":
                row[name] = float(rng.randint(0, 1))
            else:
                row[name] = round(rng.uniform(0.0, 140.0), 3)
        towns.append(row)
    return towns


def _columns(towns, method):
    return {n: np.array([math.nan if t[n] is None else t[n] for t in towns]) for n in method.inputs}


# -- an independent reading of the method files ----------------------------------------------------


def _read(method, name):
    with open(f"{method.source_dir}/{name}", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def reference(inputs, method):
    """Indices, levels and '+' counts of one town by plain Python from the CSV files themselves."""
    known, indices = dict(inputs), {}
    for row in _read(method, "indicators.csv"):
        parts = row["inputs"].split(";")
        if row["aggregation"] == "root_of_item_shares":
            pairs = [p.split("/") for p in parts]
            xs = [
                None if known[c] is None or known[t] is None else 100 * known[c] / known[t]
                for c, t in pairs
            ]
        else:
            xs = [known[p] for p in parts]
        aggregate = {
            "mean": lambda v: sum(v) / len(v),
            "geometric_mean": lambda v: math.sqrt(math.prod(v)),  # two operands here
            "root_of_sum": lambda v: math.sqrt(sum(v)),
            "root_of_item_shares": lambda v: math.sqrt(sum(v)),
        }
        value = None if any(x is None for x in xs) else aggregate[row["aggregation"]](xs)
        indices[row["code"]] = known[row["code"]] = value
    levels = {}
    for code, rows in itertools.groupby(_read(method, "bands.csv"), key=lambda r: r["indicator"]):
        value = indices[code]
        levels[code] = (
            None
            if value is None
            else next(
                r["level"]
                for r in sorted(rows, key=lambda r: int(r["order"]))
                if not r["upper_bound"] or value <= float(r["upper_bound"])
            )
        )
    plus = {s: 0 for s in method.scenarios}
    for r in _read(method, "scenario_rules.csv"):
        plus[r["scenario"]] += levels[r["indicator"]] in r["levels"].split("|")
    return indices, levels, plus


# -- the kernel against the scalar path ---------------------------------------------------------


@pytest.fixture(scope="module")
def towns(method):
    paper = [r["inputs"] for r in evaluate_records(load_paper()["inputs"], method)]
    return paper + _random_inputs(method, 200, seed=4)


def test_one_row_equals_the_scalar_path_and_the_reference(method, towns):
    for inputs in towns:
        ev = kernel.evaluate(_columns([inputs], method), method)
        scalar = evaluate_uncached(inputs, method)
        ref_indices, ref_levels, ref_plus = reference(inputs, method)
        for code, value in scalar["indices"].items():
            got = float(ev.indices[code][0])
            assert (value is None) == math.isnan(got), code
            if value is not None:
                assert got == value and value == pytest.approx(ref_indices[code], rel=1e-12), code
        for code, level in scalar["levels"].items():
            pos = int(ev.levels[code][0])
            bands = method.indicators[code].bands
            assert (None if pos == kernel.MISSING else bands[pos].level) == level
            assert level == ref_levels[code], code
        s = scalar["scenario"]
        assert dict(zip(method.rules, ev.scores[0].tolist())) == s["scores"] == ref_plus
        outcome = kernel.members(int(ev.mask[0]), method)
        order = list(method.rules).index
        assert outcome == (s["tied"] if s["tie"] else sorted(s["recommended"], key=order))


def test_many_rows_at_once_equal_one_row_at_a_time(method, towns):
    ev = kernel.evaluate(_columns(towns, method), method)
    for i, inputs in enumerate(towns):
        one = kernel.evaluate(_columns([inputs], method), method)
        for code in method.indicators:
            np.testing.assert_array_equal(ev.indices[code][i], one.indices[code][0])
        assert all(ev.levels[c][i] == one.levels[c][0] for c in method.levelled)
        assert (ev.scores[i] == one.scores[0]).all() and ev.mask[i] == one.mask[0]


def test_positions_follow_the_boundary_rule():
    bounds = np.array([5.0, 10.0, 15.0])
    got = kernel.positions(np.array([0.0, 5.0, 5.000001, 10.0, 15.0, 16.0, math.nan]), bounds)
    assert got.tolist() == [0, 0, 1, 1, 2, 3, kernel.MISSING]


def test_no_level_at_all_is_insufficient_data(method):
    ev = kernel.evaluate({n: np.array([math.nan]) for n in method.inputs}, method)
    assert ev.mask.tolist() == [0] and ev.scores.tolist() == [[0] * len(method.rules)]
    assert score_scenarios({}, method)["recommended"] == []


def test_unknown_level_is_named(method):
    with pytest.raises(
        ValueError, match="level 'huge' is not a band of special; allowed: low, average, high"
    ):
        score_scenarios({"special": "huge"}, method)


# -- one rule change, three users -------------------------------------------------------------


@pytest.fixture(scope="module")
def changed(tmp_path_factory, method):
    """The shipped method with one cell of scenario_rules.csv changed: inertial also gets a '+' from
    an average agglomeration (the rule had it for 'low' only)."""
    d = tmp_path_factory.mktemp("rule") / "method"
    shutil.copytree(method.source_dir, d)
    text = (d / "scenario_rules.csv").read_text(encoding="utf-8")
    assert "inertial,agglomeration,low," in text
    text = text.replace("inertial,agglomeration,low,", "inertial,agglomeration,low|average,")
    (d / "scenario_rules.csv").write_text(text, encoding="utf-8")
    return load_method(d)


@pytest.fixture(scope="module")
def pipelines(changed):
    old = Pipeline()
    new = copy.copy(old)  # the same layers and network, another method
    new.sources = dataclasses.replace(new.sources, method=changed)
    return old, new


def test_a_rule_change_reaches_pipeline_run(pipelines):
    old, new = (p.run()["towns"] for p in pipelines)
    moved = 0
    for a, b in zip(old, new):
        bump = int(a["levels"]["agglomeration"] == "average")
        moved += bump
        assert b["scenario"]["scores"] == a["scenario"]["scores"] | {
            "inertial": a["scenario"]["scores"]["inertial"] + bump
        }, a["town"]
        reasons = [r["indicator"] for r in b["scenario"]["reasons"]["inertial"]]
        assert ("agglomeration" in reasons) == (a["levels"]["agglomeration"] in ("low", "average"))
    assert moved > 0


def test_a_rule_change_reaches_the_completions(method, changed):
    # known: all but agglomeration (inertial 3, balanced 3, innovative 0, diversification 2); an
    # average agglomeration recommends balanced alone before the change, inertial + balanced after
    levels = dict(
        mono_profile="high",
        economy_social="low",
        demographic="below_average",
        investment="average",
        agglomeration=None,
        special="average",
    )
    average = levels | {"agglomeration": "average"}
    assert score_scenarios(average, method)["recommended"] == ["balanced"]
    assert score_scenarios(average, changed)["recommended"] == ["inertial", "balanced"]
    before, after = assess(levels, method), assess(levels, changed)
    assert (before["decisive_mean"], after["decisive_mean"]) == (1.5, 1.75)  # 1,1,1,3 -> 1,2,1,3
    for m, got in ((method, before), (changed, after)):
        outcomes = set()
        for band in m.indicators["agglomeration"].bands:
            s = score_scenarios(levels | {"agglomeration": band.level}, m)
            outcomes.add((tuple(s["tied"] or s["recommended"]), s["tie"]))
        assert got["settled"] == (len(outcomes) == 1)
        assert got["possible"] == [s for s in m.scenarios if any(s in o for o, _ in outcomes)]


def test_a_rule_change_reaches_the_robustness_draws(pipelines):
    old, new = pipelines
    outs = []
    for p in pipelines:
        model = DrawModel(p, load_choices(p.method))
        out = model.evaluate(design(model.choices, 2, 0).a)
        assert default_mismatches(out, p.run(), p.method) == []
        outs.append(out)
    inertial = list(old.method.rules).index("inertial")
    average = [b.level for b in old.method.indicators["agglomeration"].bands].index("average")
    bump = (outs[0].levels["agglomeration"][0] == average).astype(int)
    assert bump.any()
    assert (outs[1].scores[0, :, inertial] == outs[0].scores[0, :, inertial] + bump).all()
