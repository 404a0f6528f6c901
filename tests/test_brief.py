"""The town brief (issue 21): verdict, how sure in one measure, drivers, data needed; /brief,
/compare, PDFs.

Values are checked against independent calculations on the shipped data and on hand-made records.
"""

import re

import pytest

from webapp.pages.brief import drivers, raw_inputs, sureness, town_brief, verdict_kind

TOWNS = {
    "abay",
    "aksu",
    "altai",
    "arkalyk",
    "balkhash",
    "ekibastuz",
    "zhanaozen",
    "zhanatas",
    "zhezkazgan",
    "zhitikara",
    "karatau",
    "karazhal",
    "kentau",
    "khromtau",
    "kulsary",
    "kurchatov",
    "lisakovsk",
    "ridder",
    "rudny",
    "saran",
    "satpayev",
    "serebryansk",
    "stepnogorsk",
    "tekeli",
    "temirtau",
    "shakhtinsk",
    "priozersk",
}
SECTIONS = ["verdict", "sureness", "drivers", "official", "measures", "data-needed", "evidence"]


def scenario(**kw):
    base = {
        "scores": {"inertial": 0, "balanced": 3, "innovative": 5, "diversification": 4},
        "recommended": ["innovative"],
        "tie": False,
        "tied": [],
        "possible": ["innovative"],
        "settled": True,
        "completeness": "6/6",
        "provisional": False,
        "decisive": None,
        "reasons": {
            "inertial": [],
            "balanced": [{"indicator": "mono_profile", "level": "medium"}],
            "innovative": [
                {"indicator": "mono_profile", "level": "medium"},
                {"indicator": "special", "level": "high"},
            ],
            "diversification": [{"indicator": "special", "level": "high"}],
        },
    }
    return base | kw


def test_verdict_kinds():
    assert verdict_kind(scenario()) == "recommended"
    assert verdict_kind(scenario(recommended=["innovative", "balanced"])) == "two"
    assert verdict_kind(scenario(tie=True, tied=["a", "b", "c"])) == "tie"
    assert verdict_kind(scenario(settled=False, possible=["a", "b"])) == "undetermined"
    assert verdict_kind(scenario(recommended=[], tie=False)) == "none"


def test_sureness_is_the_share_of_variants_with_exactly_this_answer():
    robust = {
        "default": "innovative",
        "draws": 1000,
        "drivers": {"band_investment": 0.7, "recommend_margin": 0.4},
        "outcomes": {
            "innovative": 0.535,
            "tie: balanced/innovative/diversification": 0.23,
            "innovative + diversification": 0.19,
            "balanced": 0.045,
        },
    }
    s = sureness(scenario(), "recommended", robust, missing=0)
    assert (s.kind, s.same, s.draws, s.moved_by) == ("variants", 54, 1000, "band_investment")
    assert s.others == [
        ("tie: balanced/innovative/diversification", 23),
        ("innovative + diversification", 19),
        ("balanced", 4),
    ]  # 4.5 rounds to even
    assert s.same + sum(n for _, n in s.others) in (99, 100, 101)
    always = sureness(
        scenario(), "recommended", robust | {"outcomes": {"innovative": 1.0}}, missing=0
    )
    assert (always.same, always.others, always.moved_by) == (100, [], None)


def test_an_undetermined_town_gets_no_share_whatever_the_draws_say():
    robust = {"default": "innovative", "outcomes": {"innovative": 0.79}, "draws": 1000}
    s = sureness(scenario(settled=False), "undetermined", robust, missing=5)
    assert (s.kind, s.same, s.missing) == ("data", None, 5)
    assert sureness(scenario(), "recommended", None, missing=0).kind == "pending"


def test_no_share_for_an_answer_the_draws_did_not_give():
    """The draws are at the default parameters; at others the answer may differ: its share is then
    not measured, and the brief says the answer the draws were about."""
    robust = {
        "default": "tie: balanced/innovative/diversification",
        "draws": 1000,
        "outcomes": {"balanced": 0.17, "tie: balanced/innovative/diversification": 0.27},
    }
    s = sureness(scenario(recommended=["balanced"]), "recommended", robust, missing=0)
    assert (s.kind, s.same, s.others) == (
        "elsewhere",
        None,
        [("tie: balanced/innovative/diversification", 0)],
    )


