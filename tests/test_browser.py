"""The page in a real headless browser: Debian's chromium driven from Python (playwright's client
only; never `playwright install`).

`make test` installs chromium; without it these tests fail.
"""

import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app and database for the browser tests of a module (a browser page is slow to set up)."""
    from webapp import create_app

    tmp = tmp_path_factory.mktemp("browser")
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp / 'atlas.sqlite3'}",
            "SECRET_KEY": "test",
            "NETWORKS_ROOT": str(tmp / "networks"),
        }
    )


@pytest.fixture(scope="module")
def server(app):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    th.join()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    assert exe, (
        "Debian's chromium is not installed: run `make test` (it installs it) or apt-get install"
        " chromium"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1500, "height": 900})
    pg = ctx.new_page()
    pg.requests, pg.errors = [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def load(page, url, *, layers=False):
    """Open ``url`` and wait until the towns are drawn (``ready``); with ``layers``, until every
    layer fetched from the API is drawn too (``data-layers-ready``)."""
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    if layers:
        page.wait_for_selector("body[data-layers-ready='1']", timeout=20000)


def test_map_page_markers_popup_and_offline(page, server):
    load(page, server + "/")
    n = page.evaluate(
        """() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return Object.values(b.registry.markers).filter(v => window[v] && window[v]._path &&
            document.body.contains(window[v]._path)).length; }"""
    )
    assert n == 27
    # every request stayed on this app: no CDN, no tiles
    assert page.requests and all(u.startswith(server) for u in page.requests), [
        u for u in page.requests if not u.startswith(server)
    ]
    assert page.errors == []
    # open Temirtau's popup from the list and read the breakdown
    page.click("tr[data-id='temirtau']")
    popup = page.wait_for_selector(".leaflet-popup-content .popup[data-town='temirtau']")
    text = popup.inner_text()
    assert "Diversification" in text and "30.29" in text and "high" in text and "6/6" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_popup.png"))


def test_search_in_three_languages(page, server):
    load(page, server + "/")
    for q in ("Теміртау", "Темиртау", "temir"):
        page.fill("#search", q)
        visible = page.eval_on_selector_all(
            "#town-list tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.id)"
        )
        assert visible == ["temirtau"], q
    page.fill("#search", "zzzz")
    assert page.is_visible("#no-match")


def test_planner_change_highlights_and_permalink(page, server):
    load(page, server + "/")
    assert page.eval_on_selector_all("#town-list tr.changed", "rs => rs.length") == 0
    page.fill("#p-near_km", "400")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    changed = page.eval_on_selector_all("#town-list tr.changed", "rs => rs.map(r => r.dataset.id)")
    assert "balkhash" in changed and "temirtau" not in changed
    assert "near_km=400" in page.url
    rows = page.inner_text("#changes tbody")
    assert "near a large city" in rows and "Agglomeration potential" in rows
    # a changed town gets a ring outside its marker; its own fill and opacity are untouched (no
    # olive yellow)
    style = page.evaluate(
        """() => { const b = JSON.parse(document.getElementById('boot').textContent);
        const o = window[b.registry.markers.balkhash].options; return [o.fillOpacity,
            o.fillColor, b.display.balkhash.style.fillOpacity]; }"""
    )
    assert style[0] == style[2]
    assert page.evaluate("document.querySelectorAll('path.town-halo').length") == len(changed)
    assert page.evaluate(
        """() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return window[b.registry.markers.balkhash]._path.classList.contains('town-changed'); }"""
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_planner.png"))
    # the permalink reproduces the view after a reload
    load(page, page.url)
    assert "balkhash" in page.eval_on_selector_all(
        "#town-list tr.changed", "rs => rs.map(r => r.dataset.id)"
    )
    assert page.input_value("#p-near_km") == "400.0"


def test_export_links_in_russian_open_in_excel_with_the_parameters(page, server):
    """The map page links an XLSX too; in ru (and kk) the CSV and XLSX name their columns in the
    page's language and the CSV is the one Russian Excel opens in one go; after an Apply every
    link carries the new parameters."""
    import csv
    import io
    from urllib.request import urlopen

    load(page, server + "/?lang=ru")
    page.fill("#p-near_km", "400")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    links = page.eval_on_selector_all(
        "a.export", "as => Object.fromEntries(as.map(a => [a.dataset.fmt, a.getAttribute('href')]))"
    )
    assert set(links) >= {"csv", "xlsx", "geojson", "gpkg", "zip", "params.json"}
    assert all("near_km=400" in h for h in links.values()), links
    assert links["csv"].endswith("&headers=ru&excel=ru") and links["xlsx"].endswith("&headers=ru")
    raw = urlopen(server + links["csv"]).read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw), delimiter=";"))
    assert rows[0][0] == "код города" and len(rows) == 28
    assert urlopen(server + links["xlsx"]).read()[:2] == b"PK"  # a zip: the workbook


def test_invalid_parameter_message_next_to_field(page, server):
    load(page, server + "/")
    page.fill("#p-fua_minutes", "-5")
    page.click("#apply")
    page.wait_for_function(
        "() => document.getElementById('err-fua_minutes').textContent.length > 0", timeout=20000
    )  # a function, not a bare expression: the CSP forbids eval
    assert "out of range" in page.inner_text("#err-fua_minutes")
    assert page.eval_on_selector(
        "[data-field='fua_minutes']", "e => e.classList.contains('invalid')"
    )
    # the summary under Apply names the field; the field shows its allowed range
    assert page.inner_text("#change-summary").startswith("Not applied: FUA travel time, min: -5 is")
    assert "Allowed: 1 to 720 min." in page.inner_text("[data-field='fua_minutes'] .help.range")


def test_invalid_parameter_says_what_is_wrong_in_russian(page, server):
    """A whole number where 2.5 was typed, a choice left empty: said as such, not only 'not
    accepted'."""
    load(page, server + "/?lang=ru")
    page.fill("#p-corridor_min_lines", "2.5")
    page.click("#apply")
    page.wait_for_function(
        "() => document.getElementById('err-corridor_min_lines').textContent.length > 0",
        timeout=20000,
    )
    msg = page.inner_text("#err-corridor_min_lines")
    assert "нужно целое число" in msg and "Допустимо: от 1 до 10" in msg, msg
    assert page.errors == []


def test_planned_road_in_browser(page, server):
    load(page, server + "/")
    page.fill("#p-near_km", "250")
    page.fill("#road-from", "Karazhal")
    page.fill("#road-to", "Жезказган")
    page.click("#road-add")
    assert "Karazhal" in page.inner_text("#road-list")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert "karazhal" in page.eval_on_selector_all(
        "#town-list tr.changed", "rs => rs.map(r => r.dataset.id)"
    )
    assert "planned_roads=" in page.url


