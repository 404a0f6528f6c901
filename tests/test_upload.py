"""Uploading statistics: a bad file is rejected whole with row/field/range messages; nothing is lost."""
import io

import pytest

GOOD = "town,source,period,mono_output_share,mono_employment_share\nРудный,Akimat report,2023,70,30\n"
BAD = ("town,source,period,mono_output_share,aggl_in_fua\n"
       "Rudny,doc,2023,150,\n"
       "Atlantis,doc,2023,50,\n"
       "Ekibastuz,,2023,40,\n")


def post(client, text, name="stats.csv"):
    return client.post("/api/statistics", data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


@pytest.fixture(autouse=True)
def clean(client):
    client.delete("/api/statistics")
    yield
    client.delete("/api/statistics")


def test_good_upload_changes_the_town_and_carries_its_source(client, app):
    before = client.get("/api/towns/rudny").get_json()["properties"]
    assert before["scenario"]["completeness"] == "2/6"  # agglomeration and special
    r = post(client, GOOD)
    assert r.status_code == 200 and r.get_json() == {"file": "stats.csv", "towns": ["rudny"], "values": 2}
    after = client.get("/api/towns/rudny").get_json()["properties"]
    assert after["scenario"]["completeness"] == "3/6"
    assert after["indices"]["mono_profile"] == pytest.approx((70 * 30) ** 0.5)
    assert after["provenance"]["mono_output_share"] == {"value": 70.0, "status": "sourced", "period": "2023",
                                                         "source": "uploaded: Akimat report (stats.csv)", "unit": "%"}
    # stored on disk, so a new process keeps it
    from webapp.model import Atlas
    again = Atlas(upload_dir=app.config["UPLOAD_DIR"])
    assert again.uploaded["rudny"]["mono_output_share"]["value"] == "70.0"


def test_bad_upload_rejected_whole_and_previous_kept(client):
    assert post(client, GOOD, "first.csv").status_code == 200
    r = post(client, BAD, "bad.csv")
    assert r.status_code == 400
    data = r.get_json()
    assert data["kept"] == "first.csv"
    problems = "\n".join(data["problems"])
    assert "bad.csv: column 'aggl_in_fua' is not a statistical input" in problems
    assert "bad.csv row 2 town 'Rudny': field 'mono_output_share' value 150 is out of range; allowed: 0 to 100 (%)" in problems
    assert "bad.csv row 3 town 'Atlantis': field 'town' is not one of the 27 monotowns" in problems
    assert "bad.csv row 4 town 'Ekibastuz': field 'source' is empty" in problems
    # nothing of the bad file was taken: Rudny still has the first file's values, Ekibastuz none
    p = client.get("/api/towns/rudny").get_json()["properties"]
    assert p["inputs"]["mono_output_share"] == 70
    assert client.get("/api/towns/ekibastuz").get_json()["properties"]["inputs"]["mono_output_share"] is None
    assert client.get("/api/statistics").get_json()["file"] == "first.csv"


@pytest.mark.parametrize("text,message", [
    ("", "column 'town' is missing"),
    ("town,source,period\n", "no data rows"),
    ("town,source,period,mono_output_share\nRudny,doc,2023,\n", "no statistical input given"),
    ("town,source,period,mono_output_share\nRudny,doc,2023,x\n", "value 'x' is not a number"),
    ("town,source,period,inv_projects_done,inv_projects_done_total\nRudny,d,2023,5,3\n", "is above its total"),
    ("town,source,period,mono_output_share\nRudny,d,2023,5\nrudny,d,2023,6\n", "town appears twice"),
])
def test_upload_errors(client, text, message):
    r = post(client, text)
    assert r.status_code == 400 and message in "\n".join(r.get_json()["problems"])


def test_upload_wrong_encoding_and_no_file(client):
    r = post(client, "")
    assert r.status_code == 400
    r = client.post("/api/statistics", data={"file": (io.BytesIO("town\n".encode("utf-16")), "x.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "not UTF-8" in r.get_json()["problems"][0]
    r = client.post("/api/statistics", json={"a": 1})
    assert r.status_code == 400
