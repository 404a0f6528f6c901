"""The government's own signals, measures and unscored evidence (data/official/*.csv): columns,
known towns, kinds, scenarios and method inputs, sources, dates, kk/ru/en labels, and the facts the
town brief relies on (golden rows, independent recomputation of the two derived figures)."""

import csv
import re
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
OFFICIAL = DATA / "official"

COLUMNS = {
    "signal_kinds.csv": [
        "kind",
        "label_en",
        "label_ru",
        "label_kk",
        "description_en",
        "description_ru",
        "description_kk",
        "official_body",
    ],
    "signals.csv": [
        "signal_id",
        "town_id",
        "kind",
        "value",
        "label_en",
        "label_ru",
        "label_kk",
        "date",
        "date_precision",
        "date_note",
        "source_url",
        "source_title",
        "source_lang",
        "source2_url",
        "checked",
        "check_note",
    ],
    "signal_rules.csv": [
        "kind",
        "scenario",
        "relation",
        "reading",
        "rationale_en",
        "rationale_ru",
        "rationale_kk",
    ],
    "measures.csv": [
        "measure_id",
        "scenarios",
        "mapping",
        "label_en",
        "label_ru",
        "label_kk",
        "description_en",
        "description_ru",
        "description_kk",
        "official_context",
        "date",
        "source_url",
        "source_title",
        "source2_url",
        "checked",
        "check_note",
    ],
    "town_measures.csv": [
        "item_id",
        "town_id",
        "measure_id",
        "label_en",
        "label_ru",
        "label_kk",
        "amount",
        "amount_unit",
        "jobs",
        "status",
        "date",
        "date_precision",
        "date_note",
        "source_url",
        "source_title",
        "source2_url",
        "checked",
        "check_note",
    ],
    "evidence.csv": [
        "evidence_id",
        "town_id",
        "metric",
        "value",
        "value_low",
        "value_high",
        "unit",
        "date",
        "date_precision",
        "date_note",
        "period",
        "published",
        "scope",
        "approximates_input",
        "comparability",
        "label_en",
        "label_ru",
        "label_kk",
        "source_url",
        "source_title",
        "checked",
        "check_note",
    ],
}
SOURCED = ["signals.csv", "measures.csv", "town_measures.csv", "evidence.csv"]
LABELLED = ["signal_kinds.csv", "signals.csv", "measures.csv", "town_measures.csv", "evidence.csv"]
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
KAZAKH_ONLY = re.compile(r"[ӘәҒғҚқҢңӨөҰұҮүҺһІі]")
PRECISION = {"day": r"\d{4}-\d{2}-\d{2}", "month": r"\d{4}-\d{2}", "year": r"\d{4}"}


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict]]:
    return {name: _rows(OFFICIAL / name) for name in COLUMNS}


@pytest.fixture(scope="module")
def towns() -> set[str]:
    return {r["id"] for r in _rows(DATA / "towns.csv")}


@pytest.fixture(scope="module")
def scenarios() -> set[str]:
    return {r["scenario"] for r in _rows(DATA / "method" / "scenarios.csv")}