def test_the_draws_label_is_in_rule_order_as_the_kernel_writes_it():
    """``recommended`` is ordered by score; the robustness run labels an outcome in rule order
    (scoring.kernel.outcome_label): 'balanced + innovative' either way."""
    from webapp.map.serialize import draws_label

    two = scenario(recommended=["innovative", "balanced"])
    assert draws_label(two) == "balanced + innovative"
    tie = scenario(tie=True, tied=["diversification", "balanced", "innovative"])
    assert draws_label(tie) == "tie: balanced/innovative/diversification"
    assert draws_label(scenario(settled=False, possible=["a", "b"])) is None


def test_drivers_are_the_levels_voting_for_the_answer_and_not_the_runner_up():
    town = {"scenario": scenario(), "levels": {}}
    assert drivers(town, "recommended") == [
        {
            "indicator": "mono_profile",
            "level": "medium",
            "scenario": "innovative",
            "over": "diversification",
        }
    ]
    missing = {
        "scenario": scenario(settled=False, decisive="demographic"),
        "levels": {
            "mono_profile": None,
            "economy_social": None,
            "demographic": None,
            "special": "high",
        },
    }
    assert [d["indicator"] for d in drivers(missing, "undetermined")] == [
        "demographic",
        "mono_profile",
        "economy_social",
    ]


def test_outcome_labels(method):
    from webapp.i18n import T

    t = T("ru", method)
    b, i, d = (t.scenario(s) for s in ("balanced", "innovative", "diversification"))
    assert t.outcome("tie: balanced/innovative") == f"ничья: {b}, {i}"
    assert t.outcome("innovative + diversification") == f"{i} + {d}"


def test_raw_inputs_go_through_the_indicators_an_indicator_is_built_from(method):
    got = raw_inputs("economy_social", method)
    assert got == [*method.indicators["economy"].inputs, *method.indicators["social"].inputs]
    assert len(raw_inputs("investment", method)) == 8


# -- on the shipped data -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def atlas():
    from scoring.pipeline import Pipeline

    return {t["id"]: t for t in Pipeline().run()["towns"]}


def test_every_town_brief_agrees_with_the_scored_town(atlas, method):
    for tid, town in atlas.items():
        b = town_brief(town, None, method)
        s = town["scenario"]
        assert f"{b.known}/{b.total}" == s["completeness"]
        assert b.known == sum(v is not None for v in town["levels"].values())
        if b.kind == "undetermined":
            assert b.scenarios == s["possible"] and b.sureness.kind == "data"
            assert {r["indicator"] for r in b.data_needed} == {
                c for c, v in town["levels"].items() if v is None
            }
            assert {i for r in b.data_needed for i in r["inputs"]} <= set(town["missing"])
        for d in b.drivers:
            if not d.get("missing"):
                assert d["indicator"] in {r["indicator"] for r in s["reasons"][d["scenario"]]}
                assert d["indicator"] not in {r["indicator"] for r in s["reasons"][d["over"]]}
                assert s["scores"][d["scenario"]] >= s["scores"][d["over"]]


def sections(html: str) -> list[str]:
    return [m for m in re.findall(r'<section id="([a-z-]+)" class="brief-part"', html)]


def test_town_page_opens_with_the_brief_in_order(client):
    html = client.get("/town/balkhash").get_data(as_text=True)
    assert sections(html) == SECTIONS
    assert html.index('id="data-needed"') < html.index('id="details"')
    text = re.sub(
        r"\s+",
        " ",
        re.sub(r"<[^>]+>", " ", html[html.index('id="sureness"') : html.index('id="drivers"')]),
    )
    assert re.search(
        r"In \d+ of 100 plausible variants of the method&#39;s choices the answer is exactly this",
        text,
    )
    assert "1,000 draws" in text