def test_language_switch(page, server):
    load(page, server + "/?near_km=150")
    page.click(".langs a[data-lang='kk']")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text(".brand") == "Моноқалалар сценарийлерінің атласы"
    assert "Теміртау" in page.inner_text("#town-list")
    assert "near_km=150" in page.url and "lang=kk" in page.url
    page.click(".langs a[data-lang='ru']")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text(".brand") == "Атлас сценариев моногородов"
    assert page.evaluate("document.documentElement.lang") == "ru"


def open_town(page, url):
    """A town page with its details (everything behind the brief) opened."""
    page.goto(url)
    page.evaluate(
        "document.querySelectorAll('details.town-details').forEach(d => { d.open = true; })"
    )


def test_town_page_in_browser(page, server):
    open_town(page, server + "/town/balkhash")
    assert "sqrt(80 * 27.3)" in page.inner_text("body")
    assert (
        page.evaluate("document.querySelectorAll('.smallmap path.leaflet-interactive').length") >= 1
    )
    assert all(u.startswith(server) for u in page.requests)


def test_upload_in_browser(page, server, tmp_path, app):
    """An editor signs in on the page, a bad file is rejected whole, a good one recomputes the
    map."""
    store, atlas = app.extensions["store"], app.extensions["atlas"]
    if not store.editor_exists("browser"):
        store.add_editor("browser", "browser-pass")
    bad = tmp_path / "bad.csv"
    bad.write_text("town,source,period,mono_output_share\nRudny,doc,2023,150\n")
    good = tmp_path / "good.csv"
    good.write_text(
        "town,source,period,mono_output_share,mono_employment_share\nRudny,Akimat"
        " report,2023,70,30\n"
    )
    load(page, server + "/")
    assert page.query_selector("#upload-form") is None
    page.click("#upload-signin")
    page.fill("input[name=name]", "browser")
    page.fill("input[name=password]", "browser-pass")
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    assert "browser" in page.inner_text("#signed-in")
    page.set_input_files("#upload-file", str(bad))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("body[data-upload='rejected']")
    assert "value '150': out of range; allowed: 0 to 100" in page.inner_text("#upload-problems")
    page.set_input_files("#upload-file", str(good))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert page.inner_text("#town-list tr[data-id='rudny'] .complete") == "3/6"
    assert "for Rudny." in page.inner_text("#upload-msg")  # the town named, not its id "rudny"
    # the panel says which towns the new revision changed (at the default parameters)
    assert page.is_visible("#data-changes")
    assert "Rudny" in page.inner_text(
        "#data-changes-table tbody"
    ) and "Changed by the new data" in page.inner_text("#data-changes-title")
    assert page.errors == []
    atlas.rollback(1, editor="test cleanup")


CSP_LISTENER = """window.__csp = []; document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"""


