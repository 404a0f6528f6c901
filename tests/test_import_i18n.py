"""Import problems in the reader's language (issue 23, item 4): a rejected file's problems are kept
as codes with arguments (webapp.store.stats_io.Rule) and /data says them in kk / ru / en; the
English is the one the API and the command line give."""

import io
import string

import pytest

from test_store import csv_bytes, make_app, sign_in
from webapp.i18n import LANGS, T, catalog
from webapp.store import stats_io

BAD_FILES = {  # name -> bytes: between them most rules a values file can break
    "range.csv": csv_bytes("Rudny,2023,x,150,30", "Nowhere,2023,x,50,"),
    "header.csv": (
        b"town,year,source,mono_output_share,mono_output_share,aggl_in_fua,colour\n"
        b"Rudny,2023,x,50,50,100,red\n"
    ),
    "cells.csv": csv_bytes("Rudny,2023,x,1 000,abc", "Aksu,,,=1+1,", "Rudny,2023,x,50,10,extra"),
    "nothing.csv": b"town,year,source,mono_output_share\n",
    "latin1.csv": "town,year,source,mono_output_share\nR\xfcdny,2023,x,5\n".encode("latin-1"),
    "estimates.csv": (
        b"town,year,source,input,low,high,method,coverage,most_likely,note\n"
        b"Rudny,2023,x,social_unemployment,170,140,m,0.75,,\n"
        b"Rudny,2023,x,social_unemployment,1,2,,0,5,\n"
        b"Rudny,2023,x,aggl_in_fua,1,2,m,0.75,,\n"
    ),
    "estimates_header.csv": (
        b"town,year,source,input,low,high,mono_output_share,extra\nRudny,2023,x,a,1,2,3,4\n"
    ),
}


def problems_of(method, name: str) -> list:
    with pytest.raises(stats_io.StatsFileError) as exc:
        stats_io.read_file(
            BAD_FILES[name],
            name,
            method,
            lambda s: {"rudny": "rudny", "aksu": "aksu"}.get(s.lower()),
        )
    return exc.value.items


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_the_english_line_is_the_files_own(method, name):
    """T('en').problem says exactly what Problem.text says (the API's and the command line's)."""
    for p in problems_of(method, name):
        assert p.code, p  # every rule of these files has a code
        assert T("en", method).problem(p, name) == p.text(name)


def test_every_rule_has_all_languages_with_the_same_blanks():
    blanks = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    for code, texts in catalog()["problems"].items():
        assert set(texts) == set(LANGS), code
        for lang in ("ru", "kk"):
            assert blanks(texts[lang]) <= blanks(texts["en"]), (code, lang)


def test_problems_in_russian_and_kazakh(method):
    ru, kk = T("ru", method), T("kk", method)
    items = problems_of(method, "range.csv")
    assert ru.problem(items[0], "range.csv") == (
        "range.csv, строка 2, столбец «mono_output_share»: значение «150»: вне допустимого "
        "диапазона. " + ru.allowed(method.inputs["mono_output_share"])
    )
    assert "от 0 до 100" in ru.problem(items[0], "range.csv")
    assert (
        kk.problem(items[1], "range.csv")
        == "range.csv, 3-жол, «town» бағаны: «Nowhere» мәні: 27 моноқаланың бірі емес (id немесе "
        "қазақша, орысша не ағылшынша атауы)"
    )
    header = [ru.problem_rule(p) for p in problems_of(method, "header.csv")]
    assert "повторяющийся столбец; каждый столбец может быть только один раз" in header
    assert "выводится из дорожной сети для каждого города и не импортируется" in header
    assert any(h.startswith("неизвестный столбец; допустимы: town, year") for h in header)
    est = [ru.problem(p, "e.csv") for p in problems_of(method, "estimates.csv")]
    assert (
        "e.csv, строка 2, столбец «low»: значение «170»: больше high (140); "
        "low не может превышать high" in est
    )
    assert (
        "e.csv, строка 3, столбец «method»: значение «»: обязательно: как получен интервал "
        "(например, oblast_figure_pm)" in est
    )
    assert any(
        e.startswith(
            "e.csv, строка 4, столбец «input»: значение «aggl_in_fua»: не может иметь оценку"
        )
        for e in est
    )
    cells = [ru.problem_rule(p) for p in problems_of(method, "cells.csv")]
    assert cells[0].startswith("не простое число") and "текст в числовом столбце" in cells


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path / "atlas.sqlite3")


