"""Interval estimates in the web app (issue 22, items 1 and 6): the estimates import format (good
and bad files), the store's round trip, the /data and /history marks, sourced values winning, and
the expected value of information on /data-needed checked against a brute-force calculation."""

import io

import pytest
from openpyxl import Workbook

from pg import pg_server  # noqa: F401  (the session's PostgreSQL fixture, for the store test)
from webapp.store.stats_io import EstimateRow, StatsFileError, ValueRow, estimable, read_file
from webapp.store.db import ESTIMATE, Store

HEADER = "town,year,source,input,low,high,method,coverage,most_likely,note"
GOOD = "balkhash,2023,BNS 2023 table,demo_natural_growth,-1.6,16.4,town_figure_pm,0.75,7.4,district"


@pytest.fixture(scope="module")
def method():
    from scoring.method import load_method

    return load_method()


@pytest.fixture(scope="module")
def town_id():
    from geo.layers import load_layers
    from geo.places import PlaceIndex
    from scoring.pipeline import DATA_DIR

    return PlaceIndex(load_layers(DATA_DIR)).town_id


def csv_file(*rows, header=HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def problems(raw, method, town_id, name="est.csv") -> str:
    with pytest.raises(StatsFileError) as exc:
        read_file(raw, name, method, town_id)
    return "\n".join(exc.value.problems)


# ---- the import format --------------------------------------------------------------------------


def test_a_good_estimates_file_gives_estimate_rows(method, town_id):
    rows = read_file(
        csv_file(GOOD, "Temirtau,2023,BNS,social_avg_wage,53.3,155,town_index_spread,0.75,,"),
        "est.csv",
        method,
        town_id,
    )
    assert rows == [
        EstimateRow(
            "balkhash",
            "demo_natural_growth",
            -1.6,
            16.4,
            7.4,
            0.75,
            "town_figure_pm",
            method.inputs["demo_natural_growth"].unit,
            "2023",
            "BNS 2023 table",
            "district",
        ),
        EstimateRow(
            "temirtau",
            "social_avg_wage",
            53.3,
            155.0,
            None,
            0.75,
            "town_index_spread",
            method.inputs["social_avg_wage"].unit,
            "2023",
            "BNS",
            "",
        ),
    ]


def test_the_values_format_stays_valid(method, town_id):
    raw = b"town,year,source,mono_output_share\nbalkhash,2023,akimat,80\n"
    assert read_file(raw, "v.csv", method, town_id) == [
        ValueRow(
            "balkhash",
            "mono_output_share",
            80.0,
            method.inputs["mono_output_share"].unit,
            "2023",
            "akimat",
            "",
        )
    ]


def test_an_xlsx_estimates_file(method, town_id):
    wb = Workbook()
    ws = wb.active
    ws.title = "values"
    ws.append(HEADER.split(","))
    ws.append(["karazhal", 2023, "BNS", "demo_active_share", 35, 60, "plausible_range", 0.75, 47.9])
    buf = io.BytesIO()
    wb.save(buf)
    (row,) = read_file(buf.getvalue(), "est.xlsx", method, town_id)
    assert (row.town_id, row.low, row.high, row.most_likely, row.period) == (
        "karazhal",
        35.0,
        60.0,
        47.9,
        "2023",
    )


@pytest.mark.parametrize(
    "row, expected",
    [
        (
            "balkhash,2023,BNS,demo_natural_growth,16.4,-1.6,town_figure_pm,0.75,,",
            "column 'low': value '16.4': above high (-1.6); low must not exceed high",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,-5,60,plausible_range,0.75,,",
            "column 'low': value '-5': out of range",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,35,160,plausible_range,0.75,,",
            "column 'high': value '160': out of range",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,35,60,,0.75,,",
            "column 'method': value '': required",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,35,60,range,0,,",
            (
                "column 'coverage': value '0': required: the "
                "interval's stated coverage; allowed: above 0, at most 1"
            ),
        ),
        ("balkhash,2023,BNS,demo_active_share,35,60,range,1.5,,", "column 'coverage': value '1.5'"),
        ("balkhash,2023,BNS,demo_active_share,35,60,range,,,", "column 'coverage': value ''"),
        (
            "balkhash,2023,BNS,demo_active_share,nan,60,range,0.75,,",
            "column 'low': value 'nan': not a finite",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,35,inf,range,0.75,,",
            "column 'high': value 'inf': not a finite",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,,60,range,0.75,,",
            "column 'low': value '': required",
        ),
        (
            "balkhash,2023,BNS,demo_active_share,35,60,range,0.75,61,",
            "column 'most_likely': value '61': outside",
        ),
        (
            "balkhash,2023,BNS,inv_population,1,2,range,0.75,,",
            "column 'input': value 'inv_population': cannot hold an estimate",
        ),
        (
            "atlantis,2023,BNS,demo_active_share,35,60,range,0.75,,",
            "column 'town': value 'atlantis'",
        ),
        ("balkhash,,BNS,demo_active_share,35,60,range,0.75,,", "column 'year': value '': required"),
        (
            "balkhash,2023,,demo_active_share,35,60,range,0.75,,",
            "column 'source': value '': required",
        ),
    ],
)
def test_a_bad_row_rejects_the_whole_file(method, town_id, row, expected):
    text = problems(csv_file(GOOD, row), method, town_id)
    assert "est.csv, row 3, " + expected in text, text


def test_bad_headers_and_duplicates(method, town_id):
    no_high = problems(
        csv_file(
            "balkhash,2023,BNS,demo_active_share,35,range,0.75",
            header="town,year,source,input,low,method,coverage",
        ),
        method,
        town_id,
    )
    assert "column 'high': required column of an estimates file is missing" in no_high
    mixed = problems(
        csv_file(
            "balkhash,2023,BNS,demo_active_share,35,60,range,0.75,80",
            header="town,year,source,input,low,high,method,coverage,mono_output_share",
        ),
        method,
        town_id,
    )
    assert "import values and estimates in separate files" in mixed
    twice = problems(csv_file(GOOD, GOOD.replace("-1.6", "-2")), method, town_id)
    assert "row 3, column 'input': value 'demo_natural_growth': duplicate" in twice


def test_every_estimable_input_is_statistical(method):
    assert "demo_active_share" in estimable(method) and "inv_population" not in estimable(method)
    assert all(method.inputs[n].role == "statistical" for n in estimable(method))


# ---- the store -----------------------------------------------------------------------------------


def _estimate(**kw):
    row = {
        "town_id": "balkhash",
        "input": "demo_natural_growth",
        "period": "2023",
        "value": None,
        "status": ESTIMATE,
        "unit": "per 1000",
        "source": "BNS",
        "note": "",
        "low": -1.6,
        "high": 16.4,
        "most_likely": 7.4,
        "coverage": 0.75,
        "method": "town_figure_pm",
    }
    return row | kw


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_store_round_trip(backend, request, tmp_path):
    from test_store import new_database

    store = Store(new_database(backend, request, tmp_path))
    assert store.migrate() == 7
    sourced = {
        "town_id": "balkhash",
        "input": "demo_natural_growth",
        "period": "2023",
        "value": 10.0,
        "status": "sourced",
        "unit": "per 1000",
        "source": "paper",
        "note": "",
    }
    r1 = store.apply([sourced], editor="anna", summary="values")
    r2 = store.apply([_estimate()], editor="anna", summary="estimates")
    # a value and an estimate of the same town, input and period are kept apart
    assert [(v["value"], v["status"]) for v in store.current()] == [(10.0, "sourced")]
    (e,) = store.estimates()
    assert (e["low"], e["high"], e["most_likely"], e["coverage"], e["method"], e["entered_by"]) == (
        -1.6,
        16.4,
        7.4,
        0.75,
        "town_figure_pm",
        "anna",
    )
    assert store.estimates(r1) == []
    revs = {r.id: r for r in store.revisions()}
    assert (revs[r2].changes, revs[r2].estimates, revs[r1].estimates) == (1, 1, 0)
    (change,) = store.changes(r2)
    assert change["estimate"] and change["changed"] and change["old_low"] is None
    r3 = store.apply([_estimate(low=0.0)], editor="anna")
    (change,) = store.changes(r3)
    assert (change["old_low"], change["low"], change["changed"]) == (-1.6, 0.0, True)
    assert store.estimates()[0]["low"] == 0.0
    store.rollback(r1, editor="anna")
    assert store.estimates() == [] and store.current()[0]["value"] == 10.0
    store.rollback(r3, editor="anna")
    assert store.estimates()[0]["low"] == 0.0
    store.dispose()


# ---- the web app: import, /data, /history, scoring -----------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from test_store import make_app

    app = make_app(tmp_path_factory.mktemp("estweb") / "atlas.sqlite3")
    yield app
    app.extensions["store"].dispose()


@pytest.fixture(scope="module")
def imported(app):
    """Two estimates imported through the form: one of an input Balkhash has a sourced value of, one
    replacing a shipped estimate of Aksu."""
    from test_store import sign_in

    client = app.test_client()
    token = sign_in(client)
    raw = csv_file(
        "balkhash,2023,BNS,demo_natural_growth,-1.6,16.4,town_figure_pm,0.75,,",
        "aksu,2013,BNS and press,social_unemployment,140,170,dated_town_index_widened,0.75,158,",
    )
    r = client.post(
        "/data/import",
        data={"csrf_token": token, "file": (io.BytesIO(raw), "est.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "Accepted: 2 estimates from est.csv" in r.get_data(as_text=True)
    return client


def test_a_bad_estimates_file_changes_nothing(app, imported):
    from test_store import csrf

    head = app.extensions["store"].head()
    raw = csv_file("aksu,2013,BNS,social_unemployment,170,140,x,0.75,,")
    r = imported.post(
        "/data/import",
        data={"csrf_token": csrf(imported), "file": (io.BytesIO(raw), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    assert "bad.csv, row 2, column &#39;low&#39;: value &#39;170&#39;: above high" in r.get_data(
        as_text=True
    )
    assert app.extensions["store"].head() == head


def test_data_page_marks_estimates(imported):
    html = imported.get("/data").get_data(as_text=True)
    assert 'data-estimate="140.0..170.0"' in html  # the stored estimate, not the shipped one
    assert "≈ a–b" in html and 'id="estimates-template"' in html
    # Balkhash has a sourced natural growth: the cell shows the value, not the estimate
    row = html.split('id="town-balkhash"')[1].split("</tr>")[0]
    assert 'data-estimate="-1.6..16.4"' not in row and ">10<" in row


def test_history_and_revision_mark_estimates(app, imported):
    rev = app.extensions["store"].head()
    html = imported.get("/history").get_data(as_text=True)
    assert (
        'data-estimates="2"' in html
        and '— <span class="summary">2 estimates imported</span>' in html
    )
    page = imported.get(f"/history/{rev}").get_data(as_text=True)
    assert page.count('class="changed estimate"') == 2 and "≈ 140–170 (158)" in page
    assert "dated_town_index_widened · coverage 0.75" in page


def test_estimates_template(imported):
    text = imported.get("/data/estimates-template.csv").get_data(as_text=True)
    assert text.splitlines()[0] == HEADER


def test_sourced_wins_and_a_stored_estimate_replaces_the_shipped_one(app, imported):
    from dataclasses import replace

    with app.test_request_context("/"):
        svc = app.extensions["atlas"]
        snap = svc.snapshot()
        assert snap.estimates["aksu"]["social_unemployment"].low == 140.0
        assert snap.estimates["balkhash"]["demo_natural_growth"].made_by == "anna"
        atlas = svc.results(replace(svc.default_params, estimates="on"))
    towns = {t["id"]: t for t in atlas["towns"]}
    assert "demo_natural_growth" not in towns["balkhash"]["estimated"]
    assert towns["balkhash"]["inputs"]["demo_natural_growth"] == 10.0
    got = towns["aksu"]["estimated"]["social_unemployment"]
    assert (got["low"], got["high"], got["most_likely"], got["made_by"]) == (
        140.0,
        170.0,
        158.0,
        "anna",
    )


# ---- what to collect next: the expected value of information -------------------------------------


def _brute_force_evi(values, est, method, *, fine, points):
    """EVI per estimated input by enumeration, with the levels and outcomes computed from the
    formulas (tests/test_estimates): every combination of a fine grid of the uniform intervals
    (``fine`` midpoints each) equally likely; uncertainty = 1 - the largest outcome share; the input
    known at each of ``points`` quantile midpoints, the others over their fine grids."""
    from itertools import product

    from scoring import kernel
    from test_estimates import _levels, _outcome

    names = sorted(est)
    shift = {c: 0.0 for c in method.levelled}

    def grid(n, k):
        return [est[n].low + (i + 0.5) / k * (est[n].high - est[n].low) for i in range(k)]

    def uncertainty(axes):
        counts = {}
        for point in product(*axes):
            v = dict(values, **dict(zip(names, point)))
            o = _outcome(_levels(v, method, shift), method, kernel.margin_of(method))
            counts[o] = counts.get(o, 0) + 1
        return 1 - max(counts.values()) / sum(counts.values()), set(counts)

    now, outcomes = uncertainty([grid(n, fine) for n in names])
    evi = {}
    for i, n in enumerate(names):
        fixed = [
            uncertainty([[x] if j == i else grid(m, fine) for j, m in enumerate(names)])[0]
            for x in grid(n, points)
        ]
        evi[n] = now - sum(fixed) / points
    return now, evi, outcomes


def test_value_of_information_against_brute_force(method):
    """Karazhal with two uniform estimates over band edges (all else sourced, the method's uncertain
    choices left out); a second town all sourced.

    The draws' EVI agrees with the grid's.
    """
    from scoring.estimates import Estimate
    from scoring.information import value_of_information
    from test_estimates import DATA
    import csv

    with open(DATA / "paper" / "inputs.csv", newline="", encoding="utf-8") as fh:
        paper = {
            r["town"]: {k: float(v) for k, v in r.items() if k != "town"}
            for r in csv.DictReader(fh)
        }
    karazhal, temirtau = paper["Karazhal"], paper["Temirtau"]

    def est(name, low, high):
        return Estimate("b", name, low, high, None, 0.75, "test", "test", "test", "2026-12-07")

    intervals = {
        "demo_natural_growth": est("demo_natural_growth", -20.0, 40.0),
        "mono_output_share": est("mono_output_share", 0.0, 100.0),
    }
    open_values = dict(karazhal, **{n: None for n in intervals})
    base = {n: [open_values[n], temirtau[n]] for n in method.inputs}
    got = value_of_information(
        base, [intervals, {}], method, ["b", "t"], draws=6000, points=12, kinds=()
    )
    now, expected, outcomes = _brute_force_evi(karazhal, intervals, method, fine=200, points=12)
    assert len(outcomes) == 4  # the case is not trivial: the intervals change the outcome
    assert min(expected.values()) > 0.2  # both inputs are worth collecting (0.33 and 0.26 here)
    rows = {r["name"]: r for r in got}
    assert {r["kind"] for r in got} == {
        "input"
    }  # every indicator has a level from values or estimates
    assert rows["demo_natural_growth"]["uncertainty"]["b"] == pytest.approx(now, abs=0.02)
    for name, evi in expected.items():
        assert rows[name]["towns"] == {"b": pytest.approx(evi, abs=0.02)}, name
    assert [r["name"] for r in got] == sorted(expected, key=lambda n: -expected[n])


def test_an_indicator_nothing_informs_is_ranked_and_untouched_towns_get_zero(method):
    from scoring.information import value_of_information
    from test_estimates import DATA
    import csv

    with open(DATA / "paper" / "inputs.csv", newline="", encoding="utf-8") as fh:
        paper = {
            r["town"]: {k: float(v) for k, v in r.items() if k != "town"}
            for r in csv.DictReader(fh)
        }
    open_values = dict(paper["Balkhash"], mono_output_share=None)
    base = {n: [open_values[n], paper["Temirtau"][n]] for n in method.inputs}
    (row,) = value_of_information(base, [{}, {}], method, ["b", "t"], draws=2000, points=4)
    assert (row["kind"], row["name"], list(row["towns"])) == ("indicator", "mono_profile", ["b"])
    # knowing mono_profile's level helps, and never by more than the uncertainty there is now (the
    # method's drawn choices, band shifts and margin, leave some)
    assert 0 < row["towns"]["b"] <= row["uncertainty"]["b"]


def test_data_needed_ranks_by_value_of_information(app, imported):
    import re

    from scoring.information import atlas_value_of_information

    html = imported.get("/data-needed").get_data(as_text=True)
    assert 'id="value-of-information"' in html and "expected value of information" in html
    shown = re.findall(r'data-kind="(\w+)" data-name="(\w+)" data-total="([-\d.e]+)"', html)
    with app.test_request_context("/"):
        svc = app.extensions["atlas"]
        expected = atlas_value_of_information(svc.results(), svc.snapshot().estimates, svc.method)
    assert shown == [(r["kind"], r["name"], repr(r["total"])) for r in expected]
    totals = [float(x) for _, _, x in shown]
    assert totals == sorted(totals, reverse=True) and totals[0] > 0
    # the stored estimates are among what can be collected (they hold where values are missing)
    assert ("input", "social_unemployment") in {(k, n) for k, n, _ in shown}


def test_the_estimates_export_imports_again(app, imported, method, town_id):
    text = imported.get("/data/estimates.csv").get_data(as_text=True)
    assert text.splitlines()[0] == HEADER
    rows = read_file(text.encode(), "estimates.csv", method, town_id)
    stored = app.extensions["store"].estimates()
    assert [
        (r.town_id, r.input, r.low, r.high, r.most_likely, r.coverage, r.method, r.period, r.source)
        for r in rows
    ] == [
        (
            s["town_id"],
            s["input"],
            s["low"],
            s["high"],
            s["most_likely"],
            s["coverage"],
            s["method"],
            s["period"],
            s["source"],
        )
        for s in stored
    ]
    assert len(rows) == 2
