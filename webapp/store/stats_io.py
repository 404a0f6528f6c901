"""Statistics files in and out: strict CSV/XLSX reading, templates, export, and a last screen of
stored values.

A file is read into cells, then validated whole: every problem (row, column, value, rule) is
collected and any problem rejects the file. Only finite numbers written plainly (``12.5``, ``-3``,
``1e3``) inside the input's range are accepted: no NaN or infinity, no thousands separators (``1
000``, ``1,000``), no decimal commas (``12,5``), no underscores (``1_0``), no formula cells, no text
in numeric columns.
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Callable, Iterable

from scoring import InputError
from scoring.method import InputSpec, Method
from scoring.validate import allowed, value_ok

from webapp.i18n import catalog

MAX_BYTES = 1_000_000  # a file above this is rejected unread
MAX_XLSX_UNZIPPED = 20_000_000  # the sum of an XLSX's uncompressed parts (zip bombs)
MAX_ROWS = 2_000  # data rows
MAX_PROBLEMS = 100  # listed in a report; the rest are counted
MAX_ABS = 1e9  # no input of the method is anywhere near; keeps every sum and mean finite
TEXT_LIMITS = {"period": 60, "source": 500, "note": 1000}
META_COLUMNS = ("town", "year", "period", "source", "note")
# An estimates file (issue 22): long rows, one interval estimate of one input each. The columns that
# tell it from a values file are ESTIMATE_MARKS; a file is one kind or the other, never both.
ESTIMATE_COLUMNS = (
    "input",
    "low",
    "high",
    "method",
    "coverage",
)  # required with town, year|period, source
ESTIMATE_OPTIONAL = ("most_likely", "note")
ESTIMATE_MARKS = ("input", "low", "high", "method", "coverage", "most_likely")
TEXT_LIMITS_ESTIMATE = {"method": 200}
IMPORT_ROLES = ("statistical", "curated")
NUMBER = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)  # ASCII digits only
NO_PERIOD = "not stated"  # exported for a stored value without a period (the import requires one)
# a row whose town cell starts with this is a comment (the template's unit and range rows)
COMMENT = "#"
# A text cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV Injection":
# = + - @ tab and carriage return; line feed and the full-width forms, read so by some programs).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NEUTRAL = "'"  # put before such a cell on export (OWASP); taken off when the export is imported
# No NUL or other control character (tab and line ends excepted) and no bidirectional control (which
# can make a text read otherwise than stored: "Trojan Source", CVE-2021-42574) in imported text.
FORBIDDEN_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class Rule(str):
    """A broken rule in English, with its ``code`` and ``args`` (translations.json ``problems``),
    so that a page says it in its own language (webapp.i18n.T.problem)."""

    code: str = ""
    args: dict = {}


def _rule(code: str, **args) -> Rule:
    """The rule ``code`` of translations.json ``problems``, its English filled with ``args``."""
    rule = Rule(catalog()["problems"][code]["en"].format(**args))
    rule.code, rule.args = code, args
    return rule


@dataclass(frozen=True)
class Problem:
    """One reason to reject a file: where (row, column), what (value) and the rule it breaks (a
    ``Rule``, or plain English text)."""

    row: int | None
    column: str | None
    value: str | None
    rule: str

    @property
    def code(self) -> str:
        """The rule's code in translations.json ``problems`` ("" for a text without one)."""
        return getattr(self.rule, "code", "")

    def text(self, filename: str) -> str:
        where = (
            [filename]
            + ([f"row {self.row}"] if self.row else [])
            + ([f"column '{self.column}'"] if self.column else [])
        )
        value = "" if self.value is None else f" value '{_clip(self.value, 40)}':"
        return f"{', '.join(where)}:{value} {self.rule}"


