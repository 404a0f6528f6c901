"""The page in a real headless browser: Debian's chromium driven from Python (playwright's client
only; never `playwright install`). `make test` installs chromium; without it these tests fail."""
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


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
    assert exe, "Debian's chromium is not installed: run `make test` (it installs it) or apt-get install chromium"
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


def load(page, url):
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20000)


def test_map_page_markers_popup_and_offline(page, server):
    load(page, server + "/")
    n = page.evaluate("""() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return Object.values(b.registry.markers).filter(v => window[v] && window[v]._path && document.body.contains(window[v]._path)).length; }""")
    assert n == 27
    # every request stayed on this app: no CDN, no tiles
    assert page.requests and all(u.startswith(server) for u in page.requests), [u for u in page.requests if not u.startswith(server)]
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
        visible = page.eval_on_selector_all("#town-list tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.dataset.id)")
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
    # a changed town gets a ring outside its marker; its own fill and opacity are untouched (no olive yellow)
    style = page.evaluate("""() => { const b = JSON.parse(document.getElementById('boot').textContent);
        const o = window[b.registry.markers.balkhash].options; return [o.fillOpacity, o.fillColor, b.display.balkhash.style.fillOpacity]; }""")
    assert style[0] == style[2]
    assert page.evaluate("document.querySelectorAll('path.town-halo').length") == len(changed)
    assert page.evaluate("""() => { const b = JSON.parse(document.getElementById('boot').textContent);
        return window[b.registry.markers.balkhash]._path.classList.contains('town-changed'); }""")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_planner.png"))
    # the permalink reproduces the view after a reload
    load(page, page.url)
    assert "balkhash" in page.eval_on_selector_all("#town-list tr.changed", "rs => rs.map(r => r.dataset.id)")
    assert page.input_value("#p-near_km") == "400.0"


def test_invalid_parameter_message_next_to_field(page, server):
    load(page, server + "/")
    page.fill("#p-fua_minutes", "-5")
    page.click("#apply")
    page.wait_for_function("() => document.getElementById('err-fua_minutes').textContent.length > 0",
                           timeout=20000)  # a function, not a bare expression: the CSP forbids eval
    assert "out of range" in page.inner_text("#err-fua_minutes")
    assert page.eval_on_selector("[data-field='fua_minutes']", "e => e.classList.contains('invalid')")


def test_planned_road_in_browser(page, server):
    load(page, server + "/")
    page.fill("#p-near_km", "250")
    page.fill("#road-from", "Karazhal")
    page.fill("#road-to", "Жезказган")
    page.click("#road-add")
    assert "Karazhal" in page.inner_text("#road-list")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert "karazhal" in page.eval_on_selector_all("#town-list tr.changed", "rs => rs.map(r => r.dataset.id)")
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


def test_town_page_in_browser(page, server):
    page.goto(server + "/town/balkhash")
    assert "sqrt(80 * 27.3)" in page.inner_text("body")
    assert page.evaluate("document.querySelectorAll('.smallmap path.leaflet-interactive').length") >= 1
    assert all(u.startswith(server) for u in page.requests)


def test_upload_in_browser(page, server, tmp_path, app):
    """An editor signs in on the page, a bad file is rejected whole, a good one recomputes the map."""
    store, atlas = app.extensions["store"], app.extensions["atlas"]
    if not store.editor_exists("browser"):
        store.add_editor("browser", "browser-pass")
    bad = tmp_path / "bad.csv"
    bad.write_text("town,source,period,mono_output_share\nRudny,doc,2023,150\n")
    good = tmp_path / "good.csv"
    good.write_text("town,source,period,mono_output_share,mono_employment_share\nRudny,Akimat report,2023,70,30\n")
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
    assert page.errors == []
    atlas.rollback(1, editor="test cleanup")


CSP_LISTENER = """window.__csp = []; document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"""


def test_content_security_policy_holds_and_the_map_works(page, server):
    """The offline pages satisfy their CSP: no violation, the map, popups and recompute still work."""
    console = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(CSP_LISTENER)
    load(page, server + "/")
    assert page.evaluate("Object.values(JSON.parse(document.getElementById('boot').textContent).registry.markers)"
                         ".filter(v => window[v] && window[v]._path).length") == 27
    page.click("tr[data-id='temirtau']")
    page.wait_for_selector(".leaflet-popup-content .popup[data-town='temirtau']")
    page.fill("#p-near_km", "400")
    page.click("#apply")
    page.wait_for_selector("body[data-recomputed='1']", timeout=20000)
    assert page.evaluate("window.__csp") == [] and console == [] and page.errors == []
    page.goto(server + "/town/temirtau")
    assert page.evaluate("document.querySelectorAll('.smallmap path.leaflet-interactive').length") >= 1
    assert page.evaluate("window.__csp") == [] and console == [] and page.errors == []
    # and the policy is enforced: an injected inline script without the nonce does not run
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
        document.body.appendChild(s); }""")
    page.wait_for_function("() => window.__csp.length > 0", timeout=5000)
    assert page.evaluate("window.__ran") is None and "script-src" in page.evaluate("window.__csp")[0]
