"""Import, history and judgments over HTTP: editors only, CSRF on every change, nothing changes on
rejection."""

import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from test_store import PASSWORD, csrf, csv_bytes, make_app, sign_in
from webapp.store import stats_io


@pytest.fixture()
def app(tmp_path):
    """A new app and database for each test (flaskr): what a test imports stays there."""
    return make_app(tmp_path / "atlas.sqlite3")


@pytest.fixture()
def store(app):
    return app.extensions["store"]


@pytest.fixture()
def editor(app, store):
    """A signed-in client and its CSRF token."""
    client = app.test_client()
    return client, sign_in(client)


def post_file(client, raw, name="stats.csv", token=None, **headers):
    if token:
        headers["X-CSRF-Token"] = token
    if (
        len(raw) > 400_000
    ):  # the test client spools a big multipart body to a temporary file it never closes
        return client.post("/api/statistics", data=raw, content_type="text/csv", headers=headers)
    return client.post(
        "/api/statistics",
        data={"file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


def xlsx(*rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["town", "year", "source", "mono_output_share", "mono_employment_share"])
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def snapshot(store):
    return store.head(), sorted(
        (r["town_id"], r["input"], r["period"], r["value"]) for r in store.values()
    )


def test_reading_needs_no_account(app):
    client = app.test_client()
    for path in (
        "/",
        "/data",
        "/history",
        "/history/1",
        "/judgments",
        "/town/temirtau",
        "/api/statistics",
        "/api/statistics/revisions",
        "/api/statistics/revisions/1",
        "/api/statistics/template.csv",
        "/api/statistics/template.xlsx",
        "/api/statistics/export.csv",
        "/login",
    ):
        assert client.get(path).status_code == 200, path
    html = client.get("/data").get_data(as_text=True)
    assert html.count('<tr id="town-') == 27 and "Sign in as an editor" in html
    assert "Maimurunova et al. 2025" in html  # sources of the shipped values, shown per cell
    assert client.get("/history/999").status_code == 404


def test_the_export_uploaded_again_changes_only_what_was_edited(editor, store):
    """The statistics export is what an editor supplies: uploaded again with one value changed, it
    changes that value and nothing else (derived values stay derived, missing ones missing)."""
    client, token = editor
    before = {(r["town_id"], r["input"]): (r["value"], r["status"]) for r in store.current()}
    assert "derived" in {s for _, s in before.values()}
    import csv
    import io

    text = client.get("/api/statistics/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[0].index("mono_output_share")
    row = next(r for r in rows if r[0] == "balkhash" and r[col] != "")
    assert row[col] == "80"
    row[col] = "20"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    r = post_file(client, out.getvalue().encode(), token=token)
    assert r.status_code == 200, r.get_json()
    after = {(r["town_id"], r["input"]): (r["value"], r["status"]) for r in store.current()}
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {("balkhash", "mono_output_share")}
    assert after[("balkhash", "mono_output_share")] == (20.0, "sourced")


def test_anonymous_post_refused_and_nothing_changes(app, store):
    before = snapshot(store)
    client = app.test_client()
    token = csrf(client, "/login")  # a valid token of an anonymous session is not enough
    r = post_file(client, csv_bytes("Rudny,2023,doc,70,30"), token=token)
    assert r.status_code == 401 and "sign in" in r.get_json()["message"]
    assert client.delete("/api/statistics", headers={"X-CSRF-Token": token}).status_code == 401
    assert (
        client.post("/data/import", data={"csrf_token": token}).status_code == 302
    )  # to the sign-in page
    assert client.post("/judgments", data={"csrf_token": token, "town": "rudny"}).status_code == 302
    assert snapshot(store) == before


def test_signing_in_returns_to_the_page_the_reader_was_on(app, store):
    """A refused form (its POST cannot be repeated) signs in back to the page the form was on; the
    top bar's link back to the page it is on, in its language; nowhere given: the map in it."""
    client = app.test_client()
    token = csrf(client, "/login")
    r = client.post(
        "/judgments?lang=ru",
        data={"csrf_token": token, "town": "rudny"},
        headers={"Referer": "http://localhost/judgments?lang=ru"},
    )
    assert r.status_code == 302 and "next=/judgments?lang%3Dru" in r.headers["Location"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/judgments?lang=ru"' in html
    done = client.post(
        "/login?lang=ru",
        data={
            "name": "anna",
            "password": PASSWORD,
            "csrf_token": csrf(client, "/login"),
            "next": "/judgments?lang=ru",
        },
    )
    assert done.headers["Location"] == "/judgments?lang=ru"
    assert client.get(done.headers["Location"]).status_code == 200
    page = app.test_client().get("/history?lang=kk").get_data(as_text=True)
    assert 'href="/login?lang=kk&amp;next=/history?lang%3Dkk" id="sign-in"' in page
    other = app.test_client()
    plain = other.post(
        "/login?lang=kk",
        data={"name": "anna", "password": PASSWORD, "csrf_token": csrf(other, "/login")},
    )
    assert plain.headers["Location"] == "/?lang=kk"


def test_post_without_csrf_token_or_from_another_origin_refused(editor, store):
    client, token = editor
    before = snapshot(store)
    r = post_file(client, csv_bytes("Rudny,2023,doc,70,30"))
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]
    r = post_file(client, csv_bytes("Rudny,2023,doc,70,30"), token="forged")
    assert r.status_code == 400
    r = post_file(
        client, csv_bytes("Rudny,2023,doc,70,30"), Origin="https://evil.example"
    )  # a cross-site form
    assert r.status_code in (400, 403)
    r = post_file(
        client, csv_bytes("Rudny,2023,doc,70,30"), token=token, Origin="https://evil.example"
    )
    assert r.status_code == 403
    assert client.post("/history/1/rollback").status_code == 400
    assert client.post("/judgments/1/withdraw", data={"reason": "x"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert snapshot(store) == before
    assert (
        client.post("/api/recompute", json={"near_km": 150}).status_code == 200
    )  # read-only: exempt


def test_sign_in_out(app):
    client = app.test_client()
    r = client.post(
        "/login", data={"name": "anna", "password": "wrong", "csrf_token": csrf(client, "/login")}
    )
    assert r.status_code == 401 and "Wrong name or password" in r.get_data(as_text=True)
    r = client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": "nope"})
    assert r.status_code == 400
    token = sign_in(client)
    html = client.get("/?lang=ru").get_data(as_text=True)
    assert "Вы вошли как <b>anna</b>" in html and 'id="upload-form"' in html
    assert "Кірген пайдаланушы:" in client.get("/data?lang=kk").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert (
        'id="signed-in"' not in html
        and 'id="upload-form"' not in html
        and 'id="upload-signin"' in html
    )
    r = client.post(
        "/login",
        data={
            "name": "anna",
            "password": PASSWORD,
            "csrf_token": csrf(client, "/login"),
            "next": "https://evil.example/",
        },
    )
    assert r.headers["Location"] == "/?lang=en"  # no open redirect: the map


def test_good_csv_and_xlsx_change_the_map(editor, store):
    client, token = editor
    head = store.head()
    r = post_file(client, csv_bytes("Рудный,2023,Akimat report,70,30"), token=token)
    body = r.get_json()
    changed = body.pop(
        "changed"
    )  # what the import changed at the default parameters (the map says which towns)
    assert r.status_code == 200 and body == {
        "file": "stats.csv",
        "revision": head + 1,
        "towns": ["rudny"],
        "values": 2,
        "outranked": [],
    }
    assert list(changed) == ["rudny"]
    whats = {c["what"]: (c["from"], c["to"]) for c in changed["rudny"]}
    assert whats["mono_output_share"] == (None, 70.0) and "level:mono_profile" in whats
    p = client.get("/api/towns/rudny").get_json()["properties"]
    assert p["scenario"]["completeness"] == "3/6" and p["indices"]["mono_profile"] == pytest.approx(
        (70 * 30) ** 0.5
    )
    assert p["provenance"]["mono_output_share"] == {
        "value": 70.0,
        "status": "sourced",
        "period": "2023",
        "source": "Akimat report",
        "unit": "%",
    }
    r = post_file(
        client, xlsx(["Ekibastuz", 2024, "Stat office", 40, 20]), name="s.xlsx", token=token
    )
    assert r.status_code == 200 and r.get_json()["revision"] == head + 2
    assert (
        client.get("/api/towns/ekibastuz").get_json()["properties"]["inputs"]["mono_output_share"]
        == 40
    )
    history = client.get("/history").get_data(as_text=True)
    assert "import: s.xlsx" in history and "anna" in history
    assert "Akimat report" in client.get(f"/history/{head + 1}").get_data(as_text=True)
    r = client.delete("/api/statistics", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["rollback_to"] == 1
    assert {"rudny", "ekibastuz"} <= set(r.get_json()["changed"])
    assert (
        client.get("/api/towns/rudny").get_json()["properties"]["scenario"]["completeness"] == "2/6"
    )


@pytest.mark.parametrize(
    "raw,name,message",
    [
        (
            csv_bytes("Rudny,2023,doc,150,30", "Atlantis,2023,doc,5,5"),
            "bad.csv",
            "value '150': out of range",
        ),
        (csv_bytes('Rudny,2023,doc,"1 000",30'), "bad.csv", "not a plain number"),
        (csv_bytes("Rudny,2023,doc,NaN,30"), "bad.csv", "not a finite number"),
        (csv_bytes("Rudny,2023,doc,5,30", "Rudny,2023,doc,5,30"), "dup.csv", "duplicate row"),
        (
            csv_bytes("Rudny,2023,doc,5", header="town,year,source,aggl_in_fua"),
            "d.csv",
            "derived from the road network",
        ),
        (xlsx(["Rudny", 2023, "doc", "=10*7", 30]), "f.xlsx", "a formula cell"),
        (xlsx(["Rudny", 2023, "doc", "70", 30]), "t.xlsx", "text in a numeric column"),
        (b"", "empty.csv", "the file is empty"),
        (csv_bytes(*["Rudny,2023,doc,50,50"] * 60_000), "big.csv", "limit 1000000"),
    ],
)
def test_rejected_file_changes_nothing(editor, store, raw, name, message):
    client, token = editor
    post_file(client, csv_bytes("Rudny,2023,first,70,30"), token=token)
    before = snapshot(store)
    r = post_file(client, raw, name=name, token=token)
    assert r.status_code == 400, r.get_data(as_text=True)
    data = r.get_json()
    assert data["file"] in (name, "upload.csv") and any(message in p for p in data["problems"]), (
        data["problems"]
    )
    assert snapshot(store) == before
    assert (
        client.get("/api/towns/rudny").get_json()["properties"]["inputs"]["mono_output_share"] == 70
    )


def test_request_above_the_size_limit(editor, store):
    client, token = editor
    before = snapshot(store)
    r = client.post(
        "/api/statistics",
        data=b"x" * (3 * 1024 * 1024),
        content_type="text/csv",
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 413
    assert snapshot(store) == before
    assert stats_io.MAX_BYTES < client.application.config["MAX_CONTENT_LENGTH"]


def test_a_file_over_the_request_limit_gets_a_page_in_its_language(editor, store):
    """Over MAX_CONTENT_LENGTH: a page that says so in the page's language, with a way back, and
    nothing changed (it was Werkzeug's bare English 413)."""
    client, token = editor
    before = snapshot(store)
    big = b"--b\r\n" + b"x" * (3 * 1024 * 1024)  # raw: the test client spools a built one
    r = client.post(
        "/data/import?lang=ru",
        data=big,
        content_type="multipart/form-data; boundary=b",
        headers={"Referer": "http://localhost/data?lang=ru", "X-CSRF-Token": token},
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 413 and "Файл слишком большой" in html and "не более 2 МБ" in html
    assert 'href="http://localhost/data?lang=ru">Назад на страницу' in html
    assert snapshot(store) == before


def test_a_revisions_columns_are_before_and_after_it(editor, store):
    """A revision's values before and after it (the headings said 'Default' and 'Now')."""
    client, _ = editor
    html = client.get("/history/1?lang=ru").get_data(as_text=True)
    head = html[html.index('id="changes-of-revision"') :]
    head = head[: head.index("</tr>")]
    assert "<th>Было</th><th>Стало</th>" in head and "По умолчанию" not in head


def test_withdrawing_a_withdrawn_judgment_says_so(editor, store):
    client, token = editor
    r = client.post(
        "/judgments/999/withdraw?lang=ru", data={"csrf_token": token, "reason": "superseded"}
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "Экспертной оценки 999 нет или она уже отозвана." in html
    assert "Город не найден" not in html
    gone = client.get("/history/12345?lang=kk").get_data(as_text=True)
    assert "Табылмады." in gone and "Қала табылмады" not in gone


def test_form_import_and_rollback_pages(editor, store):
    client, token = editor
    head = store.head()
    r = client.post(
        "/data/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes("Rudny,2023,x,150,30")), "b.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "value &#39;150&#39;: out of range" in r.get_data(as_text=True)
    r = client.post(
        "/data/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes("Rudny,2023,x,70,30")), "g.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and f"(Revision {head + 1})" in r.get_data(as_text=True)
    assert store.head() == head + 1
    r = client.post(
        f"/history/{head}/rollback?lang=ru", data={"csrf_token": token}, follow_redirects=True
    )
    assert store.head() == head + 2 and store.revision(head + 2).rollback_to == head
    page = r.get_data(
        as_text=True
    )  # the rollback confirmed; kinds and times in the page's language
    assert f"Откат выполнен: ревизия {head + 2} восстанавливает данные ревизии {head}." in page
    rows = page.split('id="revisions"')[1]
    assert "<td>откат" in rows and "<td>импорт" in rows
    assert __import__("re").search(
        r"\d{4}\s+г\.,\s+\d\d:\d\d", rows
    )  # CLDR's Russian date and time
    assert not __import__("re").search(r"\d\dT\d\d:", rows)  # no ISO timestamps
    r = client.post(
        "/api/statistics/rollback", json={"revision": head + 1}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200 and r.get_json() == {"revision": head + 3, "rollback_to": head + 1}
    assert (
        client.post(
            "/api/statistics/rollback", json={"revision": 0}, headers={"X-CSRF-Token": token}
        ).status_code
        == 400
    )
    changes = client.get(f"/api/statistics/revisions/{head + 3}").get_json()["changes"]
    assert {(c["input"], c["value"]) for c in changes} == {
        ("mono_output_share", 70),
        ("mono_employment_share", 30),
    }


def test_judgments_record_list_withdraw(editor, store):
    client, token = editor
    form = {
        "csrf_token": token,
        "town": "rudny",
        "scenarios": ["diversification", "balanced"],
        "author": "R. Expert",
        "date": "2026-05",
        "rationale": "Iron ore base; new industries around Kostanay",
        "source": "workshop notes",
    }
    assert client.post("/judgments", data=form | {"scenarios": ["nonsense"]}).status_code == 400
    assert client.post("/judgments", data=form).status_code == 302
    j = store.judgments()[0]
    assert (j["town_id"], j["scenarios"], j["entered_by"], j["active"]) == (
        "rudny",
        ["diversification", "balanced"],
        "anna",
        True,
    )
    page = client.get("/town/rudny").get_data(as_text=True)
    assert "Iron ore base" in page
    assert (
        client.post(
            f"/judgments/{j['id']}/withdraw", data={"csrf_token": token, "reason": ""}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/judgments/{j['id']}/withdraw", data={"csrf_token": token, "reason": "superseded"}
        ).status_code
        == 302
    )
    assert (
        not store.judgments()[0]["active"]
        and store.judgments()[0]["withdrawn_reason"] == "superseded"
    )
    assert "Iron ore base" not in client.get("/town/rudny").get_data(as_text=True)
    assert "superseded" in client.get("/judgments").get_data(as_text=True)


def test_an_older_value_is_stored_and_said_not_scored(editor, store, app):
    """Issue 23, item 6: a value older than a stored one is kept (history) but scoring takes the
    latest period; the import's answer, the data page and the command line say so."""
    client, token = editor
    post_file(client, csv_bytes("Rudny,2023,Akimat report,70,30"), token=token)
    r = post_file(client, csv_bytes("Rudny,2019,Old report,60,"), token=token)
    body = r.get_json()
    assert body["outranked"] == [
        {
            "town": "rudny",
            "input": "mono_output_share",
            "period": "2019",
            "stored_period": "2023",
            "stored_value": 70.0,
        }
    ]
    assert (
        client.get("/api/towns/rudny").get_json()["properties"]["inputs"]["mono_output_share"] == 70
    )
    page = client.post(
        "/data/import?lang=ru",
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes("Rudny,2018,x,55,")), "s.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'id="outranked"' in page and "учитывается значение за 2023 (70)" in page
    runner = app.test_cli_runner()
    (path := Path(app.instance_path) / "old.csv").write_bytes(csv_bytes("Rudny,2017,x,50,"))
    out = runner.invoke(args=["import-stats", str(path)])
    assert (
        out.exit_code == 0
        and "not scored: rudny mono_output_share 2017: a value for 2023 (70) was stored"
        in out.output
    )