@pytest.mark.parametrize(
    "lang,words",
    [
        ("ru", "у 5 из 6 индикаторов нет значения"),
        ("kk", "6 индикатордың 5 мәні жоқ"),
        ("en", "5 of 6 indicators have no value"),
    ],
)
def test_an_undetermined_town_says_the_data_decide(client, lang, words):
    html = client.get(f"/town/aksu?lang={lang}").get_data(as_text=True)
    part = html[html.index('id="sureness"') : html.index('id="drivers"')]
    assert words in part and "100" not in part


def test_region_brief_has_every_town_once_and_counts_that_add_up(client):
    html = client.get("/brief?lang=ru").get_data(as_text=True)
    rows = re.findall(r'<tr id="row-([a-z]+)"', html)
    assert len(rows) == 27 == len(set(rows))
    counts = re.search(r'id="counts">(.*?)</p>', html, re.S).group(1)
    assert sum(int(n) for n in re.findall(r"<b>(\d+)</b>", counts)) == 27
    assert html.count("<circle") >= 27 and "<path" in html


@pytest.mark.parametrize(
    "query,message",
    [
        ("towns=a,b,c,d,e", "No town has the id &#39;a&#39;"),
        ("towns=balkhash,temirtau,karazhal,rudny,aksu", "Choose 2 to 4 towns."),
        ("towns=balkhash,balkhash", "A town is chosen twice."),
        ("towns=%3Cscript%3E,temirtau", "&lt;script&gt;"),
        ("towns=nosuch,temirtau&lang=ru", "Города с идентификатором «nosuch» нет."),
    ],
)
def test_compare_rejects_bad_choices_with_a_message(client, query, message):
    r = client.get("/compare?" + query)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and message in html and "<script>" not in html, html[:300]


def test_compare_from_one_town_asks_for_more_by_name_and_keeps_the_parameters(client):
    """A town brief's Compare opens the page with that town ticked: no error, the towns to tick by
    name, and the planner's parameters carried by the form (a recompute of the same answer)."""
    r = client.get("/compare?towns=karazhal&near_km=400&lang=ru")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="compare-more"' in html and "Выбрано: Каражал." in html
    boxes = re.findall(r'<input type="checkbox" name="towns" value="([a-z]+)"( checked)?>', html)
    assert len(boxes) == 27 and [v for v, c in boxes if c] == ["karazhal"]
    assert '<input type="hidden" name="near_km" value="400">' in html


def test_compare_in_another_language_keeps_the_towns(client):
    html = client.get("/compare?towns=karazhal,temirtau&near_km=400").get_data(as_text=True)
    kk = re.search(r'<a href="\?([^"]*)" data-lang="kk"', html).group(1)
    assert "near_km=400" in kk and "towns=karazhal%2Ctemirtau" in kk and "lang=kk" in kk


def test_compare_uses_the_planner_parameters(client):
    """The map's "compare with" link carries the planner's parameters: the page says what the map
    says for them (Karazhal at 400 km: Balanced; at the defaults a three-way tie)."""
    at = client.get("/compare?towns=karazhal,zhezkazgan&near_km=400").get_data(as_text=True)
    default = client.get("/compare?towns=karazhal&towns=zhezkazgan").get_data(as_text=True)

    def verdict(h: str) -> str:
        return re.sub(r"<[^>]+>|\s+", " ", h[h.index('id="cmp-verdict"') :])[:80]

    assert "Balanced from 6 of 6" in verdict(at), verdict(at)
    assert "No single recommendation" in verdict(default), verdict(default)
    api = client.get("/api/towns/karazhal?near_km=400").get_json()
    assert api["properties"]["scenario"]["recommended"] == ["balanced"]


@pytest.mark.parametrize(
    "page", ["/table", "/brief", "/town/temirtau", "/compare?towns=rudny,aksu"]
)
def test_secondary_pages_say_which_parameters_they_refused(client, page):
    """A mistyped permalink: the page shows the defaults and says so, naming the field."""
    sep = "&" if "?" in page else "?"
    html = client.get(page + sep + "near_km=abc&lang=ru").get_data(as_text=True)
    notice = html[html.index('id="params-not-applied"') :]
    notice = notice[: notice.index("</div>")]
    assert "страница показана с параметрами по умолчанию" in notice
    assert "Близость к крупному городу" in notice and "Допустимо: от 1 до 3" in notice
    assert 'id="params-not-applied"' not in client.get(page).get_data(as_text=True)