def _parse_date(text: str, precision: str) -> date:
    """A date of the given precision ('day', 'month', 'year'); ValueError when it does not parse."""
    if precision not in PRECISION or not re.fullmatch(PRECISION[precision], text):
        raise ValueError(f"date {text!r} does not match precision {precision!r}")
    parts = [int(p) for p in text.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_columns_exact(name):
    assert _header(OFFICIAL / name) == COLUMNS[name]


def test_readme_documents_every_file():
    text = (OFFICIAL / "README.md").read_text(encoding="utf-8")
    for name in COLUMNS:
        assert f"`{name}`" in text, name
    assert "this project's reading" in text


@pytest.mark.parametrize("name", ["signals.csv", "town_measures.csv", "evidence.csv"])
def test_every_town_id_known(tables, towns, name):
    unknown = {r["town_id"] for r in tables[name]} - towns
    assert not unknown, unknown


@pytest.mark.parametrize("name", SOURCED)
def test_every_row_has_a_web_source(tables, name):
    for r in tables[name]:
        assert r["source_url"].startswith(("http://", "https://")), r
        assert r["source_title"].strip(), r
        second = r.get("source2_url", "")
        assert not second or second.startswith(("http://", "https://")), r


@pytest.mark.parametrize("name", SOURCED)
def test_checked_flag_and_reason(tables, name):
    for r in tables[name]:
        assert r["checked"] in {"yes", "no"}, r
        if r["checked"] == "no":
            assert r["check_note"].strip(), f"{name}: checked=no needs a reason: {r}"


@pytest.mark.parametrize("name", ["signals.csv", "town_measures.csv", "evidence.csv"])
def test_dates_parse_or_say_why_missing(tables, name):
    today = date(2026, 12, 31)
    for r in tables[name]:
        if not r["date"]:
            assert not r["date_precision"] and r["date_note"].strip(), r
            continue
        assert _parse_date(r["date"], r["date_precision"]) <= today, r


def test_measure_dates_parse(tables):
    for r in tables["measures.csv"]:
        precision = {10: "day", 7: "month", 4: "year"}[len(r["date"])]
        _parse_date(r["date"], precision)


def test_date_parser_rejects_bad_input():
    with pytest.raises(ValueError):
        _parse_date("2025-13-01", "day")
    with pytest.raises(ValueError):
        _parse_date("2025-06", "day")


def test_evidence_published_and_period_parse(tables):
    for r in tables["evidence.csv"]:
        if r["published"]:
            precision = {10: "day", 7: "month", 4: "year"}[len(r["published"])]
            _parse_date(r["published"], precision)
        if r["period"]:
            start, end = r["period"].split("/")
            assert start <= end, r


@pytest.mark.parametrize("name", LABELLED)
def test_labels_in_three_languages(tables, name):
    for r in tables[name]:
        for lang in ("en", "ru", "kk"):
            assert r[f"label_{lang}"].strip(), (name, lang, r)
        assert not CYRILLIC.search(r["label_en"]), r["label_en"]
        assert CYRILLIC.search(r["label_ru"]), r["label_ru"]
        assert CYRILLIC.search(r["label_kk"]), r["label_kk"]
        assert not KAZAKH_ONLY.search(r["label_ru"]), r["label_ru"]


def test_kazakh_labels_are_not_russian_copies(tables):
    """Every Kazakh label differs from its Russian one, and most use Kazakh-only letters."""
    kk_rows = [r for name in LABELLED for r in tables[name]]
    assert all(r["label_kk"] != r["label_ru"] for r in kk_rows)
    with_kazakh_letters = sum(bool(KAZAKH_ONLY.search(r["label_kk"])) for r in kk_rows)
    assert with_kazakh_letters / len(kk_rows) > 0.9


def test_rationales_in_three_languages(tables):
    for r in tables["signal_rules.csv"]:
        assert r["rationale_en"] and CYRILLIC.search(r["rationale_ru"])
        assert KAZAKH_ONLY.search(r["rationale_kk"]), r["rationale_kk"]
    for r in tables["signal_kinds.csv"] + tables["measures.csv"]:
        assert r["description_en"] and CYRILLIC.search(r["description_ru"])
        assert KAZAKH_ONLY.search(r["description_kk"]), r["description_kk"]


def test_ids_unique(tables):
    for name, key in [
        ("signals.csv", "signal_id"),
        ("town_measures.csv", "item_id"),
        ("evidence.csv", "evidence_id"),
        ("measures.csv", "measure_id"),
        ("signal_kinds.csv", "kind"),
    ]:
        ids = [r[key] for r in tables[name]]
        assert len(ids) == len(set(ids)), name
    pairs = [(r["town_id"], r["kind"]) for r in tables["signals.csv"]]
    assert len(pairs) == len(set(pairs)), "one row per town and signal kind"


def test_signal_kinds_known(tables):
    kinds = {r["kind"] for r in tables["signal_kinds.csv"]}
    assert {r["kind"] for r in tables["signals.csv"]} <= kinds


def test_rules_cover_every_kind_and_scenario_once(tables, scenarios):
    kinds = {r["kind"] for r in tables["signal_kinds.csv"]}
    pairs = [(r["kind"], r["scenario"]) for r in tables["signal_rules.csv"]]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(k, s) for k in kinds for s in scenarios}
    for r in tables["signal_rules.csv"]:
        assert r["relation"] in {"supports", "contradicts", "neutral"}, r
        assert r["reading"] == "this_project", r


