"""Start-up (webapp.serve): the first page read from the folder of shared answers (the "snapshot") equals
a rendered one, any changed input makes the next start render it, and the app answers correctly while
the rest is warmed after listening."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from webapp import ROOT, create_app
from webapp import serve, shared

NONCE = re.compile(r'nonce="[^"]*"')
FOLIUM_ID = re.compile(r"_[0-9a-f]{32}")  # Folium's element names (random per rendering)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # when each test's own store was seeded


def make_app(tmp_path, **config):
    db = tmp_path / "atlas.sqlite3"
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "test",
                       "RENDERED_DIR": str(tmp_path / "rendered"), **config})


def page(app) -> str:
    r = app.test_client().get("/?lang=en")
    assert r.status_code == 200
    return NONCE.sub('nonce=""', r.get_data(as_text=True))


def boot(html: str) -> dict:
    return json.loads(re.search(r'"layers": (\{[^}]*\})', html).group(1))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An app that rendered the first page and wrote it to the shared folder, and its page."""
    tmp = tmp_path_factory.mktemp("startup")
    app = make_app(tmp)
    assert serve.warm(app) == "rendered"
    assert (tmp / "rendered" / serve.first_page_name(app, "en")).is_file()
    return tmp, page(app)


def test_second_start_serves_the_snapshot_unchanged(saved):
    tmp, first = saved
    app = make_app(tmp)
    assert serve.warm(app) == "snapshot"
    assert page(app) == first
    with app.app_context():  # the default result is not computed at start-up: warm_rest does it
        assert not app.extensions["atlas"]._cache


def test_snapshot_page_equals_a_fresh_rendering(saved, tmp_path):
    _, first = saved
    fresh = make_app(tmp_path)  # no snapshot in this folder: rendered
    assert serve.warm(fresh) == "rendered"
    def same(html):
        return STAMP.sub("T", FOLIUM_ID.sub("_ID", html))
    assert same(page(fresh)) == same(first)


def test_urls_in_the_snapshot_page_name_what_this_process_renders(saved):
    """Each layer URL's ``v`` and the popups URL's ``v`` are the ETags the new process renders."""
    tmp, first = saved
    app = make_app(tmp)
    assert serve.warm(app) == "snapshot"
    app.extensions["atlas"].shared = None  # the layers and popups rendered by this process, not read back
    client = app.test_client()
    urls = list(boot(first).values()) + [json.loads('"' + re.search(r'"popups": "([^"]*)"', first).group(1) + '"')]
    assert len(urls) == 9
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["ETag"].strip('"') == re.search(r"[?&]v=([0-9a-f]+)", url).group(1), url


def test_a_request_during_the_warm_up_after_listening_is_answered_correctly(saved):
    tmp, _ = saved
    reference = make_app(tmp)
    expected = reference.test_client().post("/api/recompute", json={}).get_json()
    app = make_app(tmp)
    assert serve.warm(app) == "snapshot"
    thread = serve.warm_rest(app)
    got = app.test_client().post("/api/recompute", json={})
    thread.join(60)
    assert got.status_code == 200
    assert got.get_json() == expected
    assert app.test_client().get("/?lang=en").status_code == 200


def test_changed_store_invalidates(tmp_path):
    app = make_app(tmp_path)
    assert serve.warm(app) == "rendered"
    name = serve.first_page_name(app, "en")
    app.extensions["store"].apply([{"town_id": "kentau", "input": "mono_output_share", "value": 50.0}],
                                  editor="anna", filename="kentau.csv")
    again = make_app(tmp_path)
    assert serve.warm(again) == "rendered"
    assert serve.first_page_name(again, "en") != name
    assert "kentau.csv" in page(again)  # the new revision is named on the page, not the saved one
    assert serve.warm(make_app(tmp_path)) == "snapshot"  # written again, valid for the next start


def test_a_judgment_invalidates(tmp_path):
    app = make_app(tmp_path)
    assert serve.warm(app) == "rendered"
    app.extensions["store"].record_judgment({"town_id": "kentau", "scenarios": ["inertial"], "author": "A. Expert",
                                          "date": "2026", "rationale": "test", "source": "test"}, editor="anna")
    assert serve.warm(make_app(tmp_path)) == "rendered"


