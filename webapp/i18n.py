"""Interface text in Kazakh, Russian and English (webapp/translations.json) and localized names."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGS = ("kk", "ru", "en")
DEFAULT_LANG = "en"


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
        self.cities: dict = {}  # large city id -> its row (names), set by webapp.views.translator

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
        return self("no_data") if level is None else self._c["levels"].get(level, {}).get(self.lang, level)

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
        """A stored period in this language where the catalog knows its wording (years stay as they are)."""
        return self._c["periods"].get(text or "", {}).get(self.lang, text or "")

    def unit(self, unit: str) -> str:
        return self._c["units"].get(unit, {}).get(self.lang, unit)

    def input_desc(self, name: str, default: str = "") -> str:
        return self._c["input_desc"].get(name, {}).get(self.lang, default)

    def number(self, value, digits: int = 0) -> str:
        """A number with thousands separators as this language writes them (12,345.6; 12 345,6)."""
        if value is None or value != value:
            return "–"
        text = f"{float(value):,.{digits}f}"
        if self.lang == "en":
            return text
        return text.replace(",", "\u00a0").replace(".", ",")

    def oblast_all(self, name: str) -> list[str]:
        """An oblast's name in every language (the list is searched in all of them)."""
        return [name, *self._c["oblasts"].get(name, {}).values()]

    def scenario(self, sid: str) -> str:
        s = self.method.scenarios[sid]
        return s.get(f"name_{self.lang}") or s["name_en"]

    def scenarios(self, ids: list) -> str:
        return " + ".join(self.scenario(s) for s in ids) if ids else self("insufficient")

    def verdict(self, scenario: dict) -> str:
        """What the map says of a town: insufficient data, undetermined (the range and the most decisive
        missing input), a tie said as a tie, or the recommendation."""
        if scenario["completeness"].startswith("0/"):
            return self("insufficient")
        if not scenario.get("settled", True):
            text = self("undetermined").format(" / ".join(self.scenario(s) for s in scenario["possible"]))
            if scenario.get("decisive"):
                text += "; " + self("decisive").format(self.indicator(scenario["decisive"]))
            return text
        if scenario.get("tie"):
            score = max(scenario["scores"].values())
            return self("tie_text").format(", ".join(self.scenario(s) for s in scenario["tied"]), score)
        return self.scenarios(scenario["recommended"])

    def verdict_short(self, scenario: dict) -> str:
        """The list's short form: undetermined without the range (the full verdict is its title)."""
        if not scenario["completeness"].startswith("0/") and not scenario.get("settled", True):
            return self("undetermined_short")
        return self.verdict(scenario)

    def allowed(self, spec) -> str:
        """'Allowed: 1 to 720 min.' for a numeric parameter, in this language."""
        unit = self.unit(spec.unit) if spec.unit else ""
        show = lambda x: self.number(x) if float(x).is_integer() else self.number(x, 1)  # noqa: E731
        return self("allowed_range").format(min=show(spec.min), max=show(spec.max) + (f" {unit}" if unit else ""))

    def indicator(self, code: str) -> str:
        return self.method.indicators[code].names.get(self.lang) or code

    def name(self, row: dict) -> str:
        """A place's name in this language, falling back to English."""
        return row.get(f"name_{self.lang}") or row.get("name_en") or row.get("id", "")

    def as_dict(self) -> dict:
        return dict(self._c[self.lang]) | {"levels": {k: v[self.lang] for k, v in self._c["levels"].items()},
                                           "scenarios": {s: self.scenario(s) for s in self.method.scenarios},
                                           "indicators": {c: self.indicator(c) for c in self.method.indicators},
                                           "inputs": {k: v[self.lang] for k, v in self._c["inputs"].items()},
                                           "choices": {k: v[self.lang] for k, v in self._c["choices"].items()},
                                           "input_names": {k: v[self.lang] for k, v in self._c["input_desc"].items()},
                                           "params": {k: v[self.lang] for k, v in self._c["params"].items()}}
