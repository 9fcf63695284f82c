"""A campaign's contacts file as POST /campaigns/{id}/contacts reads it: what Excel writes in either locale,
bad rows named by their line while the good ones are kept, and the faults that refuse the whole file."""

from __future__ import annotations

import pytest

from ivr_survey.service.contacts_csv import ContactRow, ContactsError, ContactsFile, RejectedRow, parse_contacts


def parse(text: str, country: str | None = "RU", **options: int) -> ContactsFile:
    return parse_contacts(text.encode(), default_country=country, **options)


def test_excel_in_a_russian_locale_windows_1251_semicolons_crlf() -> None:
    raw = (
        "Телефон;Phone;Name;Operator;TimeZone;Город\r\n"
        "x;8 (916) 123-45-67;Анна Смирнова;7001;Asia/Yekaterinburg;Екатеринбург\r\n"
        'y;+7 916 765 43 21;"Иванов; Иван";;;\r\n'
        ";;;;;\r\n"
    ).encode("cp1251")
    assert parse_contacts(raw, default_country="RU") == ContactsFile(
        contacts=[
            ContactRow(
                2,
                "+79161234567",
                "Анна Смирнова",
                "7001",
                "Asia/Yekaterinburg",
                {"телефон": "x", "город": "Екатеринбург"},
            ),
            ContactRow(3, "+79167654321", "Иванов; Иван", None, None, {"телефон": "y"}),
        ],
        rejected=[],
        duplicates=0,
    )


def test_utf8_with_a_bom_commas_any_order_and_case() -> None:
    raw = '\ufeff Name ,PHONE,segment\n"Smith, Anna",+1 202 555 0123,vip\nBob,9161234567,\n'.encode()
    assert parse_contacts(raw, default_country="RU") == ContactsFile(
        contacts=[
            ContactRow(2, "+12025550123", "Smith, Anna", None, None, {"segment": "vip"}),
            ContactRow(3, "+79161234567", "Bob", None, None, {}),
        ],
        rejected=[],
        duplicates=0,
    )


def test_without_a_default_country_numbers_are_digits() -> None:
    assert parse("phone\n8 (916) 123-45-67\n+49 30 1234567\n101\n", country=None).contacts == [
        ContactRow(2, "89161234567"),
        ContactRow(3, "+49301234567"),
        ContactRow(4, "101"),
    ]


def test_lines_are_physical_lines_blank_ones_skipped_quoted_values_spanning_lines() -> None:
    text = (
        "\n"  # line 1: blank above the header
        "phone,name,note\n"  # line 2: the header
        "9161234501,Anna,one\n"  # 3
        "\n"  # 4
        '9161234502,Bob,"two\r\nlines"\n'  # 5-6
        "abc,Carl,\n"  # 7
        "  ,,\n"  # 8: nothing in it
        "9161234503,Dan,\r"  # 9, a lone CR ends it as Excel for the Mac wrote
        "9161234504,Eve,\r\n"  # 10
        "xyz,Fay,"  # 11, no line break at the end
    )
    assert parse(text) == ContactsFile(
        contacts=[
            ContactRow(3, "+79161234501", "Anna", None, None, {"note": "one"}),
            ContactRow(5, "+79161234502", "Bob", None, None, {"note": "two\r\nlines"}),
            ContactRow(9, "+79161234503", "Dan"),
            ContactRow(10, "+79161234504", "Eve"),
        ],
        rejected=[
            RejectedRow(7, 'phone: "abc" is not a phone number'),
            RejectedRow(11, 'phone: "xyz" is not a phone number'),
        ],
        duplicates=0,
    )


def test_duplicates_the_first_wins() -> None:
    text = "phone,name\n8 916 123-45-67,first\n+79161234567,second\nabc,bad\n89161234567,third\n9161234568,other\n"
    result = parse(text)
    assert result.contacts == [ContactRow(2, "+79161234567", "first"), ContactRow(6, "+79161234568", "other")]
    assert (result.duplicates, result.rejected) == (2, [RejectedRow(4, 'phone: "abc" is not a phone number')])


def test_excel_padding_empty_cells_beyond_the_header_are_ignored() -> None:
    # Excel writes every row as wide as the widest: trailing empty cells, in the header too
    text = "phone;name;;\r\n9161234567;Anna;;\r\n9161234568;;;\r\n9161234569;Bob;;late\r\n"
    assert parse(text) == ContactsFile(
        contacts=[ContactRow(2, "+79161234567", "Anna"), ContactRow(3, "+79161234568")],
        rejected=[RejectedRow(4, "4 fields, the header has 2")],
        duplicates=0,
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("abc,Anna,,", 'phone: "abc" is not a phone number'),
        (",Anna,,", "phone: empty"),
        ("123,Anna,,", 'phone: "123" is too short'),
        ("7.91612E+10,Anna,,", 'phone: "7.91612E+10" is a number a spreadsheet rounded; format the column as text'),
        (f"{'x' * 100},,,", f'phone: "{"x" * 39}…" is not a phone number'),
        ("9161234567,Anna,7001,Mars/Base", 'timezone: "Mars/Base" is not a known time zone (e.g. Europe/Moscow)'),
        (
            "9161234567,Anna,7001,europe/moscow",
            'timezone: "europe/moscow" is not a known time zone (e.g. Europe/Moscow)',
        ),
        (
            "9161234567,Anna,7001,../../etc/passwd",
            'timezone: "../../etc/passwd" is not a known time zone (e.g. Europe/Moscow)',
        ),
        (f"9161234567,Anna,7001,{'Z' * 50}", f'timezone: "{"Z" * 39}…" is not a known time zone (e.g. Europe/Moscow)'),
        (f"9161234567,{'n' * 201},,", "name: is longer than 200 characters"),
        (f"9161234567,,{'7' * 65},", "operator: is longer than 64 characters"),
        ('9161234567,"Anna\nSmith",,', "name: must not contain control characters"),
        ("9161234567,Anna\t,7001\u0007,", "operator: must not contain control characters"),
        ("9161234567,Anna,,,extra", "5 fields, the header has 4"),
        ("9161234567,Anna,,,,,,x,,", "8 fields, the header has 4"),
        ('9161234567,"Anna"Smith,,', "not valid CSV: ',' expected after '\"'"),
    ],
)
def test_a_bad_row_is_rejected_by_line_and_the_rest_kept(row: str, reason: str) -> None:
    result = parse(f"phone,name,operator,timezone\n9161234500,ok,,\n{row}\n9161234599,ok too,,\n")
    assert result == ContactsFile(
        contacts=[ContactRow(2, "+79161234500", "ok"), ContactRow(4 + row.count("\n"), "+79161234599", "ok too")],
        rejected=[RejectedRow(3, reason)],
        duplicates=0,
    )


