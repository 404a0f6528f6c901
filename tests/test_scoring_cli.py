"""The command line, end to end, in a subprocess."""

import csv
import json
import subprocess
import sys

import pytest


def run(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args], cwd=root, capture_output=True, text=True
    )


def test_evaluate_json_contract(root, tmp_path):
    src = root / "data" / "paper" / "inputs.csv"
    p = run(root, "evaluate", str(src), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [r["town"] for r in out] == ["Balkhash", "Karazhal", "Temirtau"]
    r = out[2]
    assert set(r) == {"town", "indices", "levels", "scenario", "missing"}
    assert set(r["indices"]) == {
        "mono_profile",
        "economy",
        "social",
        "economy_social",
        "demographic",
        "investment",
        "agglomeration",
        "special",
    }
    assert set(r["levels"]) == {
        "mono_profile",
        "economy_social",
        "demographic",
        "investment",
        "agglomeration",
        "special",
    }
    assert set(r["scenario"]) == {
        "scores",
        "recommended",
        "completeness",
        "explanation",
        "tied",
        "possible",
        "settled",
        "decisive",
    }
    assert r["indices"]["economy_social"] == pytest.approx((18.7 * 49.075) ** 0.5, abs=1e-12)
    assert r["levels"]["economy_social"] == "high"
    assert r["scenario"]["recommended"] == ["diversification"]


def test_evaluate_table_and_missing(root, tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("town,aggl_in_fua,aggl_near_large_city,aggl_corridor_junction\nX,100,0,100\n")
    p = run(root, "evaluate", str(f))
    assert p.returncode == 0
    assert "X  (completeness 1/6)" in p.stdout
    assert "agglomeration" in p.stdout and "14.1421" in p.stdout and "above_average" in p.stdout


def test_evaluate_bad_input_exit_2_all_errors(root, tmp_path):
    f = tmp_path / "bad.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["town", "mono_output_share", "aggl_in_fua"])
        w.writerow(["A", "101", "1"])
        w.writerow(["B", "x", "100"])
    p = run(root, "evaluate", str(f), "--json")
    assert p.returncode == 2
    assert p.stdout == ""
    assert "row 2 town 'A': field 'mono_output_share' value 101 is out of range" in p.stderr
    assert (
        "row 2 town 'A': field 'aggl_in_fua' value 1 is out of range; allowed: 0 or 100" in p.stderr
    )
    assert "row 3 town 'B': field 'mono_output_share' value 'x' is not a number" in p.stderr


def test_evaluate_missing_file_exit_2(root, tmp_path):
    p = run(root, "evaluate", str(tmp_path / "nope.csv"))
    assert p.returncode == 2 and "cannot read" in p.stderr


def test_paper_report(root):
    p = run(root, "paper")
    assert p.returncode == 0
    out = p.stdout
    assert "UNEXPLAINED" not in out
    assert (
        "Balkhash  mono_profile       Table 2        53 medium             46.7333 medium        "
        " VALUE" in out
    )
    assert (
        "Temirtau  economy_social     Table 3        31 above_average      30.2936 high          "
        " LEVEL" in out
    )
    assert "Spearman's rho vs paper: 1.000 (paper levels)" in out
    assert "inertial row is ambiguous" in out


@pytest.mark.parametrize("cmd", ["robustness", "backtest"])
@pytest.mark.parametrize("draws", ["1", "10001", "70000"])
def test_draws_are_capped_with_a_clear_message(root, cmd, draws):
    """A run's time grows with the draws (its memory no longer does): 70,000 once exhausted 24 GB
    before draws were reduced in chunks (issue 25)."""
    p = run(root, cmd, "--draws", draws)
    assert p.returncode == 2 and "--draws must be 2 to 10,000" in p.stderr and p.stdout == ""
