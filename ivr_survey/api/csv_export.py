"""CSV exports of a list endpoint's whole query, streamed row by row: a year of data in constant memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from . import params


def wants_csv(request: web.Request) -> bool:
    """`format=csv`, or `Accept: text/csv` without a format."""
    fmt = params.choice(request.query, "format", ("json", "csv"))
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("Accept", "")


def _line(values: Sequence[object]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue().encode()


async def stream_csv(
    request: web.Request, filename: str, columns: Sequence[str], rows: AsyncIterator[Sequence[object]]
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"'}
    )
    await response.prepare(request)
    await response.write(_line(columns))
    async for row in rows:
        await response.write(_line(row))
    await response.write_eof()
    return response
