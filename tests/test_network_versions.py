"""Network versions in the app (issue 14): the `network` parameter, /networks (list, upload,
compare), the API.

The app runs on the SYNTHETIC tiny data root with a temporary networks root; the PBFs are written
here (test_netimport.write_pbf).
"""

import io
import re

import pytest

from geo.netimport import import_network, list_versions, save_version
from geo.params import default_params, parse_params
from geo.versions import version_info
from test_netimport import write_pbf
from test_store import make_app, sign_in
from test_versions import NODES, WAYS


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    root = tmp_path_factory.mktemp("nets")
    save_version(
        import_network(write_pbf(root.parent / "winding.osm.pbf", NODES, WAYS)), "winding", root
    )
    return root


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_root, nets):
    return make_app(
        tmp_path_factory.mktemp("netdb") / "atlas.sqlite3",
        DATA_DIR=str(tiny_root),
        NETWORKS_ROOT=str(nets),
        NETWORK_IMPORT_WAIT=60,
    )


@pytest.fixture()
def client(app):
    return app.test_client()


def ontown(payload: dict) -> dict:
    return next(f["properties"] for f in payload["features"] if f["id"] == "ontown")


def test_network_is_a_parameter():
    p = parse_params({"network": "winding"})
    assert (
        p.network == "winding" and p != default_params() and p.to_query() == {"network": "winding"}
    )
    assert default_params().network == "shipped" and "network" not in default_params().to_query()
    with pytest.raises(ValueError, match="network"):
        parse_params({"network": "../etc"})


def test_towns_on_a_version_differ_and_record_it(client, nets):
    shipped = client.get("/api/towns").get_json()
    r = client.get("/api/towns?network=winding")
    assert r.status_code == 200
    got = r.get_json()
    info = version_info("winding", nets)
    assert got["parameters"]["network"] == info and len(info["sha256"]) == 64
    assert got["parameters"]["network"]["source"] == "winding.osm.pbf"
    assert shipped["parameters"]["network"]["name"] == "shipped"
    assert "network=winding" in got["permalink_query"]
    a, b = ontown(shipped)["agglomeration"], ontown(got)["agglomeration"]
    assert b["road_km"] != pytest.approx(a["road_km"])
    one = client.get("/api/towns/ontown?network=winding").get_json()
    assert one["parameters"]["network"]["name"] == "winding"


def test_unknown_version_is_a_400_naming_network(client):
    for url in (
        "/api/towns?network=nope",
        "/api/towns?network=../x",
        "/api/export.csv?network=nope",
    ):
        r = client.get(url)
        assert r.status_code == 400 and "network" in r.get_json()["fields"], url
    r = client.post("/api/recompute", json={"network": "nope"})
    assert r.status_code == 400 and "no network version 'nope'" in r.get_json()["fields"]["network"]
    page = client.get(
        "/?network=nope"
    )  # the page falls back to the defaults, the message beside the field
    assert page.status_code == 200 and "no network version" in page.get_data(as_text=True)


def test_api_networks_and_planner_select(client):
    names = [v["name"] for v in client.get("/api/networks").get_json()["versions"]]
    assert names == ["shipped", "winding"]
    assert client.get("/api/networks/import-status").get_json()["state"] in (
        "idle",
        "done",
        "failed",
    )
    html = client.get("/").get_data(as_text=True)
    assert 'name="network"' in html and '<option value="winding"' in html
    assert 'href="/networks' in html


def test_networks_page_lists_versions(client, nets):
    html = client.get("/networks?lang=ru").get_data(as_text=True)
    assert "winding.osm.pbf" in html and version_info("winding", nets)["sha256"][:16] in html
    assert "Дорожные сети" in html and 'name="file"' not in html  # no upload form for a visitor


def test_compare_lists_a_changed_town_with_both_values(client):
    shipped = ontown(client.get("/api/towns").get_json())["agglomeration"]["road_km"]
    winding = ontown(client.get("/api/towns?network=winding").get_json())["agglomeration"][
        "road_km"
    ]
    r = client.get("/networks/compare?a=shipped&b=winding")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'class="town-ontown"' in html
    assert (
        f"{shipped:,.1f}" in html
        and f"{winding:,.1f}" in html
        and f"{winding - shipped:+,.1f}" in html
    )
    bad = client.get("/networks/compare?a=shipped&b=nope")
    assert bad.status_code == 400 and "no network version &#39;nope&#39;" in bad.get_data(
        as_text=True
    )