def test_content_security_policy_holds_and_the_map_works(page, server):
    """The offline pages satisfy their CSP: no violation, the map, popups and recompute still
    work."""
    console = []
    page.on(
        "console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.add_init_script(CSP_LISTENER)
    load(page, server + "/")
    assert (
        page.evaluate(
            "Object.values(JSON.parse(document.getElementById('boot').textContent).registry.markers).filter(v"
            " => window[v] && window[v]._path).length"
        )
        == 27
    )
    page.click("tr[data-id='temirtau']")
    page.wait_for_selector(".leaflet-popup-content .popup[data-town='temirtau']")
    page.fill("#p-near_km", "400")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert page.evaluate("window.__csp") == [] and console == [] and page.errors == []
    open_town(page, server + "/town/temirtau")
    assert (
        page.evaluate("document.querySelectorAll('.smallmap path.leaflet-interactive').length") >= 1
    )
    assert page.evaluate("window.__csp") == [] and console == [] and page.errors == []
    # and the policy is enforced: an injected inline script does not run (script-src 'self')
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
        document.body.appendChild(s); }"""
    )
    page.wait_for_function("() => window.__csp.length > 0", timeout=5000)
    assert (
        page.evaluate("window.__ran") is None and "script-src" in page.evaluate("window.__csp")[0]
    )


def test_how_sure_on_the_town_page_and_the_map(page, server):
    """The robustness draws: stability, shares and variants on the town page; the popup's stability
    line and the shade-by-stability mode on the map; the data-needed page."""
    open_town(page, server + "/town/karazhal")
    page.wait_for_selector("body[data-robust='1']", timeout=60000)
    text = page.inner_text("#robustness")
    assert "Stability:" in text and "%" in text and "pessimistic" in text
    assert page.evaluate("document.querySelectorAll('#robustness .share-seg').length") >= 1
    load(page, server + "/")
    page.click("#shade-stability")
    page.wait_for_selector("body[data-shade='stability']", timeout=60000)
    assert page.is_visible("#stability-legend")
    fills = page.evaluate(
        f"""() => {{ const b = {BOOT}; return Object.fromEntries(['temirtau', 'zhanatas']
        .map((id) => [id, window[b.registry.markers[id]].options.fillColor])); }}"""
    )
    # Temirtau's share of the draws in grey; Zhanatas, which its missing data decide, has none
    assert fills["temirtau"].startswith("rgb(") and fills["zhanatas"] == "#ffffff", fills
    # an Apply shades again with the new answers: Karazhal at 400 km is Balanced, not the draws'
    # tie, so it has no share; back to scenario colours, it has Balanced's
    karazhal = f"() => window[{BOOT}.registry.markers.karazhal].options.fillColor"
    assert page.evaluate(karazhal).startswith("rgb(")
    page.fill("#p-near_km", "400")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert page.evaluate(karazhal) == "#ffffff" and page.is_visible("#stability-legend")
    page.click("#shade-stability")
    page.wait_for_selector("body[data-shade='scenario']")
    tie = page.evaluate(f"() => {BOOT}.display.karazhal.style.fillColor")  # the boot: defaults
    assert page.evaluate(karazhal) != tie  # not the colour saved before the Apply
    shown = page.evaluate(
        "() => getComputedStyle(document.querySelector(\"tr[data-id='karazhal'] .sw\"))"
        ".getPropertyValue('--c').trim()"
    )
    assert page.evaluate(karazhal) == shown, (page.evaluate(karazhal), shown)
    page.click("#shade-stability")
    page.wait_for_selector("body[data-shade='stability']")
    page.click("tr[data-id='temirtau']")
    page.wait_for_function(
        "() => { const p = document.querySelector('.leaflet-popup-content .stab');"
        " return p && p.textContent.includes('%'); }",
        timeout=20000,
    )
    page.click("#shade-stability")
    page.wait_for_selector("body[data-shade='scenario']")
    page.goto(server + "/data-needed")
    assert page.inner_text("#plan").count("\n") >= 2 and page.errors == []


# -- issue 13: the map as planners use it ----------------------------------------------------------

BOOT = "JSON.parse(document.getElementById('boot').textContent)"


def marker_centre(page, tid):
    return page.evaluate(
        f"""() => {{ const b = {BOOT};
            const r = window[b.registry.markers['{tid}']]._path.getBoundingClientRect();
        return [r.x + r.width / 2, r.y + r.height / 2]; }}"""
    )


def min_marker_gap(page):
    return page.evaluate(
        f"""() => {{ const b = {BOOT}; const c = Object.values(b.registry.markers).map(v => {{
        const r = window[v]._path.getBoundingClientRect(); return [r.x + r.width / 2,
            r.y + r.height / 2]; }});
        let best = 1e9; for (let i = 0; i < c.length; i++) for (let j = i + 1; j < c.length; j++)
          best = Math.min(best, Math.hypot(c[i][0] - c[j][0], c[i][1] - c[j][1])); return best;
              }}"""
    )


def test_opening_view_whole_country_close_towns_apart_labels_and_legend(page, server):
    load(page, server + "/")
    b = page.evaluate(
        f"() => {{ const m = window[{BOOT}.registry.map].getBounds(); return [m.getSouth(),"
        " m.getWest(), m.getNorth(), m.getEast()]; }"
    )
    assert b[0] <= 40.6 and b[1] <= 46.5 and b[2] >= 55.4 and b[3] >= 87.3, b  # all of Kazakhstan
    # Temirtau, Saran, Abay and Shakhtinsk lie within 40 km: their markers are drawn apart and each
    # click opens its own
    pts = {tid: marker_centre(page, tid) for tid in ("temirtau", "saran", "abay", "shakhtinsk")}
    for a in pts:
        for c in pts:
            if a < c:
                assert ((pts[a][0] - pts[c][0]) ** 2 + (pts[a][1] - pts[c][1]) ** 2) ** 0.5 >= 18, (
                    a,
                    c,
                )
    assert min_marker_gap(page) >= 18  # no two markers overlap anywhere
    for tid in ("abay", "shakhtinsk", "saran", "temirtau"):
        x, y = marker_centre(page, tid)
        page.mouse.click(x, y)
        page.wait_for_selector(f".leaflet-popup-content .popup[data-town='{tid}']")
        page.keyboard.press("Escape")
        page.wait_for_selector(".leaflet-popup", state="detached")
    assert page.eval_on_selector_all(".town-label", "ls => ls.length") == 27
    assert "Temirtau" in page.eval_on_selector_all(
        ".town-label", "ls => ls.map(l => l.textContent)"
    )
    # a legend entry for every line style, drawn with the map's own styles; routes are not the
    # roads' red
    lines = page.evaluate(f"{BOOT}.lines")
    roads = page.evaluate(
        f"{BOOT}.layer_specs.roads.styles"
    )  # a layer's styles: its registry entry
    assert lines["route"]["color"] != roads["international"]["color"]
    legend = page.inner_text("#legend-lines")
    for label in (
        "Roads: international",
        "Roads: republican",
        "Roads: oblast",
        "Railway",
        "Large cities",
        "FUA catchments",
        "Named corridors",
        "Route to the nearest large city",
        "Official agglomerations",
        "Planned roads",
    ):
        assert label in legend or label in page.inner_text("#legend-markers"), label
    strokes = page.eval_on_selector_all(
        "#legend-lines svg :is(line, rect)", "es => es.map(e => e.getAttribute('stroke'))"
    )
    assert lines["route"]["color"] in strokes and roads["international"]["color"] in strokes
    # insufficient data, undetermined and provisional are drawn differently, and the legend shows
    # exactly that
    swatches = page.eval_on_selector_all(
        "#legend-markers svg circle",
        "cs => cs.map(c => [c.getAttribute('r'), c.getAttribute('fill'),"
        " c.getAttribute('stroke-dasharray')])",
    )
    assert len({tuple(s) for s in swatches}) == len(swatches)
    assert (
        page.evaluate("document.querySelector('meta[name=viewport]').content").find(
            "user-scalable=no"
        )
        == -1
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_opening.png"))


def test_pick_mode_typed_points_and_changes_of_nearest_city(page, server):
    load(page, server + "/")
    page.click("#road-add")  # empty: a sentence, not "From / To: ?"
    assert page.inner_text("#err-planned_roads").startswith("Enter both ends of the road")
    page.click("button.pick[data-pick='road-from']")
    x, y = marker_centre(page, "karazhal")
    page.mouse.click(x, y)  # in pick mode a click on a town picks it ...
    assert page.input_value("#road-from") == "Karazhal"
    assert page.query_selector(".leaflet-popup") is None  # ... and does not open its popup
    page.fill("#road-to", "47.80, 67.71")  # lat, lon as people write it
    page.dispatch_event("#road-to", "change")
    assert (
        page.eval_on_selector_all("path.pending-end", "ps => ps.length") == 2
    )  # both ends shown before Apply
    page.fill("#road-to", "")
    page.click("button.pick[data-pick='road-to']")
    x, y = (
        marker_centre(page, "zhezkazgan")
        if False
        else page.evaluate(
            f"""() => {{ const b = {BOOT}; const m = window[b.registry.map];
        const p = m.latLngToContainerPoint([47.80, 67.71]);
            const r = m.getContainer().getBoundingClientRect(); return [r.x + p.x, r.y + p.y]; }}"""
        )
    )
    page.mouse.click(x, y)
    lat, lon = map(float, page.input_value("#road-to").split(","))
    assert abs(lat - 47.80) < 0.2 and abs(lon - 67.71) < 0.2
    page.fill("#road-to", "Zhezkazgan")
    page.click("#road-add")
    assert page.eval_on_selector_all("path.pending-road", "ps => ps.length") == 1
    page.fill("#road-from", "47.80, 67.71")
    page.fill("#road-to", "Karaganda")
    page.click("#road-add")
    assert "47.8000, 67.7100" in page.inner_text("#road-list")
    page.click(
        "#road-list li:nth-child(2) button"
    )  # remove it again: only Karazhal - Zhezkazgan is applied
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    rows = page.inner_text("#changes tbody")
    assert (
        "Nearest large city" in rows
        and "Karaganda" in rows
        and "Zhezkazgan" in rows
        and "Road km" in rows
    )
    assert page.query_selector("#no-changes").is_hidden()
    near = page.inner_text("#town-list tr[data-id='karazhal'] [data-near]")
    assert "Zhezkazgan" in near and "km" in near and "min" in near


def test_typed_lat_lon_reaches_the_api_as_lon_lat(page, server):
    load(page, server + "/")
    page.fill("#road-from", "47.80, 67.71")
    page.fill("#road-to", "Zhezkazgan")
    page.click("#road-add")
    with page.expect_request(lambda r: r.url.endswith("/api/recompute?lang=en")) as req:
        page.click("#apply")
    body = req.value.post_data_json
    assert body["planned_roads"][0]["from"] == [67.71, 47.8]


def test_a_point_off_the_earth_is_said_as_such_in_russian(page, server):
    """'91, 200' (latitude 91): the road's message names the road once and says why."""
    load(page, server + "/?lang=ru")
    page.fill("#road-from", "91, 200")
    page.fill("#road-to", "Жезказган")
    page.click("#road-add")
    page.click("#apply")
    page.wait_for_function(
        "() => document.getElementById('err-planned_roads').textContent.length > 0", timeout=20000
    )
    msg = page.inner_text("#err-planned_roads")
    assert msg.startswith("Планируемая дорога 1 (") and "Планируемые дороги" not in msg, msg
    assert "точка вне координат Земли" in msg, msg