class StatsFileError(InputError):
    """A statistics file was rejected; ``problems`` lists every problem as text (capped), ``items``
    as Problems."""

    def __init__(self, problems: list[Problem], *, filename: str):
        self.items = list(problems)
        texts = [p.text(filename) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            texts.append(
                f"{filename}: ... and {len(problems) - MAX_PROBLEMS} more problem(s) not listed"
            )
        super().__init__(texts, source=filename)


def problem_lines(exc: StatsFileError, filename: str, t) -> list[str]:
    """A rejected file's problems in ``t``'s language (webapp.i18n.T.problem): at most
    MAX_PROBLEMS, then how many more there are."""
    lines = [t.problem(p, filename) for p in exc.items[:MAX_PROBLEMS]]
    if len(exc.items) > MAX_PROBLEMS:
        more = t.plural("problems", len(exc.items) - MAX_PROBLEMS)
        lines.append(f"{filename}: {t('problems_more').format(more=more)}")
    return lines


@dataclass(frozen=True)
class Cell:
    """A cell as read: ``kind`` is raw (CSV, untyped), text, number, formula, bool, date, error or
    empty."""

    kind: str
    value: object = None

    def shown(self) -> str:
        return "" if self.value is None else str(self.value)


@dataclass(frozen=True)
class ValueRow:
    """One accepted value: what the store keeps (the editor and the time are added there)."""

    town_id: str
    input: str
    value: float
    unit: str
    period: str
    source: str
    note: str


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass(frozen=True)
class EstimateRow:
    """One accepted interval estimate: what the store keeps (editor and time added there)."""

    town_id: str
    input: str
    low: float
    high: float
    most_likely: float | None
    coverage: float
    method: str
    unit: str
    period: str
    source: str
    note: str


def importable(method: Method) -> list[str]:
    """Inputs a file may carry: those of role statistical or curated, in method order."""
    return [n for n, s in method.inputs.items() if s.role in IMPORT_ROLES]


# ---- reading cells -------------------------------------------------------------------------------


def read_csv_cells(raw: bytes) -> tuple[list[Cell], list[tuple[int, list[Cell]]], list[Problem]]:
    """UTF-8 CSV bytes -> (header, [(row number, cells)], problems); every CSV cell is text."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return (
            [],
            [],
            [Problem(None, None, None, _rule("not_utf8", byte=exc.start))],
        )
    delimiter = _delimiter(text)
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return [], [], [Problem(None, None, None, _rule("not_csv", detail=str(exc)))]
    as_cells = [
        (
            n,
            [
                (
                    Cell("raw", _decimal_point(v) if delimiter == ";" else v)
                    if v.strip()
                    else Cell("empty")
                )
                for v in line
            ],
        )
        for n, line in enumerate(lines, start=1)
    ]
    return _split_header(as_cells)


def _delimiter(text: str) -> str:
    """',' or ';' (what Excel writes with Russian or Kazakh settings), from the header row: the one
    that splits it into more columns (a header has no quoted separators in practice)."""
    header = text.lstrip().split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def _decimal_point(value: str) -> str:
    """In a ';' file a comma between digits is a decimal comma ('12,5' -> '12.5'); nothing else
    changes."""
    text = value.strip()
    return text.replace(",", ".") if DECIMAL_COMMA.fullmatch(text) else value


def _split_header(rows: list[tuple[int, list[Cell]]]):
    rows = [(n, cells) for n, cells in rows if any(c.kind != "empty" for c in cells)]
    if not rows:
        return (
            [],
            [],
            [Problem(None, None, None, _rule("empty_file_header"))],
        )
    return rows[0][1], rows[1:], []


def _xlsx_cell(cell) -> Cell:
    value, kind = cell.value, getattr(cell, "data_type", None)
    if value is None:
        return Cell("empty")
    if (
        kind == "f"
        or (isinstance(value, str) and value.startswith("="))
        or type(value).__name__ in ("ArrayFormula", "DataTableFormula")
    ):
        return Cell("formula", str(getattr(value, "text", value)))
    if isinstance(value, bool):
        return Cell("bool", value)
    if kind == "e":
        return Cell("error", value)
    if isinstance(value, (datetime, date, time)):
        return Cell("date", value)
    if isinstance(value, (int, float)):
        return Cell("number", value)
    return Cell("text", str(value)) if str(value).strip() else Cell("empty")


def _zip_problem(raw: bytes) -> Problem | None:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            size = sum(i.file_size for i in zf.infolist())
    except zipfile.BadZipFile:
        return Problem(None, None, None, _rule("not_zip"))
    if size > MAX_XLSX_UNZIPPED:
        return Problem(None, None, None, _rule("zip_big", size=size, limit=MAX_XLSX_UNZIPPED))
    return None


def read_xlsx_cells(raw: bytes) -> tuple[list[Cell], list[tuple[int, list[Cell]]], list[Problem]]:
    """XLSX bytes -> (header, rows, problems) from the sheet named ``values`` (else the first
    sheet)."""
    problem = _zip_problem(raw)
    if problem:
        return [], [], [problem]
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # openpyxl warns on styles and extensions it does not read
            wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
            ws = wb["values"] if "values" in wb.sheetnames else wb.worksheets[0]
            rows = []
            for n, row in enumerate(ws.iter_rows(), start=1):
                rows.append((n, [_xlsx_cell(c) for c in row]))
                if len(rows) > MAX_ROWS + 10:
                    break
            wb.close()
    except Exception as exc:  # openpyxl raises many types on a damaged workbook
        return (
            [],
            [],
            [Problem(None, None, None, _rule("not_xlsx", detail=f"{type(exc).__name__}: {exc}"))],
        )
    return _split_header(rows)


# ---- validating ----------------------------------------------------------------------------------


def _header(cells: list[Cell], method: Method) -> tuple[dict[str, int], list[Problem]]:
    """Column name -> position, with every problem of the header row."""
    problems, cols = [], {}
    columns = importable(method)
    for i, cell in enumerate(cells, start=1):
        name = cell.shown().strip() if cell.kind in ("raw", "text") else ""
        if not name:
            problems.append(Problem(1, f"#{i}", cell.shown(), _rule("unnamed_column")))
            continue
        if name in cols:
            problems.append(Problem(1, name, name, _rule("duplicate_column")))
            continue
        cols[name] = i - 1
        if name in META_COLUMNS or name in columns:
            continue
        spec = method.inputs.get(name)
        rule = (
            _rule("derived_column")
            if spec
            else _rule("unknown_column", meta=", ".join(META_COLUMNS), inputs=", ".join(columns))
        )
        problems.append(Problem(1, name, name, rule))
    for need in ("town", "source"):
        if need not in cols:
            problems.append(Problem(1, need, None, _rule("missing_column")))
    periods = [c for c in ("year", "period") if c in cols]
    if len(periods) != 1:
        problems.append(Problem(1, "year", None, _rule("year_or_period")))
    if not any(c in columns for c in cols):
        problems.append(Problem(1, None, None, _rule("no_input_column", inputs=", ".join(columns))))
    return cols, problems


def parse_number(cell: Cell, spec: InputSpec) -> tuple[float | None, str | None]:
    """A cell -> (number or None when empty, the broken rule or None)."""
    if cell.kind == "empty":
        return None, None
    if cell.kind == "formula":
        return None, _rule("formula_cell")
    if cell.kind in ("bool", "date", "error"):
        return None, _rule(f"{cell.kind}_cell")
    if cell.kind == "text":
        return None, _rule("text_cell")
    if cell.kind == "number":
        x = float(cell.value)
    else:
        text = str(cell.value).strip()
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            return None, _rule("nan")
        if not NUMBER.fullmatch(text):
            return None, _rule(
                "not_plain_number" if any(ch.isdigit() for ch in text) else "text_in_number"
            )
        x = float(text)
    if not math.isfinite(x):
        return None, _rule("not_finite")
    if abs(x) > MAX_ABS:
        return None, _rule(
            "out_of_range_big", allowed=allowed(spec), max_abs=f"{MAX_ABS:g}", input=spec.name
        )
    if not value_ok(spec, x):
        return None, _rule("out_of_range", allowed=allowed(spec), input=spec.name)
    return x, None


def neutralise(text: str) -> str:
    """``text`` safe to open in a spreadsheet: a quote before a formula's first character."""
    return NEUTRAL + text if text.startswith(FORMULA_START) else text


def forbidden_character(text: str) -> str | None:
    """The first NUL, control or bidirectional control character in ``text`` (U+XXXX), or None."""
    found = FORBIDDEN_CHARS.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _text(cell: Cell, column: str, row: int, problems: list[Problem], *, required: bool) -> str:
    if cell.kind == "number" and column in ("year", "period") and float(cell.value).is_integer():
        return str(int(cell.value))
    if cell.kind not in ("raw", "text", "empty"):
        problems.append(Problem(row, column, cell.shown(), _rule("plain_text", kind=cell.kind)))
        return ""
    text = cell.shown().strip()
    bad = forbidden_character(text)
    if bad:
        shown = FORBIDDEN_CHARS.sub(lambda m: f"U+{ord(m.group()):04X}", text)
        problems.append(Problem(row, column, shown, _rule("control_character", char=bad)))
        return ""
    if text.startswith(NEUTRAL) and text[1:].startswith(FORMULA_START):
        text = text[1:]  # a text this app's export neutralised: stored as it was
    if required and not text:
        rule = _rule("source_required" if column == "source" else "period_required")
        problems.append(Problem(row, column, "", rule))
    limit = TEXT_LIMITS.get("period" if column == "year" else column)
    if limit and len(text) > limit:
        problems.append(Problem(row, column, text, _rule("too_long", limit=limit)))
    return text


def _cross_checks(values: dict[str, float], method: Method, row: int) -> list[Problem]:
    """Counts not above their totals; root-of-sum indicators not of a negative sum (within one
    row)."""
    out = []
    for ind in method.indicators.values():
        if ind.aggregation == "root_of_item_shares":
            for count, total in ind.inputs:
                if count in values and total in values and values[count] > values[total]:
                    out.append(
                        Problem(
                            row,
                            count,
                            f"{values[count]:g}",
                            _rule("above_total", total=total, value=f"{values[total]:g}"),
                        )
                    )
        elif ind.aggregation == "root_of_sum" and all(n in values for n in ind.inputs):
            if sum(values[n] for n in ind.inputs) < 0:
                out.append(
                    Problem(
                        row,
                        ind.inputs[0],
                        f"{values[ind.inputs[0]]:g}",
                        _rule("negative_sum", inputs=" + ".join(ind.inputs)),
                    )
                )
    return out


def _getter(cells: list[Cell], cols: dict[str, int]) -> Callable[[str], Cell]:
    """A row's cell by column name (an empty cell where the column or the cell is missing)."""
    return lambda c: cells[cols[c]] if c in cols and cols[c] < len(cells) else Cell("empty")


def _common(
    n: int,
    get: Callable[[str], Cell],
    cols: dict[str, int],
    town_id: Callable[[str], str | None],
    problems: list[Problem],
) -> tuple[str | None, str, str, str]:
    """The columns every row has: (town id, period, source, note); their problems appended."""
    name = _text(get("town"), "town", n, problems, required=False)
    tid = town_id(name) if name else None
    if tid is None:
        problems.append(Problem(n, "town", name, _rule("unknown_town")))
    period_col = "year" if "year" in cols else "period"
    period = _text(get(period_col), period_col, n, problems, required=True)
    source = _text(get("source"), "source", n, problems, required=True)
    note = _text(get("note"), "note", n, problems, required=False)
    return tid, period, source, note


def _row(
    n: int,
    cells: list[Cell],
    cols: dict[str, int],
    method: Method,
    town_id: Callable[[str], str | None],
    problems: list[Problem],
) -> tuple[str | None, str, list[ValueRow]]:
    """One data row -> (town id, period, values); its problems are appended."""
    get = _getter(cells, cols)
    tid, period, source, note = _common(n, get, cols, town_id, problems)
    values = {}
    for name_, spec in method.inputs.items():
        if name_ not in cols or spec.role not in IMPORT_ROLES:
            continue
        x, rule = parse_number(get(name_), spec)
        if rule:
            problems.append(Problem(n, name_, get(name_).shown(), rule))
        elif x is not None:
            values[name_] = x
    if not values and not any(p.row == n and p.column in method.inputs for p in problems):
        problems.append(Problem(n, None, None, _rule("no_value_in_row")))
    problems.extend(_cross_checks(values, method, n))
    rows = [
        ValueRow(tid or "", k, v, method.inputs[k].unit, period, source, note)
        for k, v in values.items()
    ]
    return tid, period, rows


def _data_rows(rows: list[tuple[int, list[Cell]]]) -> list[tuple[int, list[Cell]]]:
    """The rows that hold data: not the comment rows (a first cell starting with ``COMMENT``)."""
    return [
        (n, c)
        for n, c in rows
        if not (c and c[0].kind in ("raw", "text") and c[0].shown().strip().startswith(COMMENT))
    ]


def validate_cells(
    header: list[Cell],
    rows: list[tuple[int, list[Cell]]],
    method: Method,
    town_id: Callable[[str], str | None],
) -> tuple[list[ValueRow], list[Problem]]:
    """Header and data rows -> (accepted values, every problem).

    Values count only when problems is empty.
    """
    cols, problems = _header(header, method)
    data = _data_rows(rows)
    if len(data) > MAX_ROWS:
        return [], problems + [Problem(None, None, None, _rule("too_many_rows", max=MAX_ROWS))]
    if problems:  # with a broken header the rows cannot be read reliably
        return [], problems
    if not data:
        return [], [Problem(None, None, None, _rule("no_data_rows"))]
    out, seen, lines = [], {}, {}
    for n, cells in data:
        if len(cells) > len(header) and any(c.kind != "empty" for c in cells[len(header) :]):
            problems.append(Problem(n, None, None, _rule("extra_cells", n=len(header))))
        line = tuple(c.shown().strip() for c in cells[: len(header)])
        same_row = line in lines
        if same_row:
            problems.append(Problem(n, None, None, _rule("duplicate_row", row=lines[line])))
        lines.setdefault(line, n)
        _, _, values = _row(n, cells, cols, method, town_id, problems)
        for v in values:
            key = (v.town_id, v.input, v.period)
            if key in seen and not same_row:
                problems.append(
                    Problem(
                        n,
                        v.input,
                        f"{v.value:g}",
                        _rule("duplicate_value", town=v.town_id, period=v.period, row=seen[key]),
                    )
                )
            seen.setdefault(key, n)
        out += values
    return out, problems


def estimable(method: Method) -> list[str]:
    """Inputs an estimates file may name: statistical ones an indicator rises with
    (``scoring.estimates.KINDS``: shares, indices, rates), as data/estimates.csv allows."""
    from scoring.estimates import KINDS

    return [n for n, s in method.inputs.items() if s.role == "statistical" and s.kind in KINDS]


def is_estimates_header(header: list[Cell]) -> bool:
    """True when the header names a column only an estimates file has (low, high, method, ...)."""
    names = {c.shown().strip() for c in header if c.kind in ("raw", "text")}
    return any(m in names for m in ESTIMATE_MARKS)


def _estimate_header(cells: list[Cell], method: Method) -> tuple[dict[str, int], list[Problem]]:
    """Column name -> position for an estimates file, with every problem of its header row."""
    problems, cols = [], {}
    known = (*ESTIMATE_COLUMNS, *ESTIMATE_OPTIONAL, "town", "year", "period", "source")
    for i, cell in enumerate(cells, start=1):
        name = cell.shown().strip() if cell.kind in ("raw", "text") else ""
        if not name:
            problems.append(Problem(1, f"#{i}", cell.shown(), _rule("unnamed_column")))
        elif name in cols:
            problems.append(Problem(1, name, name, _rule("duplicate_column")))
        elif name in method.inputs:
            cols[name] = i - 1
            problems.append(Problem(1, name, name, _rule("estimates_input_column")))
        elif name not in known:
            cols[name] = i - 1
            problems.append(
                Problem(1, name, name, _rule("estimates_unknown_column", known=", ".join(known)))
            )
        else:
            cols[name] = i - 1
    for need in ("town", "source", *ESTIMATE_COLUMNS):
        if need not in cols:
            problems.append(
                Problem(
                    1,
                    need,
                    None,
                    _rule("estimates_missing_column", columns=", ".join(ESTIMATE_COLUMNS)),
                )
            )
    if len([c for c in ("year", "period") if c in cols]) != 1:
        problems.append(Problem(1, "year", None, _rule("year_or_period")))
    return cols, problems


def _estimate_row(
    n: int,
    cells: list[Cell],
    cols: dict[str, int],
    method: Method,
    town_id: Callable[[str], str | None],
    problems: list[Problem],
) -> EstimateRow | None:
    """One row of an estimates file -> the estimate, or None (its problems appended)."""
    get = _getter(cells, cols)
    before = len(problems)
    tid, period, source, note = _common(n, get, cols, town_id, problems)
    how = _text(get("method"), "method", n, problems, required=False)
    if not how:
        problems.append(Problem(n, "method", "", _rule("method_required")))
    elif len(how) > TEXT_LIMITS_ESTIMATE["method"]:
        problems.append(
            Problem(n, "method", how, _rule("too_long", limit=TEXT_LIMITS_ESTIMATE["method"]))
        )
    can_hold = estimable(method)
    inp = _text(get("input"), "input", n, problems, required=False)
    if inp not in can_hold:
        problems.append(
            Problem(n, "input", inp, _rule("cannot_estimate", inputs=", ".join(can_hold)))
        )
        return None
    spec = method.inputs[inp]
    nums: dict[str, float | None] = {}
    for col in ("low", "high", "most_likely"):
        x, rule = parse_number(get(col), spec)
        if rule:
            problems.append(Problem(n, col, get(col).shown(), rule))
        elif x is None and col != "most_likely":
            problems.append(
                Problem(n, col, "", _rule("estimate_required", allowed=allowed(spec), input=inp))
            )
        nums[col] = x
    coverage, rule = parse_number(get("coverage"), _COVERAGE)
    if rule or coverage is None or coverage == 0:
        problems.append(
            Problem(
                n,
                "coverage",
                get("coverage").shown(),
                _rule("coverage_required"),
            )
        )
    low, high, ml = nums["low"], nums["high"], nums["most_likely"]
    if low is not None and high is not None:
        if low > high:
            problems.append(
                Problem(n, "low", f"{low:g}", _rule("low_above_high", high=f"{high:g}"))
            )
        elif ml is not None and not low <= ml <= high:
            problems.append(
                Problem(
                    n,
                    "most_likely",
                    f"{ml:g}",
                    _rule("most_likely_outside", low=f"{low:g}", high=f"{high:g}"),
                )
            )
    if len(problems) > before or low is None or high is None or coverage is None or tid is None:
        return None
    return EstimateRow(tid, inp, low, high, ml, coverage, how, spec.unit, period, source, note)


_COVERAGE = InputSpec("coverage", "", "share", "", "", "", 0.0, 1.0, "", "", "")


def validate_estimate_cells(
    header: list[Cell],
    rows: list[tuple[int, list[Cell]]],
    method: Method,
    town_id: Callable[[str], str | None],
) -> tuple[list[EstimateRow], list[Problem]]:
    """An estimates file's header and rows -> (accepted estimates, every problem)."""
    cols, problems = _estimate_header(header, method)
    data = _data_rows(rows)
    if len(data) > MAX_ROWS:
        return [], problems + [Problem(None, None, None, _rule("too_many_rows", max=MAX_ROWS))]
    if problems:
        return [], problems
    if not data:
        return [], [Problem(None, None, None, _rule("no_data_rows"))]
    out: list[EstimateRow] = []
    seen: dict[tuple, int] = {}
    for n, cells in data:
        if len(cells) > len(header) and any(c.kind != "empty" for c in cells[len(header) :]):
            problems.append(Problem(n, None, None, _rule("extra_cells", n=len(header))))
        est = _estimate_row(n, cells, cols, method, town_id, problems)
        if est is None:
            continue
        key = (est.town_id, est.input, est.period)
        if key in seen:
            problems.append(
                Problem(
                    n,
                    "input",
                    est.input,
                    _rule("estimate_duplicate", town=est.town_id, period=est.period, row=seen[key]),
                )
            )
        seen.setdefault(key, n)
        out.append(est)
    return out, problems


def _cells(
    raw: bytes, filename: str
) -> tuple[list[Cell], list[tuple[int, list[Cell]]], list[Problem]]:
    """A file's bytes within the size limit -> its header, rows and reading problems (CSV or
    XLSX)."""
    if len(raw) > MAX_BYTES:
        raise StatsFileError(
            [Problem(None, None, None, _rule("file_too_big", size=len(raw), limit=MAX_BYTES))],
            filename=filename,
        )
    if not raw.strip():
        raise StatsFileError([Problem(None, None, None, _rule("file_empty"))], filename=filename)
    is_xlsx = filename.lower().endswith(".xlsx") or raw[:2] == b"PK"
    return (read_xlsx_cells if is_xlsx else read_csv_cells)(raw)


def read_file(
    raw: bytes, filename: str, method: Method, town_id: Callable[[str], str | None]
) -> list[ValueRow] | list[EstimateRow]:
    """A values file or an estimates file (told by its header) -> its accepted rows; raises
    StatsFileError listing every problem (nothing is accepted from a file with any problem)."""
    header, rows, problems = _cells(raw, filename)
    out: list = []
    if not problems:
        check = validate_estimate_cells if is_estimates_header(header) else validate_cells
        out, problems = check(header, rows, method, town_id)
    if problems:
        raise StatsFileError(problems, filename=filename)
    return out


def read_values(
    raw: bytes, filename: str, method: Method, town_id: Callable[[str], str | None]
) -> list[ValueRow]:
    """A CSV or XLSX file's bytes -> accepted values; raises StatsFileError listing every
    problem."""
    header, rows, problems = _cells(raw, filename)
    if not problems:
        values, problems = validate_cells(header, rows, method, town_id)
    if problems:
        raise StatsFileError(problems, filename=filename)
    return values


# ---- writing -------------------------------------------------------------------------------------


def template_rows(method: Method) -> list[list[str]]:
    """The template: the header, then '#unit' and '#allowed' comment rows, then one example row."""
    names = importable(method)
    return [
        ["town", "year", "source", "note", *names],
        ["#unit", "", "", "", *[method.inputs[n].unit for n in names]],
        [
            "#allowed",
            "text: a year or period",
            "text: document",
            "text (optional)",
            *[allowed(method.inputs[n]) for n in names],
        ],
    ]


def estimate_template_rows(method: Method) -> list[list[str]]:
    """The estimates template: the header and an '#allowed' comment row (long rows: one estimate
    each)."""
    return [
        estimate_template_rows_header(),
        [
            "#allowed",
            "text: a year or period",
            "text: documents the interval rests on",
            "one of: " + " ".join(estimable(method)),
            "number in the input's range",
            "number, not below low",
            "text: how the interval was made",
            "above 0, at most 1 (e.g. 0.75)",
            "number from low to high (optional)",
            "text (optional)",
        ],
    ]


def estimate_template_csv(method: Method) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(estimate_template_rows(method))
    return buf.getvalue()


def template_csv(method: Method) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(template_rows(method))
    return buf.getvalue()


def template_xlsx(method: Method) -> bytes:
    """Sheet ``values`` (header and comment rows) and sheet ``columns`` (column, role, unit,
    allowed, meaning)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "values"
    for row in template_rows(method):
        ws.append(row)
    cols = wb.create_sheet("columns")
    cols.append(["column", "role", "unit", "allowed", "description"])
    cols.append(["town", "required", "", "id, or name in kk, ru or en", "one of the 27 monotowns"])
    cols.append(
        ["year", "required (or 'period')", "", "text", "the year or period the values describe"]
    )
    cols.append(["source", "required", "", "text", "the document the values come from"])
    cols.append(["note", "optional", "", "text", ""])
    for n in importable(method):
        s = method.inputs[n]
        cols.append([n, s.role, s.unit, allowed(s), s.description])
    cols.append([])
    cols.append(
        [
            "estimates file",
            "a separate file",
            "",
            "",
            "interval estimates of missing inputs: one row per town, input and period, columns "
            + ", ".join(estimate_template_rows(method)[0])
            + " (template: /data/estimates-template.csv); a sourced value always wins over an"
            " estimate",
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_csv(current: Iterable[dict], method: Method) -> str:
    """Current values (dicts with town_id, input, value, period, source, note, status) in the import
    format: what an editor supplies, to change and upload again.

    One row per town, period, source and note; values that are missing are not written, nor those
    the app derives (status ``derived``: uploaded again, they would turn into sourced values). A
    text that a spreadsheet would take for a formula is neutralised (``neutralise``; the import
    undoes it).
    """
    names = importable(method)
    groups: dict[tuple, dict] = {}
    for r in current:
        if r["value"] is None or r["input"] not in names or r.get("status") == "derived":
            continue
        key = (r["town_id"], r["period"] or NO_PERIOD, r["source"] or "", r["note"] or "")
        groups.setdefault(key, {})[r["input"]] = r["value"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    # csv quotes a text with LF but not one with a lone CR: such a row is written all quoted
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(["town", "year", "source", "note", *names])
    for (tid, period, source, note), vals in sorted(groups.items()):
        texts = [neutralise(t) for t in (tid, period, source, note)]
        row = [*texts, *[_number_text(vals.get(n)) for n in names]]
        (quoted if any("\r" in t for t in texts) else w).writerow(row)
    return buf.getvalue()


def export_estimates_csv(estimates: Iterable[dict]) -> str:
    """Stored estimates (the store's ``estimates()`` rows) in the estimates import format, one row
    each; texts a spreadsheet would take for a formula are neutralised (the import undoes it)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    header = estimate_template_rows_header()
    w.writerow(header)
    for r in sorted(estimates, key=lambda r: (r["town_id"], r["input"], r["period"])):
        texts = [neutralise(r[k] or "") for k in ("town_id", "period", "source")]
        w.writerow(
            [
                *texts,
                r["input"],
                _number_text(r["low"]),
                _number_text(r["high"]),
                neutralise(r["method"] or ""),
                _number_text(r["coverage"]),
                _number_text(r["most_likely"]),
                neutralise(r["note"] or ""),
            ]
        )
    return buf.getvalue()


def estimate_template_rows_header() -> list[str]:
    """The estimates file's columns, in the template's order."""
    return [
        "town",
        "year",
        "source",
        "input",
        "low",
        "high",
        "method",
        "coverage",
        "most_likely",
        "note",
    ]


def _number_text(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


# ---- a last screen before scoring ----------------------------------------------------------------


def screen(current: Iterable[dict], method: Method, towns: set[str]) -> tuple[dict, dict, dict]:
    """Stored values -> (statistical table, curated table, errors per town) safe to score.

    Whatever the database holds, a value that is not finite, out of range, above its total or of an
    unknown town or input is turned into ``missing`` with the reason, and the reason is listed in
    errors[town_id]. Tables have the shape scoring.loaders.load_values returns.
    """
    tables = {"statistical": {}, "curated": {}}
    errors: dict[str, list[str]] = {}
    for r in current:
        spec, tid = method.inputs.get(r["input"]), r["town_id"]
        if tid not in towns or spec is None or spec.role not in tables:
            errors.setdefault("", []).append(_rule("stored_unknown", town=tid, input=r["input"]))
            continue
        row = {
            "value": "",
            "unit": r.get("unit") or spec.unit,
            "period": r.get("period") or "",
            "source": r.get("source") or "",
            "note": r.get("note") or "",
            "status": r.get("status") or "sourced",
        }
        x = r["value"]
        if x is not None and r.get("status") != "missing":
            bad = _stored_problem(x, spec)
            if bad:
                rule = _rule(bad[0], input=r["input"], value=repr(x), **bad[1])
                errors.setdefault(tid, []).append(rule)
                reason = rule.removesuffix("; treated as missing")
                row |= {"status": "missing", "source": f"{reason}: rejected; was: {row['source']}"}
            else:
                row["value"] = repr(float(x))
        elif row["status"] != "missing":
            row["status"] = "missing"
        tables[spec.role].setdefault(tid, {})[r["input"]] = row
    _screen_pairs(tables["statistical"], method, errors)
    return tables["statistical"], tables["curated"], errors


def _stored_problem(x, spec: InputSpec) -> tuple[str, dict] | None:
    """Why a stored value cannot be scored: (rule code, its arguments), or None."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "stored_not_number", {}
    if not math.isfinite(x):
        return "stored_not_finite", {}
    if abs(x) > MAX_ABS or not value_ok(spec, x):
        return "stored_out_of_range", {"allowed": allowed(spec)}
    return None


def _drop(table: dict, tid: str, name: str, rule: Rule, errors: dict) -> None:
    row = table[tid][name]
    errors.setdefault(tid, []).append(rule)
    reason = rule.removeprefix(f"{name}: ").removesuffix("; treated as missing")
    table[tid][name] = row | {
        "value": "",
        "status": "missing",
        "source": f"{reason}; was: {row['source']}",
    }


def _screen_pairs(table: dict, method: Method, errors: dict) -> None:
    """Counts above totals and negative sums under a root, between values that passed one by one."""

    def num(tid: str, n: str) -> float | None:
        value = table.get(tid, {}).get(n, {}).get("value")
        return float(value) if value else None

    for tid in list(table):
        for ind in method.indicators.values():
            if ind.aggregation == "root_of_item_shares":
                for count, total in ind.inputs:
                    c, t = num(tid, count), num(tid, total)
                    if c is not None and t is not None and c > t:
                        rule = _rule(
                            "stored_above_total", input=count, count=f"{c:g}", total=f"{t:g}"
                        )
                        _drop(table, tid, count, rule, errors)
            elif ind.aggregation == "root_of_sum":
                vals = [num(tid, n) for n in ind.inputs]
                if all(v is not None for v in vals) and sum(vals) < 0:
                    rule = _rule(
                        "stored_negative_sum",
                        input=ind.inputs[0],
                        inputs=" + ".join(ind.inputs),
                        sum=f"{sum(vals):g}",
                    )
                    _drop(table, tid, ind.inputs[0], rule, errors)
