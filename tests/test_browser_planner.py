"""The planner's changes in Debian's chromium (issue 23, item 5): what the last Apply changed
(against the state before it) as well as everything against the defaults, so a planned road's own
effect shows, "no town changes" included; the tables grouped by town with no word broken inside; a
bad planned road named by its number and its two ends as typed."""

import pytest

import test_browser

app, browser, server, load = (
    test_browser.app,
    test_browser.browser,
    test_browser.server,
    test_browser.load,
)
ROAD = {"from": "Karazhal", "to": "Жезказган", "class": "republican"}


@pytest.fixture()
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def apply(page, n: int) -> None:
    page.click("#apply")
    page.wait_for_selector(f"body[data-recomputed='{n}']", timeout=20000)


def add_road(page, start: str, end: str) -> None:
    page.fill("#road-from", start)
    page.fill("#road-to", end)
    page.click("#road-add")


def towns_in(page, table: str) -> set[str]:
    return set(
        page.eval_on_selector_all(f"#{table} tbody tr.group", "rs => rs.map(r => r.dataset.town)")
    )


def differing(app, a: dict, b: dict) -> set[str]:
    """Towns whose compared result differs between two parameter sets, read from the API's two
    answers (inputs, levels, the verdict the map shows, nearest large city, road km to 0.1 and
    minutes to 1)."""
    from webapp.map.serialize import verdict_label

    client = app.test_client()
    one, two = (client.post("/api/recompute", json=p).get_json()["features"] for p in (a, b))

    def key(f):
        p, g = f["properties"], f["properties"]["agglomeration"]
        km, mins = g.get("road_km"), g.get("travel_min")
        return (
            p["inputs"],
            p["levels"],
            verdict_label(p["scenario"]),
            g.get("nearest_large_city"),
            None if km is None else round(km, 1),
            None if mins is None else round(mins),
        )

    return {f["id"] for f, g in zip(one, two) if key(f) != key(g)}


def test_changes_since_the_last_apply_show_a_roads_own_effect(page, server, app):
    load(page, server + "/?lang=kk")
    assert page.is_hidden("#since-changes")  # nothing applied yet
    page.fill("#p-near_km", "250")
    apply(page, 1)
    first = towns_in(page, "changes")
    assert first and towns_in(page, "changes-since") == first  # from the defaults: the same towns
    add_road(page, ROAD["from"], ROAD["to"])
    apply(page, 2)
    since, against_defaults = towns_in(page, "changes-since"), towns_in(page, "changes")
    assert since == differing(app, {"near_km": 250}, {"near_km": 250, "planned_roads": [ROAD]})
    assert "karazhal" in since and since < against_defaults  # the road's own effect, not near_km's
    rows = page.inner_text("#changes-since tbody")
    assert "Жезқазған" in rows  # Karazhal's new nearest large city, in Kazakh
    assert page.inner_text("#change-summary").endswith(f": {len(since)}")
    apply(page, 3)  # the same parameters again: no town changes
    assert page.is_visible("#since-none") and page.is_hidden("#changes-since")
    assert page.inner_text("#change-summary").endswith(": 0")
    assert towns_in(page, "changes") == against_defaults
    assert page.errors == []


def test_changes_table_says_the_verdicts_the_map_shows(page, server):
    """Karazhal at the defaults is a three-way tie (the map's words), at 400 km and 120 minutes
    Balanced: the changes table says so, and the town's row in the list says the same."""
    load(page, server + "/?lang=en")
    page.fill("#p-near_km", "400")
    page.fill("#p-fua_minutes", "120")
    apply(page, 1)
    rows = page.eval_on_selector_all(
        "#changes tbody tr[data-town='karazhal']:not(.group)",
        "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent))",
    )
    scen = [r for r in rows if r[0] == "Scenario"]
    tie = "a tie of Balanced, Innovative, Diversification"
    assert scen == [["Scenario", tie, "Balanced"]], rows
    assert page.inner_text("tr[data-id='karazhal'] .verdict") == "Balanced"
    assert page.errors == []


def broken_words(page, selector: str) -> list[str]:
    """Words in the cells that the browser lays out on more than one line (broken inside the
    word)."""
    return page.evaluate(
        """(sel) => { const out = [];
        document.querySelectorAll(sel).forEach((cell) => {
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const re = /\\S+/g; let m;
            while ((m = re.exec(node.data))) {
              const r = document.createRange(); r.setStart(node, m.index); r.setEnd(node,
                  m.index + m[0].length);
              const tops = new Set(Array.from(r.getClientRects()).filter(b => b.width > 0)
                  .map(b => Math.round(b.top)));
              if (tops.size > 1) out.push(m[0]);
            }
          }
        }); return out; }""",
        selector,
    )


