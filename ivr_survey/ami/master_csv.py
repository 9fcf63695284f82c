"""Backfilling the call history from cdr_csv's Master.csv, for the calls before the service was installed.

Columns, as cdr_csv writes them: accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
start, answer, end, duration, billsec, disposition, amaflags, then uniqueid (loguniqueid = yes), userfield
(loguserfield = yes), and peeraccount, linkedid, sequence (newcdrcolumns = yes). With the linkedid, a call's
rows are one call; without it each channel's rows are (keyed by uniqueid, else by a hash of the row)."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ..service.naming import OperatorNames
from .cdr import Cdr, digits, from_cdrs, parse_time

BASE_COLUMNS = 16
_UNIQUEID = re.compile(r"^\d+\.\d+$")


@dataclass
class Parsed:
    calls: list[dict[str, Any]] = field(default_factory=list)  # save_call keyword arguments
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def _row_key(row: list[str]) -> tuple[str | None, str | None]:
    """(linkedid, uniqueid) when the file has them."""
    extra = row[BASE_COLUMNS:]
    linkedid = extra[-2] if len(extra) >= 4 and extra[-2] else None
    uniqueid = extra[0] if extra and _UNIQUEID.match(extra[0]) else None
    return linkedid, uniqueid


def parse(lines: Iterable[str], names: OperatorNames, tz: ZoneInfo) -> Parsed:
    parsed = Parsed()
    groups: dict[str, list[Cdr]] = defaultdict(list)
    for number, row in enumerate(csv.reader(line.replace("\0", "") for line in lines), start=1):
        if not row or not any(row):
            continue
        if len(row) < BASE_COLUMNS:
            parsed.rejected.append((number, f"{len(row)} columns, cdr_csv writes at least {BASE_COLUMNS}"))
            continue
        start = parse_time(row[9], tz)
        if start is None:
            parsed.rejected.append((number, f"start {row[9][:40]!r} is not a time"))
            continue
        linkedid, uniqueid = _row_key(row)
        cdr = Cdr(
            uniqueid=uniqueid,
            source=row[1],
            destination=row[2],
            context=row[3],
            channel=row[5],
            dest_channel=row[6],
            last_app=row[7],
            start=start,
            answer=parse_time(row[10], tz),
            end=parse_time(row[11], tz),
            duration=_seconds(row[12]),
            billsec=_seconds(row[13]),
            disposition=row[14],
        )
        key = linkedid or uniqueid or "cdr-" + hashlib.sha256("\x1f".join(row).encode()).hexdigest()[:24]
        groups[key].append(cdr)
    for key, cdrs in groups.items():
        found = from_cdrs(cdrs, names)
        direction = names.direction(found["contexts"])
        first = cdrs[0]  # rows are written in the order the channels ended; the caller's dial comes first
        client = first.destination if direction == "outbound" else found["caller_number"]
        parsed.calls.append(
            {
                "linkedid": key,
                "direction": direction,
                "disposition": found.get("disposition", "missed"),
                "source": "cdr_import",
                "caller_number": found["caller_number"],
                "client_number": digits(client),
                "operator": found.get("operator"),
                "rung": found["rung"],
                "started_at": found["started_at"],
                "answered_at": found.get("answered_at"),
                "ended_at": found["ended_at"],
                "ring_seconds": found.get("ring_seconds"),
                "talk_seconds": found.get("talk_seconds"),
            }
        )
    return parsed


def _seconds(value: str) -> int:
    return int(value) if value.strip().isdigit() else 0
