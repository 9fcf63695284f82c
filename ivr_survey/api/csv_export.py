"""CSV exports of a list endpoint's whole query, streamed row by row: a year of data in constant memory."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import Field

from .params import Query, one_of

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection). Caller IDs are
# set by whoever calls in, so every text cell that does is prefixed with ' - unless it is just a number.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")  # e.g. +79161234567, -3.5: read as a number, not run


class Format(Query):
    format: Annotated[str | None, one_of(("json", "csv"))] = Field(None, description="json (default) or csv")


def wants_csv(request: web.Request, query: Format) -> bool:
    """`format=csv`, or `Accept: text/csv` without a format."""
    if query.format is not None:
        return query.format == "csv"
    return "text/csv" in request.headers.get("Accept", "")


def cell(value: object) -> str:
    """A value as its CSV cell: empty for None, true/false for booleans, numbers as Python writes them, times in
    ISO 8601, and
    text that a spreadsheet would run as a formula prefixed with '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):  # as the JSON answers write it: 2026-11-20T10:00:00+00:00
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _line(values: Sequence[object]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([cell(v) for v in values])
    return buffer.getvalue().encode()


async def stream_csv(
    request: web.Request, filename: str, columns: Sequence[str], rows: AsyncIterator[Sequence[object]]
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"'}
    )
    # The first row is read before anything is sent, so that a database that is down is still an error
    # response (503), not a 200 cut short.
    first = await anext(rows, None)
    await response.prepare(request)
    try:
        await response.write(_line(columns))
        if first is not None:
            await response.write(_line(first))
            async for row in rows:
                await response.write(_line(row))
    except Exception:
        # The 200 and part of the file are sent: no error response can follow. Cutting the connection shows
        # the client a download cut short, instead of one that waits forever; the error middleware logs why.
        if request.transport is not None:
            request.transport.close()
        raise
    await response.write_eof()
    return response
