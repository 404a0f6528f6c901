"""Reasons as data (issue 20, item 5): geo gives each derived input a Reason; geo.results.english
and webapp.i18n say the same data in en / kk / ru, and nothing decides a threshold again."""

import re

import numpy as np
import pytest

from geo.agglomeration import SpatialModel
from geo.params import parse_params
from geo.results import Flag, Reason, ReasonMismatch, Route, english, within

# defaults, wide limits, both FUA definitions, a town measured to another city, no city, tourism
PARAMS = [
    {},
    {"near_km": 300, "fua_minutes": 120},
    {"fua_definition": "official"},
    {"fua_definition": "either", "own_city_counts": False, "corridor_km": 40},
    {"large_city_min_pop": 5_000_000},
    {"tourism_km": 200},
]
INPUTS = {
    "aggl_near_large_city": "near_large_city",
    "aggl_in_fua": "in_fua",
    "aggl_corridor_junction": "corridor_junction",
    "special_tourism": "tourism",
}
YES = {
    "aggl_near_large_city": ["flag_near_yes"],
    "aggl_in_fua": ["flag_fua_yes", "flag_fua_official_yes"],
    "aggl_corridor_junction": ["flag_junction_yes"],
    "special_tourism": ["flag_tourism_yes"],
}


@pytest.fixture(scope="module")
def derivations():
    model = SpatialModel()
    return [model.derive(parse_params(raw)) for raw in PARAMS]


def test_within_is_inclusive_on_scalars_and_arrays():
    assert bool(within(60.0, 60.0)) and not bool(within(60.001, 60.0))
    got = within(np.array([[10.0, 100.0, 100.5]]), np.array([[100.0]]))
    assert got.tolist() == [[True, True, False]]


def test_every_flag_value_agrees_with_its_reason(derivations):
    """Inside <-> 100 for every town, rule and parameter set; the English says within/beyond."""
    seen = set()
    for d in derivations:
        for town in d.towns:
            for rule, flag in town.flags().items():
                seen.add(flag.why.rule)
                met = flag.why.met
                assert flag.value == (None if met is None else 100 if met else 0)
                if flag.why.rule in ("near_large_city", "in_fua", "tourism"):
                    assert flag.why.inside == (flag.value == 100)
                    said = f"within {flag.why.param} =" in flag.reason.split("; ")[0]
                    assert said == flag.why.inside
    assert {
        "near_large_city",
        "in_fua",
        "corridor_junction",
        "tourism",
        "no_large_city",
        "fua_definition",
    } <= seen


def test_a_flag_whose_value_contradicts_its_reason_is_refused():
    with pytest.raises(ReasonMismatch, match="value 100"):
        Flag(100, Reason("near_large_city", inside=False, measured=150.0, limit=100.0))
    with pytest.raises(ValueError, match="not one of"):
        english(Reason("guess"))


def test_reason_json_round_trips_through_the_record(derivations):
    town = derivations[0].town("stepnogorsk")
    rec = town.as_record()
    why = rec["why"]["near_large_city"]
    assert why["rule"] == "near_large_city" and why["inside"] is False and why["limit"] == 100
    assert why["city_id"] == rec["nearest_large_city_id"] and why["param"] == "near_km"
    assert why["route"]["published"][0]["source"] == "https://kokshetv.kz/ru/news/27829"
    assert rec["reasons"]["near_large_city"] == town.near_large_city.reason


def test_english_golden_texts(derivations):
    d = derivations[0]
    assert (
        d.town("saran").near_large_city.reason
        == "road distance to the nearest large city (Karaganda) 26 km, within near_km = 100 km"
    )
    assert (
        d.town("lisakovsk").in_fua.reason
        == "fastest road time to a large city (Kostanay) 124 min, beyond fua_minutes = 60 min; "
        "includes an assumed access link"
    )
    assert (
        d.town("zhezkazgan").corridor_junction.reason
        == "3 distinct major line(s) within corridor_km = 15 km (KAZ13, R_KYZ_SHI,"
        " ZHEZKAZGAN_BEYNEU);"
        " needs 2"
    )
    assert english(
        Reason(
            "near_large_city",
            inside=True,
            measured=2.0,
            limit=100.0,
            param="near_km",
            unit="km",
            city="Zhezkazgan",
            route=Route(own_city_id="zhezkazgan", own_city="Zhezkazgan", own_city_counts=True),
        )
    ).endswith(
        "; the town is itself the large city Zhezkazgan, and counts as such "
        "(own_city_counts = true)"
    )