def test_keyboard_list_popup_and_town_page(page, server):
    load(page, server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the town list"
    # map shapes are not tab stops (only the controls are)
    assert (
        page.evaluate(
            "document.querySelectorAll('.folium-map path[tabindex], .folium-map"
            " .leaflet-marker-icon[tabindex]').length"
        )
        == 0
    )
    ids = page.eval_on_selector_all("#town-list tbody tr", "rs => rs.map(r => r.dataset.id)")
    names = page.eval_on_selector_all("#town-list tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert names == sorted(names, key=str.casefold) and ids[0] == "abay"  # alphabetical by default
    assert page.get_attribute("#town-list th:first-child", "aria-sort") == "ascending"
    page.focus(f"#town-list tr[data-id='{ids[0]}']")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    page.keyboard.press("Enter")
    page.wait_for_selector(f".leaflet-popup-content .popup[data-town='{ids[1]}']")
    assert page.evaluate(
        "document.activeElement.classList.contains('more')"
    )  # the next stop is the town page link
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup-content a.more")
    page.keyboard.press("Enter")  # 0 Tab presses from the list to the town page
    page.wait_for_url(f"**/town/{ids[1]}**")


def test_phone_tap_marker_keeps_the_map_and_popup_in_view(browser, server):
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = ctx.new_page()
    try:
        load(page, server + "/?lang=ru")
        assert (
            min_marker_gap(page) >= 11
        )  # smaller markers on a phone (radius at most 5.5), still apart
        x, y = marker_centre(page, "abay")
        page.touchscreen.tap(x, y)
        page.wait_for_selector(".leaflet-popup-content .popup[data-town='abay']")
        page.wait_for_timeout(400)
        assert page.evaluate("window.scrollY") == 0
        r = page.evaluate(
            "(() => { const r = document.querySelector('.leaflet-popup').getBoundingClientRect();"
            " return [r.left, r.top, r.right, r.bottom]; })()"
        )
        assert r[0] >= 0 and r[1] >= 0 and r[2] <= 390 and r[3] <= 844, r
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "phone_popup.png"))
        page.goto(server + "/town/karazhal?lang=kk")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        ctx.close()


def test_search_by_oblast_and_transliterations(page, server):
    load(page, server + "/")

    def visible():
        return page.eval_on_selector_all(
            "#town-list tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.id)"
        )

    for q in ("Jezkazgan", "Zhezqazghan", "Жезқазған", "zhezkazgan"):
        page.fill("#search", q)
        assert visible() == ["zhezkazgan"], q
    for q in ("Qaraghandy", "Карагандинская", "Қарағанды облысы"):
        page.fill("#search", q)
        assert {"temirtau", "saran", "abay", "shakhtinsk"} <= set(visible()), q


def english_data_texts(method):
    """English data texts (read from the data files: towns, paper, method texts) whose translation
    differs."""
    from test_i18n_data import english_data_texts as data_english

    return data_english(method)


def catalog_english(lang):
    """English interface strings whose translation into ``lang`` differs (so their presence is a
    miss)."""
    from webapp.i18n import catalog

    c = catalog()
    out = {c["en"][k] for k in c["en"] if c[lang].get(k) and c[lang][k] != c["en"][k]}
    for table in (
        "levels",
        "params",
        "choices",
        "inputs",
        "units",
        "oblasts",
        "regions",
        "periods",
    ):
        out |= {v["en"] for v in c[table].values() if v.get(lang) != v["en"]}
    return {s for s in out if len(s) >= 4 and "{" not in s}


UI = [
    "#town-list thead",
    "#town-list tbody .oblast",
    "#town-list tbody .verdict",
    "#town-list tbody [data-near]",
    ".legend",
    ".pagelinks",
    ".planner h2",
    ".planner .help",
    ".planner label",
    ".planner legend",
    ".planner button",
    ".planner select",
    "#changes thead",
    "#no-changes",
    ".skip",
    ".leaflet-control-layers-list",
]


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_no_untranslated_interface_string(page, server, lang, method):
    english = (
        catalog_english(lang)
        | {s["name_en"] for s in method.scenarios.values()}
        | english_data_texts(method)
    )
    load(page, server + f"/?lang={lang}&near_km=120")

    def texts(selectors):
        return page.evaluate(
            "(sels) => sels.flatMap(s => Array.from(document.querySelectorAll(s)).map(e =>"
            " e.textContent))",
            selectors,
        )

    def misses(found):  # whole words only ("GeoNames" does not contain the word "Name")
        return sorted(
            {
                e
                for e in english
                for text in found
                if re.search(r"(?<!\w)" + re.escape(e) + r"(?!\w)", text)
            }
        )

    assert misses(texts(UI)) == []
    # messages the page writes: an empty road, a bad value, the changes table, an oblast's name on
    # hover
    page.click("#road-add")
    page.fill("#p-fua_minutes", "-5")
    page.click("#apply")
    page.wait_for_function(
        "() => document.getElementById('err-fua_minutes').textContent.length > 0", timeout=20000
    )
    found = texts(["#err-planned_roads", "#err-fua_minutes"])
    assert misses(found) == [] and "out of range" not in found[1]
    page.fill("#p-fua_minutes", "60")
    page.fill("#road-from", "Karazhal")
    page.fill("#road-to", "Zhezkazgan")
    page.click("#road-add")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert misses(texts(["#changes", "#road-list", "#town-list tbody"])) == []
    page.click("tr[data-id='balkhash']")
    page.wait_for_selector(".leaflet-popup-content .popup[data-town='balkhash']")
    assert misses(texts([".leaflet-popup-content"])) == []
    page.wait_for_selector(
        "body[data-layers-ready='1']", timeout=20000
    )  # the oblasts come from /api/layers
    oblast_tips = page.evaluate(f"""() => {{ const out = []; const m = window[{BOOT}.registry.map];
        m.eachLayer(l => {{ if (l.feature && l.feature.properties &&
            l.feature.properties.label) out.push(l.feature.properties.label); }});
        return out; }}""")
    assert oblast_tips and misses(oblast_tips) == []
    # the town page: headings, table headers, descriptions, units, reasons, the summary
    open_town(page, server + f"/town/karazhal?lang={lang}&near_km=120")
    assert page.is_visible("#nondefault")
    found = texts(
        [
            "h2",
            "h3",
            "th",
            ".desc",
            "#summary",
            "table.data td:nth-child(4)",
            "table.data td:nth-child(6)",
            "#nondefault",
            ".smallmap .leaflet-control-attribution",
        ]
    )
    assert misses(found) == [], [t for t in found if any(e in t for e in misses(found))]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"town_{lang}.png"))


