"""The keypress path's writes: one typed record per operation, and the spool's line format for them.

Each record's `apply` is one synchronous transaction's work over a Core connection (the store's writer runs it:
see writer.py), and says whether it stored something new (False for a replay of what is stored already), so
that what follows a write (its outbox events, its metrics) happens once however often the write is replayed.

A spool outlives the release that wrote it, so its format is explicit and versioned: a line is
`{"v": 1, "op": "start", "data": {...}}`, the data being the record's fields (times in ISO 8601). Lines
without `v` were written by 0.1.0, whose data had the same fields. Decoding checks every field against the
record's types and refuses unknown ones: a line this release cannot read exactly is set aside, never
retried and never half-applied.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from sqlalchemy import Connection

from . import dialing, responses

SPOOL_VERSION = 1
_READABLE_VERSIONS = frozenset({0, 1})  # 0: the unversioned lines of 0.1.0, the same fields as 1
_STRICT = ConfigDict(extra="forbid")


@with_config(_STRICT)
@dataclass(frozen=True, slots=True, kw_only=True)
class StartResponse:
    """The caller entered the survey."""

    op: ClassVar[str] = "start"
    linkedid: str
    survey: str
    survey_version: int
    channel: str
    language: str
    args: dict[str, Any]
    started_at: datetime
    channel_uniqueid: str | None = None
    caller_number: str | None = None
    operator: str | None = None
    queue: str | None = None
    policy_id: int | None = None  # the survey policy version that offered it
    # A campaign call: the campaign, its contact and the attempt's number (all three, or none).
    campaign_id: int | None = None
    contact_id: int | None = None
    attempt: int | None = None

    def apply(self, conn: Connection) -> bool:
        fields = _fields(self)
        campaign_id, contact_id, attempt = fields.pop("campaign_id"), fields.pop("contact_id"), fields.pop("attempt")
        phone = None
        if campaign_id is not None and contact_id is not None and attempt is not None:
            phone = dialing.link_attempt(
                conn,
                campaign_id=campaign_id,
                contact_id=contact_id,
                attempt=attempt,
                linkedid=self.linkedid,
                at=self.started_at,
            )
        if phone is not None:  # the customer's number, not the caller id we showed them
            fields["caller_number"] = phone
        # Arguments naming no attempt of ours (a hand-written dialplan) make an ordinary response.
        return responses.start_response(conn, **fields, campaign_id=campaign_id if phone is not None else None)


@with_config(_STRICT)
@dataclass(frozen=True, slots=True, kw_only=True)
class NotOffered:
    """The caller entered the app but was not offered the survey, for `reason` (NOT_OFFERED_REASONS), or the call
    history found a call that never reached it (caller_hung_up_first). survey/survey_version: what it would have
    asked."""

    op: ClassVar[str] = "not_offered"
    linkedid: str
    reason: str
    survey: str
    survey_version: int
    channel: str
    language: str
    args: dict[str, Any]
    started_at: datetime
    channel_uniqueid: str | None = None
    caller_number: str | None = None
    operator: str | None = None
    queue: str | None = None
    policy_id: int | None = None

    def apply(self, conn: Connection) -> bool:
        return responses.start_response(conn, **_fields(self))


@with_config(_STRICT)
@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """The caller's answer before the queue to "will you rate the conversation afterwards?"."""

    op: ClassVar[str] = "consent"
    linkedid: str
    agreed: bool
    defaulted: bool  # no key pressed: the policy's consent_default
    decided_at: datetime
    policy_id: int | None = None
    channel_uniqueid: str | None = None
    caller_number: str | None = None
    queue: str | None = None

    def apply(self, conn: Connection) -> bool:
        return responses.save_consent(conn, **_fields(self))


@with_config(_STRICT)
@dataclass(frozen=True, slots=True, kw_only=True)
class SaveAnswer:
    """One question answered (or given up on: no digits, no score)."""

    op: ClassVar[str] = "answer"
    linkedid: str
    position: int
    question: str
    digits: str | None
    score: float | None
    attempts: int
    answered_at: datetime

    def apply(self, conn: Connection) -> bool:
        return responses.save_answer(conn, **_fields(self))


@with_config(_STRICT)
@dataclass(frozen=True, slots=True, kw_only=True)
class FinishResponse:
    """The survey ended with this status."""

    op: ClassVar[str] = "finish"
    linkedid: str
    status: str
    ended_at: datetime

    def apply(self, conn: Connection) -> bool:
        return responses.finish_response(conn, **_fields(self))


@with_config(_STRICT)
@dataclass(frozen=True, slots=True, kw_only=True)
class OptOut:
    """The customer of a campaign call pressed the opt-out key: never call the number again."""

    op: ClassVar[str] = "opt_out"
    linkedid: str
    at: datetime

    def apply(self, conn: Connection) -> bool:
        return dialing.opt_out(conn, **_fields(self))


Write = StartResponse | NotOffered | Consent | SaveAnswer | FinishResponse | OptOut
_BY_OP: dict[str, TypeAdapter[Any]] = {
    cls.op: TypeAdapter(cls) for cls in (StartResponse, NotOffered, Consent, SaveAnswer, FinishResponse, OptOut)
}


class UnreadableLine(ValueError):
    """Not a spool line at all (e.g. the last line of a crash mid-write)."""


class RefusedLine(ValueError):
    """A spool line this release will not apply: an unknown version or operation, or fields that do not fit."""

    def __init__(self, reason: str, call_id: object) -> None:
        super().__init__(reason)
        self.call_id = call_id


def _fields(write: Write) -> dict[str, Any]:
    return {f.name: getattr(write, f.name) for f in dataclasses.fields(write)}


def encode(write: Write) -> str:
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in _fields(write).items()}
    return json.dumps({"v": SPOOL_VERSION, "op": write.op, "data": data}, ensure_ascii=False)


def decode(line: str) -> Write:
    try:
        raw = json.loads(line)
    except ValueError:
        raise UnreadableLine("not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
        raise UnreadableLine("not a spool record")
    data: dict[str, Any] = raw["data"]
    call_id = data.get("linkedid")
    version = raw.get("v", 0)
    if version not in _READABLE_VERSIONS or isinstance(version, bool):
        raise RefusedLine(f"spool format version {version!r} is not one this release reads", call_id)
    adapter = _BY_OP.get(raw.get("op"))  # type: ignore[arg-type]
    if adapter is None:
        raise RefusedLine(f"unknown operation {raw.get('op')!r}", call_id)
    try:
        write: Write = adapter.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RefusedLine(f"fields do not fit: {problems}", call_id) from None
    return write
