"""Strict reading of statistics files, CSV and XLSX: good files, every defect, the templates."""

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from webapp.store import stats_io
from webapp.store.stats_io import (
    StatsFileError,
    importable,
    read_values,
    template_csv,
    template_xlsx,
)

HEADER = "town,year,source,mono_output_share,mono_employment_share"


@pytest.fixture(scope="module")
def town_id():
    from geo.layers import load_layers
    from geo.places import PlaceIndex
    from scoring.pipeline import DATA_DIR

    return PlaceIndex(load_layers(DATA_DIR)).town_id


def csv_file(*rows, header=HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def xlsx_file(*rows, header=HEADER.split(","), sheet="values") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def problems(raw, name, method, town_id) -> str:
    with pytest.raises(StatsFileError) as exc:
        read_values(raw, name, method, town_id)
    assert isinstance(exc.value, ValueError)
    return "\n".join(exc.value.problems)


def test_good_csv_names_in_every_language(method, town_id):
    raw = csv_file(
        "Рудный,2023,Akimat report,70,30",
        "Екібастұз,2023,doc,40.5,",
        "kentau,2022,doc,1e1,-0",
        "Temirtau,2024,doc,.5,+3",
    )
    rows = read_values(raw, "s.csv", method, town_id)
    got = {(r.town_id, r.input): (r.value, r.period, r.source, r.unit) for r in rows}
    assert got[("rudny", "mono_output_share")] == (70.0, "2023", "Akimat report", "%")
    assert (
        got[("ekibastuz", "mono_output_share")][0] == 40.5
        and ("ekibastuz", "mono_employment_share") not in got
    )
    assert (
        got[("kentau", "mono_output_share")][0] == 10.0
        and got[("temirtau", "mono_output_share")][0] == 0.5
    )
    assert len(rows) == 7


def test_good_xlsx_numbers_and_a_numeric_year(method, town_id):
    raw = xlsx_file(
        ["Rudny", 2023, "Akimat report", 70, 30.5], ["Сәтбаев", "2021-2022", "doc", 12, None]
    )
    rows = read_values(raw, "s.xlsx", method, town_id)
    assert {(r.town_id, r.input, r.value, r.period) for r in rows} == {
        ("rudny", "mono_output_share", 70.0, "2023"),
        ("rudny", "mono_employment_share", 30.5, "2023"),
        ("satpayev", "mono_output_share", 12.0, "2021-2022"),
    }


def test_every_statistical_and_curated_input_importable_and_no_derived(method, town_id):
    names = importable(method)
    assert set(names) == {
        n for n, s in method.inputs.items() if s.role in ("statistical", "curated")
    }
    values = {n: "100" if method.inputs[n].kind == "binary" else "1" for n in names}
    raw = csv_file(
        "rudny,2023,doc," + ",".join(values.values()), header="town,year,source," + ",".join(names)
    )
    assert {r.input for r in read_values(raw, "all.csv", method, town_id)} == set(names)
    text = problems(
        csv_file("rudny,2023,doc,100", header="town,year,source,aggl_in_fua"),
        "d.csv",
        method,
        town_id,
    )
    assert "column 'aggl_in_fua': value 'aggl_in_fua': is derived from the road network" in text


@pytest.mark.parametrize(
    "cell,rule",
    [
        ("NaN", "not a finite number"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("1e400", "not a finite number"),
        ('"1 000"', "not a plain number"),
        ('"12,5"', "not a plain number"),
        ('"1,000"', "not a plain number"),
        ("1_0", "not a plain number"),
        ("0x10", "not a plain number"),
        ("12.5%", "not a plain number"),
        ("abc", "text in a numeric column"),
        ("150", "out of range; allowed: 0 to 100 (%)"),
        ("-1", "out of range; allowed: 0 to 100 (%)"),
        ("１２", "not a plain number"),
    ],
)
def test_csv_number_defects(method, town_id, cell, rule):
    text = problems(csv_file(f"Rudny,2023,doc,{cell},30"), "bad.csv", method, town_id)
    assert (
        f"bad.csv, row 2, column 'mono_output_share': value '{cell.strip(chr(34))}': {rule}" in text
    )


@pytest.mark.parametrize(
    "cell,rule",
    [
        ("=1+1", "a formula cell"),
        ("=SUM(D3:D4)", "a formula cell"),
        ("70", "text in a numeric column"),
        ("1 000", "text in a numeric column"),
        (True, "a bool cell"),
        (150, "out of range"),
        ("#DIV/0!", "an error cell"),
    ],
)
def test_xlsx_cell_defects(method, town_id, cell, rule):
    raw = xlsx_file(["Rudny", 2023, "doc", cell, 30])
    text = problems(raw, "bad.xlsx", method, town_id)
    assert "bad.xlsx, row 2, column 'mono_output_share'" in text and rule in text, text


def _patched_xlsx(value: bytes) -> bytes:
    """A workbook whose mono_output_share cell holds ``value`` as written in the XML (what openpyxl
    never writes)."""
    import zipfile

    src, out = (
        zipfile.ZipFile(io.BytesIO(xlsx_file(["Rudny", 2023, "doc", 12345, 30]))),
        io.BytesIO(),
    )
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, data.replace(b"<v>12345</v>", b"<v>" + value + b"</v>"))
    return out.getvalue()


@pytest.mark.parametrize(
    "value,rule",
    [
        (b"1e999", "not a finite number"),
        (b"-1e999", "not a finite number"),
        (b"inf", "not a readable XLSX"),
        (b"NaN", "not a readable XLSX"),
    ],
)
def test_xlsx_non_finite_numbers(method, town_id, value, rule):
    assert rule in problems(_patched_xlsx(value), "nf.xlsx", method, town_id)


def test_a_number_is_typed_in_xlsx_and_plain_in_csv(method):
    spec = method.inputs["mono_output_share"]
    assert stats_io.parse_number(stats_io.Cell("raw", "70"), spec) == (70.0, None)
    assert stats_io.parse_number(stats_io.Cell("number", 70), spec) == (70.0, None)
    assert "text in a numeric column" in stats_io.parse_number(stats_io.Cell("text", "70"), spec)[1]


@pytest.mark.parametrize(
    "header,rule",
    [
        (
            "town,year,source,mono_output_share,mono_output_share",
            "column 'mono_output_share': value 'mono_output_share': duplicate column",
        ),
        ("town,year,source,population", "column 'population': value 'population': unknown column"),
        ("year,source,mono_output_share", "column 'town': required column is missing"),
        ("town,year,mono_output_share", "column 'source': required column is missing"),
        ("town,source,mono_output_share", "give exactly one of the columns 'year' and 'period'"),
        (
            "town,year,period,source,mono_output_share",
            "give exactly one of the columns 'year' and 'period'",
        ),
        ("town,year,source", "no input column"),
        ("town,year,source,,mono_output_share", "a column without a name"),
        ("Town,year,source,mono_output_share", "column 'Town': value 'Town': unknown column"),
    ],
)
def test_wrong_columns(method, town_id, header, rule):
    n = header.count(",") + 1
    row = ",".join(["Rudny", "2023", "doc", "50", "50"][:n])
    assert rule in problems(csv_file(row, header=header), "h.csv", method, town_id)


def test_row_defects_all_listed_together(method, town_id):
    raw = csv_file(
        "Rudny,2023,doc,70,30",
        "Rudny,2023,doc,70,30",  # the same row again
        "rudny,2023,other doc,71,",  # the same town, period and input from another source
        "Atlantis,2023,doc,50,50",
        ",2023,doc,50,50",
        "Ekibastuz,,doc,50,50",
        "Ekibastuz,2023,,50,50",
        "Kentau,2023,doc,,",
        "Khromtau,2023,doc,50,50,99",
    )
    text = problems(raw, "rows.csv", method, town_id)
    for expected in [
        "row 3: duplicate row: the same as row 2",
        (
            "row 4, column 'mono_output_share': value '71': duplicate: town 'rudny', period '2023'"
            " already has this input in row 2"
        ),
        "row 5, column 'town': value 'Atlantis': not one of the 27 monotowns",
        "row 6, column 'town': value '': not one of the 27 monotowns",
        "row 7, column 'year': value '': required: a year or a period",
        "row 8, column 'source': value '': required: a document and its year",
        "row 9: no input value in this row",
        "row 10: more cells than the 5 named columns",
    ]:
        assert f"rows.csv, {expected}" in text, expected


def test_counts_above_totals_and_negative_sums(method, town_id):
    raw = csv_file(
        "Rudny,2023,doc,5,3,-60,10",
        header=(
            "town,year,source,inv_projects_done,inv_projects_done_total,"
            "demo_natural_growth,demo_active_share"
        ),
    )
    text = problems(raw, "x.csv", method, town_id)
    assert (
        "column 'inv_projects_done': value '5': above its total 'inv_projects_done_total' (3)"
        in text
    )
    assert "demo_natural_growth + demo_active_share is negative" in text
    assert "whole number" in problems(
        csv_file(
            "Rudny,2023,doc,2.5,10",
            header="town,year,source,inv_projects_done,inv_projects_done_total",
        ),
        "x.csv",
        method,
        town_id,
    )


@pytest.mark.parametrize(
    "raw,name,rule",
    [
        (b"", "e.csv", "the file is empty"),
        (b"\n\n  \n", "e.csv", "the file is empty"),
        (b"town,year,source,mono_output_share\n", "h.csv", "no data rows"),
        (xlsx_file(), "e.xlsx", "no data rows"),
        (
            "town,year,source,mono_output_share\nRudny,2023,doc,5\n".encode("utf-16"),
            "u.csv",
            "not UTF-8",
        ),
        (b"not a workbook", "x.xlsx", "not an XLSX workbook"),
        (b"PK\x03\x04broken", "x.xlsx", "not an XLSX workbook"),
        (b'town,year,source,mono_output_share\n"Rudny,2023,doc,5\n', "q.csv", "not a readable CSV"),
    ],
)
def test_empty_unreadable_files(method, town_id, raw, name, rule):
    assert rule in problems(raw, name, method, town_id)


def test_huge_files(method, town_id, monkeypatch):
    big = csv_file(*["Rudny,2023,doc,50,50"] * 60_000)
    assert len(big) > stats_io.MAX_BYTES
    assert f"limit {stats_io.MAX_BYTES}" in problems(big, "big.csv", method, town_id)
    many = csv_file(*[f"Rudny,{1000 + i},doc,50,50" for i in range(stats_io.MAX_ROWS + 1)])
    assert "more than 2000 data rows" in problems(many, "many.csv", method, town_id)
    monkeypatch.setattr(stats_io, "MAX_XLSX_UNZIPPED", 1000)
    assert "unpacks to" in problems(
        xlsx_file(["Rudny", 2023, "doc", 5, 5]), "bomb.xlsx", method, town_id
    )


def test_report_is_capped(method, town_id):
    raw = csv_file(*[f"Atlantis,{2000 + i},doc,500,500" for i in range(300)])
    with pytest.raises(StatsFileError) as exc:
        read_values(raw, "many.csv", method, town_id)
    assert len(exc.value.items) == 900 and len(exc.value.problems) == stats_io.MAX_PROBLEMS + 1
    assert exc.value.problems[-1] == "many.csv: ... and 800 more problem(s) not listed"


def test_templates_list_columns_units_ranges_and_import_as_empty(method, town_id):
    rows = list(csv.reader(io.StringIO(template_csv(method))))
    names = importable(method)
    assert rows[0] == ["town", "year", "source", "note", *names]
    assert (
        rows[1][0] == "#unit"
        and rows[1][4] == "%"
        and rows[2][0] == "#allowed"
        and rows[2][4] == "0 to 100 (%)"
    )
    assert "no data rows" in problems(
        template_csv(method).encode(), "template.csv", method, town_id
    )
    wb = load_workbook(io.BytesIO(template_xlsx(method)), read_only=True)
    values = [[c.value for c in r] for r in wb["values"].iter_rows()]
    cols = [[c.value for c in r] for r in wb["columns"].iter_rows()]
    wb.close()
    assert values[0][4:] == names and values[2][4] == "0 to 100 (%)"
    assert [
        "special_raw_materials",
        "curated",
        "0 or 100",
        "0 or 100",
        "raw-material reserve base",
    ] in cols
    assert not any(c[0] == "special_tourism" for c in cols)  # derived from the tourism-site layer
    assert "no data rows" in problems(template_xlsx(method), "template.xlsx", method, town_id)
    filled = (
        template_csv(method)
        + ",".join(["Rudny", "2023", "doc", ""] + [""] * (len(names) - 1) + ["100"])
        + "\n"
    )
    assert [(r.input, r.value) for r in read_values(filled.encode(), "f.csv", method, town_id)] == [
        ("special_raw_materials", 100.0)
    ]


def test_a_semicolon_csv_from_excel_with_decimal_commas(method, town_id):
    """Excel with Russian or Kazakh settings saves ';' and decimal commas (issue 23, item 6): read
    as such; a comma that is not between digits stays a defect."""
    raw = (
        "\ufefftown;year;source;mono_output_share;mono_employment_share\nРудный;2023;Отчёт акимата,"
        " 2024;70,5;30\n"
    )
    rows = read_values(raw.encode("utf-8"), "s.csv", method, town_id)
    got = {r.input: (r.value, r.source) for r in rows}
    assert got == {
        "mono_output_share": (70.5, "Отчёт акимата, 2024"),
        "mono_employment_share": (30.0, "Отчёт акимата, 2024"),
    }
    bad = "town;year;source;mono_output_share\nRudny;2023;doc;1,000,5\n".encode()
    assert "not a plain number" in problems(bad, "s.csv", method, town_id)
    comma = csv_file('Rudny,2023,doc,"12,5",1')  # a comma file keeps refusing a decimal comma
    assert "not a plain number" in problems(comma, "s.csv", method, town_id)