def test_table_of_all_towns_sorts_with_aria_sort(page, server):
    page.goto(server + "/table?lang=ru")
    assert page.eval_on_selector_all("#all-towns tbody tr", "rs => rs.length") == 27
    page.click("#all-towns thead th:nth-child(5) button")  # road km
    assert page.get_attribute("#all-towns thead th:nth-child(5)", "aria-sort") == "ascending"
    km = page.eval_on_selector_all(
        "#all-towns tbody td:nth-child(5)",
        "ts => ts.map(t => t.dataset.v).filter(v => v !== '').map(Number)",
    )
    assert km == sorted(km)
    page.click("#all-towns thead th:nth-child(5) button")
    assert page.get_attribute("#all-towns thead th:nth-child(5)", "aria-sort") == "descending"
    assert page.get_attribute("#all-towns thead th:nth-child(1)", "aria-sort") == "none"
    assert page.get_attribute("#table-csv", "href").startswith("/api/export.csv")


def test_town_page_prints_without_the_navigation(page, server):
    open_town(page, server + "/town/temirtau?lang=ru")
    assert page.is_visible(".topbar")
    # the small route map of the details: the oblasts behind, the destination city and the town,
    # credits
    assert (
        page.evaluate("document.querySelectorAll('.smallmap path.leaflet-interactive').length")
        >= 20
    )
    assert "OpenStreetMap" in page.inner_text(".smallmap .leaflet-control-attribution")
    page.emulate_media(media="print")
    assert not page.is_visible(".topbar") and not page.is_visible("details")
    assert (
        page.is_visible(".brief-svg") and page.is_visible("h1") and page.is_visible("#data-needed")
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "town_print.pdf"))


DATA_PAGES = [
    "/town/balkhash",
    "/town/temirtau",
    "/town/karazhal",
    "/town/zhezkazgan",
    "/town/rudny",
    "/table",
    "/method",
    "/data-needed",
    "/networks",
    "/data",
]


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_no_english_data_text_in_the_browser(page, server, lang, method):
    """Every page as the browser shows it (text the scripts write, titles): no English data text,
    and on the kk pages no Russian data text that has a Kazakh form; the map's popups are opened one
    by one."""
    from test_i18n_data import MAP_PAGE_PENDING, russian_data_texts

    english = english_data_texts(method)
    foreign = english | (russian_data_texts(method) if lang == "kk" else set())
    shown = (
        "() => document.body.innerText + ' ' +"
        " Array.from(document.querySelectorAll('[title]')).map(e => e.title).join(' ')"
    )

    def misses(text):
        return sorted(e for e in foreign if re.search(r"(?<!\w)" + re.escape(e) + r"(?!\w)", text))

    found = {}
    for path in DATA_PAGES:
        open_town(page, server + f"{path}?lang={lang}")
        page.wait_for_load_state("load")
        found[path] = misses(
            page.evaluate(shown).replace(
                page.inner_text("h1 small") if path.startswith("/town/") else "\0", ""
            )
        )
    load(page, server + f"/?lang={lang}")
    popups = []
    for tid in ("balkhash", "karazhal", "temirtau", "zhezkazgan", "rudny", "saran"):
        page.click(f"tr[data-id='{tid}']")
        page.wait_for_selector(f".leaflet-popup-content .popup[data-town='{tid}']")
        popups.append(page.inner_text(".leaflet-popup-content"))
    pending = {
        method.texts[(f, k, "description")]["en"] for p, f, k in MAP_PAGE_PENDING if p == "/"
    }
    found["/"] = sorted(set(misses(page.evaluate(shown) + " ".join(popups))) - pending)
    # the town page's robustness section, written by static/robustness.js when the draws are done
    open_town(page, server + f"/town/karazhal?lang={lang}")
    page.wait_for_selector("body[data-robust='1']", timeout=120000)
    robust = page.inner_text("#robustness") + " ".join(
        page.eval_on_selector_all("#robustness [title]", "es => es.map(e => e.title)")
    )
    found["robustness"] = misses(robust) + [
        w for w in ("tie:", "insufficient data", "band_", "err_") if w in robust
    ]
    found["robustness ids"] = [
        s for s in method.scenarios if re.search(r"(?<![\w-])" + s + r"(?![\w-])", robust)
    ]
    assert {p: m for p, m in found.items() if m} == {}
    assert len(english) > 150


# -- issue 13: page weight; layers and popups fetched after the towns are drawn --------------------

OVERLAYS = f"""() => {{ const b = {BOOT}; const o = window[b.registry.control + '_layers'].overlays;
    const leaves = (l) => (l.eachLayer ? (() => {{ let n = 0; l.eachLayer(c => {{ n += leaves(c);
        }}); return n; }})() : 1);
    return Object.entries(o).map(([name, layer]) => [name.trim(), leaves(layer)]); }}"""
PLANNED = '?planned_roads=[{"from":"Karazhal","to":"Zhezkazgan","class":"republican"}]'


def test_small_page_towns_first_then_every_layer(page, server):
    import urllib.request

    with urllib.request.urlopen(server + "/") as r:  # the page's own HTML, as sent without gzip
        assert len(r.read()) < 250_000
    page.goto(server + "/" + PLANNED)
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    assert (
        page.evaluate(
            f"""() => {{ const b = {BOOT}; return Object.values(b.registry.markers)
        .filter(v => window[v] && window[v]._path &&
            document.body.contains(window[v]._path)).length; }}"""
        )
        == 27
    )
    page.wait_for_selector("body[data-layers-ready='1']", timeout=20000)
    overlays = dict(page.evaluate(OVERLAYS))
    fua = next(k for k in overlays if "FUA" in k)
    # every layer has features, except the FUA catchments: built on the server only when their group
    # is shown
    assert len(overlays) == 16 and all(n > 0 for k, n in overlays.items() if k != fua), overlays
    assert (
        overlays["Lakes and wide rivers (OpenStreetMap)"] == 213
    )  # the context layer (npm package)
    assert overlays[fua] == 0 and not any("/api/layers/catchments" in u for u in page.requests)
    # republican roads 49: R_UK_RAH is split at Serebryansk by its km-posts (issue 26)
    assert (
        overlays["Roads: republican"] == 49
        and overlays["Oblast boundaries"] == 20
        and overlays["Monotowns"] == 27
    )
    page.evaluate(
        f"() => {{ const b = {BOOT};"
        " window[b.registry.map].addLayer(window[b.registry.groups.fua]); }"
    )
    page.wait_for_function(
        f"() => window[{BOOT}.registry.groups.fua].getLayers().length > 0", timeout=20000
    )
    assert any("/api/layers/catchments" in u for u in page.requests)
    # the basemap lies under the towns: a town marker is drawn after (above) every oblast polygon
    assert page.evaluate(
        f"""() => {{ const b = {BOOT};
            const svg = window[b.registry.markers.temirtau]._path.ownerSVGElement;
        const paths = Array.from(svg.querySelectorAll('path'));
            const obl = window[b.registry.groups.oblasts].getLayers()[0];
        let last = -1; obl.eachLayer(l => {{ last = Math.max(last, paths.indexOf(l._path)); }});
        return last >= 0 && last < paths.indexOf(window[b.registry.markers.temirtau]._path); }}"""
    )
    # a road's tooltip (escaped text from the layer's "tip")
    tips = page.evaluate(
        f"""() => {{ const g = window[{BOOT}.registry.groups.road_international]; const out = [];
        g.eachLayer(gj => gj.eachLayer(l => out.push(l.getTooltip().getContent()))); return out;
            }}"""
    )
    assert (
        tips
        and all(t.startswith("<div>") for t in tips)
        and any("KAZ01<br>Астана – Караганда" in t for t in tips)
    ), tips[:3]
    assert all(u.startswith(server) for u in page.requests) and page.errors == []
    assert any("/api/layers/oblasts.geojson" in u for u in page.requests) and any(
        "/api/popups" in u for u in page.requests
    )


