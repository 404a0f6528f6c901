"""The editors' and audit pages in the reader's language (issue 23, item 4): revisions keep what
they did as data (``facts``) and /history, /history/N and /judgments say it in kk / ru / en, with
town names, CLDR dates and the shipped data named in the page's language."""

import io
import re

import pytest

from test_store import csv_bytes, make_app, sign_in
from webapp.i18n import T
from webapp.store.db import Revision

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:")


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path / "atlas.sqlite3")


@pytest.fixture()
def editor(app):
    client = app.test_client()
    return client, sign_in(client)


def _import(client, token, *rows, name="g.csv"):
    raw = csv_bytes(*rows)
    r = client.post(
        "/data/import",
        data={"csrf_token": token, "file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data(as_text=True)


def test_revisions_keep_their_facts(app, editor):
    client, token = editor
    store = app.extensions["store"]
    assert store.revision(1).facts == {
        "files": ["data/statistics.csv", "data/curated.csv", "data/expert_judgments.csv"]
    }
    _import(client, token, "Rudny,2023,x,70,30", "Aksu,2023,x,40,")
    head = store.head()
    assert store.revision(head).facts == {"values": 3, "estimates": 0}
    back = app.extensions["atlas"].rollback(1, editor="anna")
    assert store.revision(back).facts == {"to": 1, "values": 3}


def test_history_in_russian_and_kazakh(app, editor):
    client, token = editor
    _import(client, token, "Rudny,2023,x,70,30")
    head = app.extensions["store"].head()
    client.post("/history/1/rollback?lang=ru", data={"csrf_token": token})
    ru = client.get("/history?lang=ru").get_data(as_text=True).split('id="revisions"')[1]
    assert 'импорт: g.csv — <span class="summary">импортировано: 2 значения</span>' in ru
    assert 'откат — <span class="summary">значения на момент ревизии 1</span>' in ru
    assert (
        "<td>поставляемые данные</td>" in ru  # the shipped revision's author, not 'shipped data'
        and 'поставляемые данные — <span class="summary">из файлов data/statistics.csv' in ru
    )
    assert "shipped data" not in ru and "imported" not in ru and not ISO.search(ru)
    kk = client.get("/history?lang=kk").get_data(as_text=True).split('id="revisions"')[1]
    assert "импортталды: 2 мән" in kk and "1 нұсқасындағы мәндер" in kk
    page = client.get(f"/history/{head}?lang=ru").get_data(as_text=True)
    what = page.split('id="revision-what"')[1].split("</p>")[0]
    assert "импорт: g.csv · anna · " in what and "импортировано: 2 значения" in what
    assert not ISO.search(what) and re.search(r"\d{4}\s+г\.,\s+\d\d:\d\d", what)
    table = page.split('id="changes-of-revision"')[1]
    assert "<td>Рудный</td>" in table and "Rudny" not in table and "<th>Показатель</th>" in table


def test_judgments_said_in_the_page_language(app, editor):
    client, token = editor
    form = {
        "csrf_token": token,
        "town": "rudny",
        "scenarios": ["diversification", "balanced"],
        "author": "R. Expert",
        "date": "2026-05",
        "rationale": "Iron ore base",
        "source": "notes",
    }
    assert client.post("/judgments", data=form).status_code == 302
    jid = app.extensions["store"].judgments()[0]["id"]
    client.post(f"/judgments/{jid}/withdraw", data={"csrf_token": token, "reason": "superseded"})
    method = app.extensions["atlas"].method
    div, bal = (method.scenarios[s]["name_ru"] for s in ("diversification", "balanced"))
    ru = client.get("/history?lang=ru").get_data(as_text=True)
    assert f"записана экспертная оценка: Рудный, {div} + {bal}" in ru
    assert f"экспертная оценка {jid} отозвана: Рудный" in ru
    page = client.get("/judgments?lang=ru").get_data(as_text=True).split('id="judgment-list"')[1]
    # the shipped judgments' rationales (data/texts.csv) and author in Russian, dates by CLDR
    assert "Вывод статьи: инновационный путь" in page and "Paper's conclusion" not in page
    assert "поставляемые данные, " in page and "shipped data" not in page and not ISO.search(page)


def test_an_older_revision_says_what_it_stored():
    """A revision stored before migration 7 has no facts: its summary is shown as stored."""
    old = Revision(
        4, "2026-01-01T00:00:00Z", "anna", "import", "2 value(s) imported", "a.csv", None
    )
    assert T("ru").revision_summary(old) == "2 value(s) imported"
    new = Revision(
        5,
        "2026-01-01T00:00:00Z",
        "anna",
        "import",
        "",
        "a.csv",
        None,
        {"values": 0, "estimates": 21},
    )
    assert T("ru").revision_summary(new) == "импортировано: 21 оценка"
    assert T("en").revision_summary(new) == "21 estimates imported"


def test_the_command_line_counts_in_words(app, tmp_path):
    """Import-stats says '2 values of 1 town' (plural rules, not 'value(s)')."""
    path = tmp_path / "one.csv"
    path.write_bytes(csv_bytes("Rudny,2023,x,70,30"))
    out = app.test_cli_runner().invoke(args=["import-stats", str(path)])
    head = app.extensions["store"].head()
    assert (
        out.exit_code == 0
        and f"one.csv: 2 values of 1 town stored as revision {head}" in out.output
    )
    path.write_bytes(csv_bytes("Rudny,2023,x,170,30"))
    out = app.test_cli_runner().invoke(args=["import-stats", str(path)])
    assert (
        out.exit_code == 1
        and "one.csv: rejected (1 problem listed); stored data unchanged" in out.output
    )
    client = app.test_client()
    ru = client.get("/history?lang=ru").get_data(as_text=True).split('id="revisions"')[1]
    assert " (командная строка)</td>" in ru and "(command line)" not in ru


def test_judgment_form_problems_in_the_page_language(app, editor):
    client, token = editor
    form = {
        "csrf_token": token,
        "town": "nowhere",
        "scenarios": ["nonsense"],
        "author": "",
        "date": "2026",
        "rationale": "a\u202eb",
        "source": "notes",
    }
    page = client.post("/judgments?lang=ru", data=form).get_data(as_text=True)
    problems = page.split('id="judgment-problems"')[1].split("</ul>")[0]
    method = app.extensions["atlas"].method
    names = ", ".join(method.scenarios[s]["name_ru"] for s in method.scenarios)
    assert "<li>город: не один из 27 моногородов</li>" in problems
    assert f"<li>сценарии: выберите один или несколько: {names}</li>" in problems
    assert "<li>Автор: обязательно, не длиннее 300 символов</li>" in problems
    assert "<li>Обоснование: содержит управляющий символ U+202E;" in problems
    assert not app.extensions["store"].judgments(active_only=False) or all(
        j["town_id"] != "nowhere" for j in app.extensions["store"].judgments()
    )


def test_a_rollback_asks_first_then_says_what_it_did(app, editor):
    """Issue 23, item 6: the history's rollback is a step of its own (a disclosure with what it will
    do and a confirm button), then the page says which revision restored which."""
    client, token = editor
    _import(client, token, "Rudny,2023,x,70,30")
    page = client.get("/history?lang=ru").get_data(as_text=True)
    row = page.split('data-rev="1"')[1].split("</tr>")[0]
    assert '<details class="inline-details rollback"><summary>Откатить к 1</summary>' in row
    assert (
        "Вернуть значения на момент ревизии 1? Будет добавлена новая ревизия; ничего не потеряется."
        in row
        and row.index("<details") < row.index('<button type="submit">Да, откатить')
    )
    done = client.post(
        "/history/1/rollback?lang=ru", data={"csrf_token": token}, follow_redirects=True
    )
    head = app.extensions["store"].head()
    assert f"Откат выполнен: ревизия {head} восстанавливает данные ревизии 1." in done.get_data(
        as_text=True
    )
