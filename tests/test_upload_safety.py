"""An upload is opened only as what its suffix says (issue 24, H1, M2, M7, M8).

A GeoJSON-named file holding GDAL VRT XML once made the server read its own files
(CSV:../../secret_key) and fetch URLs; coordinates of 1e308 or latitude 95 once became "nan km"; an
anonymous 1 GB body was parsed before the refusal; a 1 MB zip unpacked to 1 GB. Each case here
failed before the fix.
"""

import io
import json
import zipfile

import numpy as np
import pytest

from geo.netimport import (
    NetworkImportError,
    delete_version,
    import_network,
    list_versions,
    load_version,
    save_version,
)
from test_netimport import write_pbf
from test_store import make_app, sign_in
from test_versions import NODES, WAYS

SECRET = "TOP-SECRET-KEY-0123456789"


def vrt(secret_path) -> str:
    """GDAL VRT XML that turns the characters of a server file into coordinates (the audit's
    attack)."""
    return (
        "<OGRVRTDataSource><OGRVRTLayer"
        f' name="x"><SrcDataSource>CSV:{secret_path}</SrcDataSource><SrcSQL dialect="sqlite">SELECT'
        " 1 AS id, MakeLine(MakePoint(70, 48), MakePoint(70.1, 48.1)) AS g</SrcSQL><GeometryField"
        ' name="g" encoding="shape"/></OGRVRTLayer></OGRVRTDataSource>'
    )


def geojson(coords) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            ],
        }
    ).encode()