def test_popup_clicked_before_the_popups_arrive(page, server):
    """The popups are fetched once after the towns are drawn; a click before they arrive shows the
    town's name, then its popup, and the keyboard path still ends on the town-page link."""
    held = []
    page.route("**/api/popups*", lambda route: held.append(route))
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    page.focus("#town-list tr[data-id='balkhash']")
    page.keyboard.press("Enter")
    placeholder = page.wait_for_selector(".leaflet-popup-content .popup-loading")
    assert "Balkhash" in placeholder.inner_text()
    assert page.query_selector(".leaflet-popup-content .popup") is None
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    held[0].continue_()
    page.wait_for_selector(".leaflet-popup-content .popup[data-town='balkhash']", timeout=20000)
    assert page.evaluate("document.activeElement.classList.contains('more')")
    assert page.errors == []


@pytest.fixture(scope="module")
def version_server(tmp_path_factory):
    """The shipped data with one imported network version, 'winding' (tests/test_versions.py's
    PBF)."""
    from geo.netimport import import_network, save_version
    from test_netimport import write_pbf
    from test_store import make_app
    from test_versions import NODES, WAYS

    root = tmp_path_factory.mktemp("browser_nets")
    save_version(
        import_network(write_pbf(tmp_path_factory.mktemp("pbf") / "winding.osm.pbf", NODES, WAYS)),
        "winding",
        root,
    )
    app = make_app(
        tmp_path_factory.mktemp("browser_netdb") / "atlas.sqlite3", NETWORKS_ROOT=str(root)
    )
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_port}", root
    srv.shutdown()
    th.join()


def test_network_version_switch_redraws_the_roads(browser, version_server):
    """Apply with another network version: its roads and railways are fetched and drawn instead."""
    from geo.netimport import load_version

    version_server, root = version_server
    net = load_version("winding", root)
    ctx = browser.new_context(viewport={"width": 1500, "height": 900})
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        load(page, version_server + "/", layers=True)
        before = dict(page.evaluate(OVERLAYS))
        page.select_option("#p-network", "winding")
        page.click("#apply")
        page.wait_for_selector("body[data-recomputed='1']", timeout=60000)
        page.wait_for_selector("body[data-layers-ready='1']", timeout=60000)
        after = dict(page.evaluate(OVERLAYS))
        roads = {k: v for k, v in after.items() if k.startswith("Roads")}
        assert sum(roads.values()) == int((net.u != net.v).sum()) >= 1, (
            roads
        )  # the version's edges (M-99)
        assert (
            sum(before[k] for k in roads) == 69
        )  # the shipped roads before (66, R_UK_RAH's second section, 2 links of a published length)
        assert (
            after["Railways"] == 1 and after["Named corridors"] == 0
        )  # the version's main railway; no corridors
        assert after["Oblast boundaries"] == 20  # the same basemap
        assert "network=winding" in page.url and errors == []
        load(page, page.url, layers=True)  # the permalink draws the version's roads at once
        assert dict(page.evaluate(OVERLAYS)) == after
    finally:
        ctx.close()


# -- review item 10: the towns entry of the layer control hides and shows the towns with their label


def test_towns_layer_toggle_hides_labels_and_keeps_the_highlight(page, server):
    load(page, server + "/" + PLANNED + "&lang=ru", layers=True)
    state = """() => ({labels: Array.from(document.querySelectorAll('.town-label'))
            .filter(e => e.offsetParent !== null).length,
        towns: document.querySelectorAll('path[data-town]').length,
        changed: Array.from(document.querySelectorAll('path.town-changed'))
            .map(e => e.getAttribute('data-town')),
        halos: document.querySelectorAll('path.town-halo').length})"""
    before = page.evaluate(state)
    assert (
        before["labels"] == 27
        and before["towns"] == 27
        and "karazhal" in before["changed"]
        and before["halos"] >= 1
    )
    entry = page.locator(".leaflet-control-layers-overlays label", has_text="Моногорода").locator(
        "input"
    )
    assert entry.count() == 1
    page.locator(".leaflet-control-layers").hover()
    entry.click()
    assert page.evaluate(state) == {"labels": 0, "towns": 0, "changed": [], "halos": 0}
    entry.click()
    after = page.evaluate(state)
    assert after["labels"] == 27 and after["towns"] == 27
    assert (
        sorted(after["changed"]) == sorted(before["changed"]) and after["halos"] == before["halos"]
    )


# -- review item 2: every tooltip of every layer, the map's buttons and its scale in the page's lang

