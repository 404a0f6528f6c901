"""The method page's back-test limits in the reader's language (issue 23, item 4)."""

from scoring.backtest import LIMITS


def test_backtest_limits_are_said_in_the_page_language(client):
    from webapp.i18n import catalog

    en = client.get("/method?lang=en").get_data(as_text=True)
    ru = client.get("/method?lang=ru").get_data(as_text=True)
    kk = client.get("/method?lang=kk").get_data(as_text=True)
    # one translated text per limit of scoring.backtest, the English the same as the code's
    assert [catalog()["en"][f"backtest_limit_{i}"] for i in range(len(LIMITS))] == list(LIMITS)
    assert "полуширины интервалов естественного прироста (9,0)" in ru
    assert "жұмыссыздық индексінің төменгі шегі (80)" in kk
    assert "were chosen from these three towns" not in ru + kk
    assert "were chosen from these three towns" in en.replace("&#39;", "'")
