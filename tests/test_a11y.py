"""Accessibility in a real headless browser (issue 23, items 3, 7 and 8): axe-core, injected by the
test from node_modules (the app never serves it), finds no serious or critical violation on the map,
town, table, data, compare and brief pages in ru and kk; the map page's Tab order skips the shapes
that do nothing and its skip links land on focusable targets."""

from pathlib import Path

import pytest

import test_browser

# test_browser's fixtures (one app, server and browser per module) and its page loader
app, browser, server, load = (
    test_browser.app,
    test_browser.browser,
    test_browser.server,
    test_browser.load,
)

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "map": "/",
    "town": "/town/temirtau",
    "table": "/table",
    "data": "/data",
    "compare": "/compare?towns=temirtau,balkhash,saran",
    "brief": "/brief",
}
SEVERE = ("serious", "critical")


@pytest.fixture()
def page(browser, server):
    """test_browser's page, with the page's Content Security Policy bypassed so that the test may
    inject axe-core as an inline script (the app's own pages are unchanged)."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 900}, bypass_csp=True)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def axe_violations(page) -> list[dict]:
    """Axe-core's violations on the open page (every rule: WCAG 2.x A and AA and axe's best
    practices), each with its node count."""
    assert AXE.is_file(), (
        "axe-core is not installed: run `make install` (npm ci installs the devDependencies)"
    )
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
            first: v.nodes[0].target.join(' ') + ' '
                + (v.nodes[0].failureSummary || '').slice(0, 200)}));
    }""")


def open_page(page, server, name: str, lang: str) -> None:
    url = server + PAGES[name] + ("&" if "?" in PAGES[name] else "?") + f"lang={lang}"
    if name == "map":
        load(page, url, layers=True)
    else:
        resp = page.goto(url)
        assert resp.status == 200, url
        page.wait_for_load_state("load")


@pytest.mark.parametrize("lang", ["ru", "kk"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_axe_violation(page, server, name, lang):
    open_page(page, server, name, lang)
    severe = [v for v in axe_violations(page) if v["impact"] in SEVERE]
    assert severe == [], severe
    assert page.errors == []


def tab_stops(page, limit: int = 400) -> list[str]:
    """The elements Tab reaches from the top of the page, in order, until it leaves the document."""
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
    )
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        el = page.evaluate("""() => { const e = document.activeElement;
            if (!e || e === document.body) return null;
            return e.tagName + '#' + (e.id || '') + '.' + (e.getAttribute('class') || '') + '|'
                + (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 30); }""")
        if el is None or (seen and el == seen[0]):
            break
        seen.append(el)
    return seen


def test_map_page_tab_stops_skip_the_shapes(page, server):
    load(page, server + "/?lang=ru", layers=True)
    stops = tab_stops(page)
    assert len(stops) < 100, (len(stops), stops)
    # no SVG shape without a name: oblasts and roads are out of the Tab order; the towns stay in it
    assert not [s for s in stops if s.startswith("path#") and s.endswith("|")], stops
    assert sum(s.startswith("path#") for s in stops) <= 27


@pytest.mark.parametrize("path", ["/?lang=kk", "/town/temirtau?lang=ru"])
def test_skip_links_land_on_focusable_targets(page, server, path):
    if path.startswith("/?"):
        load(page, server + path)
    else:
        page.goto(server + path)
    links = page.eval_on_selector_all(
        ".skip a[href^='#']", "as => as.map(a => a.getAttribute('href'))"
    )
    assert links, "no skip link"
    for href in links:
        page.evaluate(
            "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0,"
            " 0); }"
        )
        page.keyboard.press("Tab")
        # the first Tab reaches the first skip link; follow each by its own focus and Enter
        page.focus(f"a[href='{href}']")
        page.keyboard.press("Enter")
        active = page.evaluate("() => document.activeElement && document.activeElement.id")
        assert (
            active
            and active == href[1:]
            or page.evaluate(
                "h => document.querySelector(h).contains(document.activeElement)", href
            )
        ), (href, active)
        assert page.evaluate("() => document.activeElement !== document.body"), href


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""

    def lum(h: str) -> float:
        c = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_golden_values():
    assert round(contrast("#999999", "#ffffff"), 2) == 2.85  # the "нет данных" before
    assert round(contrast("#666666", "#ffffff"), 2) == 5.74
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0


def test_every_marker_outlined_against_the_land(page, server):
    """Every shown town marker has a dark ring just outside it (at least 3:1 against the land, WCAG
    1.4.11), whatever its fill; a filter that hides a town hides its ring."""
    load(page, server + "/?lang=kk", layers=True)
    land = page.evaluate(
        "() => JSON.parse(document.getElementById('boot').textContent)"
        ".layer_specs.oblasts.styles[''].fillColor"
    )
    rings = page.evaluate("""() => Array.from(document.querySelectorAll('path.town-casing'))
        .map(p => [p.getAttribute('stroke'), p.getBoundingClientRect().width])""")
    assert len(rings) == 27
    assert all(contrast(stroke, land) >= 3 for stroke, _ in rings), (land, rings)
    # each ring encloses its marker: wider than the marker's own circle and its stroke
    widths = page.evaluate(
        """() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return Object.values(b.registry.markers)
            .map(v => window[v]._path.getBoundingClientRect().width); }"""
    )
    assert min(w for _, w in rings) > min(widths)
    page.select_option("#f-signal", "stagnating_2025")
    assert page.evaluate("document.querySelectorAll('path.town-casing').length") == 4
    assert page.errors == []


def test_town_list_is_one_tab_stop_that_follows_search(page, server):
    """One row of the list (and its compare box) is in the Tab order: the focused one, or the first
    shown when a search hides it."""
    load(page, server + "/?lang=ru")
    tabbable = (
        "() => Array.from(document.querySelectorAll('#town-list tbody tr, #town-list input.cmp'))"
        ".filter(e => e.tabIndex === 0).map(e => e.dataset.id || e.value)"
    )
    assert page.evaluate(tabbable) == ["abay", "abay"]
    page.focus("#town-list tr[data-id='abay']")
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.dataset.id")
    assert page.evaluate(tabbable) == [second, second]
    page.fill("#search", "temir")
    assert page.evaluate(tabbable) == ["temirtau", "temirtau"]
    assert page.errors == []