TOOLTIPS = f"""() => {{ const b = {BOOT}; const m = window[b.registry.map];
    const seen = new Set(), out = [];
    const text = (html) => {{ const d = document.createElement('div'); d.innerHTML = html;
        return d.textContent; }};
    const visit = (l) => {{ if (seen.has(l)) return; seen.add(l);
        const tip = l.getTooltip && l.getTooltip();
        if (tip) {{ const c = tip.getContent();
            out.push(text(typeof c === 'function' ? c(l) : c)); }}
        if (l.eachLayer) l.eachLayer(visit); }};
    m.eachLayer(visit); Object.values(b.registry.groups).forEach(g => visit(window[g]));
    return out; }}"""


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_map_tooltip_in_the_page_language(page, server, lang, method):
    import csv

    from webapp.i18n import catalog

    with open(
        Path(__file__).resolve().parent.parent / "data" / "large_cities.csv", encoding="utf-8"
    ) as fh:
        cities = list(csv.DictReader(fh))
    # a city without a name in this language (Kyzylorda has no Kazakh name in any source of data/)
    # keeps its English one
    english = (
        english_data_texts(method)
        | catalog_english(lang)
        | {c["name_en"] for c in cities if c[f"name_{lang}"] and c[f"name_{lang}"] != c["name_en"]}
    )
    load(page, server + f"/{PLANNED}&lang={lang}", layers=True)
    tips = page.evaluate(TOOLTIPS)
    assert len(tips) > 150, len(
        tips
    )  # towns, cities, roads, railways, corridors, areas, sites, links, catchments, route
    town_ids = list(page.evaluate(f"() => Object.keys({BOOT}.registry.markers)"))
    assert len(town_ids) == 27
    bad = {}
    for tip in tips:
        found = [e for e in english if re.search(r"(?<!\w)" + re.escape(e) + r"(?!\w)", tip)]
        found += re.findall(r"R_[A-Z_]+|LINK:|Zoom in|\d\.\d km", tip)
        found += [i for i in town_ids if re.search(r"(?<![\w-])" + re.escape(i) + ":", tip)]
        if found:
            bad[tip] = found
    assert bad == {}
    c = catalog()[lang]
    # the railway, corridor, road and access tooltips are there, in the language, with the page's
    # decimal comma
    assert any(c["road_class_international"] in t and c["as_printed_ru"] in t for t in tips)
    assert any(t.startswith(c["road_class_link"]) for t in tips)
    assert any(c["access_tip_assumed"] in t for t in tips) and any(
        re.search(r": \d+,\d км", t) for t in tips
    )
    assert any(("Түрксіб" if lang == "kk" else "Турксиб") in t for t in tips)
    assert any(("Орталық – Оңтүстік" if lang == "kk" else "Центр – Юг") in t for t in tips)
    # a road: its official index and name as printed, said to be quoted as printed; the members of
    # an
    # official agglomeration (the decree's Russian) marked lang="ru"
    assert any(t.startswith("KAZ01Астана – Караганда") for t in tips)
    assert (
        page.evaluate(
            f"""() => {{ let n = 0; const b = {BOOT};
        window[b.registry.groups.official].eachLayer(g => g.eachLayer && g.eachLayer(l => {{
            if (String(l.getTooltip().getContent()).includes('<br><span lang="ru">')) n++; }}));
                return n; }}"""
        )
        > 0
    )
    # the map's buttons and its scale bar
    titles = page.evaluate(
        """() => ['.leaflet-control-zoom-in', '.leaflet-control-zoom-out',
            '.leaflet-control-layers-toggle',
        '.leaflet-control-zoom-fullscreen'].map(s => { const e = document.querySelector(s);
        return e ? e.title : null; })"""
    )
    assert titles == [c["zoom_in"], c["zoom_out"], c["layers_button"], c["full_screen"]]
    scale = page.eval_on_selector_all(
        ".leaflet-control-scale-line", "es => es.map(e => e.textContent)"
    )
    assert len(scale) == 1 and scale[0].endswith("km"), scale


# -- review item 9: the changes table says yes/no inputs in words, with one decimal mark per languag


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_changes_table_yes_no_and_one_decimal_mark(page, server, lang):
    from webapp.i18n import catalog

    c = catalog()[lang]
    load(page, server + f"/{PLANNED}&near_km=250&lang={lang}")
    # rows grouped by town: a heading row (the town), then [what, default, now]
    rows = page.eval_on_selector_all(
        "#changes tbody tr:not(.group)",
        "rs => rs.map(r => Array.from(r.cells).map(c => [c.title, c.textContent]))",
    )
    binary = [
        r
        for r in rows
        if r[0][0] in ("aggl_in_fua", "aggl_near_large_city", "aggl_corridor_junction")
    ]
    assert binary, rows  # the planned road brings Karazhal near Zhezkazgan
    assert all(
        r[1][1] in (c["yes"], c["no"]) and r[2][1] in (c["yes"], c["no"]) and r[1][1] != r[2][1]
        for r in binary
    ), binary
    numbers = [cell[1] for r in rows for cell in r[1:]]
    assert any(re.search(r"\d[.,]\d", n) for n in numbers), numbers  # road km with one decimal
    wrong = r"\d,\d" if lang == "en" else r"\d\.\d"
    assert not any(re.search(wrong, n) for n in numbers), numbers


# -- review item 11: a legend entry for the tourism sites; labels inside the map; kk headers whole w


def test_tourism_legend_labels_inside_the_map_and_whole_header_words(browser, server):
    from webapp.i18n import catalog

    ctx = browser.new_context(viewport={"width": 1500, "height": 900})
    pg = ctx.new_page()
    load(pg, server + "/?lang=ru")
    assert catalog()["ru"]["layers_tourism"] in pg.inner_text("#legend-markers")
    assert pg.eval_on_selector(
        "#legend-markers",
        "ul => Array.from(ul.querySelectorAll('circle')).some(c => c.getAttribute('stroke') ==="
        " '#1b7837')",
    )
    labels = pg.evaluate(
        """() => { const box = document.querySelector('.leaflet-container').getBoundingClientRect();
        return Array.from(document.querySelectorAll('.town-label')).map(l => {
            const r = l.getBoundingClientRect();
            return [l.textContent, r.left >= box.left - 1 && r.right <= box.right + 1]; }); }"""
    )
    assert len(labels) == 27 and all(inside for _, inside in labels), [
        n for n, inside in labels if not inside
    ]
    assert "Алтай" in [n for n, _ in labels] and not any("(" in n for n, _ in labels)
    ctx.close()
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    pg = ctx.new_page()
    load(pg, server + "/?lang=kk")
    # each header button's words fit its column: no word is cut in two ("Индикаторла / р")
    fits = pg.eval_on_selector_all(
        "#town-list thead th button",
        """bs => bs.map(b => [b.textContent.trim(), b.scrollWidth <= b.parentElement.clientWidth +
        1, getComputedStyle(b).overflowWrap])""",
    )
    assert len(fits) == 3 and all(ok and wrap == "normal" for _, ok, wrap in fits), fits
    ctx.close()


