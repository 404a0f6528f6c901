"""Axe-core at phone size (issue 23, item 8): the map, town and table pages at 390x844 in ru and kk
have no serious or critical violation (the desktop checks are tests/test_a11y.py, whose axe runner
this uses)."""

import pytest

import test_a11y
import test_browser

app, browser, server, load = (
    test_browser.app,
    test_browser.browser,
    test_browser.server,
    test_browser.load,
)
PHONE_PAGES = ("map", "town", "table")


@pytest.fixture()
def phone(browser, server):
    """A 390x844 touch page with the Content Security Policy bypassed, so the test may inject axe-
    core."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, bypass_csp=True
    )
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def target_size_violations(page) -> list[dict]:
    """Axe-core's target-size rule (WCAG 2.2 AA 2.5.8: a pointer target at least 24x24 px, or that
    far from any other; off by default in axe, on in Lighthouse) on the open page (axe already
    injected)."""
    return page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: ['target-size']});
        return r.violations.flatMap(v => v.nodes.map(n => n.target.join(' '))); }""")


@pytest.mark.parametrize("lang", ["ru", "kk"])
@pytest.mark.parametrize("name", PHONE_PAGES)
def test_no_serious_or_critical_axe_violation_on_a_phone(phone, server, name, lang):
    test_a11y.open_page(phone, server, name, lang)
    found = test_a11y.axe_violations(phone)
    severe = [v for v in found if v["impact"] in test_a11y.SEVERE]
    assert severe == [], severe
    small = target_size_violations(phone)
    assert small == [], "\n".join(small)
    assert phone.errors == []


def test_no_serious_or_critical_axe_violation_with_a_popup_open_on_a_phone(phone, server):
    """The map with a town's popup open (tapped in the list) and the planner's actions bar in
    view."""
    test_a11y.open_page(phone, server, "map", "kk")
    phone.tap("tr[data-id='temirtau']")
    phone.wait_for_selector(".leaflet-popup-content .popup[data-town='temirtau']")
    severe = [v for v in test_a11y.axe_violations(phone) if v["impact"] in test_a11y.SEVERE]
    assert severe == [], severe
