"""How sure is each recommendation: ties said as ties, missing levels as a range, data needed."""

import itertools
import json
import math
import random
import shutil
import subprocess
import sys

import pytest

from scoring import evaluate_records, load_method
from scoring.paper import load_paper
from scoring.scenarios import score_scenarios
from scoring.uncertainty import assess, data_needed

# Karazhal as the atlas scores it: the paper's inputs, but agglomeration derived from the road
# network
# (no corridor junction within 15 km, so aggl_in_fua = aggl_near_large_city = aggl_corridor_junction
# = 0).
KARAZHAL_ATLAS = dict(
    mono_profile="medium",
    economy_social="above_average",
    demographic="below_average",
    investment="above_average",
    agglomeration="low",
    special="average",
)


@pytest.fixture(scope="module")
def paper(method):
    return {r["town"]: r for r in evaluate_records(load_paper()["inputs"], method)}


def _method_with(tmp_path, old, new):
    d = tmp_path / "method"
    shutil.copytree(load_method().source_dir, d)
    text = (d / "method.json").read_text()
    assert old in text
    (d / "method.json").write_text(text.replace(old, new))
    return load_method(d)


def test_karazhal_paper_inputs_are_not_a_tie(paper):
    # The real figures from data/paper/inputs.csv: agglomeration sqrt(100) = 10 is 'average', which
    # gives balanced a fourth '+'.
    s = paper["Karazhal"]["scenario"]
    assert s["scores"] == {"inertial": 1, "balanced": 4, "innovative": 3, "diversification": 3}
    assert s["recommended"] == ["balanced"] and s["tie"] is False and s["tied"] == []
    assert s["settled"] is True and s["possible"] == ["balanced"] and s["decisive"] is None


def test_karazhal_with_derived_agglomeration_is_a_three_way_tie(method):
    rec = dict(load_paper()["inputs"][1], aggl_corridor_junction=0)
    assert rec["town"] == "Karazhal"
    s = evaluate_records([rec], method)[0]["scenario"]
    assert s["scores"] == {"inertial": 2, "balanced": 3, "innovative": 3, "diversification": 3}
    assert s["recommended"] == ["balanced", "innovative"]  # kept for backward compatibility
    assert s["tie"] is True and s["tied"] == ["balanced", "innovative", "diversification"]
    assert (
        s["summary"]
        == "no single recommendation: balanced, innovative and diversification tie at 3"
    )
    assert s["explanation"].startswith(
        "no single recommendation: balanced, innovative and diversification "
        "tie at 3 (from 6/6 indicators). "
    )
    assert s["settled"] is True and s["possible"] == s["tied"]


def test_no_tie_keeps_the_old_text(paper):
    s = paper["Temirtau"]["scenario"]
    assert s["summary"] == "recommended: diversification"
    assert s["explanation"].startswith(
        "recommended: diversification (from 6/6 indicators). diversification +6"
    )


def test_margin_tie_is_said_within_the_margin(tmp_path):
    m1 = _method_with(tmp_path, '"recommend_margin": 0', '"recommend_margin": 1')
    s = score_scenarios(dict(KARAZHAL_ATLAS, agglomeration="average"), m1)  # 1 / 4 / 3 / 3
    assert s["tie"] is True and s["tied"] == ["balanced", "innovative", "diversification"]
    assert s["recommended"] == ["balanced", "innovative"]
    assert (
        s["summary"] == "no single recommendation: balanced, innovative and diversification "
        "tie within 1 of the top score 4"
    )


@pytest.mark.parametrize("town", ["Balkhash", "Karazhal", "Temirtau"])
def test_complete_town_is_settled(paper, town):
    s = paper[town]["scenario"]
    assert s["settled"] is True and s["completions"] == 1
    assert s["possible"] == (s["tied"] or s["recommended"])
    assert s["decisive"] is None and s["decisive_worst"] is None and s["decisive_mean"] is None


def test_complete_tied_town_possible_is_the_tie(method):
    a = assess(KARAZHAL_ATLAS, method)
    assert a["settled"] is True and a["possible"] == ["balanced", "innovative", "diversification"]


def test_no_levels_everything_possible(method):
    s = score_scenarios({}, method)
    assert s["recommended"] == [] and s["tie"] is False and s["tied"] == []
    a = assess({c: None for c in method.levelled}, method)
    assert a["possible"] == list(method.scenarios)
    assert a["settled"] is False and a["decisive"] in method.levelled
    assert a["completions"] == math.prod(len(method.indicators[c].bands) for c in method.levelled)
    res = evaluate_records([{"town": "Empty"}], method)[0]["scenario"]
    assert res["possible"] == list(method.scenarios) and res["decisive"] is not None


def test_unknown_level_is_an_error(method):
    with pytest.raises(
        ValueError, match="level 'middling' is not a band of special; allowed: low, average, high"
    ):
        assess(dict(KARAZHAL_ATLAS, special="middling"), method)


# --- independent brute force ----------------------------------------------------------------------