def test_compare_in_russian_says_its_values_in_russian(client):
    """The verdict as the map says it and numbers as Russian writes them (a value with nothing
    on the other side too; this test data's places have no Russian names)."""
    html = client.get("/networks/compare?a=shipped&b=winding&lang=ru").get_data(as_text=True)
    cells = re.findall(r'<tr class="town-[a-z]+">.*?</tr>', html, re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", c) for c in cells)
    assert cells and not re.search(r"\d\.\d", text), text[:500]
    assert not re.search(r"\b(inertial|balanced|innovative|diversification)\b", text)
    assert "Км по дорогам" in text and re.search(r"\d,\d", text), text[:500]


def _token(client) -> str:
    import re

    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_anonymous_upload_refused(client, nets, tmp_path):
    before = list_versions(nets)
    pbf = write_pbf(tmp_path / "anon.osm.pbf", NODES, WAYS)
    r = client.post(
        "/networks",
        data={
            "csrf_token": _token(client),
            "name": "anon",
            "file": (open(pbf, "rb"), "anon.osm.pbf"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert (
        client.post("/networks", data={"name": "anon"}).status_code == 302
    )  # refused before the CSRF check
    assert list_versions(nets) == before


@pytest.mark.parametrize(
    "content,message", [(b"this is not a protocol buffer" * 10, "corrupt"), (b"", "empty")]
)
def test_editor_upload_of_a_bad_file_reports_and_saves_nothing(client, nets, content, message):
    token = sign_in(client)
    before = list_versions(nets)
    r = client.post(
        "/networks",
        data={
            "csrf_token": token,
            "name": "broken",
            "file": (io.BytesIO(content), "broken.osm.pbf"),
        },
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="network-report"' in html and message in html
    assert list_versions(nets) == before and not any(p.name.startswith(".") for p in nets.iterdir())
    assert client.get("/api/towns?network=broken").status_code == 400


@pytest.mark.parametrize(
    "content,filename,name,ru",
    [
        (b"this is not a protocol buffer" * 10, "b.osm.pbf", "b", "Файл не читается как данные"),
        (b"", "e.osm.pbf", "e", "Файл пуст (0 байт)"),
        (b"x", "x.txt", "t", "Такой тип файла не принимается"),
        (b"x", "x.osm.pbf", "winding", "Версия с таким именем уже есть"),
        (b"x", "x.osm.pbf", "bad name", "Имя не допускается"),
    ],
)
def test_a_refused_network_upload_is_said_in_russian(client, nets, content, filename, name, ru):
    """What is wrong in Russian, the parser's English detail after it."""
    token = sign_in(client)
    r = client.post(
        "/networks?lang=ru",
        data={"csrf_token": token, "name": name, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and ru in html and "подробности на английском" in html, html[-900:]


def test_editor_upload_checks_name_and_type(client):
    token = sign_in(client)
    for name, filename in (("winding", "x.osm.pbf"), ("bad name", "x.osm.pbf"), ("ok", "x.txt")):
        r = client.post(
            "/networks",
            data={"csrf_token": token, "name": name, "file": (io.BytesIO(b"x"), filename)},
            content_type="multipart/form-data",
        )
        assert r.status_code == 400 and 'id="network-report"' in r.get_data(as_text=True)


def test_editor_upload_adds_a_version(app, client, nets, tmp_path):
    visitor = app.test_client()
    assert '<option value="good"' not in visitor.get("/").get_data(
        as_text=True
    )  # the page is now cached
    token = sign_in(client)
    pbf = write_pbf(tmp_path / "good.osm.pbf", NODES, WAYS)
    r = client.post(
        "/networks",
        data={"csrf_token": token, "name": "good", "file": (open(pbf, "rb"), "good.osm.pbf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "good" in [v["name"] for v in list_versions(nets)]
    assert client.get("/api/networks/import-status").get_json()["state"] == "done"
    got = client.get("/api/towns?network=good").get_json()
    assert got["parameters"]["network"]["name"] == "good"
    assert '<option value="good"' in visitor.get("/").get_data(
        as_text=True
    )  # the cached page was dropped


def test_editor_upload_of_a_zipped_shapefile(client, nets, tmp_path):
    import zipfile

    import geopandas as gpd
    from shapely.geometry import LineString

    gpd.GeoDataFrame(
        {"ref": ["A-1"]},
        geometry=[LineString([(70.0, 48.0), (70.2, 48.5), (70.0, 49.0)])],
        crs="EPSG:4326",
    ).to_file(tmp_path / "roads.shp", engine="pyogrio")
    archive = tmp_path / "roads.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("roads.*"):
            if part.suffix != ".zip":
                z.write(part, f"folder/{part.name}")
    token = sign_in(client)
    r = client.post(
        "/networks",
        data={"csrf_token": token, "name": "lines", "file": (open(archive, "rb"), "roads.zip")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert {"name": "lines", "source": "roads.shp"}.items() <= next(
        v for v in list_versions(nets) if v["name"] == "lines"
    ).items()
    bad = client.post(
        "/networks",
        data={"csrf_token": token, "name": "nozip", "file": (io.BytesIO(b"PK not a zip"), "x.zip")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "not a readable zip" in bad.get_data(as_text=True)
