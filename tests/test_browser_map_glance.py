"""The map at a glance (issue 21, items 2, 6 and 7): counts and filters above the list, official
signals and compare links in the popup and the list; in a real headless browser (fixtures of
test_browser)."""

import json
import re

import pytest

from test_browser import app, browser, load, page, server  # noqa: F401  (pytest fixtures)

SCENARIOS = ("inertial", "balanced", "innovative", "diversification")


def boot(page) -> dict:
    return page.evaluate("() => JSON.parse(document.getElementById('boot').textContent)")


def api_facts(page, server, query: str = "") -> tuple[dict, dict]:
    """Per town from the API (not from the page): its verdict's kind and the kinds of its official
    signals."""
    fc = page.request.get(server + "/api/towns" + query).json()
    kinds = {
        f["id"]: (
            "recommended"
            if f["properties"]["category"] in SCENARIOS
            else f["properties"]["category"]
        )
        for f in fc["features"]
    }
    signals = {
        tid: {o["kind"] for o in page.request.get(f"{server}/api/towns/{tid}").json()["official"]}
        for tid in kinds
    }
    return kinds, signals


def shown_rows(page) -> list:
    return page.eval_on_selector_all(
        "#town-list tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.id)"
    )


def shown_markers(page) -> list:
    """The towns whose marker is drawn on the map (its path in the document)."""
    return page.evaluate(
        """() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return Object.entries(b.registry.markers).filter(([id, v]) => window[v]._path
            && document.body.contains(window[v]._path)).map(([id]) => id); }"""
    )


def label_count(page) -> int:
    return page.evaluate("document.querySelectorAll('.town-label').length")


def count_of(text: str, label: str) -> int:
    m = re.search(re.escape(label) + r": (\d+)", text)
    assert m, (label, text)
    return int(m.group(1))


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_map_glance_counts_match_api(page, server, lang):
    load(page, server + f"/?lang={lang}")
    b = boot(page)
    g = b["glance"]
    kinds, signals = api_facts(page, server)
    text = page.inner_text("#glance-counts")
    assert f"{b['i18n']['glance_shown']}: 27 / 27" in text
    for k, label in g["kinds"].items():
        n = sum(v == k for v in kinds.values())
        if n:
            assert count_of(text, label) == n, (k, text)
        else:
            assert f"{label}:" not in text
    for s in (
        "withdrawn",
        "stagnating_2025",
        "comprehensive_plan_2023_2027",
        "industrial_zone_2025",
    ):
        assert count_of(text, g["signals_short"][s]) == sum(s in v for v in signals.values()), s
    # golden values of the shipped official data: Saran and Tekeli withdrawn, four stagnating, ten
    # plans
    assert count_of(text, g["signals_short"]["withdrawn"]) == 2
    assert count_of(text, g["signals_short"]["stagnating_2025"]) == 4
    assert count_of(text, g["signals_short"]["comprehensive_plan_2023_2027"]) == 10
    # the interface is in the page's language: no English label above the list
    assert not re.search(
        r"\b(Shown|Withdrawn|Stagnating|Tie|Undetermined|Result|Official)\b",
        page.inner_text("#glance"),
    )
    assert page.errors == []


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_map_filter_hides_rows_markers_and_labels(page, server, lang):
    load(page, server + f"/?lang={lang}")
    kinds, signals = api_facts(page, server)
    assert len(shown_markers(page)) == 27 and label_count(page) == 27
    stagnating = sorted(t for t, s in signals.items() if "stagnating_2025" in s)
    page.select_option("#f-signal", "stagnating_2025")
    assert sorted(shown_rows(page)) == stagnating
    assert sorted(shown_markers(page)) == stagnating and label_count(page) == len(stagnating)
    assert page.get_attribute("#glance-counts", "data-shown") == str(len(stagnating))
    # each option says how many towns it would show with the other filters as set
    opt = page.inner_text("#f-verdict option[value='kind:undetermined']")
    assert opt.endswith(f"({sum(kinds[t] == 'undetermined' for t in stagnating)})")
    # two filters together: the stagnating towns of Karaganda oblast (Karazhal is in Ulytau since
    # 2022)
    oblast = page.get_attribute("#town-list tr[data-id='karazhal']", "data-oblast")
    page.select_option("#f-oblast", oblast)
    both = sorted(shown_rows(page))
    assert (
        "karazhal" in both and set(both) <= set(stagnating) and sorted(shown_markers(page)) == both
    )
    # keyboard: the filters are ordinary selects in the tab order, the clear button shows all again
    page.focus("#f-clear")
    page.keyboard.press("Enter")
    assert (
        len(shown_rows(page)) == 27 and len(shown_markers(page)) == 27 and label_count(page) == 27
    )
    page.focus("#f-complete")
    page.keyboard.press("ArrowDown")  # the first value: all indicators (6/6)
    value = page.input_value("#f-complete")
    if value:  # a closed select on this platform changes with the arrow keys
        full = page.eval_on_selector_all(
            "#town-list tbody tr",
            "rs => rs.map(r => [r.dataset.id, r.querySelector('.complete').textContent])",
        )
        assert sorted(shown_rows(page)) == sorted(t for t, c in full if c == value)
    assert page.errors == []


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_map_popup_signals_and_compare_link(page, server, lang):
    load(page, server + f"/?lang={lang}")
    page.click("tr[data-id='karazhal']")
    popup = page.wait_for_selector(".leaflet-popup-content .popup[data-town='karazhal'] .signals")
    # the brief's words: the 2025 stagnating list speaks against the computed scenarios
    rec = page.request.get(server + "/api/towns/karazhal").json()
    assert {o["kind"] for o in rec["official"]} == set(
        page.eval_on_selector_all(
            ".leaflet-popup-content .signal", "ls => ls.map(l => l.dataset.kind)"
        )
    )
    assert page.get_attribute(
        ".leaflet-popup-content .signal[data-kind='stagnating_2025']", "class"
    ).endswith("contradicts")
    assert page.inner_text(".leaflet-popup-content .signal[data-kind='stagnating_2025'] .agree")
    link = page.get_attribute(".leaflet-popup-content a.compare-link", "href")
    assert link.startswith("/compare?towns=karazhal,zhezkazgan&") and f"lang={lang}" in link
    assert popup.inner_text()
    page.click(".leaflet-popup-content a.compare-link")
    page.wait_for_selector("#compare")
    heads = page.eval_on_selector_all(
        "#compare thead th a", "as => as.map(a => a.getAttribute('href'))"
    )
    assert [h.split("?")[0] for h in heads] == ["/town/karazhal", "/town/zhezkazgan"]


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_map_list_compare_selection(page, server, lang):
    load(page, server + f"/?lang={lang}")
    assert page.is_hidden("#compare-selected")
    page.check("#town-list tr[data-id='balkhash'] input.cmp")
    assert page.is_hidden("#compare-selected")
    assert (
        page.eval_on_selector_all("#town-list tr.selected", "rs => rs.length") == 0
    )  # ticking is not opening
    page.focus("#town-list tr[data-id='temirtau'] input.cmp")
    page.keyboard.press("Space")
    assert page.is_visible("#compare-selected")
    for tid in ("rudny", "satpayev"):
        page.check(f"#town-list tr[data-id='{tid}'] input.cmp")
    assert page.is_disabled("#town-list tr[data-id='aksu'] input.cmp")  # at most 4
    page.uncheck("#town-list tr[data-id='satpayev'] input.cmp")
    href = page.get_attribute("#compare-selected", "href")
    chosen = href.split("towns=")[1].split("&")[0].split(",")
    assert sorted(chosen) == ["balkhash", "rudny", "temirtau"] and f"lang={lang}" in href
    page.click("#compare-selected")
    page.wait_for_selector("#compare")
    assert len(page.eval_on_selector_all("#compare thead th a", "as => as")) == 3
    assert page.errors == []


