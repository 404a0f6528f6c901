"""Interface text in Kazakh, Russian and English (webapp/translations.json), localized names, and
the data's descriptive texts in each language (data/method/texts.csv and the data root's texts.csv,
both validated on load: a text a page shows without a translation stops the start, it never falls
back)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from flask import current_app

from scoring.reserves import VERDICTS, describe, said

# The languages, declared once: code -> its own name, in the language switch's order. All else
# follows: the pages' and the API's ``lang``, the towns' and cities' name columns (``name_<code>``).
LANGUAGES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

# the alphabets' order (Kazakh Cyrillic as the 1940-2021 alphabet has it, Russian): sorted lists and
# filters in the page's language (code points put Қ, Ұ, Ә ... after Я)
QUOTES = {"en": "“{}”", "ru": "«{}»", "kk": "«{}»"}  # a name quoted inside a sentence

ALPHABETS = {
    "kk": "аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя",
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "en": "abcdefghijklmnopqrstuvwxyz",
}
ALPHABET_ORDER = {lang: {c: i for i, c in enumerate(a)} for lang, a in ALPHABETS.items()}

LANGS = tuple(LANGUAGES)
DEFAULT_LANG = "en"
NAME_COLUMNS = tuple(sorted(f"name_{lang}" for lang in LANGS))  # name_en, name_kk, name_ru


@lru_cache(maxsize=1)
def catalog() -> dict:
    return json.loads((Path(__file__).parent / "translations.json").read_text(encoding="utf-8"))


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG


class T:
    """Translator bound to one language: t("title"), t.level("high"), t.param("near_km") ..."""

    def __init__(self, lang: str, method=None):
        self.lang = pick_lang(lang)
        self.method = method
        self._c = catalog()
        # large city id -> its row (names), set by webapp.pages.views.translator
        self.cities: dict = {}
        self._data_texts: dict | None = None  # the data root's texts.csv (webapp.model.Atlas.texts)

    def city_named(self, name_en: str | None) -> str:
        """A large city's name in this language from its English name."""
        row = next((r for r in self.cities.values() if r.get("name_en") == name_en), None)
        return self.name(row) if row else (name_en or "–")

    def city(self, cid: str | None, fallback: str | None = None) -> str:
        """A large city's name in this language (the pipeline reports English names)."""
        row = self.cities.get(cid)
        return self.name(row) if row else (fallback or "–")

    def __call__(self, key: str) -> str:
        return self._c[self.lang].get(key, self._c["en"].get(key, key))

    def level(self, level: str | None) -> str:
        return (
            self("no_data")
            if level is None
            else self._c["levels"].get(level, {}).get(self.lang, level)
        )

    def param(self, name: str) -> str:
        return self._c["params"].get(name, {}).get(self.lang, name)

    def choice(self, value: str) -> str:
        return self._c["choices"].get(value, {}).get(self.lang, value)

    def input(self, name: str) -> str:
        """A derived input's name (e.g. aggl_in_fua) in this language."""
        return self._c["inputs"].get(name, {}).get(self.lang, name)

    def oblast(self, name: str) -> str:
        return self._c["oblasts"].get(name, {}).get(self.lang, name)

    def region(self, name_en: str) -> str:
        """An oblast polygon's name (data/oblasts: 'Karaganda Region') in this language."""
        return self._c["regions"].get(name_en, {}).get(self.lang, name_en)

    def method_sections(self) -> list:
        """The method/help page: [heading, paragraph] pairs in this language."""
        return self._c["method_page"][self.lang]

    def period(self, text: str | None) -> str:
        """A stored period in this language where the catalog knows its wording (years stay as they
        are)."""
        return self._c["periods"].get(text or "", {}).get(self.lang, text or "")

    def unit(self, unit: str) -> str:
        return self._c["units"].get(unit, {}).get(self.lang, unit)

    def input_desc(self, name: str, default: str | None = None) -> str:
        """An input's description (data/method/inputs.csv) in this language."""
        spec = self.method.inputs.get(name)
        return self.text(
            "inputs.csv", name, "description", spec.description if spec else (default or name)
        )

    def data_texts(self) -> dict:
        """The data root's translations (loaded and validated with the atlas); {} outside a
        request."""
        if self._data_texts is None:
            try:  # the atlas service of the app (webapp.model), without importing it (no circle)
                self._data_texts = current_app.extensions["atlas"].texts
            except RuntimeError:  # no application context
                self._data_texts = {}
        return self._data_texts

    def text(self, file: str, key: str, field: str, text: str | None) -> str:
        """A data text in this language, found by where it comes from (file, row key, field).

        The English is the file's own text; a text that is not the file's (an editor's, typed in the
        app) is shown as written. Method files are keyed by their name ("inputs.csv"), data-root
        files by their path below the root ("towns.csv", "paper/errata.csv").
        """
        if not text or self.lang == "en":
            return text or ""
        table = self.method.texts if (file, key, field) in self.method.texts else self.data_texts()
        row = table.get((file, key, field))
        return row[self.lang] if row and row["en"] == text else text

    def _rule_row(self, town_id: str, name: str) -> dict | None:
        """The shipped row of the reserve rule (data/reserves.csv, scoring.reserves) for a town's
        input, or None (another input, or no application context)."""
        try:
            curated = current_app.extensions["atlas"].pipeline.sources.curated
        except RuntimeError:
            return None
        row = curated.get(town_id, {}).get(name)
        return row if row and "reason" in row else None

    def cell_source(self, town_id: str, name: str, text: str | None) -> str:
        """A stored value's source in this language. The reserve rule's (its reason, what the
        source says and when, where) is said in this language while the stored text is still the
        rule's own; any other source is shown as written (a document's title, an editor's note)."""
        row = self._rule_row(town_id, name)
        prefix, _, bare = (text or "").partition(": ")
        if prefix not in ("derived", "missing"):
            prefix, bare = "", text or ""
        if self.lang == "en" or row is None or bare != row["source"]:
            return text or ""
        reason, rows, rule = row["reason"], self.method.texts, "raw_materials.json"
        words = {
            "explain": {reason["category"]: rows[(rule, reason["category"], "explain")][self.lang]}
            if reason["category"] != "years" else {},
            "reasons": {v: rows[(rule, v, "reason")][self.lang] for v in VERDICTS},
        }
        out = said(
            describe(reason, words, self.years),
            self.text("reserves.csv", town_id, "statement", reason["statement"]),
            self.cell_period(town_id, name, reason["as_of"]),
            self.text("reserves.csv", town_id, "source_url", reason["url"]),  # a link stays
            rows[(rule, "undated", "text")][self.lang],
        )
        return f"{self(prefix)}: {out}" if prefix else out

    def cell_period(self, town_id: str, name: str, text: str | None) -> str:
        """A stored value's period in this language: the catalog's wording, or the reserve rule's
        date as data/texts.csv translates it ('undated (travel blog)')."""
        known = self._c["periods"].get(text or "", {}).get(self.lang)
        if known or not text or self._rule_row(town_id, name) is None:
            return known or text or ""
        return self.text("reserves.csv", town_id, "as_of", text)

    def paper_table(self, label: str) -> str:
        """'Table 2' (data/paper) as this language writes it ('Таблица 2', '2-кесте')."""
        head, _, number = (label or "").rpartition(" ")
        return self("paper_table").format(number) if head == "Table" and number else (label or "")

    def line_name(self, line: dict) -> str:
        """A major line within the radius ('road KAZ01 Астана – ...', 'railway Petropavlovsk – ...')
        in this language: its kind is said by the type beside it, a railway's name comes from
        data/texts.csv.
        """
        kind, _, rest = (line.get("name") or "").partition(" ")
        if self.lang == "en" or kind not in ("road", "railway") or not rest:
            return line.get("name") or ""
        return (
            self.text("shapefiles/railways.shp", line.get("id", ""), "name", rest)
            if kind == "railway"
            else rest
        )

    def param_help(self, name: str) -> str:
        """A planner parameter's help (data/method/geo_params.csv description) in this language, an
        input's or a parameter's code in it said by its name ('aggl_in_fua' -> “in a functional
        urban area”): what a planner reads in a tooltip."""
        row = self.method.texts.get(("geo_params.csv", name, "description"))
        text = (row[self.lang] if row else "") or name

        def named(m: re.Match) -> str:
            code = m.group(0)
            if code in self._c["inputs"]:
                return QUOTES[self.lang].format(self.input(code))
            if code in self.method.inputs:
                return QUOTES[self.lang].format(self.input_desc(code))
            if code in self._c["params"]:
                return QUOTES[self.lang].format(self.param(code))
            return code

        return re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", named, text)

    def choice_label(self, choice: str) -> str:
        """A robustness draw's uncertain choice (data/method/uncertainty.csv) named in this
        language:

        the parameter, the indicator whose bands shift, or the input whose measurement errs.
        """
        if choice.startswith("band_") and choice[5:] in self.method.indicators:
            return self("robust_band").format(self.indicator(choice[5:]))
        if choice.startswith("err_") and choice[4:] in self.method.inputs:
            return self("robust_err").format(self.input_desc(choice[4:]))
        if choice == "control_dummy":
            return self("robust_dummy")
        if choice == "recommend_margin":
            return self("robust_margin")
        return self.param(choice)

    def formula(self, code: str) -> str:
        """An indicator's formula (its words translated; input names and numbers as they are)."""
        return self.text("indicators.csv", code, "formula", self.method.indicators[code].formula)

    def tourism_site(self, site: dict) -> str:
        """A designated tourism site's name (data/tourism_sites.csv, by its id) in this language."""
        return self.text(
            "tourism_sites.csv", site.get("id", ""), "name_en", site.get("name_en") or ""
        )

    def town_text(self, meta: dict, field: str) -> str:
        """A town's descriptive field (industry, enterprise, status notes) in this language."""
        return self.text("towns.csv", meta.get("id", ""), field, meta.get(field) or "")

    def level_phrase(self, code: str, level: str | None) -> str:
        """'low mono-profile degree' as one phrase per indicator and level (data/method/texts.csv),
        so that Russian and Kazakh agree in gender and case ('низкая степень монопрофильности')."""
        if level is None:
            return f"{self.indicator(code)}: {self('no_data')}"
        row = self.method.texts.get(("bands.csv", f"{code}/{level}", "phrase"))
        return row[self.lang] if row else f"{self.indicator(code)}: {self.level(level)}"

    def rationale(self, scenario: str, indicator: str) -> str:
        """Why a level of an indicator gives a scenario its '+' (data/method/scenario_rules.csv)."""
        rule = self.method.rules.get(scenario, {}).get(indicator)
        text = rule[1] if rule else ""
        return self.text("scenario_rules.csv", f"{scenario}/{indicator}", "rationale", text)

    def reason(self, scenario: str, reason: dict) -> str:
        """One '+' of a scenario, as a whole sentence: the level phrase and the rule's rationale."""
        return (
            f"{self.level_phrase(reason['indicator'], reason['level'])} —"
            f" {self.rationale(scenario, reason['indicator'])}"
        )

    def meaning(self, scenario: str) -> str:
        """What a scenario means (data/method/scenarios.csv meaning_en) in this language."""
        return self.text(
            "scenarios.csv", scenario, "meaning_en", self.method.scenarios[scenario]["meaning_en"]
        )

    def sort_key(self, text: str) -> tuple[int, ...]:
        """``text``'s place in this language's alphabetical order (Kazakh: А Ә Б ... Қ after К,
        Ұ Ү after У; Russian: Ё after Е); a character outside the alphabet sorts after it, by
        code point."""
        order = ALPHABET_ORDER.get(self.lang, {})
        return tuple(order.get(c, 1000 + ord(c)) for c in text.casefold())

    def number(self, value, digits: int = 0) -> str:
        """A number with thousands separators as this language writes them (12,345.6; 12 345,6)."""
        if value is None or value != value:
            return "–"
        text = f"{float(value):,.{digits}f}"
        if text.startswith("-") and not text.strip("-0.,"):  # -0.00: a tiny negative is 0
            text = text[1:]
        if self.lang == "en":
            return text
        return text.replace(",", "\u00a0").replace(".", ",")

    def plural(self, key: str, n, digits: int = 0) -> str:
        """``n`` with its noun agreeing as this language requires ('2 разные магистрали', '5 разных
        магистралей', '2 түрлі магистраль'): the CLDR plural category of ``n`` (Babel) picks the
        phrase of translations.json ``plurals``; a category the catalog lacks takes 'other'."""
        from babel import Locale

        forms = self._c["plurals"][key][self.lang]
        if n is None or n != n:
            return forms["other"].format(n="–")
        shown = self.number(n, digits) if digits else self.short(n)
        # the category of the number as written (1,5 is 'other' in ru; 21 is 'one')
        value = round(float(n), digits) if digits else float(n)
        form = Locale.parse(self.lang).plural_form(int(value) if value == int(value) else value)
        return forms.get(form, forms["other"]).format(n=shown)

    def years(self, low: float, high: float) -> str:
        """A span of years agreeing with its last number ('1-3 года', '13-15 лет', '1 год')."""
        if low == high:
            return self.plural("years", low)
        return self.plural("years", high).replace(self.short(high), f"{self.short(low)}-"
                                                  f"{self.short(high)}", 1)

    def when(self, stamp: str | None) -> str:
        """A stored UTC timestamp (ISO 8601) as this language writes a date and time (Babel,
        CLDR)."""
        from datetime import datetime, timezone

        from babel.dates import format_datetime

        if not stamp:
            return "–"
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return stamp
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return format_datetime(moment, "medium", tzinfo=timezone.utc, locale=self.lang) + " UTC"

    def short(self, value, digits: int = 2) -> str:
        """A parameter as a reader writes it: 100.0 -> "100", 0.5 -> "0,5" in ru/kk (no trailing
        zeros)."""
        if value is None or value != value:
            return "–"
        v = float(value)
        return self.number(v) if v == int(v) else self.number(v, digits).rstrip("0").rstrip(",.")

    def flag_sentence(self, name: str, a: dict) -> str:
        """Why the derived input ``name`` has its value, in this language: the town's reason as data
        (``a["why"]``, geo.results.Reason) said in words; nothing is decided here."""
        spec = self.method.inputs.get(name)
        why = (a.get("why") or {}).get(spec.derived_by) if spec is not None else None
        return self.reason_sentence(why) if why else self("flag_missing")

    def reason_sentence(self, r: dict) -> str:
        """One reason (geo.results.Reason as JSON) in this language."""
        rule, yes = r["rule"], bool(r.get("inside"))
        route = r.get("route") or {}
        assumed = self("flag_assumed") if route.get("assumed_link") else ""
        city = self.city(r.get("city_id"), r.get("city"))
        if rule == "near_large_city":
            return (
                self("flag_near_yes" if yes else "flag_near_no").format(
                    city=city, km=self.number(r["measured"]), limit=self.short(r["limit"])
                )
                + assumed
                + self._route_notes(route)
            )
        if rule == "in_fua":
            return (
                self("flag_fua_yes" if yes else "flag_fua_no").format(
                    city=city, min=self.number(r["measured"]), limit=self.short(r["limit"])
                )
                + assumed
                + self._route_notes(route)
            )
        if rule == "no_large_city":
            return self("flag_no_city") + self._route_notes(route)
        if rule == "unroutable":
            return f"{self('flag_missing')}: {r['unroutable']}"
        if rule == "corridor_junction":
            return self("flag_junction_yes" if yes else "flag_junction_no").format(
                lines=self.plural("major_lines", r["measured"]),
                km=self.short(r["limit"]),
                need=self.short(r["need"]),
            )
        if rule in ("tourism", "no_tourism_kinds"):
            return self("flag_tourism_yes" if yes else "flag_tourism_no").format(
                km=self.short(r["limit"])
            )
        if rule == "fua_definition":
            return self._definition_sentence(r)
        return self("flag_missing")  # no_layer, or a rule this page does not know

    def _route_notes(self, route: dict) -> str:
        """What the route adds (geo.results.Route): one-way roads and the speed rule of an imported
        network, and the town being a large city itself.

        Published lengths are said on the page beside the route.
        """
        text = self("flag_one_way") if route.get("one_way") else ""
        if route.get("maxspeed_use") in ("use", "ignore"):
            text += self(f"flag_speeds_{route['maxspeed_use']}")
        if route.get("own_city_id"):
            key = "flag_own_city_counts" if route.get("own_city_counts") else "flag_own_city_other"
            text += self(key).format(city=self.city(route["own_city_id"], route.get("own_city")))
        return text

    def _definition_sentence(self, r: dict) -> str:
        """In an FUA by ``fua_definition``: official membership, or, for either, the part that
        decides (the first that is met, else the first with a verdict)."""
        parts = r["parts"]
        judged = [p for p in parts if p["rule"] not in ("unroutable", "no_layer")]
        part = next((p for p in parts if p.get("inside")), judged[0] if judged else parts[0])
        if part["rule"] != "official":
            return self.reason_sentence(part)
        key = "flag_fua_official_yes" if part.get("inside") else "flag_fua_official_no"
        return self(key).format(d=r["definition"])

    def access_note(self, access: dict | None) -> str:
        """What the town's link to the network is, in this language."""
        if not access:
            return ""
        if access.get("sourced"):
            return self("access_sourced")
        return self("access_assumed_note" if access.get("assumed") else "access_on_network")

    def network_label(self, name: str) -> str:
        """A network version's name for a reader: the shipped one in this language (the value stays
        "shipped")."""
        return self("network_shipped_name") if name == "shipped" else name

    def revision_kind(self, kind: str) -> str:
        """A revision's kind (shipped, import, rollback, judgment) in this language."""
        return self(f"rev_kind_{kind}") if f"rev_kind_{kind}" in self._c["en"] else kind

    def revision_label(self, rev) -> str:
        """A data revision (webapp.store.db.Revision) in this language: '1 (поставляемые данные,
        7 дек. 2026 г., 15:51:30 UTC)'."""
        kind = self.revision_kind(rev.kind)
        who = "" if rev.kind == "shipped" else f", {rev.editor}"
        file = f": {rev.filename}" if rev.filename else ""
        return f"{rev.id} ({kind}{file}{who}, {self.when(rev.created_at)})"

    def revision_summary(self, rev, metas: dict | None = None) -> str:
        """What a revision did, in this language, from its facts (webapp.store.db):
        'импортировано: 2 значения', 'значения на момент ревизии 3', a judgment's town and
        scenarios (``metas``: town id -> its row, for the town's name). A revision stored before
        its facts were kept says its stored (English) summary."""
        facts, metas = rev.facts or {}, metas or {}
        if not facts:
            return rev.summary
        town = facts.get("town")
        town = self.name(metas[town]) if town in metas else (town or "")
        if rev.kind == "import":
            parts = [self.plural(k, facts[k]) for k in ("values", "estimates") if facts.get(k)]
            return self("rev_sum_import").format(what=", ".join(parts) or self.plural("values", 0))
        if rev.kind == "rollback":
            return self("rev_sum_rollback").format(to=facts["to"])
        if rev.kind == "shipped":
            return self("rev_sum_shipped").format(files=", ".join(facts["files"]))
        if facts.get("judgment") == "recorded":
            scenarios = [
                s for s in facts["scenarios"] if self.method and s in self.method.scenarios
            ]
            names = self.scenarios(scenarios) if scenarios else " + ".join(facts["scenarios"])
            return self("rev_sum_judgment").format(town=town, scenarios=names)
        if facts.get("judgment") == "withdrawn":
            return self("rev_sum_withdrawn").format(id=facts["id"], town=town)
        return rev.summary

    def problem_rule(self, p) -> str:
        """The rule a file's problem (webapp.store.stats_io.Problem) breaks, in this language."""
        return self.rule(p.rule)

    def rule(self, rule: str) -> str:
        """A broken rule (webapp.store.stats_io.Rule) in this language: its code's wording in
        translations.json ``problems`` filled with its arguments (a range said as ``allowed``
        says it); a text without a code, or in English, as written."""
        code = getattr(rule, "code", "")
        if self.lang == "en" or code not in self._c["problems"]:
            return rule
        args = dict(rule.args)
        spec = self.method.inputs.get(args.get("input", "")) if self.method else None
        if spec is not None and "allowed" in args:
            args["allowed"] = self.allowed(spec)
        return self._c["problems"][code][self.lang].format(**args)

    def problem(self, p, filename: str) -> str:
        """A file's problem as one line in this language: 'stats.csv, строка 3, столбец «x»:
        значение «y»: <rule>' (webapp.store.stats_io.Problem.text says it in English)."""
        where = [filename]
        if p.row:
            where.append(self("problem_row").format(n=p.row))
        if p.column:
            where.append(self("problem_column").format(name=p.column))
        value = p.value if p.value is None or len(p.value) <= 40 else p.value[:39] + "…"
        shown = "" if value is None else " " + self("problem_value").format(value=value) + ":"
        return f"{', '.join(where)}:{shown} {self.problem_rule(p)}"

    def oblast_all(self, name: str) -> list[str]:
        """An oblast's name in every language (the list is searched in all of them)."""
        return [name, *self._c["oblasts"].get(name, {}).values()]

    def scenario(self, sid: str) -> str:
        s = self.method.scenarios[sid]
        return s.get(f"name_{self.lang}") or s["name_en"]

    def scenarios(self, ids: list) -> str:
        return " + ".join(self.scenario(s) for s in ids) if ids else self("insufficient")

    def verdict(self, scenario: dict) -> str:
        """What the map says of a town: insufficient data, undetermined (the range and the most
        decisive missing input), a tie said as a tie, or the recommendation."""
        if scenario["completeness"].startswith("0/"):
            return self("insufficient")
        likely = scenario.get("likely")
        if likely and likely.get("coloured") and not scenario.get("settled", True):
            return self("likely_text").format(
                self.outcome(likely["scenario"]), round(100 * likely["share"])
            )
        if not scenario.get("settled", True):
            text = self("undetermined").format(
                " / ".join(self.scenario(s) for s in scenario["possible"])
            )
            if scenario.get("decisive"):
                text += "; " + self("decisive").format(self.indicator(scenario["decisive"]))
            return text
        if scenario.get("tie"):
            score = max(scenario["scores"].values())
            return self("tie_text").format(
                ", ".join(self.scenario(s) for s in scenario["tied"]), score
            )
        return self.scenarios(scenario["recommended"])

    def outcome(self, label: str) -> str:
        """A draw's outcome ('innovative', 'a + b', 'tie: a/b/c') in this language."""
        if label.startswith("tie: "):
            return self("outcome_tie").format(
                ", ".join(self.scenario(s) for s in label[5:].split("/"))
            )
        return (
            " + ".join(self.scenario(s) for s in label.split(" + ") if s in self.method.scenarios)
            or label
        )

    def verdict_of(self, label: str) -> str:
        """A verdict as the changes and comparisons carry it (``webapp.map.serialize.
        verdict_label``: 'a|b', 'tie: a|b|c', 'undetermined: a|b', 'likely: <outcome>', 'none') in
        this language, as static/app.js ``verdictName`` says it."""
        def names(text: str, sep: str) -> list[str]:
            return [self.scenario(s) for s in text.split(sep)]

        if label == "none":
            return self("insufficient")
        if label.startswith("undetermined: "):
            return self("undetermined").format(" / ".join(names(label[14:], "|")))
        if label.startswith("tie: "):
            return self("outcome_tie").format(", ".join(names(label[5:], "|")))
        if label.startswith("likely: "):
            return self("likely_short").format(self.outcome(label[8:]))
        return " + ".join(names(label, "|"))

    def verdict_short(self, scenario: dict) -> str:
        """The list's short form: undetermined without the range (the full verdict is its title)."""
        likely = scenario.get("likely")
        if likely and likely.get("coloured") and not scenario.get("settled", True):
            return self.verdict(scenario)
        if not scenario["completeness"].startswith("0/") and not scenario.get("settled", True):
            return self("undetermined_short")
        return self.verdict(scenario)

    def allowed(self, spec) -> str:
        """'Allowed: 1 to 720 min.' for a numeric parameter, in this language."""
        unit = self.unit(spec.unit) if spec.unit else ""
        show = lambda x: self.number(x) if float(x).is_integer() else self.number(x, 1)  # noqa: E731
        return self("allowed_range").format(
            min=show(spec.min), max=show(spec.max) + (f" {unit}" if unit else "")
        )

    def indicator(self, code: str) -> str:
        return self.method.indicators[code].names.get(self.lang) or code

    def name(self, row: dict) -> str:
        """A place's name in this language, falling back to English."""
        return row.get(f"name_{self.lang}") or row.get("name_en") or row.get("id", "")

    def as_dict(self) -> dict:
        return dict(self._c[self.lang]) | {
            "levels": {k: v[self.lang] for k, v in self._c["levels"].items()},
            "scenarios": {s: self.scenario(s) for s in self.method.scenarios},
            "indicators": {c: self.indicator(c) for c in self.method.indicators},
            "inputs": {k: v[self.lang] for k, v in self._c["inputs"].items()},
            "choices": {k: v[self.lang] for k, v in self._c["choices"].items()},
            "input_names": {k: self.input_desc(k) for k in self.method.inputs},
            "params": {k: v[self.lang] for k, v in self._c["params"].items()},
            # whole phrases per indicator and level, e.g. for the changes table
            "level_phrases": {
                c: {b.level: self.level_phrase(c, b.level) for b in self.method.indicators[c].bands}
                for c in self.method.levelled
            },
        }
