"""Customers' phone numbers as a campaign stores, dials and compares them (the do-not-call list too).

With a default country (IVR_SURVEY_DEFAULT_COUNTRY, e.g. RU) every number becomes E.164 (`8 (916) 123-45-67`
-> `+79161234567`), refused if phonenumbers calls it impossible; possible is enough, since test ranges and new
blocks are not `valid`. Without one, a number written with `+` still becomes E.164 and any other is kept as
its digits, as the trunk expects them."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

MIN_DIGITS = 3  # an internal extension
MAX_DIGITS = 20
_SHOWN = 40  # characters of a refused value repeated in its error
# digits with the separators people and spreadsheets write (NBSP included), a + only in front
_WRITTEN = re.compile(r"\+?[0-9\s().\-/]*")
# what a spreadsheet shows for a long number in a cell formatted as a number: 7.91612E+10, 7,91612E+10
_ROUNDED = re.compile(r"[0-9]+([.,][0-9]+)?[eE]\+[0-9]+")

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "has an unknown country code",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    NumberParseException.TOO_SHORT_NSN: "is too short",
    NumberParseException.TOO_LONG: "is too long",
}
_IMPOSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    ValidationResult.TOO_SHORT: "is too short",
    ValidationResult.TOO_LONG: "is too long",
    ValidationResult.INVALID_LENGTH: "has a length no number of its country has",
    # possible only when dialled inside its own area: the area code is missing, and E.164 would be wrong
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "is a local number; add the area code",
}


class PhoneError(ValueError):
    """A refused number; the message reads after `phone: ` (`phone: "abc" is not a phone number`)."""


def _refused(raw: str, reason: str) -> PhoneError:
    shown = raw if len(raw) <= _SHOWN else raw[: _SHOWN - 1] + "…"
    return PhoneError(f'"{shown}" {reason}')


def normalize_phone(raw: str, default_country: str | None) -> str:
    """The number as it is stored and dialled: E.164, or digits only without a default country (unless written
    with `+`). Raises PhoneError saying why not."""
    written = raw.strip()
    if not written:
        raise PhoneError("empty")
    if _ROUNDED.fullmatch(written):
        raise _refused(written, "is a number a spreadsheet rounded; format the column as text")
    if not _WRITTEN.fullmatch(written) or not any(c.isdigit() for c in written):
        raise _refused(written, "is not a phone number")
    if default_country is None and not written.startswith("+"):
        digits = re.sub(r"[^0-9]", "", written)
        if len(digits) < MIN_DIGITS:
            raise _refused(written, f"is too short (fewer than {MIN_DIGITS} digits)")
        if len(digits) > MAX_DIGITS:
            raise _refused(written, f"is too long (more than {MAX_DIGITS} digits)")
        return digits
    try:
        number = phonenumbers.parse(written, default_country)
    except NumberParseException as exc:
        raise _refused(written, _PARSE_REASONS.get(exc.error_type, "is not a phone number")) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        raise _refused(written, _IMPOSSIBLE_REASONS.get(possible, "is not a possible phone number"))
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """A stored number for the logs: the country code and the last 4 digits (`+7******4567`); a number of 4
    digits or fewer after the country code is masked whole."""
    digits = re.sub(r"[^0-9]", "", phone)
    prefix = ""
    if phone.startswith("+"):
        try:
            code = str(phonenumbers.parse(phone, None).country_code)
        except NumberParseException:
            code = ""
        prefix, digits = "+" + code, digits[len(code) :]
    kept = 4 if len(digits) > 4 else 0
    return prefix + "*" * (len(digits) - kept) + digits[len(digits) - kept :]


def mask_phone_for_people(phone: str, default_country: str | None = None) -> str:
    """A number shown in an alert: grouped as people write it, the country and area codes and the last two digits
    kept (`+7 916 ***-**-67`); one without + is read in the default country; a number phonenumbers cannot read
    (an extension) keeps its last two digits only."""
    try:
        number = phonenumbers.parse(phone, None if phone.startswith("+") else (default_country or "ZZ"))
        written = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        digits = re.sub(r"[^0-9]", "", phone)
        return "*" * max(len(digits) - 2, 0) + digits[-2:]
    head, _, rest = written.partition(" ")  # the country code
    area, _, local = rest.partition(" ")
    if not local:  # no area code group: mask all but the last two digits of the rest
        area, local = "", rest
    total = sum(c.isdigit() for c in local)
    seen = 0
    masked = []
    for c in local:
        if c.isdigit():
            seen += 1
            masked.append(c if seen > total - 2 else "*")
        else:
            masked.append(c)
    return " ".join(part for part in (head, area, "".join(masked)) if part)


def validate_country(code: str) -> str:
    """A default country for the setting: an ISO 3166 alpha-2 code phonenumbers knows, upper-cased."""
    region = code.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise _refused(code, "is not a country code phonenumbers knows (ISO 3166 alpha-2, e.g. RU)")
    return region