def test_map_glance_follows_recompute(page, server):
    """The counts and filters follow the planner's Apply: with estimates, undetermined towns become
    likely."""
    load(page, server + "/?lang=ru")
    g = boot(page)["glance"]
    page.select_option("#f-verdict", "kind:undetermined")
    before = len(shown_rows(page))
    page.select_option("#p-estimates", "on")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    kinds, _ = api_facts(page, server, "?estimates=on")
    undetermined = sorted(t for t, k in kinds.items() if k == "undetermined")
    assert sorted(shown_rows(page)) == undetermined == sorted(shown_markers(page))
    likely = sum(k == "likely" for k in kinds.values())
    assert likely > 0 and len(undetermined) == before - likely
    page.select_option("#f-verdict", "")
    assert count_of(page.inner_text("#glance-counts"), g["kinds"]["likely"]) == likely


def test_popup_extras_server(app):
    """The popups (server side): each town's official signals exactly as the brief lists them, and a
    compare partner in its own oblast (the nearest by geodesic distance) wherever the oblast has
    another."""
    from webapp.pages.brief import get_official, official_items, town_brief
    from webapp.pages.mapview import compare_partners, popup_extras
    from webapp.model import get_atlas
    from webapp.pages.views import translator

    with app.test_request_context("/?lang=kk"):
        svc = get_atlas()
        partners = compare_partners(svc.metas)
        assert partners["karazhal"] == "zhezkazgan" and partners["temirtau"] in (
            "saran",
            "shakhtinsk",
            "abay",
        )
        for tid, other in partners.items():
            alone = sum(m["oblast"] == svc.metas[tid]["oblast"] for m in svc.metas.values()) == 1
            assert other != tid and (
                alone or svc.metas[other]["oblast"] == svc.metas[tid]["oblast"]
            )
        atlas = svc.results()
        extras = popup_extras(atlas, svc, translator(svc, "kk"))
        rec = next(t for t in atlas["towns"] if t["id"] == "balkhash")
        assert extras["balkhash"]["official"] == official_items(
            get_official(svc), "balkhash", town_brief(rec, None, svc.method).scenarios, "kk"
        )
    client = app.test_client()
    page_html = client.get("/?lang=ru").get_data(as_text=True)
    assert 'id="f-signal"' in page_html and 'value="stagnating_2025"' in page_html
    b = json.loads(
        re.search(r'id="boot">(.*?)</script>', page_html, re.S).group(1).replace("<\\/", "</")
    )
    popups = client.get(b["urls"]["popups"]).get_json()
    assert 'data-kind="withdrawn"' in popups["saran"] and "/compare?towns=saran," in popups["saran"]
    assert {d["kind"] for d in b["display"].values()} <= {
        "recommended",
        "two",
        "tie",
        "likely",
        "undetermined",
        "none",
    }


def test_sorting_the_list_by_scenario_follows_the_legend(page, server):
    """By scenario: the method's scenarios in order, then two, a tie, likely, undetermined, none
    (not the verdicts' alphabetical order)."""
    load(page, server + "/?lang=ru")
    page.click("#town-list th button[data-sort='scenario']")
    cats = page.evaluate(
        """() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return Array.from(document.querySelectorAll('#town-list tbody tr'))
            .map((tr) => b.display[tr.dataset.id].category); }"""
    )
    order = [
        "inertial",
        "balanced",
        "innovative",
        "diversification",
        "two",
        "tie",
        "likely",
        "undetermined",
        "none",
    ]
    ranks = [order.index(c) for c in cats]
    assert len(cats) == 27 and ranks == sorted(ranks), cats