@pytest.mark.parametrize("width", [1440, 1100])
def test_changes_table_readable_grouped_whole_words(browser, server, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    try:
        load(
            page,
            server
            + "/?lang=kk&near_km=250&planned_roads="
            + test_browser.PLANNED.split("planned_roads=")[1],
        )
        page.fill("#p-near_km", "400")
        apply(page, 1)
        assert towns_in(page, "changes") and towns_in(page, "changes-since")
        for table in ("changes", "changes-since"):
            assert broken_words(page, f"#{table} th, #{table} td") == [], table
            box = page.eval_on_selector(
                f"#{table}", "t => [t.offsetWidth, t.parentElement.clientWidth]"
            )
            assert abs(box[0] - box[1]) <= 1, (
                table,
                box,
            )  # the planner's width, no sideways overflow
        # grouped: one heading row per town, then rows of three cells (what, before, after)
        cells = page.eval_on_selector_all(
            "#changes tbody tr:not(.group)", "rs => rs.map(r => r.cells.length)"
        )
        assert cells and set(cells) == {3}
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("lang", "lead"),
    [
        ("en", "Planned road 2 (Temirtau – Nowhereville)"),
        ("ru", "Планируемая дорога 2 (Temirtau – Nowhereville)"),
        ("kk", "Жоспарланған 2-жол (Temirtau – Nowhereville)"),
    ],
)
def test_a_bad_planned_road_is_named(page, server, lang, lead):
    load(page, server + f"/?lang={lang}")
    add_road(page, ROAD["from"], ROAD["to"])
    add_road(page, "Temirtau", "Nowhereville")
    page.click("#apply")
    page.wait_for_function(
        "() => document.getElementById('err-planned_roads').textContent.length > 0", timeout=20000
    )
    text = page.inner_text("#err-planned_roads")
    assert text.startswith(lead) and "Nowhereville" in text[len(lead) :], text
    assert page.eval_on_selector_all(
        "#road-list li", "ls => ls.map(l => l.classList.contains('invalid'))"
    ) == [False, True]
    assert lead in page.inner_text("#change-summary")
    # a point too far from any road, typed as latitude, longitude, is named as typed
    page.click("#road-list li:nth-child(2) button")
    add_road(page, "Temirtau", "60.0000, 100.0000")
    page.click("#apply")
    page.wait_for_function(
        "() => document.getElementById('err-planned_roads').textContent.includes('60.0000')",
        timeout=20000,
    )
    text = page.inner_text("#err-planned_roads")
    assert text.startswith(lead.replace("Nowhereville", "60.0000, 100.0000")), text
    assert page.errors == []


def test_a_permalink_with_a_bad_road_lists_the_roads_and_names_it(page, server):
    """A permalink whose planned roads are refused falls back to the defaults, but its roads are
    listed again as typed, the bad one named and marked, so the reader can mend it."""
    import json
    from urllib.parse import quote

    roads = [ROAD, {"from": "Temirtau", "to": "Nowhereville", "class": "republican"}]
    load(page, server + "/?lang=ru&planned_roads=" + quote(json.dumps(roads)))
    assert page.eval_on_selector_all("#road-list li", "ls => ls.length") == 2
    text = page.inner_text("#err-planned_roads")
    assert (
        text.startswith("Планируемая дорога 2 (Temirtau – Nowhereville)")
        and "«Nowhereville»" in text
    ), text
    assert page.eval_on_selector_all(
        "#road-list li", "ls => ls.map(l => l.classList.contains('invalid'))"
    ) == [False, True]
    page.click("#road-list li:nth-child(2) button")  # mended: the good road alone is applied
    apply(page, 1)
    assert "karazhal" in towns_in(page, "changes")
    assert page.errors == []


def test_asked_roads_keeps_ends_as_typed_and_refuses_junk(app):
    from webapp.pages.views import asked_roads

    assert asked_roads(
        {"planned_roads": '[{"from": "Temirtau", "to": [67.71, 47.8], "class": "oblast"}]'}
    ) == [{"from": "Temirtau", "to": [67.71, 47.8], "class": "oblast"}]
    assert asked_roads({"planned_roads": "not json"}) == []
    assert asked_roads({"planned_roads": '{"from": 1}'}) == []
    odd = asked_roads({"planned_roads": '[{"from": [1, true], "to": {"x": 1}}, 5]'})
    assert odd == [{"from": "[1, true]", "to": '{"x": 1}', "class": ""}]
    assert (
        len(asked_roads({"planned_roads": "[" + ",".join(['{"from": "a", "to": "b"}'] * 50) + "]"}))
        == 20
    )
    for depth in (
        900,
        5000,
        15000,
    ):  # nested deeper than Python's stack: refused, no RecursionError
        deep = '[{"from": ' + "[" * depth + "]" * depth + ', "to": "x"}]'
        assert asked_roads({"planned_roads": deep}) in (
            [],
            [{"from": ("[" * depth + "]" * depth)[:197] + "...", "to": "x", "class": ""}],
        )
    lone = asked_roads(
        {"planned_roads": '[{"from": "\\ud800", "to": "Zhezkazgan", "class": "\\udc80"}]'}
    )
    assert lone == [
        {"from": "?", "to": "Zhezkazgan", "class": "?"}
    ]  # a lone surrogate cannot be sent


def test_the_actions_bar_closes_the_planner_at_its_foot(page, server):
    """Desktop: the sticky bar (Apply, Reset, summary) ends where the planner's visible box ends, so
    no strip of the form shows under it."""
    test_browser.load(page, server + "/?lang=ru")
    bar = page.eval_on_selector("#planner-actions", "e => e.getBoundingClientRect().toJSON()")
    box = page.eval_on_selector("#planner", "e => e.getBoundingClientRect().toJSON()")
    assert abs(bar["bottom"] - box["bottom"]) <= 1.5, (bar, box)
