"""Labels and large cities on the map in Debian's chromium (issue 23, item 7): at the opening view
no two labels overlap and no label covers a marker, on a desktop and on a 390x844 phone, in ru and
kk; the towns that collided (Zhanatas/Kentau/Karatau, Lisakovsk/Zhitikara, Ekibastuz/Aksu) are all
labelled on a desktop; the large cities are squares with their names, unlike the towns' circles, and
the legend says so."""

import pytest

import test_browser

app, browser, server, load = (
    test_browser.app,
    test_browser.browser,
    test_browser.server,
    test_browser.load,
)

VIEWS = {
    "desktop": {"width": 1440, "height": 900},
    "wide": {"width": 1920, "height": 1080},
    "phone": {"width": 390, "height": 844},
}
BOXES = """() => {
    const box = (e) => { const r = e.getBoundingClientRect(); return {left: r.left, top: r.top,
        right: r.right, bottom: r.bottom}; };
    const shown = (e) => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
    const b = JSON.parse(document.getElementById('boot').textContent);
    return {
      labels: Array.from(document.querySelectorAll('.town-label, .city-label')).filter(shown)
        .map(e => ({text: e.textContent, kind: e.className, ...box(e)})),
      towns: Object.entries(b.registry.markers).map(([id, v]) => ({id, ...box(window[v]._path)})),
      cities: Array.from(document.querySelectorAll('.city-mark')).map(box),
      map: box(document.querySelector('.folium-map')),
    }; }"""


def overlap(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def read(browser, server, view: str, lang: str, *, zoom_in: bool = False) -> dict:
    phone = view == "phone"
    ctx = browser.new_context(viewport=VIEWS[view], is_mobile=phone, has_touch=phone)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        load(page, server + f"/?lang={lang}", layers=True)
        if zoom_in:
            page.click(".leaflet-control-zoom-in")
            page.wait_for_timeout(600)
        out = page.evaluate(BOXES)
    finally:
        ctx.close()
    assert errors == []
    return out


@pytest.mark.parametrize("lang", ["ru", "kk"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_labels_do_not_collide_at_the_opening_view(browser, server, view, lang):
    got = read(browser, server, view, lang)
    labels = got["labels"]
    clashes = [
        (a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if overlap(a, b)
    ]
    assert clashes == []
    covered = [
        (lab["text"], m.get("id", "city"))
        for lab in labels
        for m in got["towns"] + got["cities"]
        if overlap(lab, m)
    ]
    assert covered == []
    m = got["map"]
    assert all(
        lab["left"] >= m["left"]
        and lab["right"] <= m["right"]
        and lab["top"] >= m["top"]
        and lab["bottom"] <= m["bottom"]
        for lab in labels
    )
    towns = [lab for lab in labels if "town-label" in lab["kind"]]
    if view != "phone":  # every town is labelled on a desktop; on a phone those that fit are
        assert len(towns) == 27, sorted(lab["text"] for lab in towns)
        assert sum("city-label" in lab["kind"] for lab in labels) >= 12
    else:
        assert len(towns) >= 12


def test_labels_do_not_collide_one_zoom_step_in(browser, server):
    got = read(browser, server, "desktop", "ru", zoom_in=True)
    labels = got["labels"]
    assert not [
        (a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if overlap(a, b)
    ]


def test_the_towns_that_collided_are_labelled_apart(browser, server):
    names = {"Жанатас", "Кентау", "Каратау", "Лисаковск", "Житикара", "Экибастуз", "Аксу"}
    labels = {lab["text"]: lab for lab in read(browser, server, "desktop", "ru")["labels"]}
    assert names <= set(labels), names - set(labels)
    for group in (
        ("Жанатас", "Кентау", "Каратау"),
        ("Лисаковск", "Житикара"),
        ("Экибастуз", "Аксу"),
    ):
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                assert not overlap(labels[a], labels[b]), (a, b)


def test_large_cities_are_labelled_squares_unlike_towns(browser, server):
    ctx = browser.new_context(viewport=VIEWS["desktop"])
    page = ctx.new_page()
    try:
        load(page, server + "/?lang=kk", layers=True)
        squares = page.eval_on_selector_all(
            ".city-mark",
            """ms => ms.map(m => { const r = m.getBoundingClientRect();
            return [r.width, r.height, getComputedStyle(m).borderRadius]; })""",
        )
        assert len(squares) == 20 and all(
            w == h and w >= 9 and radius == "0px" for w, h, radius in squares
        ), squares
        # the towns stay circles (SVG circle markers), none of them a square
        assert page.evaluate("document.querySelectorAll('path[data-town]').length") == 27
        labels = page.eval_on_selector_all(
            ".city-label", "ls => ls.filter(l => l.offsetParent).map(l => l.textContent)"
        )
        assert "Астана" in labels and "Алматы" in labels
        assert (
            page.eval_on_selector(".city-label", "l => getComputedStyle(l).textTransform")
            == "uppercase"
        )
        # a city's tooltip: its name, status and population
        tips = page.evaluate(
            f"""() => {{ const b = {test_browser.BOOT}; const g = window[b.registry.cities],
                out = [];
            g.eachLayer(l => out.push(l.getTooltip().getContent())); return out; }}"""
        )
        assert len(tips) == 20 and any("Астана" in tip for tip in tips)
        # the legend draws the cities' square with the map's colours
        entry = page.locator("#legend-markers li", has_text="Ірі қалалар")
        assert entry.count() == 1 and entry.locator("svg rect").count() == 1
        # the cities' layer off: their squares and labels go, the towns' labels stay
        page.locator(".leaflet-control-layers").hover()
        page.locator(".leaflet-control-layers-overlays label", has_text="Ірі қалалар").locator(
            "input"
        ).click()
        assert page.evaluate("document.querySelectorAll('.city-mark').length") == 0
        assert (
            page.eval_on_selector_all(".city-label", "ls => ls.filter(l => l.offsetParent).length")
            == 0
        )
        assert (
            page.eval_on_selector_all(".town-label", "ls => ls.filter(l => l.offsetParent).length")
            == 27
        )
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
@pytest.mark.parametrize("width", [1440, 1100])
def test_town_list_verdicts_whole_words(browser, server, width, lang):
    """The list's verdicts in every language: no word laid out on two lines (Chromium here has no
    Kazakh or Russian hyphenation)."""
    from test_browser_planner import broken_words

    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    try:
        load(page, server + f"/?lang={lang}")
        assert broken_words(page, "#town-list .verdict") == []
        fits = page.eval_on_selector_all(
            "#town-list .verdict",
            "vs => vs.every(v => v.scrollWidth <= v.parentElement.clientWidth)",
        )
        assert fits
    finally:
        ctx.close()
