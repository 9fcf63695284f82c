"""Call detail records, from AMI `Cdr` events and from cdr_csv's Master.csv alike, and what a call's records
say about it: one piece of code for both, so a backfilled call reads like a collected one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..service.naming import OperatorNames

# Applications that ring operators: the CDR of their leg holds the ring and talk time.
DIALLING_APPS = ("dial", "queue")
# Asterisk's CDR disposition of an unanswered dialling leg -> ours; any other (NO ANSWER) is a missed call.
_DISPOSITIONS = {"BUSY": "busy", "FAILED": "failed", "CONGESTION": "failed"}


@dataclass(frozen=True)
class Cdr:
    uniqueid: str | None
    source: str
    destination: str
    context: str
    channel: str
    dest_channel: str
    last_app: str
    start: datetime | None
    answer: datetime | None
    end: datetime | None
    duration: int
    billsec: int
    disposition: str

    @classmethod
    def from_event(cls, event: dict[str, str], tz: ZoneInfo) -> Cdr:
        return cls(
            uniqueid=event.get("UniqueID") or None,
            source=event.get("Source", ""),
            destination=event.get("Destination", ""),
            context=event.get("DestinationContext", ""),
            channel=event.get("Channel", ""),
            dest_channel=event.get("DestinationChannel", ""),
            last_app=event.get("LastApplication", ""),
            start=parse_time(event.get("StartTime"), tz),
            answer=parse_time(event.get("AnswerTime"), tz),
            end=parse_time(event.get("EndTime"), tz),
            duration=_int(event.get("Duration")),
            billsec=_int(event.get("BillableSeconds")),
            disposition=event.get("Disposition", ""),
        )

    @property
    def dialling(self) -> bool:
        return self.last_app.lower() in DIALLING_APPS


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def parse_time(value: str | None, tz: ZoneInfo) -> datetime | None:
    """'2026-11-26 17:57:56' in the PBX's time zone (cdr_manager and cdr_csv write local time) -> aware."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=tz)
    except ValueError:
        return None


def digits(number: str | None) -> str | None:
    """A number as digits only, so that '+7 999 123-45-67' and '79991234567' are the same client."""
    only = "".join(c for c in number or "" if c.isdigit())
    return only or None


def from_cdrs(cdrs: list[Cdr], names: OperatorNames) -> dict[str, Any]:
    """What a call's CDRs say: times, who answered, who was rung, ring and talk time, disposition."""
    starts = [c.start for c in cdrs if c.start]
    ends = [c.end for c in cdrs if c.end]
    found: dict[str, Any] = {
        "started_at": min(starts) if starts else None,
        "ended_at": max(ends) if ends else None,
        "caller_number": next((c.source for c in cdrs if c.source), None),
        "contexts": {c.context for c in cdrs if c.context},
        "rung": [],
    }
    legs = [c for c in cdrs if c.dialling]
    for leg in legs:
        operator = names.operator(leg.dest_channel)
        if operator and operator not in found["rung"]:
            found["rung"].append(operator)
    answered = next((leg for leg in legs if leg.disposition == "ANSWERED"), None)
    if answered is not None:
        found.update(
            disposition="answered",
            operator=names.operator(answered.dest_channel),
            ring_seconds=float(answered.duration - answered.billsec),
            talk_seconds=float(answered.billsec),
            answered_at=answered.end - timedelta(seconds=answered.billsec) if answered.end else None,
        )
    elif legs:
        found.update(
            disposition=next(
                (_DISPOSITIONS[leg.disposition] for leg in legs if leg.disposition in _DISPOSITIONS), "missed"
            ),
            ring_seconds=float(max(leg.duration for leg in legs)),
        )
    return found
