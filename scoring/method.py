"""Load and validate the method definition (indicators, inputs, bands, scenario rules).

The method lives in ``data/method/``; nothing here hard-codes a band, a threshold or a rule.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import MethodError

DEFAULT_METHOD_DIR = Path(__file__).resolve().parent.parent / "data" / "method"

AGGREGATIONS = ("mean", "geometric_mean", "root_of_sum", "root_of_item_shares")
INPUT_KINDS = ("share", "index", "rate", "count", "total", "binary")
# from a statistics office, from spatial data, curated by hand
INPUT_ROLES = ("statistical", "derived", "curated")
EXPORT_NAME_MAX = 10  # shapefile field names


Rule = dict[str, tuple[frozenset[str], str]]  # indicator -> (levels marked '+', rationale)
TextKey = tuple[str, str, str]  # (file, key, field) of a translated text
Row = dict[str, str]  # a CSV row


@dataclass(frozen=True)
class Band:
    level: str
    upper: float  # math.inf for the last band


@dataclass(frozen=True)
class Indicator:
    code: str
    symbol: str
    aggregation: str
    inputs: tuple[Any, ...]  # names (str), or (count, total) pairs for root_of_item_shares
    levelled: bool
    names: dict[str, str]
    formula: str
    bands: tuple[Band, ...] = ()
    export_name: str = ""


@dataclass(frozen=True)
class InputSpec:
    name: str
    indicator: str
    kind: str
    role: str  # statistical | derived | curated
    derived_by: str  # role derived: the spatial rule deriving it (geo.results.TownAccess.flags)
    export_name: str  # field name in exports (at most 10 characters, for shapefiles)
    min: float | None
    max: float | None
    unit: str
    symbol: str
    description: str


@dataclass(frozen=True)
class Method:
    indicators: dict[str, Indicator]  # in computation order
    inputs: dict[str, InputSpec]
    scenarios: dict[str, dict[str, str]]  # id -> name_*, meaning_en, colour, order
    rules: dict[str, Rule]  # scenario -> its rule
    settings: dict[str, Any]
    source_dir: str = ""
    files: dict[str, Any] = field(default_factory=dict)
    texts: dict[TextKey, dict[str, str]] = field(default_factory=dict)  # -> en, ru, kk (texts.csv)

    @property
    def levelled(self) -> list[str]:
        return list(self.settings["levelled_indicators"])

    def input_names(self, role: str | None = None) -> list[str]:
        """Input names in method order, optionally only those of one role."""
        return [n for n, s in self.inputs.items() if role is None or s.role == role]

    def as_parameters(self) -> dict[str, Any]:
        """The parameters that produced a result (bands, rules, settings), JSON-ready."""
        return {
            "bands": {c: [[b.level, None if math.isinf(b.upper) else b.upper] for b in i.bands]
                      for c, i in self.indicators.items() if i.levelled},
            "boundary_rule": self.settings["boundary_rule"],
            "scenario_rules": {s: {ind: sorted(lv) for ind, (lv, _) in r.items()}
                               for s, r in self.rules.items()},
            "recommend_margin": self.settings["recommend_margin"],
            "recommend_max": self.settings["recommend_max"],
        }


def _read_csv(path: Path, required: list[str], problems: list[str]) -> list[Row]:
    if not path.exists():
        problems.append(f"{path.name}: file not found at {path}")
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            problems.append(f"{path.name}: missing column(s) {', '.join(missing)}")
            return []
        return list(reader)


def _num(text: str, where: str, problems: list[str], *, allow_empty: bool) -> float | None:
    text = (text or "").strip()
    if text == "":
        if not allow_empty:
            problems.append(f"{where}: value is required")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{where}: '{text}' is not a number")
        return None
    if not math.isfinite(value):
        problems.append(f"{where}: '{text}' is not finite")
        return None
    return value


def _load_settings(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        settings: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: file not found at {path}")
        return {}
    except json.JSONDecodeError as exc:
        problems.append(f"{path.name}: not valid JSON ({exc})")
        return {}
    for key in ("boundary_rule", "levelled_indicators", "level_ids", "recommend_margin",
                "recommend_max", "score_scale_max"):
        if key not in settings:
            problems.append(f"{path.name}: key '{key}' is required")
    if settings.get("boundary_rule") not in (None, "upper_inclusive"):
        problems.append(f"{path.name}: boundary_rule '{settings['boundary_rule']}' is not "
                        "supported (allowed: upper_inclusive)")
    margin = settings.get("recommend_margin", 0)
    if not isinstance(margin, (int, float)) or margin < 0:
        problems.append(f"{path.name}: recommend_margin must be a number >= 0, got {margin!r}")
    rmax = settings.get("recommend_max", 1)
    if not isinstance(rmax, int) or rmax < 1:
        problems.append(f"{path.name}: recommend_max must be an integer >= 1, got {rmax!r}")
    return settings


def _load_inputs(path: Path, problems: list[str]) -> dict[str, InputSpec]:
    rows = _read_csv(path, ["input", "indicator", "kind", "role", "derived_by", "export_name",
                            "min", "max", "unit", "symbol", "description"], problems)
    specs = {}
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} row {n} ({row['input']})"
        if row["kind"] not in INPUT_KINDS:
            problems.append(f"{where}: kind '{row['kind']}' not one of {', '.join(INPUT_KINDS)}")
        lo = _num(row["min"], f"{where} min", problems, allow_empty=True)
        hi = _num(row["max"], f"{where} max", problems, allow_empty=True)
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"{where}: min {lo} is above max {hi}")
        if row["input"] in specs:
            problems.append(f"{where}: input defined twice")
        if row["role"] not in INPUT_ROLES:
            problems.append(f"{where}: role '{row['role']}' not one of {', '.join(INPUT_ROLES)}")
        _check_export_name(row["export_name"], where, problems)
        if (row["role"] == "derived") != bool(row["derived_by"]):
            problems.append(f"{where}: derived_by is required for role derived and only for it")
        specs[row["input"]] = InputSpec(row["input"], row["indicator"], row["kind"], row["role"],
                                        row["derived_by"], row["export_name"], lo, hi, row["unit"],
                                        row["symbol"], row["description"])
    return specs


def _check_export_name(name: str, where: str, problems: list[str]) -> None:
    if not name or len(name) > EXPORT_NAME_MAX or not name.replace("_", "").isalnum():
        problems.append(f"{where}: export_name '{name}' must be 1-{EXPORT_NAME_MAX} letters, "
                        "digits or _")


def _load_bands(path: Path, level_ids: list[str],
                problems: list[str]) -> dict[str, tuple[Band, ...]]:
    rows = _read_csv(path, ["indicator", "order", "level", "upper_bound"], problems)
    by_ind: dict[str, list[tuple[float, float | None, str, str]]] = {}
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} row {n} ({row['indicator']}/{row['level']})"
        order = _num(row["order"], f"{where} order", problems, allow_empty=False)
        upper = _num(row["upper_bound"], f"{where} upper_bound", problems, allow_empty=True)
        if level_ids and row["level"] not in level_ids:
            problems.append(f"{where}: level '{row['level']}' not one of {', '.join(level_ids)}")
        by_ind.setdefault(row["indicator"], []).append((order or 0, upper, row["level"], where))
    bands = {}
    for ind, items in by_ind.items():
        items.sort(key=lambda t: t[0])
        out, prev = [], -math.inf
        for i, (_, upper, level, where) in enumerate(items):
            last = i == len(items) - 1
            if upper is None and not last:
                problems.append(f"{where}: only the last band may have an empty upper_bound")
                continue
            if upper is not None and last:
                problems.append(f"{where}: the last band must have an empty upper_bound "
                                "(open-ended)")
            upper = math.inf if upper is None else upper
            if upper <= prev:
                problems.append(f"{where}: upper_bound {upper} must be above the previous "
                                f"band's {prev}")
            prev = upper
            out.append(Band(level, upper))
        if len({b.level for b in out}) != len(out):
            problems.append(f"{path.name}: indicator '{ind}' repeats a level")
        bands[ind] = tuple(out)
    return bands


def _load_indicators(path: Path, inputs: dict[str, InputSpec], bands: dict[str, tuple[Band, ...]],
                     problems: list[str]) -> dict[str, Indicator]:
    rows = _read_csv(path, ["code", "symbol", "aggregation", "inputs", "levelled", "export_name",
                            "name_en", "name_ru", "name_kk", "formula"], problems)
    out: dict[str, Indicator] = {}
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} row {n} ({row['code']})"
        agg = row["aggregation"]
        if agg not in AGGREGATIONS:
            problems.append(f"{where}: aggregation '{agg}' not one of {', '.join(AGGREGATIONS)}")
            continue
        parts = [p.strip() for p in row["inputs"].split(";") if p.strip()]
        spec: tuple[Any, ...]
        if agg == "root_of_item_shares":
            pairs = [tuple(p.split("/")) for p in parts]
            if any(len(p) != 2 for p in pairs):
                problems.append(f"{where}: items must be written count/total")
                continue
            names, spec = [x for p in pairs for x in p], tuple(pairs)
        else:
            names, spec = parts, tuple(parts)
        for name in names:
            if name not in inputs and name not in out:
                problems.append(f"{where}: input '{name}' is neither in inputs.csv nor an "
                                "earlier indicator")
        if not names:
            problems.append(f"{where}: no inputs")
        levelled = row["levelled"].strip().lower()
        if levelled not in ("yes", "no"):
            problems.append(f"{where}: levelled must be yes or no, got '{row['levelled']}'")
        _check_export_name(row["export_name"], where, problems)
        if levelled == "yes" and row["code"] not in bands:
            problems.append(f"{where}: levelled indicator has no bands in bands.csv")
        out[row["code"]] = Indicator(
            row["code"], row["symbol"], agg, spec, levelled == "yes",
            {"en": row["name_en"], "ru": row["name_ru"], "kk": row["name_kk"]},
            row["formula"], bands.get(row["code"], ()), row["export_name"])
    return out


def _load_rules(path: Path, scenarios: dict[str, dict[str, str]], indicators: dict[str, Indicator],
                problems: list[str]) -> dict[str, Rule]:
    rows = _read_csv(path, ["scenario", "indicator", "levels", "rationale"], problems)
    rules: dict[str, Rule] = {s: {} for s in scenarios}
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} row {n} ({row['scenario']}/{row['indicator']})"
        if row["scenario"] not in scenarios:
            problems.append(f"{where}: scenario '{row['scenario']}' not in scenarios.csv")
            continue
        ind = indicators.get(row["indicator"])
        if ind is None or not ind.levelled:
            problems.append(f"{where}: '{row['indicator']}' is not a levelled indicator")
            continue
        levels = frozenset(x.strip() for x in row["levels"].split("|") if x.strip())
        unknown = levels - {b.level for b in ind.bands}
        if unknown:
            problems.append(f"{where}: level(s) {', '.join(sorted(unknown))} not bands of "
                            f"{ind.code} (allowed: {', '.join(b.level for b in ind.bands)})")
        if row["indicator"] in rules[row["scenario"]]:
            problems.append(f"{where}: rule defined twice")
        rules[row["scenario"]][row["indicator"]] = (levels, row["rationale"])
    return rules


TEXT_LANGS = ("en", "ru", "kk")
TEXT_COLUMNS = ("file", "key", "field", *TEXT_LANGS)


def load_texts(path: Path, required: dict[TextKey, tuple[str, str | None]],
               problems: list[str]) -> dict[TextKey, dict[str, str]]:
    """A translation table (file, key, field, en, ru, kk): the data's descriptive texts in each
    language.

    ``required`` maps (file, key, field) -> (where, text): every text the pages show, with the data
    file's row it comes from (``where``) and its English as the file has it (None: the text exists
    only here, e.g. a phrase per indicator and level). Each must have exactly one row with every
    language filled and, where the file has a text, ``en`` equal to it (a changed English text
    needs a new translation); a row for a text that does not exist is refused too. Nothing falls
    back silently.
    """
    before = len(problems)
    rows = _read_csv(path, list(TEXT_COLUMNS), problems)
    readable = len(problems) == before
    out: dict[TextKey, dict[str, str]] = {}
    for n, row in enumerate(rows, start=2):
        ident = (row["file"], row["key"], row["field"])
        where = f"{path.name} row {n} ({row['file']} {row['key']} {row['field']})"
        if ident in out:
            problems.append(f"{where}: translated twice")
            continue
        if ident not in required:
            problems.append(f"{where}: no such text in {row['file']} (key '{row['key']}', "
                            f"field '{row['field']}')")
            continue
        _, text = required[ident]
        if text is not None and row["en"] != text:
            problems.append(f"{where}: field 'en' is '{row['en']}' but {row['file']} says '{text}' "
                            "(translate the text as it is now)")
        for lang in TEXT_LANGS:
            if not (row[lang] or "").strip():
                problems.append(f"{where}: field '{lang}' is empty; allowed: the text in that "
                                "language")
        out[ident] = {lang: row[lang] for lang in TEXT_LANGS}
    if readable:
        for ident, (src_where, _) in required.items():
            if ident not in out:
                problems.append(f"{path.name}: no translation of {src_where} field '{ident[2]}' "
                                f"(add a row file={ident[0]}, key={ident[1]}, field={ident[2]} "
                                "with en, ru and kk)")
    return out


def _method_texts(d: Path, inputs: dict[str, InputSpec], bands: dict[str, tuple[Band, ...]],
                  scenarios: dict[str, dict[str, str]], indicators: dict[str, Indicator],
                  problems: list[str]) -> dict[TextKey, dict[str, str]]:
    """The method's descriptive texts that pages show, each with the row it comes from."""
    req: dict[TextKey, tuple[str, str | None]] = {}
    rule_rows = _read_csv(d / "scenario_rules.csv", ["scenario", "indicator", "rationale"], [])
    for n, row in enumerate(rule_rows, start=2):
        key = f"{row['scenario']}/{row['indicator']}"
        where = f"scenario_rules.csv row {n} ({key})"
        req[("scenario_rules.csv", key, "rationale")] = (where, row["rationale"])
    for n, (sid, row) in enumerate(scenarios.items(), start=2):
        req[("scenarios.csv", sid, "meaning_en")] = (f"scenarios.csv ({sid})", row["meaning_en"])
    for name, spec in inputs.items():
        req[("inputs.csv", name, "description")] = (f"inputs.csv ({name})", spec.description)
    for name, column in (("geo_params.csv", "name"), ("uncertainty.csv", "choice")):  # help texts
        for n, r in enumerate(_read_csv(d / name, [column, "description"], []), start=2):
            where = f"{name} row {n} ({r[column]})"
            req[(name, r[column], "description")] = (where, r["description"])
    for code, indicator in indicators.items():  # formulas: words translated, names and numbers kept
        req[("indicators.csv", code, "formula")] = (f"indicators.csv ({code})", indicator.formula)
    for ind, items in bands.items():
        for b in items:
            key = f"{ind}/{b.level}"
            req[("bands.csv", key, "phrase")] = (f"bands.csv ({key})", None)
    rule_path = d / "raw_materials.json"  # the reserve rule's words (scoring.reserves)
    if rule_path.exists():
        try:
            rule = json.loads(rule_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rule = {}  # scoring.reserves.load_rule reports it
        for group, fld in (("explain", "explain"), ("reasons", "reason")):
            for k, text in (rule.get(group) or {}).items():
                req[(rule_path.name, k, fld)] = (f"raw_materials.json {group} ({k})", text)
        if isinstance(rule.get("undated"), str):
            req[(rule_path.name, "undated", "text")] = ("raw_materials.json undated",
                                                        rule["undated"])
    return load_texts(d / "texts.csv", req, problems)


def load_method(method_dir: str | Path | None = None) -> Method:
    """Read and validate the method definition; raise MethodError listing every problem."""
    d = Path(method_dir) if method_dir else DEFAULT_METHOD_DIR
    problems: list[str] = []
    settings = _load_settings(d / "method.json", problems)
    inputs = _load_inputs(d / "inputs.csv", problems)
    bands = _load_bands(d / "bands.csv", settings.get("level_ids", []), problems)
    indicators = _load_indicators(d / "indicators.csv", inputs, bands, problems)
    srows = _read_csv(d / "scenarios.csv", ["scenario", "order", "name_en", "name_ru", "name_kk",
                                            "meaning_en", "colour"], problems)
    scenarios = {r["scenario"]: dict(r) for r in sorted(srows, key=lambda r: int(r["order"] or 0))}
    rules = _load_rules(d / "scenario_rules.csv", scenarios, indicators, problems)
    for code in settings.get("levelled_indicators", []):
        if code not in indicators or not indicators[code].levelled:
            problems.append(f"method.json: levelled indicator '{code}' is not a levelled row of "
                            "indicators.csv")
    for spec in inputs.values():
        if spec.indicator not in indicators:
            problems.append(f"inputs.csv ({spec.name}): indicator '{spec.indicator}' not in "
                            "indicators.csv")
    names = [s.export_name for s in inputs.values()] + [i.export_name for i in indicators.values()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"inputs.csv/indicators.csv: export_name(s) {', '.join(dupes)} used twice")
    texts = _method_texts(d, inputs, bands, scenarios, indicators, problems)
    if problems:
        raise MethodError(problems)
    return Method(indicators, inputs, scenarios, rules, settings, str(d), texts=texts)
