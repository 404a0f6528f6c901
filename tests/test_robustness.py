"""Robustness to the modelling choices: draws through the derivation and scoring, shares, stability,
variants and Sobol drivers (issue 9)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from scoring._errors import MethodError
from scoring.draws import CHOICES_FILE, design, load_choices
from scoring.pipeline import Pipeline
from benchmarks.robustness import pipeline_for_row
from scoring.robustness import DrawModel, default_mismatches, robustness
from scoring.sensitivity import sobol_indices

DRAWS = 1000


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline()


@pytest.fixture(scope="module")
def result(pipeline):
    return robustness(pipeline, draws=DRAWS, seed=0)


def _rows(path=CHOICES_FILE):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


# -- the choices file ------------------------------------------------------------------------------


def test_shipped_choices_load(method):
    choices = load_choices(method)
    kinds = {c.kind for c in choices}
    assert kinds == {"spatial param", "band shift", "rule margin", "measurement error", "dummy"}
    targets = {c.target for c in choices}
    assert {
        "fua_minutes",
        "near_km",
        "corridor_km",
        "large_city_min_pop",
        "speed_republican",
        "detour_access",
        "recommend_margin",
        "agglomeration",
        "mono_output_share",
    } <= targets


def test_choices_file_errors_name_file_row_and_choice(method, tmp_path):
    rows = _rows()
    rows[0] = rows[0] | {"default": "61"}  # fua_minutes: not the pipeline's default
    rows[1] = rows[1] | {"kind": "spatial"}
    rows[2] = rows[2] | {"target": "snap_km", "low": "100", "high": "140", "default": "120"}
    rows[12] = rows[12] | {"target": "economy"}  # a band shift of an indicator without bands
    rows[19] = rows[19] | {"low": "x"}
    rows.append(dict(rows[-1]))  # the dummy twice
    with pytest.raises(MethodError) as err:
        load_choices(method, _write(tmp_path / "uncertainty.csv", rows))
    text = str(err.value)
    assert "uncertainty.csv row 2 (fua_minutes): default 61 differs from the base value 60" in text
    assert (
        "uncertainty.csv row 3 (near_km): kind 'spatial' not one of spatial param, band shift"
        in text
    )
    assert "row 4 (corridor_km): target 'snap_km' is not a supported spatial parameter" in text
    assert "row 14 (band_mono_profile): target 'economy' is not a levelled indicator" in text
    assert "row 21 (err_mono_output_share): low 'x' is not a number" in text
    assert f"row {len(rows) + 1} (control_dummy): choice 'control_dummy' defined twice" in text


def test_choices_file_missing_column(method, tmp_path):
    p = tmp_path / "u.csv"
    p.write_text("choice,kind,target\nx,dummy,\n")
    with pytest.raises(MethodError, match="u.csv: missing column"):
        load_choices(method, p)


def test_design_is_seeded_and_starts_at_the_defaults(method):
    choices = load_choices(method)
    a1, a2, b = design(choices, 50, 3), design(choices, 50, 3), design(choices, 50, 4)
    assert (
        np.array_equal(a1.a, a2.a) and np.array_equal(a1.b, a2.b) and not np.array_equal(a1.a, b.a)
    )
    assert list(a1.a[0]) == [c.default for c in choices]
    lows, highs = np.array([c.low for c in choices]), np.array([c.high for c in choices])
    assert ((a1.a >= lows) & (a1.a <= highs)).all() and ((a1.b >= lows) & (a1.b <= highs)).all()
    assert a1.stacked().shape == (50 * (len(choices) + 2), len(choices))


# -- exactness against the real pipeline -----------------------------------------------------------


def test_draw_at_defaults_equals_the_pipeline(pipeline, result):
    model = DrawModel(pipeline, load_choices(pipeline.method))
    rows = design(model.choices, 2, 0).a
    out = model.evaluate(rows)
    assert default_mismatches(out, pipeline.run(), pipeline.method) == []
    assert result["check"] == "draw 0 (the defaults) equals Pipeline.run() for all 27 towns"
    atlas = {t["town"]: t["scenario"] for t in pipeline.run()["towns"]}
    for t in result["towns"]:
        s = atlas[t["town"]]
        assert t["default"] == (
            "tie: " + "/".join(s["tied"])
            if s["tie"]
            else " + ".join(sorted(s["recommended"], key=list(pipeline.method.rules).index))
            or "insufficient data"
        )


def test_random_draws_equal_the_pipeline_with_those_choices(pipeline):
    model = DrawModel(pipeline, load_choices(pipeline.method))
    rows = design(model.choices, 12, 11).a
    out = model.evaluate(rows)
    for k in range(1, len(rows)):
        atlas, shifted = pipeline_for_row(pipeline, model, rows[k])
        assert default_mismatches(out, atlas, shifted, row=k) == [], k


# -- properties of the result ----------------------------------------------------------------------


def test_all_draws_and_towns_reported(result):
    # the time of a run is measured in benchmarks/robustness.py, not here
    assert result["draws"] == DRAWS and len(result["towns"]) == 27


def test_shares_sum_to_one_and_modal_is_the_largest(result):
    for t in result["towns"]:
        assert sum(t["shares"].values()) == pytest.approx(1, abs=1e-5), t["town"]
        assert sum(t["outcomes"].values()) == pytest.approx(1, abs=1e-5), t["town"]
        assert t["shares"][t["modal"]] == max(t["shares"].values())
        assert 0 < t["stability"] <= 1
        assert t["outcomes"].get(t["default"]) == t["stability"]


def test_choices_without_effect_have_zero_index(pipeline, result):
    # the dummy changes nothing; nor does the population threshold while every large city is above
    # its range (the smallest, Konaev, has 56,436 people; the range ends at 50,000)
    high = next(c["high"] for c in result["choices"] if c["choice"] == "large_city_min_pop")
    idle = ["control_dummy"] + (
        ["large_city_min_pop"] if min(pipeline.spatial.city_pop.values()) > high else []
    )
    for t in result["towns"]:
        for name in idle:
            assert name not in t["drivers"] and name not in t["drivers_first_order"]
            assert all(name not in d for d in t["score_drivers"].values())


def test_variants_are_ordered(result):
    for t in result["towns"]:
        v = t["variants"]
        for s in v["realistic"]["scores"]:
            assert (
                v["pessimistic"]["scores"][s]
                <= v["realistic"]["scores"][s]
                <= v["optimistic"]["scores"][s]
            )


def test_known_drivers(result):
    towns = {t["town"]: t for t in result["towns"]}
    # Temirtau's special potential is 10.0, on the bound between average and high
    assert next(iter(towns["Temirtau"]["drivers"])) == "band_special"
    # Ridder's nearest large city is within the near_km range
    assert next(iter(towns["Ridder"]["drivers"])) == "near_km"
    # Balkhash's investment 5.135 is near the bound 5
    assert next(iter(towns["Balkhash"]["drivers"])) == "band_investment"


def test_zero_width_ranges_give_the_default_in_every_draw(pipeline, tmp_path):
    rows = [r | {"low": r["default"], "high": r["default"]} for r in _rows()]
    path = _write(tmp_path / "uncertainty.csv", rows)
    res = robustness(pipeline, draws=30, seed=5, choices_file=path)
    for t in res["towns"]:
        assert t["stability"] == 1 and t["outcomes"] == {t["default"]: 1}
        assert t["drivers"] == {} and t["drivers_first_order"] == {}
        assert t["variants"]["pessimistic"]["scores"] == t["variants"]["optimistic"]["scores"]
    model = DrawModel(pipeline, load_choices(pipeline.method, path))
    out = model.evaluate(design(model.choices, 30, 5).stacked())
    assert (out.mask == out.mask[0]).all() and (out.scores == out.scores[0]).all()


def test_progress_is_reported_to_the_end(pipeline):
    seen = []
    robustness(pipeline, draws=20, seed=1, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (100, 100) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_draws_are_processed_in_chunks_with_the_same_result(pipeline, monkeypatch):
    """Memory bounded: no evaluation holds more than CHUNK_ROWS rows whatever the draws, and the
    result of a seed is the same however the draws are cut."""
    import scoring.robustness as rob

    sizes = []
    evaluate = DrawModel.evaluate
    monkeypatch.setattr(
        DrawModel,
        "evaluate",
        lambda self, rows, progress=None: (sizes.append(len(rows)), evaluate(self, rows, progress))[
            1
        ],
    )
    whole = json.dumps(robustness(pipeline, draws=400, seed=11), sort_keys=True)
    assert len(sizes) == 1
    monkeypatch.setattr(rob, "CHUNK_ROWS", 600)
    sizes.clear()
    cut = json.dumps(robustness(pipeline, draws=400, seed=11), sort_keys=True)
    assert cut == whole
    assert len(sizes) > 10 and max(sizes) <= 600


def test_sobol_sums_equal_the_estimator_on_all_rows():
    from scoring.robustness import _SobolSums

    rng = np.random.default_rng(4)
    n, d = 300, 5
    y = rng.integers(0, 4, (n * (d + 2), 3))
    sums = _SobolSums(d, (3,))
    for lo, hi in ((0, 100), (100, 250), (250, 300)):  # the rows of draws lo..hi of each block
        sums.add(np.concatenate([y[k * n + lo : k * n + hi] for k in range(d + 2)]), hi - lo)
    first, total = sums.indices()
    want_first, want_total = sobol_indices(y, n, d)
    assert first == pytest.approx(want_first, rel=1e-9, abs=1e-12)
    assert total == pytest.approx(want_total, rel=1e-9, abs=1e-12)
    # an output constant over A and B (variance 0) gets 0, even where the mixed rows differ
    flat = np.ones((n * (d + 2), 1), dtype=np.int64)
    flat[2 * n : 3 * n] = 2
    sums = _SobolSums(d, (1,))
    sums.add(flat, n)
    assert (sums.indices()[0] == 0).all() and (sums.indices()[1] == 0).all()


# -- the estimator --------------------------------------------------------------------------------


def test_sobol_indices_of_a_linear_function():
    # y = x1 + 2 x2 (+ 0 x3), uniform inputs: S1 = ST = (1/5, 4/5, 0)
    rng = np.random.default_rng(0)
    n, d = 20000, 3
    a, b = rng.random((n, d)), rng.random((n, d))
    x = np.vstack([a, b] + [np.where(np.arange(d) == i, b, a) for i in range(d)])
    first, total = sobol_indices(x[:, 0] + 2 * x[:, 1], n, d)
    assert first == pytest.approx([0.2, 0.8, 0], abs=0.03)
    assert total == pytest.approx([0.2, 0.8, 0], abs=0.03)
    assert first[2] == 0 and total[2] == 0
    assert (sobol_indices(np.ones(n * (d + 2)), n, d)[1] == 0).all()


def test_sobol_indices_equal_salib():
    salib = pytest.importorskip("SALib.analyze.sobol")
    rng = np.random.default_rng(1)
    n, d = 512, 4
    a, b = rng.random((n, d)), rng.random((n, d))
    x = np.vstack([a, b] + [np.where(np.arange(d) == i, b, a) for i in range(d)])
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 * x[:, 2] + (x[:, 1] > 0.5)
    first, total = sobol_indices(y, n, d)
    # SALib's layout: per base row, A, AB_1 .. AB_d, B
    blocks = [y[:n]] + [y[(2 + i) * n : (3 + i) * n] for i in range(d)] + [y[n : 2 * n]]
    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0, 1]] * d}
    ref = salib.analyze(
        problem, np.column_stack(blocks).reshape(-1), calc_second_order=False, seed=0
    )
    assert first == pytest.approx(ref["S1"], rel=1e-9, abs=1e-12)
    assert total == pytest.approx(ref["ST"], rel=1e-9, abs=1e-12)


# -- the command line -----------------------------------------------------------------------------


def _cli(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "scoring", "robustness", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_cli_json_is_byte_identical_for_a_seed(root):
    one, two = (
        _cli(root, "--draws", "40", "--seed", "7", "--json"),
        _cli(root, "--draws", "40", "--seed", "7", "--json"),
    )
    assert one.returncode == 0, one.stderr
    assert one.stdout == two.stdout
    other = _cli(root, "--draws", "40", "--seed", "8", "--json")
    assert other.stdout != one.stdout
    data = json.loads(one.stdout)
    rec = data["towns"][0]
    assert {"town", "shares", "modal", "stability", "drivers", "variants"} <= set(rec)
    assert set(rec["variants"]) == {"pessimistic", "realistic", "optimistic"}
    assert data["draws"] == 40 and data["seed"] == 7


def test_cli_table_and_progress(root):
    p = _cli(root, "--draws", "20", "--progress")
    assert p.returncode == 0, p.stderr
    assert "Temirtau" in p.stdout and "stability" in p.stdout
    assert "robustness [" in p.stderr and "100%" in p.stderr and "20 draws" in p.stderr


def test_cli_rejects_too_few_draws(root):
    p = _cli(root, "--draws", "1")
    assert p.returncode == 2 and "--draws must be 2 to 10,000" in p.stderr