def test_the_data_page_says_the_problems_in_its_language(app):
    client = app.test_client()
    token = sign_in(client)
    r = client.post(
        "/data/import?lang=ru",
        data={"csrf_token": token, "file": (io.BytesIO(BAD_FILES["latin1.csv"]), "latin1.csv")},
        content_type="multipart/form-data",
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Отклонено, ничего не изменено (latin1.csv)" in page
    assert "latin1.csv: не текст UTF-8 (байт 36); сохраните файл как «CSV UTF-8»" in page
    many = csv_bytes(*[f"Nowhere{i},2023,x,50," for i in range(stats_io.MAX_PROBLEMS + 5)])
    r = client.post(
        "/data/import?lang=ru",
        data={"csrf_token": token, "file": (io.BytesIO(many), "many.csv")},
        content_type="multipart/form-data",
    )
    page = r.get_data(as_text=True)
    # each row: an unknown town, and (after the first) a duplicate of the town '' and period
    assert page.count("<li>many.csv, строка") == stats_io.MAX_PROBLEMS
    assert "не один из 27 моногородов" in page and "повтор: у города «» за период «2023»" in page
    assert "<li>many.csv: … и ещё не показано: 109 ошибок</li>" in page  # 105 + 104 - 100


def test_a_bad_stored_value_is_said_in_the_page_language(app):
    """A value the database holds but scoring refuses (written around the import's checks) is listed
    on /data in the page's language."""
    store, atlas = app.extensions["store"], app.extensions["atlas"]
    store.apply(
        [{"town_id": "rudny", "input": "mono_output_share", "value": 150.0, "period": "2024"}],
        editor="anna",
    )
    rule = atlas.snapshot().errors["rudny"][0]
    assert (
        rule == "mono_output_share: stored value 150.0 is out of range (allowed: "
        f"{stats_io.allowed(atlas.method.inputs['mono_output_share'])}); treated as missing"
    )
    page = (
        app.test_client().get("/data?lang=ru").get_data(as_text=True).split('id="data-errors"')[1]
    )
    allowed = T("ru", atlas.method).allowed(atlas.method.inputs["mono_output_share"])
    assert (
        "<li>Рудный: mono_output_share: сохранённое значение 150.0 вне допустимого диапазона "
        f"({allowed}); считается отсутствующим</li>" in page
    )


def test_the_api_says_the_problems_in_the_language_asked(app):
    """POST /api/statistics?lang=kk|ru answers the problems in that language (the map page's
    upload); without lang, in English as before."""
    client = app.test_client()
    token = sign_in(client)
    body = {"file": (io.BytesIO(BAD_FILES["range.csv"]), "range.csv")}
    kk = client.post(
        "/api/statistics?lang=kk",
        data=body,
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": token},
    )
    assert kk.status_code == 400
    assert (
        kk.get_json()["problems"][1]
        == "range.csv, 3-жол, «town» бағаны: «Nowhere» мәні: 27 моноқаланың "
        "бірі емес (id немесе қазақша, орысша не ағылшынша атауы)"
    )
    body = {"file": (io.BytesIO(BAD_FILES["range.csv"]), "range.csv")}
    en = client.post(
        "/api/statistics",
        data=body,
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": token},
    ).get_json()
    assert (
        en["problems"][1] == "range.csv, row 3, column 'town': value 'Nowhere': not one of the 27 "
        "monotowns (id, or name in kk, ru or en)"
    )