def test_measures_reference_known_scenarios(tables, scenarios):
    for r in tables["measures.csv"]:
        listed = r["scenarios"].split("|")
        assert listed and set(listed) <= scenarios, r
        assert r["mapping"] == "this_project", r
    covered = {s for r in tables["measures.csv"] for s in r["scenarios"].split("|")}
    assert covered == scenarios, "every scenario has at least one measure family"


def test_town_measures_reference_known_families(tables):
    families = {r["measure_id"] for r in tables["measures.csv"]}
    for r in tables["town_measures.csv"]:
        assert r["measure_id"] in families, r
        assert r["status"] in {"proposed", "planned", "ordered", "approved", "under way", "done"}, r
        if r["amount"]:
            assert float(r["amount"]) > 0 and r["amount_unit"], r
        if r["jobs"]:
            assert int(r["jobs"]) > 0, r


def test_evidence_values_and_inputs(tables):
    inputs = {r["input"] for r in _rows(DATA / "method" / "inputs.csv")} | {"context"}
    for r in tables["evidence.csv"]:
        assert r["approximates_input"] in inputs, r
        numbers = [float(r[k]) for k in ("value_low", "value", "value_high") if r[k]]
        assert numbers, f"no value: {r}"
        assert numbers == sorted(numbers), r
        assert r["unit"] and r["scope"] and r["metric"], r
    assert not [c for c in COLUMNS["evidence.csv"] if "age" in c], "age is computed by the app"


def _towns_with(tables, kind: str) -> set[str]:
    return {r["town_id"] for r in tables["signals.csv"] if r["kind"] == kind}


def test_golden_signal_memberships(tables, towns):
    assert _towns_with(tables, "status_2012_list") == towns
    assert _towns_with(tables, "stagnating_2025") == {"kurchatov", "zhitikara", "altai", "karazhal"}
    assert _towns_with(tables, "withdrawn") == {"saran", "tekeli"}
    assert _towns_with(tables, "industrial_zone_2025") == {
        "balkhash",
        "kulsary",
        "satpayev",
        "khromtau",
    }
    assert _towns_with(tables, "comprehensive_plan_2023_2027") == {
        "zhanatas",
        "karatau",
        "ridder",
        "altai",
        "arkalyk",
        "balkhash",
        "zhitikara",
        "lisakovsk",
        "serebryansk",
        "stepnogorsk",
    }
    assert _towns_with(tables, "official_agglomeration_2023") == {
        "temirtau",
        "saran",
        "shakhtinsk",
        "abay",
        "khromtau",
    }
    assert not _towns_with(tables, "named_monotown_2023_2025") & _towns_with(tables, "withdrawn")


def _relation(tables, kind: str, scenario: str) -> str:
    return next(
        r["relation"]
        for r in tables["signal_rules.csv"]
        if r["kind"] == kind and r["scenario"] == scenario
    )


def test_rules_give_the_issue_examples(tables):
    """Karazhal (stagnating) and Balkhash (industrial zone) against 'innovative'."""
    assert _relation(tables, "stagnating_2025", "innovative") == "contradicts"
    assert _relation(tables, "industrial_zone_2025", "diversification") == "supports"
    assert _relation(tables, "industrial_zone_2025", "innovative") != "supports"
    assert _relation(tables, "withdrawn", "diversification") == "supports"


def test_anchor_projects_of_the_brief(tables):
    rows = tables["town_measures.csv"]
    mayatas = next(r for r in rows if r["town_id"] == "arkalyk" and "Mayatas" in r["label_en"])
    assert (mayatas["amount"], mayatas["amount_unit"], mayatas["jobs"]) == ("315", "bn KZT", "1200")
    eurochem = next(r for r in rows if r["town_id"] == "zhanatas" and "EuroChem" in r["label_en"])
    assert eurochem["jobs"] == "500" and eurochem["measure_id"] == "anchor_projects"


def test_derived_evidence_recomputed(tables):
    """The two figures derived here, recomputed from the numbers quoted beside them."""
    rows = {(r["town_id"], r["metric"]): r for r in tables["evidence.csv"]}
    assert float(rows[("ridder", "avg_wage_ratio_oblast")]["value"]) == round(442881 / 368064, 3)
    assert float(rows[("rudny", "sector_output_share")]["value"]) == round(528 / 709.4 * 100, 1)
    assert float(rows[("temirtau", "population")]["value"]) == 171609
