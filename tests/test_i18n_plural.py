"""Plural agreement in kk / ru / en by the CLDR plural rules (Babel), not hand rules (issue 23, item
4): every "N <noun>" phrase the pages build comes from translations.json ``plurals``."""

import pytest

from webapp.i18n import LANGS, T, catalog


@pytest.mark.parametrize(
    "n,text",
    [
        (1, "1 разная магистраль"),
        (2, "2 разные магистрали"),
        (4, "4 разные магистрали"),
        (5, "5 разных магистралей"),
        (11, "11 разных магистралей"),
        (21, "21 разная магистраль"),
        (22, "22 разные магистрали"),
        (0, "0 разных магистралей"),
    ],
)
def test_russian_agrees_with_the_number(n, text):
    assert T("ru").plural("major_lines", n) == text


def test_kazakh_keeps_the_noun_singular_after_a_number():
    assert [T("kk").plural("major_lines", n) for n in (1, 2, 5)] == [
        "1 түрлі магистраль",
        "2 түрлі магистраль",
        "5 түрлі магистраль",
    ]
    assert T("kk").plural("values", 3) == "3 мән"


def test_english_singular_and_plural():
    t = T("en")
    assert [t.plural("estimates", n) for n in (1, 2)] == ["1 estimate", "2 estimates"]
    assert t.plural("values", 1) == "1 value" and t.plural("towns", 27) == "27 towns"


def test_fractions_take_the_other_form_written_with_a_decimal_comma():
    assert T("ru").plural("values", 1.5, digits=1) == "1,5 значения"
    assert T("ru").plural("values", 1000) == "1\u00a0000 значений"  # thousands as ru writes them


def test_every_plural_has_the_forms_its_language_needs():
    """Ru needs one, few, many (and other for fractions); kk and en one and other."""
    need = {"ru": {"one", "few", "many", "other"}, "kk": {"one", "other"}, "en": {"one", "other"}}
    for key, by_lang in catalog()["plurals"].items():
        assert set(by_lang) == set(LANGS), key
        for lang, forms in by_lang.items():
            assert set(forms) == need[lang], (key, lang)
            assert all("{n}" in f for f in forms.values()), (key, lang)


def test_undetermined_needs_no_case_agreement():
    """'возможен любой из Инерционное развитие' asked for the genitive; the list now follows a
    colon."""
    ru = catalog()["ru"]["undetermined"]
    assert "любой из" not in ru and ru.endswith(": {}")
    assert catalog()["kk"]["undetermined"].endswith(": {}")