@pytest.fixture()
def secret(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text(f"key\n{SECRET}\n")
    return path


@pytest.mark.parametrize("suffix", [".geojson", ".json", ".gpkg", ".shp", ".fgb"])
def test_vrt_xml_under_any_layer_suffix_is_refused(tmp_path, secret, suffix):
    path = tmp_path / f"roads{suffix}"
    path.write_text(vrt(secret))
    with pytest.raises(NetworkImportError, match=rf"roads\{suffix} is not a \{suffix} file"):
        import_network(path)


@pytest.mark.parametrize("suffix", [".gml", ".kml", ".vrt", ".csv"])
def test_xml_and_text_formats_are_not_layer_suffixes(tmp_path, secret, suffix):
    path = tmp_path / f"roads{suffix}"
    path.write_text(vrt(secret))
    with pytest.raises(NetworkImportError, match="unknown file type"):
        import_network(path)


def test_a_gdal_virtual_path_is_not_a_file(tmp_path):
    for path in ("/vsicurl/http://127.0.0.1:9/x.geojson", "/vsizip//etc/x.zip/x.shp"):
        with pytest.raises(NetworkImportError, match="no such file"):
            import_network(path)
    target = tmp_path / "real.geojson"
    target.write_bytes(geojson([[70, 48], [70.1, 48.1]]))
    (tmp_path / "link.geojson").symlink_to(target)
    with pytest.raises(NetworkImportError, match="no such file"):
        import_network(tmp_path / "link.geojson")


def test_geojson_with_a_bom_and_spaces_still_opens(tmp_path):
    path = tmp_path / "ok.geojson"
    path.write_bytes(b"\xef\xbb\xbf \n" + geojson([[70, 48], [70.1, 48.1]]))
    net = import_network(path)
    assert (
        net.n_edges == 1 and np.isfinite(net.km).all() and net.km[0] == pytest.approx(13.4, abs=0.2)
    )


@pytest.mark.parametrize(
    "coords,what",
    [
        ([[70, 48], [70.1, 95.0]], "95.0"),
        ([[70, 48], [1e308, 48.0]], r"1e\+308"),
        ([[70, 48], [181.0, 48.0]], "181.0"),
    ],
)
def test_coordinates_out_of_range_are_refused(tmp_path, coords, what):
    path = tmp_path / "far.geojson"
    path.write_bytes(geojson(coords))
    with pytest.raises(
        NetworkImportError, match=rf"longitude -180\.\.180, latitude -90\.\.90.*{what}"
    ):
        import_network(path)


def test_a_saved_version_with_non_finite_km_is_refused_on_load(tmp_path):
    path = tmp_path / "ok.geojson"
    path.write_bytes(geojson([[70, 48], [70.1, 48.1], [70.2, 48.1]]))
    save_version(import_network(path), "bad", tmp_path / "nets")
    npz = tmp_path / "nets" / "bad" / "network.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["km"] = np.full_like(arrays["km"], np.nan)
    np.savez(npz, **arrays)
    with pytest.raises(NetworkImportError, match="km is not a finite"):
        load_version("bad", tmp_path / "nets")


def test_delete_version_removes_it_whole(tmp_path):
    path = tmp_path / "ok.geojson"
    path.write_bytes(geojson([[70, 48], [70.1, 48.1]]))
    save_version(import_network(path), "gone", tmp_path / "nets")
    delete_version("gone", tmp_path / "nets")
    assert list_versions(tmp_path / "nets") == [] and list((tmp_path / "nets").iterdir()) == []
    with pytest.raises(NetworkImportError, match="no network version 'gone'"):
        delete_version("gone", tmp_path / "nets")
    with pytest.raises(NetworkImportError, match="not allowed"):
        delete_version("../nets", tmp_path / "nets")


# -- through the app -----------------------------------------------------------------------------


@pytest.fixture()
def nets(tmp_path):
    root = tmp_path / "nets"
    save_version(
        import_network(write_pbf(tmp_path / "winding.osm.pbf", NODES, WAYS)), "winding", root
    )
    return root


@pytest.fixture()
def app(tmp_path, tiny_root, nets):
    return make_app(
        tmp_path / "atlas.sqlite3",
        DATA_DIR=str(tiny_root),
        NETWORKS_ROOT=str(nets),
        NETWORK_IMPORT_WAIT=60,
    )


def upload(client, token, name, filename, content):
    return client.post(
        "/networks",
        data={"csrf_token": token, "name": name, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_the_audit_attack_reads_nothing_and_saves_nothing(app, nets, secret):
    client = app.test_client()
    token = sign_in(client)
    r = upload(client, token, "leak", "roads.geojson", vrt(secret).encode())
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "is not a .geojson file" in html
    assert [v["name"] for v in list_versions(nets)] == ["winding"]
    anonymous = app.test_client()
    for url in (
        "/api/layers/roads.geojson?network=leak",
        "/api/networks",
        "/api/networks/import-status",
        "/networks",
    ):
        body = anonymous.get(url).get_data(as_text=True)
        assert SECRET not in body and str(secret.parent) not in body, url


class CountingStream(io.BytesIO):
    """A request body that counts what the server reads of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_bytes = 0

    def read(self, *args):
        out = super().read(*args)
        self.read_bytes += len(out)
        return out

    readline = None  # the form parser must not get here


def test_anonymous_upload_is_refused_before_its_body_is_read(app):
    body = CountingStream(b"x" * (4 * 1024 * 1024))
    r = app.test_client().post(
        "/networks",
        input_stream=body,
        content_length=len(body.getvalue()),
        content_type="multipart/form-data; boundary=b",
    )
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert body.read_bytes == 0


def test_a_zip_bomb_is_refused_before_extraction(app, nets, tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("roads.shp", b"\x00" * (50 * 1024 * 1024))
        z.writestr("roads.shx", b"\x00" * 100)
        z.writestr("roads.dbf", b"\x00" * 100)
    assert len(archive.getvalue()) < 200_000
    client = app.test_client()
    r = upload(client, sign_in(client), "bomb", "roads.zip", archive.getvalue())
    assert r.status_code == 400 and "more than 100 times its size" in r.get_data(as_text=True)
    assert [v["name"] for v in list_versions(nets)] == ["winding"] and not list(
        nets.glob(".upload-*")
    )


def test_an_editor_deletes_a_version(app, nets):
    client = app.test_client()
    token = sign_in(client)
    assert (
        client.post("/networks/winding/delete", data={"csrf_token": token}).status_code == 400
    )  # not confirmed
    assert client.get("/api/towns?network=winding").status_code == 200
    for name, status in (("shipped", 404), ("nope", 404)):
        assert (
            client.post(
                f"/networks/{name}/delete", data={"csrf_token": token, "confirm": "yes"}
            ).status_code
            == status
        )
    r = client.post(
        "/networks/winding/delete?lang=ru", data={"csrf_token": token, "confirm": "yes"}
    )
    assert r.status_code == 200 and "Удалена" in r.get_data(as_text=True)
    assert list_versions(nets) == [] and client.get("/api/towns?network=winding").status_code == 400
    assert [v["name"] for v in client.get("/api/networks").get_json()["versions"]] == ["shipped"]


def test_delete_needs_an_editor_and_the_token(app, nets):
    anonymous = app.test_client()
    r = anonymous.post("/networks/winding/delete", data={"confirm": "yes"})
    assert r.status_code in (302, 400, 403)
    client = app.test_client()
    sign_in(client)
    assert (
        client.post("/networks/winding/delete", data={"confirm": "yes"}).status_code == 400
    )  # no CSRF token
    assert [v["name"] for v in list_versions(nets)] == ["winding"]