@pytest.mark.parametrize(
    "path",
    [
        "/networks?lang=ru",
        "/networks?lang=kk",
        "/networks/compare?lang=kk",
        "/data-needed?lang=kk",
        "/table?lang=kk",
        "/brief?lang=ru",
        "/method?lang=kk",
        "/history?lang=ru",
        "/judgments?lang=kk",
        "/data?lang=ru",
        "/compare?towns=karazhal,temirtau&lang=kk",
        "/town/karazhal?lang=ru",
    ],
)
def test_pages_fit_a_390px_phone(browser, server, path):
    """No sideways page scroll on a 390 px phone: wide tables scroll inside their own box."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = ctx.new_page()
    try:
        page.goto(server + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        boxes = page.eval_on_selector_all(
            ".table-scroll, .scroll", "bs => bs.map(b => [b.scrollWidth, b.clientWidth])"
        )
        assert (boxes or "compare" in path) and all(cw <= 390 for _, cw in boxes), (
            boxes
        )  # compare: no table yet
    finally:
        ctx.close()


def test_table_of_all_towns_is_readable_on_a_desktop(browser, server):
    """/table on a desktop: the recommendation column is wide, rows are not tall, the town column
    stays put."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(server + "/table?lang=kk")
        rec_w = page.evaluate(
            "document.querySelector('#all-towns tbody"
            " td:nth-last-child(2)').getBoundingClientRect().width"
        )
        heights = page.eval_on_selector_all(
            "#all-towns tbody tr", "rs => rs.map(r => r.getBoundingClientRect().height)"
        )
        assert rec_w >= 250 and max(heights) <= 100, (rec_w, max(heights))  # was 141 px and 202 px
        assert (
            page.evaluate(
                "getComputedStyle(document.querySelector('#all-towns tbody td')).position"
            )
            == "sticky"
        )
        # the recommendation is also next to the town (in the fixed first column)
        assert (
            page.eval_on_selector_all(
                "#all-towns tbody td:first-child .rec-short", "es => es.length"
            )
            == 27
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 1100
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_town_brief_on_the_first_screen_for_every_town(browser, server, lang):
    """At 1440x900 the verdict, how sure, drivers, official signals and measures of every town are
    within the first 900 px, in this order, and the brief prints on at most two A4 pages."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    try:
        first = ["verdict", "sureness", "drivers", "official", "measures"]
        import json as _json
        from urllib.request import urlopen

        ids = [f["id"] for f in _json.load(urlopen(server + "/api/towns"))["features"]]
        assert len(ids) == 27
        longest = (0, None)
        for tid in ids:
            page.goto(server + f"/town/{tid}?lang={lang}")
            boxes = [
                page.eval_on_selector(
                    f"#{s}",
                    "e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; }",
                )
                for s in first
            ]
            tops = [b[0] for b in boxes]
            assert tops == sorted(tops), (tid, boxes)
            assert boxes[-1][1] <= 900, (tid, lang, boxes)
            height = page.evaluate("document.documentElement.scrollHeight")
            longest = max(longest, (height, tid))
        page.goto(server + f"/town/{longest[1]}?lang={lang}")
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4")
        assert 1 <= len(re.findall(rb"/Type\s*/Page[^s]", pdf)) <= 2, longest
        page.goto(server + f"/brief?lang={lang}")
        assert 1 <= len(re.findall(rb"/Type\s*/Page[^s]", page.pdf(format="A4"))) <= 2
    finally:
        ctx.close()


SVG_OVERLAPS = """(sel) => { const svg = document.querySelector(sel);
    const boxes = (q) => Array.from(svg.querySelectorAll(q)).map((e) => {
        const b = e.getBBox(); return [e.textContent || e.getAttribute('cx'), b.x, b.y,
                                       b.x + b.width, b.y + b.height]; });
    const texts = boxes('text'), marks = boxes('circle, rect');
    const hit = (a, b) => a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5 && a[2] < b[4] - 0.5
                          && b[2] < a[4] - 0.5;
    const out = [];
    texts.forEach((a, i) => texts.slice(i + 1).forEach((b) => {
        if (hit(a, b)) out.push([a, b]); }));
    texts.forEach((a) => marks.forEach((m) => { if (hit(a, m)) out.push([a, m]); }));
    const vb = svg.viewBox.baseVal;  // and every label inside the map
    texts.forEach((a) => { if (a[1] < -0.5 || a[2] < -0.5 || a[3] > vb.width + 0.5
                              || a[4] > vb.height + 0.5) out.push([a, 'outside']); });
    return out; }"""


@pytest.mark.parametrize("lang", ["en", "kk", "ru"])
def test_printed_maps_labels_cover_no_label_and_no_town(page, server, lang):
    """The region brief's map names all 27 towns, the town brief's its town and nearest large
    city: as the browser lays the text out, no label covers another or a town's mark (Saran,
    Shakhtinsk and Abay near Temirtau; Karaganda beside Temirtau)."""
    page.goto(server + f"/brief?lang={lang}")
    assert page.evaluate("document.querySelectorAll('.region-map svg text').length") == 27
    assert page.evaluate(SVG_OVERLAPS, ".region-map svg") == []
    import json as _json
    from urllib.request import urlopen

    ids = [f["id"] for f in _json.load(urlopen(server + "/api/towns"))["features"]]
    for tid in ids if lang == "ru" else ("temirtau", "saran", "zhezkazgan", "altai", "kentau"):
        page.goto(server + f"/town/{tid}?lang={lang}")
        assert page.evaluate(SVG_OVERLAPS, ".brief-map svg") == [], tid


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_table_headers_are_not_clipped(page, server, lang):
    """/table's headers wrap between words, never cut inside one ('Степень монопрофильност')."""
    page.goto(server + f"/table?lang={lang}")
    clipped = page.evaluate(
        """() => Array.from(document.querySelectorAll('#all-towns th')).map((th) => {
            const r = document.createRange(); r.selectNodeContents(th);
            return [th.textContent.trim(), r.getBoundingClientRect().right
                    - th.getBoundingClientRect().right]; }).filter((x) => x[1] > 0.5)"""
    )
    assert clipped == []


def test_registry_styles_published_links_placed_railway_and_assumed_access(page, server):
    """Each fetched layer is drawn as its registry entry says (webapp.map.layers.LAYERS): a
    feature's style is the default with every matching ``style_when`` rule laid over it (a road of a
    published length dashed 8 6 over its class's colour, a placed railway as a planned one, an
    assumed access link dashed)."""
    load(page, server + "/", layers=True)
    drawn = page.evaluate(f"""() => {{ const b = {BOOT}; const out = [];
        for (const name of Object.values(b.registry.groups))
            window[name].eachLayer((gj) => gj.eachLayer && gj.eachLayer((l) => {{
                if (l.feature) out.push([l.feature.properties, l.options.dashArray || null,
                                         l.options.color]); }}));
        return out; }}""")
    specs = page.evaluate(f"{BOOT}.layer_specs")
    roads, rail, access = (specs[k]["styles"] for k in ("roads", "railways", "access"))
    published = [(d, c, p["class"]) for p, d, c in drawn if p.get("pub")]
    assert published and all(d == "8 6" and c == roads[cls]["color"] for d, c, cls in published)
    placed = [d for p, d, c in drawn if p.get("placed")]
    assert placed and all(d == rail["planned"]["dashArray"] for d in placed)
    assumed = [d for p, d, c in drawn if "assumed" in p]
    assert {d for d in assumed} <= {access[""].get("dashArray"), access["assumed"]["dashArray"]}
    assert access["assumed"]["dashArray"] in assumed


def test_a_refused_layer_says_why_over_the_map(page, server, app):
    """issue 24, item 3: a catchments layer above MAX_CATCHMENT_PIECES answers 413; the page shows
    the server's message (in the page's language) over the map instead of failing silently."""
    app.config["MAX_CATCHMENT_PIECES"] = 1
    try:
        load(page, server + "/?lang=ru&fua_minutes=61", layers=True)
        assert page.locator("#map-notice").is_hidden()
        page.evaluate(
            f"() => {{ const b = {BOOT};"
            " window[b.registry.map].addLayer(window[b.registry.groups.fua]); }"
        )
        page.wait_for_selector("#map-notice:not([hidden])", timeout=20000)
        text = page.locator("#map-notice").inner_text()
        assert "MAX_CATCHMENT_PIECES" in text or "1" in text
        assert re.search("[а-яА-Я]", text), text  # Russian, as the page
    finally:
        app.config["MAX_CATCHMENT_PIECES"] = 100_000