def test_compare_shows_the_towns_side_by_side(client, atlas):
    html = client.get("/compare?towns=balkhash,temirtau").get_data(as_text=True)
    assert html.count('class="cmp-level"') == 6 and html.count('class="cmp-score"') == 4
    for sid, n in atlas["temirtau"]["scenario"]["scores"].items():
        assert f'<td class="num">{n}</td>' in html
    row = html[html.index('id="cmp-official"') : html.index('id="cmp-measures"')]
    assert (
        "Industrial zone ordered by 1 December 2025" in row and row.count("<td>") == 2
    )  # Balkhash's zone
    assert 'id="cmp-measures"' in html


def pdf_pages(app, path: str) -> int:
    from webapp.pages.briefpages import pdf_document

    with app.test_request_context(path):
        from webapp.pages.briefpages import region_html
        from webapp.pages.views import town_page_html

        html = (
            region_html(for_pdf=True)
            if path.startswith("/brief")
            else town_page_html(path.split("/")[2].split("?")[0], for_pdf=True)
        )
        return len(pdf_document(html).pages)


def test_pdfs_are_at_most_two_a4_pages(app, client):
    r = client.get("/town/karazhal/brief.pdf?lang=kk")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and r.mimetype == "application/pdf"
    assert client.get("/brief.pdf?lang=ru").data.startswith(b"%PDF")
    assert 1 <= pdf_pages(app, "/brief?lang=ru") <= 2
    for tid in ("aksu", "karazhal", "balkhash", "zhanaozen"):
        assert 1 <= pdf_pages(app, f"/town/{tid}?lang=ru") <= 2, tid


def test_government_signals_are_compared_with_the_result_by_the_rule_in_data(client):
    """Karazhal: on the 2025 stagnating list, which the rule reads as against innovative (the tie
    includes it); Balkhash: an industrial zone, read as pointing to diversification, not the
    computed innovative."""
    kar = client.get("/api/towns/karazhal").get_json()
    stag = next(o for o in kar["official"] if o["kind"] == "stagnating_2025")
    assert stag["agreement"] == "contradicts" and "innovative" in stag["contradicts"]
    assert stag["source"].startswith("http") and stag["date"].startswith("2025")
    bal = client.get("/api/towns/balkhash").get_json()
    zone = next(o for o in bal["official"] if o["kind"] == "industrial_zone_2025")
    assert (zone["agreement"], zone["supports"]) == ("differs", ["diversification"])
    html = client.get("/town/balkhash").get_data(as_text=True)
    assert "points to Diversification, not to the computed result" in html
    assert all(
        m["source"].startswith("http") for m in bal["measures"]["town"] + bal["measures"]["common"]
    )
    assert all(e["source"].startswith("http") and "age_years" in e for e in bal["evidence"])


def test_a_tie_shows_measures_common_to_its_scenarios_and_those_that_differ(client, atlas):
    kar = client.get("/api/towns/karazhal").get_json()["measures"]
    tied = set(atlas["karazhal"]["scenario"]["tied"])
    assert set(kar["scenarios"]) == tied
    assert all(tied <= set(m["scenarios"]) for m in kar["common"])
    for sid, fams in kar["differs"].items():
        assert all(sid in m["scenarios"] and not tied <= set(m["scenarios"]) for m in fams)


def test_official_data_errors_name_file_row_and_field(tmp_path):
    import shutil
    from pathlib import Path

    from scoring.official import OfficialDataError, load_official

    root = Path(__file__).resolve().parent.parent / "data"
    shutil.copytree(root / "official", tmp_path / "official")
    path = tmp_path / "official" / "signals.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    first, town, rest = lines[3].split(",", 2)
    lines[3] = ",".join([first, "atlantis", rest])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        OfficialDataError, match=r"signals.csv, row 4, field town_id: 'atlantis' is not a town"
    ):
        load_official(
            tmp_path,
            towns=TOWNS,
            scenarios={"inertial", "balanced", "innovative", "diversification"},
        )