GOLDEN = {
    ("zhezkazgan", "aggl_near_large_city"): {
        "en": (
            "near a large city: Zhezkazgan, 2 km by road ≤ 100 km; the town is itself the large "
            "city Zhezkazgan and counts as such"
        ),
        "ru": (
            "рядом с крупным городом: Жезказган, 2 км по дорогам ≤ 100 км; город сам является "
            "крупным городом Жезказган и считается им"
        ),
        "kk": (
            "ірі қалаға жақын: Жезқазған, жолмен 2 км ≤ 100 км; қаланың өзі — Жезқазған ірі "
            "қаласы және солай саналады"
        ),
    },
    ("saran", "aggl_near_large_city"): {
        "en": "near a large city: Karaganda, 26 km by road ≤ 100 km",
        "ru": "рядом с крупным городом: Караганда, 26 км по дорогам ≤ 100 км",
        "kk": "ірі қалаға жақын: Қарағанды, жолмен 26 км ≤ 100 км",
    },
    ("lisakovsk", "aggl_in_fua"): {
        "en": (
            "not in a functional urban area: fastest large city Kostanay, 124 min > 60 min; "
            "the route includes an assumed access link"
        ),
        "ru": (
            "не в функциональной городской зоне: быстрее всего достижим Костанай, "
            "124 мин > 60 мин; маршрут включает допущенный подъезд к сети"
        ),
        "kk": (
            "функционалдық қалалық аймақта емес: ең жылдам жететін қала Қостанай, "
            "124 мин > 60 мин; бағыт болжамды кіреберіс жолды қамтиды"
        ),
    },
    ("zhezkazgan", "aggl_corridor_junction"): {
        "en": "at a junction of major corridors: 3 distinct major lines within 15 km (needs 2)",
        "ru": "на пересечении крупных коридоров: 3 разные магистрали в радиусе 15 км (нужно 2)",
        "kk": "ірі дәліздердің түйісінде: 15 км радиуста 3 түрлі магистраль (қажет 2)",
    },
}


def translators(app, method):
    from webapp.i18n import LANGS, T

    rows = app.extensions["atlas"].city_rows
    out = {}
    for lang in LANGS:
        out[lang] = T(lang, method)
        out[lang].cities = rows
    return out


def test_golden_sentences_in_three_languages(app, method, derivations):
    with app.app_context():
        ts = translators(app, method)
        for (tid, name), texts in GOLDEN.items():
            a = derivations[0].town(tid).as_record()
            for lang, text in texts.items():
                assert ts[lang].flag_sentence(name, a) == text, (tid, name, lang)


def pattern(template: str) -> str:
    return ".+".join(re.escape(p) for p in re.split(r"\{\w+\}", template))


def test_every_sentence_says_yes_exactly_when_the_value_is_100(app, method, derivations):
    """The rendered sentence in each language is a 'yes' sentence iff the flag's value is 100, and
    says 'cannot be derived' iff the value is None."""
    with app.app_context():
        ts = translators(app, method)
        for d in derivations:
            for town in d.towns:
                a = town.as_record()
                flags = town.flags()
                for name, rule in INPUTS.items():
                    value = flags[rule].value
                    for lang, t in ts.items():
                        text = t.flag_sentence(name, a)
                        yes = any(re.fullmatch(pattern(t(k)) + "(; .*)?", text) for k in YES[name])
                        assert yes == (value == 100), (town.town_id, name, lang, text)
                        assert text.startswith(t("flag_missing")) == (value is None)


def test_route_notes_of_an_imported_network_in_russian(app, method):
    """One-way roads, the speed rule and the town being a city itself, said from the Route."""
    route = Route(
        one_way=True,
        maxspeed_use="ignore",
        own_city_id="zhezkazgan",
        own_city="Zhezkazgan",
        own_city_counts=False,
    )
    r = Reason(
        "in_fua",
        inside=False,
        measured=75.0,
        limit=60.0,
        param="fua_minutes",
        unit="min",
        city_id="karaganda",
        city="Karaganda",
        route=route,
    )
    assert (
        english(r)
        == "fastest road time to a large city (Karaganda) 75 min, beyond fua_minutes = 60 min; "
        "measured from the town to the city, one-way roads followed; speeds: class speeds, posted "
        "maxspeed ignored (maxspeed_use = ignore); the town is itself the large city Zhezkazgan: "
        "measured to the nearest other large city (own_city_counts = false)"
    )
    with app.app_context():
        ru = translators(app, method)["ru"]
        assert (
            ru.flag_sentence("aggl_in_fua", {"why": {"in_fua": r.as_json()}})
            == "не в функциональной городской зоне: быстрее всего достижим Караганда, 75 мин >"
            " 60 мин"
            "; измерено от города до крупного города с учётом односторонних дорог; скорости: "
            "скорости классов дорог, указанная maxspeed не учитывается; город сам является "
            "крупным городом Жезказган: расстояние до ближайшего другого крупного города"
        )