def brute_force(levels, method):
    """itertools.product over the band levels of the missing indicators, calling score_scenarios."""
    missing = [c for c in method.levelled if levels.get(c) is None]
    choices = [[b.level for b in method.indicators[c].bands] for c in missing]
    outcomes = {}
    for combo in itertools.product(*choices):
        s = score_scenarios(dict(levels, **dict(zip(missing, combo))), method)
        outcomes[combo] = (
            frozenset(s["tied"] if s["tie"] else s["recommended"]),
            s["tie"],
        )  # a set
    possible = {x for scen, _ in outcomes.values() for x in scen}
    settled = len(set(outcomes.values())) == 1
    best = None
    if not settled:
        for i, code in enumerate(missing):
            counts = [
                len({x for combo, (scen, _) in outcomes.items() if combo[i] == lv for x in scen})
                for lv in choices[i]
            ]
            key = (max(counts), sum(counts) / len(counts), i)
            best = key if best is None or key < best else best
    return {
        "possible": [s for s in method.scenarios if s in possible],
        "settled": settled,
        "decisive": missing[best[2]] if best else None,
        "decisive_worst": best[0] if best else None,
        "decisive_mean": best[1] if best else None,
        "completions": len(outcomes),
    }


def random_towns(method, n, seed):
    rng = random.Random(seed)
    return [
        {
            c: rng.choice(method.indicators[c].bands).level if rng.random() < 0.5 else None
            for c in method.levelled
        }
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    "setting",
    [
        None,
        ('"recommend_margin": 0', '"recommend_margin": 1'),
        ('"recommend_max": 2', '"recommend_max": 1'),
    ],
)
def test_enumeration_agrees_with_brute_force(tmp_path, method, setting):
    m = _method_with(tmp_path, *setting) if setting else method
    for levels in random_towns(m, 200, seed=9):
        got, want = assess(levels, m), brute_force(levels, m)
        assert got["decisive_mean"] == pytest.approx(want.pop("decisive_mean")), levels
        got.pop("decisive_mean")
        assert got == want, levels


# --- the constructed case: hand-computed ----------------------------------------------------------
# Known in every town below: mono medium (+balanced, +innovative), economy_social above average
# (+innovative, +diversification), investment above average (+innovative, +diversification).
#   A: demographic below average, agglomeration low, special missing. Scores before special
#      (inertial, balanced, innovative, diversification) = (2, 2, 3, 2); special low -> (3,2,3,2)
#      {inertial, innovative}; average -> (2,3,3,3) tie; high -> (2,2,4,3) {innovative}.
# Possible: all four; knowing special settles A whatever its value, leaving 2 / 3 / 1 scenarios.
#   C: demographic below average; agglomeration and special missing. Before: (1, 2, 3, 2).
#            special:  low                  average                 high
#      aggl low        {inertial,innovative} tie{bal,inn,div}        {innovative}
#      aggl average    {balanced,innovative} {balanced}              {innovative}
#      aggl above av.  {innovative}          tie{bal,inn,div}        {innovative}
#      aggl high       {innovative}          {innovative,divers.}    {innovative}
#      Knowing agglomeration leaves 4 / 2 / 3 / 2 possible (worst 4, never settles, never narrows);
#      knowing special leaves 3 / 3 / 1 (worst 3, mean 7/3; settles when high; always narrows).
#   E: demographic below average, special average, agglomeration missing. Before: (1, 3, 3, 3):
#      low -> tie {bal, inn, div}; average -> {balanced}; above average -> tie {bal, inn, div};
#      high -> {inn, div}.
#      Possible: balanced, innovative, diversification (3); knowing agglomeration settles E, but its
#      'low' still leaves 3 (3 / 1 / 3 / 2, mean 2.25), so it does not narrow in the worst case.
#   T: Temirtau without agglomeration: diversification whatever it is (settled, so not counted).
BASE = dict(mono_profile="medium", economy_social="above_average", investment="above_average")
TOWNS = {
    "A": dict(BASE, demographic="below_average", agglomeration="low", special=None),
    "C": dict(BASE, demographic="below_average", agglomeration=None, special=None),
    "E": dict(BASE, demographic="below_average", agglomeration=None, special="average"),
    "T": dict(
        mono_profile="low",
        economy_social="high",
        demographic="average",
        investment="above_average",
        agglomeration=None,
        special="average",
    ),
}


def test_constructed_assessments(method):
    a, c, e, t = (assess(TOWNS[k], method) for k in "ACET")
    assert a == {
        "possible": ["inertial", "balanced", "innovative", "diversification"],
        "settled": False,
        "decisive": "special",
        "decisive_worst": 3,
        "decisive_mean": 2.0,
        "completions": 3,
    }
    assert c["possible"] == ["inertial", "balanced", "innovative", "diversification"]
    assert (c["decisive"], c["decisive_worst"], c["completions"]) == ("special", 3, 12)
    assert c["decisive_mean"] == pytest.approx(7 / 3)
    assert e["possible"] == ["balanced", "innovative", "diversification"]
    assert (e["decisive"], e["decisive_worst"], e["decisive_mean"]) == ("agglomeration", 3, 2.25)
    assert t["settled"] is True and t["possible"] == ["diversification"] and t["decisive"] is None


