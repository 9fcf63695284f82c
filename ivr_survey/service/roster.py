"""The operators file `ivr-survey operators import` reads: a header naming id, name and team (any order, any
case, other columns ignored), then one operator a line. UTF-8 with or without a BOM; cells separated by commas
or by semicolons, as Excel writes CSV where the decimal separator is a comma (Russian, German...). A blank name
or team clears it. The whole file is read before anything is stored: the first fault refuses all of it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..db.operators import MAX_CODE, MAX_NAME, MAX_TEAM, OperatorRow, label_problem

COLUMNS = ("id", "name", "team")
_LIMITS = {"id": MAX_CODE, "name": MAX_NAME, "team": MAX_TEAM}
DELIMITERS = (",", ";")


class RosterError(ValueError):
    """A fault of the file, at a line (None: of the whole file)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    def where(self, path: str) -> str:
        return f"{path}:{self.line}: {self.message}" if self.line is not None else f"{path}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Header:
    delimiter: str
    positions: dict[str, int]  # column -> its cell
    width: int  # cells a line has


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RosterError(line, "not UTF-8 text; save the file as CSV UTF-8") from None


def _header(first: str) -> _Header:
    """The header in whichever delimiter makes it name the columns (the one naming more of them, to say which
    are missing)."""
    best: tuple[int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        cells = [c.strip().lower() for c in next(csv.reader([first], delimiter=delimiter), [])]
        found = sum(c in cells for c in COLUMNS)
        if best is None or found > best[0]:
            best = (found, delimiter, cells)
    assert best is not None
    _, delimiter, cells = best
    missing = [c for c in COLUMNS if c not in cells]
    if missing:
        raise RosterError(1, f"the header must name the columns id, name and team; missing: {', '.join(missing)}")
    for column in COLUMNS:
        if cells.count(column) > 1:
            raise RosterError(1, f"the header names the column {column} twice")
    return _Header(delimiter, {c: cells.index(c) for c in COLUMNS}, len(cells))


def _value(column: str, raw: str, line: int) -> str | None:
    value = raw.strip()
    problem = label_problem(value, _LIMITS[column])
    if problem is not None:
        raise RosterError(line, f"{column} {problem}")
    return value or None


def parse(text: str) -> list[OperatorRow]:
    """The operators of the file, in its order. Raises RosterError naming the first faulty line."""
    source = io.StringIO(text.removeprefix("\ufeff"), newline="")  # lines end at \n, \r\n or \r only, as Excel's do
    header_line = 0
    for first in source:
        header_line += 1
        if first.strip():  # blank lines before the header are skipped
            break
    else:
        raise RosterError(None, "the file is empty; it needs a header line: id,name,team")
    header = _header(first)
    reader = csv.reader(source, delimiter=header.delimiter, strict=True)
    rows: list[OperatorRow] = []
    first_seen: dict[str, int] = {}
    end = header_line  # the line the previous record ended on (a quoted value may span lines)
    try:
        for cells in reader:
            line, end = end + 1, header_line + reader.line_num
            if not any(c.strip() for c in cells):  # a blank line, or a line of empty cells (";;")
                continue
            if len(cells) != header.width:
                raise RosterError(
                    line,
                    f"{len(cells)} cells where the header has {header.width}; "
                    f"quote a value holding {header.delimiter!r}",
                )
            code, name, team = (_value(c, cells[header.positions[c]], line) for c in COLUMNS)
            if code is None:
                raise RosterError(line, "id is empty")
            if code in first_seen:
                raise RosterError(line, f"id {code} is given again (first on line {first_seen[code]})")
            first_seen[code] = line
            rows.append(OperatorRow(code, name, team))
    except csv.Error as exc:
        raise RosterError(end + 1, f"not valid CSV: {exc}") from None
    return rows
