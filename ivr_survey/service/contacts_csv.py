"""The contacts file a campaign is given (POST /campaigns/{id}/contacts): a header naming a `phone` column and
optionally `name`, `operator` (the manager the customer belongs to) and `timezone` (the customer's own, for the
calling hours), any case, any order; every other column is kept as the contact's tags under its lower-cased
name. What Excel writes in either locale is read: UTF-8 with or without a BOM, else Windows-1251; cells
separated by commas or semicolons (whichever makes the header name a phone column); quoted values, which may
span lines.

A bad row is rejected with its line (the physical line it starts on; the header is line 1 when nothing is
above it) and a short reason naming the column, and the good rows are kept; only a fault of the whole file
(no header, no phone column, not text, too many rows) raises ContactsError."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..db.operators import MAX_CODE, MAX_NAME, label_problem
from .args import arg_problem
from .phones import PhoneError, normalize_phone

PHONE = "phone"
_LIMITS = {"name": MAX_NAME, "operator": MAX_CODE}
MAX_TAG = 500
_SPACES = str.maketrans("\t\r\n", "   ")
_DELIMITERS = (",", ";")
_SHOWN = 40  # characters of a refused value repeated in its reason


class ContactsError(ValueError):
    """A fault of the whole file: nothing of it is taken."""


@dataclass(frozen=True, slots=True)
class ContactRow:
    line: int
    phone: str  # normalised (service.phones)
    name: str | None = None
    operator: str | None = None
    timezone: str | None = None  # a zone zoneinfo knows
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ContactsFile:
    contacts: list[ContactRow]
    rejected: list[RejectedRow]
    duplicates: int  # rows whose normalised phone an earlier row already had


def parse_contacts(data: bytes, *, default_country: str | None, max_rows: int = 100_000) -> ContactsFile:
    """The file's contacts in its order, the rows refused and how many repeated an earlier phone (the first
    wins). `max_rows` counts every row but blank ones, refused rows too."""
    source = io.StringIO(_decode(data), newline="")  # lines end at \n, \r\n or \r, as Excel's do
    header_line = 0
    for first in source:
        header_line += 1
        if first.strip():  # blank lines above the header are skipped
            break
    else:
        raise ContactsError("the file is empty; it needs a header line naming a phone column")
    delimiter, names = _header(first)
    contacts: list[ContactRow] = []
    rejected: list[RejectedRow] = []
    seen: set[str] = set()
    duplicates = rows = 0
    for line, record in _records(source, delimiter, header_line):
        if isinstance(record, list) and not any(c.strip() for c in record):  # a blank line, or empty cells (";;")
            continue
        rows += 1
        if rows > max_rows:
            raise ContactsError(f"more than {max_rows} rows; split the file")
        row = record if isinstance(record, str) else _row(line, names, record, default_country)
        if isinstance(row, str):
            rejected.append(RejectedRow(line, row))
        elif row.phone in seen:
            duplicates += 1
        else:
            seen.add(row.phone)
            contacts.append(row)
    return ContactsFile(contacts, rejected, duplicates)


def _decode(data: bytes) -> str:
    if b"\x00" in data:  # UTF-16 (Excel's "Unicode text") or not text at all
        raise ContactsError("not CSV text (it holds NUL bytes); save the file as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1251")  # Excel's "CSV" in a Russian locale
        except UnicodeDecodeError:
            raise ContactsError("neither UTF-8 nor Windows-1251 text; save the file as CSV UTF-8") from None
    return text


def _header(first: str) -> tuple[str, list[str]]:
    """The delimiter and the column names (trimmed, lower-cased; empty ones after the last name dropped, as
    Excel pads a header to its widest row)."""
    found: list[tuple[int, str, list[str]]] = []
    for delimiter in _DELIMITERS:
        try:
            cells = next(csv.reader([first], delimiter=delimiter, strict=True, skipinitialspace=True), [])
        except csv.Error as exc:
            raise ContactsError(f"the header is not valid CSV: {exc}") from None
        names = [c.strip().lower() for c in cells]
        if PHONE in names:
            found.append((len(names), delimiter, names))
    if not found:
        raise ContactsError("the header has no phone column")
    _, delimiter, names = max(found)  # both name it only when there is one column: either delimiter will do
    while names and not names[-1]:
        names.pop()
    for n, name in enumerate(names, start=1):
        if not name:
            raise ContactsError(f"column {n} of the header has no name")
        if names.index(name) != n - 1:
            raise ContactsError(f'the header names the column "{name}" twice')
    return delimiter, names


def _records(source: io.StringIO, delimiter: str, header_line: int) -> Iterator[tuple[int, list[str] | str]]:
    """Each row below the header with the line it starts on (a quoted value may span lines): its cells, or
    why it is not CSV. The reader goes on with the next line after a fault."""
    reader = csv.reader(source, delimiter=delimiter, strict=True, skipinitialspace=True)
    end = header_line  # the line the previous row ended on
    while True:
        try:
            record: list[str] | str = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record = _csv_problem(exc)
        line, end = end + 1, header_line + reader.line_num
        yield line, record


def _csv_problem(exc: csv.Error) -> str:
    if str(exc) == "unexpected end of data":
        return "a quote opened here is never closed; the rest of the file was read as this row"
    return f"not valid CSV: {exc}"


def _shown(value: str) -> str:
    return f'"{value}"' if len(value) <= _SHOWN else f'"{value[: _SHOWN - 1]}…"'


def _row(line: int, names: list[str], cells: list[str], default_country: str | None) -> ContactRow | str:
    """The row as a contact, or the reason it is refused."""
    filled = max((n for n, cell in enumerate(cells, start=1) if cell.strip()), default=0)
    if filled > len(names):
        return f"{filled} fields, the header has {len(names)}"
    values = {name: cell.strip() for name, cell in zip(names, cells, strict=False) if cell.strip()}
    try:
        phone = normalize_phone(values.get(PHONE, ""), default_country)
    except PhoneError as exc:
        return f"{PHONE}: {exc}"
    for column, value in values.items():
        if column == PHONE:
            continue
        limit = _LIMITS.get(column)
        # name and operator are one line of text; a tag may hold line breaks and tabs (a note typed in Excel)
        problem = label_problem(value, limit) if limit else label_problem(value.translate(_SPACES), MAX_TAG)
        if problem is not None:
            return f"{column}: {problem}"
    operator = values.get("operator")
    if operator is not None and (problem := arg_problem(operator)) is not None:
        # it travels to the survey as a Stasis argument, which these characters would break
        return f"operator: {_shown(operator)} is not an operator's id (like 7001): {problem}"
    timezone = values.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return f"timezone: {_shown(timezone)} is not a known time zone (e.g. Europe/Moscow)"
    return ContactRow(
        line=line,
        phone=phone,
        name=values.get("name"),
        operator=operator,
        timezone=timezone,
        tags={k: v for k, v in values.items() if k not in (PHONE, "name", "operator", "timezone")},
    )