def test_data_needed_ranking(method):
    plan = data_needed(TOWNS, method)
    assert [
        (r["indicator"], r["towns_settled_worst"], r["towns_settled_best"], r["towns_narrowed"])
        for r in plan
    ] == [("special", 1, 2, 2), ("agglomeration", 1, 1, 0)]
    special, aggl = plan
    assert special["towns"] == [
        {
            "town": "A",
            "settled_worst": True,
            "settled_best": True,
            "narrowed": True,
            "possible_now": 4,
            "possible_worst": 3,
        },
        {
            "town": "C",
            "settled_worst": False,
            "settled_best": True,
            "narrowed": True,
            "possible_now": 4,
            "possible_worst": 3,
        },
    ]
    assert [t["town"] for t in aggl["towns"]] == ["C", "E"]
    assert [(t["settled_worst"], t["narrowed"], t["possible_worst"]) for t in aggl["towns"]] == [
        (False, False, 4),
        (True, False, 3),
    ]


def test_data_needed_ignores_settled_and_complete_towns(method):
    assert data_needed({"T": TOWNS["T"], "K": KARAZHAL_ATLAS}, method) == []


# --- command line ---------------------------------------------------------------------------------


def run(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args], cwd=root, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def partial_csv(tmp_path_factory):
    f = tmp_path_factory.mktemp("cli") / "t.csv"
    paper = load_paper()["inputs"][1]
    cols = list(paper)
    tied = dict(paper, town="KarazhalDerived", aggl_corridor_junction=0)
    lone = {
        "town": "AgglOnly",
        "aggl_in_fua": 100,
        "aggl_near_large_city": 0,
        "aggl_corridor_junction": 100,
    }
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in (tied, lone)]
    f.write_text("\n".join(lines) + "\n")
    return f


def test_cli_json_scenario_keys(root, partial_csv):
    p = run(root, "evaluate", str(partial_csv), "--json")
    assert p.returncode == 0, p.stderr
    tied, lone = json.loads(p.stdout)
    assert set(tied["scenario"]) == {
        "scores",
        "recommended",
        "completeness",
        "explanation",
        "tied",
        "possible",
        "settled",
        "decisive",
    }
    assert tied["scenario"]["tied"] == ["balanced", "innovative", "diversification"]
    assert tied["scenario"]["settled"] is True and tied["scenario"]["decisive"] is None
    assert (
        lone["scenario"]["settled"] is False
        and lone["scenario"]["decisive"] in load_method().levelled
    )
    assert lone["scenario"]["tied"] == ["balanced", "innovative", "diversification"]
    assert lone["scenario"]["possible"] == ["inertial", "balanced", "innovative", "diversification"]


def test_cli_text_says_tie_and_undetermined(root, partial_csv):
    p = run(root, "evaluate", str(partial_csv))
    assert p.returncode == 0, p.stderr
    assert (
        "tie: no single recommendation: balanced, innovative and diversification tie at 3"
        in p.stdout
    )
    assert (
        "undetermined: any of inertial, balanced, innovative, diversification; most decisive"
        " missing input: " in p.stdout
    )


def test_collection_plan_against_brute_force(method):
    """Each step's settled towns equal an independent check: with the collected indicators fixed to
    any of their bands, every completion of the rest gives one outcome."""
    import itertools

    from scoring.scenarios import score_scenarios
    from scoring.uncertainty import collection_plan

    towns = {
        "a": {c: None for c in method.levelled},
        "b": {**{c: None for c in method.levelled}, "agglomeration": "high", "special": "high"},
        "c": {**{c: None for c in method.levelled}, "mono_profile": "low", "special": "low"},
    }
    plan = collection_plan(towns, method)
    bands = {c: [b.level for b in method.indicators[c].bands] for c in method.levelled}

    def outcome(levels):
        s = score_scenarios(levels, method)
        return (frozenset(s["tied"] or s["recommended"]), s["tie"])

    def settled(levels, known):
        free = [c for c in method.levelled if levels[c] is None and c not in known]
        for fixed in itertools.product(*(bands[c] for c in known if levels[c] is None)):
            base = dict(levels) | dict(zip([c for c in known if levels[c] is None], fixed))
            outs = {
                outcome(base | dict(zip(free, rest)))
                for rest in itertools.product(*(bands[c] for c in free))
            }
            if len(outs) > 1:
                return False
        return True

    known, last = (), -1
    for step in plan[:3]:
        known += (step["indicator"],)
        expected = [t for t, lv in towns.items() if settled(lv, known)]
        assert sorted(step["towns"]) == sorted(expected)
        assert step["towns_settled"] >= last
        last = step["towns_settled"]