def test_changed_data_file_invalidates(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    app = make_app(tmp_path, DATA_DIR=str(data))
    assert serve.warm(app) == "rendered"
    assert serve.warm(make_app(tmp_path, DATA_DIR=str(data))) == "snapshot"
    towns = data / "towns.csv"
    towns.write_text(towns.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert serve.warm(make_app(tmp_path, DATA_DIR=str(data))) == "rendered"


def test_changed_method_file_changes_the_fingerprint(saved, tmp_path, monkeypatch):
    tmp, _ = saved
    app = make_app(tmp)
    key = shared.fingerprint(app)
    method = tmp_path / "method"
    shutil.copytree(ROOT / "data" / "method", method)
    import scoring.method

    monkeypatch.setattr(scoring.method, "DEFAULT_METHOD_DIR", method)
    copied = shared.fingerprint(app)
    assert copied != key  # another method folder
    assert shared.fingerprint(app) == copied  # the same files: the same fingerprint
    first = sorted(method.iterdir())[0]
    first.write_bytes(first.read_bytes() + b"\n")
    assert shared.fingerprint(app) != copied


def test_changed_code_invalidates(saved, tmp_path, monkeypatch):
    tmp, _ = saved
    code = tmp_path / "code"
    shutil.copytree(ROOT / "templates", code / "templates")
    monkeypatch.setattr(shared, "code_roots", lambda: [code])
    app = make_app(tmp)
    key = shared.fingerprint(app)
    assert shared.fingerprint(app) == key
    base = code / "templates" / "base.html"
    base.write_text(base.read_text(encoding="utf-8").replace("<body", "<body data-x", 1), encoding="utf-8")
    assert shared.fingerprint(app) != key
    app.extensions["atlas"].fingerprint = shared.fingerprint(app)
    assert serve.load_first_page(app, "en") is False  # what the old code rendered is not used


def test_changed_network_versions_invalidate(tmp_path):
    networks = tmp_path / "networks"
    networks.mkdir()
    app = make_app(tmp_path, NETWORKS_ROOT=str(networks))
    assert serve.warm(app) == "rendered"
    key = shared.fingerprint(app)
    (networks / "v1").mkdir()
    (networks / "v1" / "network.npz").write_bytes(b"a version being written")
    assert shared.fingerprint(app) != key
    assert serve.warm(make_app(tmp_path, NETWORKS_ROOT=str(networks))) == "rendered"


def test_other_language_and_library_versions_are_in_the_key(saved, monkeypatch):
    tmp, _ = saved
    app = make_app(tmp)
    assert serve.warm(app) == "snapshot"
    assert serve.first_page_name(app, "ru") != serve.first_page_name(app, "en")
    key = shared.fingerprint(app)
    monkeypatch.setattr(shared, "RENDERING_PACKAGES", shared.RENDERING_PACKAGES + ("waitress",))
    assert shared.fingerprint(app) != key


def test_a_damaged_first_page_is_rendered_again(tmp_path):
    app = make_app(tmp_path)
    assert serve.warm(app) == "rendered"
    (tmp_path / "rendered" / serve.first_page_name(app, "en")).write_bytes(b"not an answer")
    again = make_app(tmp_path)
    assert serve.warm(again) == "rendered"
    assert page(again).count("<html") == 1


def test_no_snapshot_with_a_data_note(tmp_path):
    app = make_app(tmp_path)
    app.extensions["atlas"].data_note = "the stored database was unreadable"
    assert serve.warm(app) == "rendered"
    assert serve.first_page_name(app, "en") is None
    assert not list((tmp_path / "rendered").glob("*/*.rendered"))


# -- the loaders without iterrows give what the row-wise loaders gave (shipped data) ---------------------

def test_junction_lines_equal_the_row_wise_loader():
    import numpy as np

    from geo.junctions import Lines, _merge_sections
    from geo.layers import load_layers
    from geo.params import load_road_classes

    layers = load_layers(ROOT / "data")
    lines = Lines(layers)
    major = {c for c, rc in load_road_classes().items() if rc.junction_line}
    rows = [(r["road_id"], r["class"], f"road {r['road_id']} {r['name_ru'] or ''}".strip(), r["corridors"] or "",
             r.geometry) for _, r in layers.roads.iterrows() if r["class"] in major]
    rows += [(r["line_id"], "railway", f"railway {r['name']}", "", r.geometry)
             for _, r in layers.railways.iterrows() if r["status"] == "operating"]
    rows += [(r["corr_id"], "corridor", f"corridor {r['name']}", "", r.geometry)
             for _, r in layers.corridors.iterrows() if r["planned"] == "no" and not r["roads"]]
    rows = _merge_sections(rows)
    assert len(rows) > 10
    assert lines.ids == [r[0] for r in rows]
    assert lines.types.tolist() == [r[1] for r in rows]
    assert lines.names == [r[2] for r in rows]
    assert lines.corridors == [r[3] for r in rows]
    assert all(a.equals_exact(b, 0) for a, b in zip(lines.geoms, [r[4] for r in rows]))
    points = np.array([[t.geometry.x, t.geometry.y] for _, t in layers.towns.iterrows()])
    assert lines.town_points.shape == points.shape == (27, 2)
    assert np.array_equal(lines.town_points, points)


def test_official_members_equal_the_row_wise_loader():
    from geo.layers import load_layers
    from geo.official import Official

    layers = load_layers(ROOT / "data")
    official = Official(layers)
    old = {r["town_id"]: r for _, r in official.table.iterrows() if r["town_id"]}
    assert official.members and official.members.keys() == old.keys()
    for tid, row in old.items():
        assert {k: str(v) for k, v in official.members[tid].items()} == {k: str(v) for k, v in row.items()}
    for tid in layers.towns["id"]:
        assert official.flag(tid).reason  # every town answered (member or not)
