"""The operators file as `ivr-survey operators import` reads it: what Excel writes in either locale, and each
fault named with its line."""

from __future__ import annotations

import pytest

from ivr_survey.db.operators import OperatorRow
from ivr_survey.service.roster import RosterError, decode, parse


def test_excel_in_a_russian_locale_bom_semicolons_crlf() -> None:
    raw = 'id;name;team\r\n7001;Анна Смирнова;Продажи\r\n7002;"Miller; John";Support\r\n7003;;\r\n;;\r\n'.encode(
        "utf-8-sig"
    )
    assert parse(decode(raw)) == [
        OperatorRow("7001", "Анна Смирнова", "Продажи"),
        OperatorRow("7002", "Miller; John", "Support"),
        OperatorRow("7003", None, None),  # blank: cleared
    ]


def test_commas_any_column_order_and_case_other_columns_ignored() -> None:
    text = '\n Team ,ID,phone,Name\nSupport, 7001 ,+7 999,"Smith, Anna"\n\n,7002,,\r'
    assert parse(text) == [OperatorRow("7001", "Smith, Anna", "Support"), OperatorRow("7002", None, None)]


def test_only_a_header_is_no_operators() -> None:
    assert parse("id,name,team\n") == []


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "the file is empty; it needs a header line: id,name,team"),
        ("\n \n", None, "the file is empty; it needs a header line: id,name,team"),
        ("id,name\n7001,Anna\n", 1, "the header must name the columns id, name and team; missing: team"),
        ("code;name;group\n", 1, "the header must name the columns id, name and team; missing: id, team"),
        ("id,name,team,name\n", 1, "the header names the column name twice"),
        ("id,name,team\n7001,Anna,Sales\n ,Bob,Sales\n", 3, "id is empty"),
        ("id;name;team\n7001;A;S\n7002;B;S\n7001;C;S\n", 4, "id 7001 is given again (first on line 2)"),
        ("id,name,team\n7001,Smith, Anna,Sales\n", 2, "4 cells where the header has 3; quote a value holding ','"),
        ("id,name,team\n7001,Anna\n", 2, "2 cells where the header has 3; quote a value holding ','"),
        (f"id,name,team\n{'7' * 65},A,S\n", 2, "id is longer than 64 characters"),
        (f"id,name,team\n7001,{'A' * 201},S\n", 2, "name is longer than 200 characters"),
        (f"id,name,team\n7001,A,{'S' * 101}\n", 2, "team is longer than 100 characters"),
        ('id,name,team\n7001,A,S\n7002,"Anna\nSmith",S\n', 3, "name must not contain control characters"),
        ("id,name,team\n7001,A\tB,S\n", 2, "name must not contain control characters"),
        ('id,name,team\n7001,A,S\n7002,"Anna,S\n', 3, "not valid CSV: unexpected end of data"),
        ('id,name,team\n7001,"A"x,S\n', 2, "not valid CSV: ',' expected after '\"'"),
    ],
)
def test_a_faulty_file_is_refused_naming_the_line(text: str, line: int | None, message: str) -> None:
    with pytest.raises(RosterError) as refused:
        parse(text)
    assert (refused.value.line, refused.value.message) == (line, message)


def test_not_utf8_names_the_line() -> None:
    raw = "id;name;team\n7001;Anna;Sales\n7002;Иван;Продажи\n".encode("cp1251")
    with pytest.raises(RosterError) as refused:
        decode(raw)
    assert refused.value.where("ops.csv") == "ops.csv:3: not UTF-8 text; save the file as CSV UTF-8"