def test_limits_of_name_operator_and_tags_are_inclusive_a_tag_may_hold_line_breaks() -> None:
    text = (
        f"phone,name,operator,note\n9161234567,{'n' * 200},{'7' * 64},{'t' * 500}\n"
        f"9161234568,,,{'t' * 501}\n"
        '9161234569,,,"call after 18:00\r\n\tnot on Fridays"\n'
        "9161234570,,,\u0007\n"
    )
    assert parse(text) == ContactsFile(
        contacts=[
            ContactRow(2, "+79161234567", "n" * 200, "7" * 64, None, {"note": "t" * 500}),
            ContactRow(4, "+79161234569", None, None, None, {"note": "call after 18:00\r\n\tnot on Fridays"}),
        ],
        rejected=[
            RejectedRow(3, "note: is longer than 500 characters"),
            RejectedRow(6, "note: must not contain control characters"),
        ],
        duplicates=0,
    )


def test_values_are_trimmed_and_empty_ones_are_none_or_left_out() -> None:
    text = 'phone, name , operator ,timezone, city , note\n 9161234567 ,  , 7001 , Europe/Berlin , " Berlin ",\n'
    assert parse(text).contacts == [ContactRow(2, "+79161234567", None, "7001", "Europe/Berlin", {"city": "Berlin"})]


def test_a_quote_never_closed_is_one_rejected_row() -> None:
    text = 'phone,name\n9161234567,Anna\n9161234568,"Bob\n9161234569,Carl\n'
    assert parse(text) == ContactsFile(
        contacts=[ContactRow(2, "+79161234567", "Anna")],
        rejected=[RejectedRow(3, "a quote opened here is never closed; the rest of the file was read as this row")],
        duplicates=0,
    )


def test_a_row_after_bad_quoting_is_read_again() -> None:
    text = 'phone;name\n9161234567;"Anna"x\n9161234568;Bob\n'
    assert parse(text) == ContactsFile(
        contacts=[ContactRow(3, "+79161234568", "Bob")],
        rejected=[RejectedRow(2, "not valid CSV: ';' expected after '\"'")],
        duplicates=0,
    )


def test_only_a_header_is_no_contacts() -> None:
    assert parse("phone,name\r\n\r\n") == ContactsFile([], [], 0)


def test_max_rows_counts_every_row_but_blank_ones() -> None:
    text = "phone\n9161234501\n\n;\nabc\n9161234501\n"  # three rows: one good, one bad, one duplicate
    assert parse(text, max_rows=3) == ContactsFile(
        [ContactRow(2, "+79161234501")], [RejectedRow(5, 'phone: "abc" is not a phone number')], 1
    )
    with pytest.raises(ContactsError) as refused:
        parse(text, max_rows=2)
    assert str(refused.value) == "more than 2 rows; split the file"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the file is empty; it needs a header line naming a phone column"),
        (b"\xef\xbb\xbf", "the file is empty; it needs a header line naming a phone column"),
        (b"\r\n \n\t\n", "the file is empty; it needs a header line naming a phone column"),
        (b"name,number\n", "the header has no phone column"),
        (b"9161234567\n9161234568\n", "the header has no phone column"),
        ("телефон;имя\n".encode("cp1251"), "the header has no phone column"),
        (b"phones,name\n", "the header has no phone column"),
        (b"phone,name,Phone\n", 'the header names the column "phone" twice'),
        (b"phone,name,, note\n", "column 3 of the header has no name"),
        (b'phone,"name\n', "the header is not valid CSV: unexpected end of data"),
        ("phone\n".encode("utf-16"), "not CSV text (it holds NUL bytes); save the file as CSV UTF-8"),
        (b"phone\n\x00\n", "not CSV text (it holds NUL bytes); save the file as CSV UTF-8"),
        (b"phone\n\x98\xff\n", "neither UTF-8 nor Windows-1251 text; save the file as CSV UTF-8"),
    ],
)
def test_a_fault_of_the_whole_file(raw: bytes, message: str) -> None:
    with pytest.raises(ContactsError) as refused:
        parse_contacts(raw, default_country="RU")
    assert str(refused.value) == message


def test_a_contacts_error_is_a_value_error() -> None:
    assert issubclass(ContactsError, ValueError)


def test_an_operator_the_survey_could_not_be_told_is_refused_by_line() -> None:
    parsed = parse_contacts(b"phone,operator\n+79161234567,Petrov (sales)\n+79161234568,7001\n", default_country=None)
    assert [(row.line, row.operator) for row in parsed.contacts] == [(3, "7001")]
    assert [(row.line, row.reason) for row in parsed.rejected] == [
        (2, 'operator: "Petrov (sales)" is not an operator\'s id (like 7001): it holds one of ,="\\()[]')
    ]
