"""Customers' numbers as a campaign stores them: E.164 with a default country, digits (or E.164 for a `+`
number) without one; each refusal says why."""

from __future__ import annotations

import pytest

from ivr_survey.service.phones import PhoneError, mask_phone, normalize_phone, validate_country


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("+7 916 123 45 67", "RU", "+79161234567"),
        ("9161234567", "RU", "+79161234567"),
        ("89161234567", "RU", "+79161234567"),
        ("79161234567", "RU", "+79161234567"),
        (" +7\u00a0916\u00a0123-45-67 ", "RU", "+79161234567"),  # Excel's non-breaking spaces
        ("8.916.123.45.67", "RU", "+79161234567"),
        ("8 (495) 000-00-00", "RU", "+74950000000"),  # a range phonenumbers calls possible, not valid
        ("8 800 555-35-35", "RU", "+78005553535"),
        ("810 49 30 1234567", "RU", "+49301234567"),  # Russia's international prefix
        ("+1 (202) 555-0123", "RU", "+12025550123"),  # another country, written as such
        ("030/1234567", "DE", "+49301234567"),
        ("(202) 555-0123", "US", "+12025550123"),
        ("+49 30 1234567", None, "+49301234567"),  # without a default country: + numbers are E.164 still
        ("+7 (916) 123-45-67", None, "+79161234567"),
        ("8 (916) 123-45-67", None, "89161234567"),  # ... and the rest digits only
        ("101", None, "101"),
        ("0049 30 1234567", None, "0049301234567"),
        ("1" * 20, None, "1" * 20),
    ],
)
def test_normalize_phone(raw: str, country: str | None, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "message"),
    [
        ("", "RU", "empty"),
        ("   ", None, "empty"),
        ("abc", "RU", '"abc" is not a phone number'),
        ("abc", None, '"abc" is not a phone number'),
        ("1-800-FLOWERS", "US", '"1-800-FLOWERS" is not a phone number'),  # letters are refused, vanity too
        ("+7 916 123 45 67 ext. 5", "RU", '"+7 916 123 45 67 ext. 5" is not a phone number'),
        ("++7 916 123 45 67", "RU", '"++7 916 123 45 67" is not a phone number'),
        ("7 916 + 123", None, '"7 916 + 123" is not a phone number'),
        ("#123", None, '"#123" is not a phone number'),
        ("()", None, '"()" is not a phone number'),
        ("+", "RU", '"+" is not a phone number'),
        (
            "7,91612E+10",
            "RU",
            '"7,91612E+10" is a number a spreadsheet rounded; format the column as text',
        ),
        ("7.91612E+10", None, '"7.91612E+10" is a number a spreadsheet rounded; format the column as text'),
        ("123", "RU", '"123" is too short'),
        ("123-45-67", "RU", '"123-45-67" is a local number; add the area code'),
        ("+7 916 123 45 67 89", "RU", '"+7 916 123 45 67 89" has a length no number of its country has'),
        ("8 916 123 45 67 89 01 23 45 67", "RU", '"8 916 123 45 67 89 01 23 45 67" is too long'),
        ("+999 123 456", "RU", '"+999 123 456" has an unknown country code'),
        ("+999 123 456", None, '"+999 123 456" has an unknown country code'),
        ("+7 916", None, '"+7 916" is too short'),
        ("12", None, '"12" is too short (fewer than 3 digits)'),
        ("1" * 21, None, f'"{"1" * 21}" is too long (more than 20 digits)'),
        ("x" * 60, "RU", f'"{"x" * 39}…" is not a phone number'),  # a long value is cut in the message
    ],
)
def test_normalize_phone_refuses(raw: str, country: str | None, message: str) -> None:
    with pytest.raises(PhoneError) as refused:
        normalize_phone(raw, country)
    assert str(refused.value) == message


def test_a_phone_error_is_a_value_error() -> None:
    assert issubclass(PhoneError, ValueError)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+79161234567", "+7******4567"),
        ("+12025550123", "+1******0123"),
        ("+49301234567", "+49*****4567"),
        ("+380441234567", "+380*****4567"),
        ("89161234567", "*******4567"),
        ("12345", "*2345"),
        ("1234", "****"),  # too short to show any of it
        ("101", "***"),
        ("+7 916 123 45 67", "+7******4567"),
        ("+9991234567", "+******4567"),  # no country code phonenumbers knows: none shown
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(("code", "expected"), [("RU", "RU"), ("ru", "RU"), (" de ", "DE"), ("US", "US")])
def test_validate_country(code: str, expected: str) -> None:
    assert validate_country(code) == expected


@pytest.mark.parametrize("code", ["", "XX", "RUS", "001", "UK", "7"])
def test_validate_country_refuses(code: str) -> None:
    with pytest.raises(PhoneError) as refused:
        validate_country(code)
    assert str(refused.value) == f'"{code}" is not a country code phonenumbers knows (ISO 3166 alpha-2, e.g. RU)'
