"""The store's listener that writes a finished response's events into the outbox, in the transaction that
finishes it, and wakes the sender once that transaction is committed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Connection

from ..db import outbox
from ..db.writes import FinishResponse, Write
from .events import Policy, events_of


class OutboxListener:
    def __init__(self, policy: Policy, wake: Callable[[], None]) -> None:
        self.policy = policy
        self._wake = wake

    def stored(self, conn: Connection, record: Write) -> None:
        if not isinstance(record, FinishResponse):
            return
        facts = outbox.response_facts(conn, linkedid=record.linkedid)
        if facts is None:
            return
        for payload, targets in events_of(facts, self.policy):
            outbox.add_event(
                conn,
                event_id=str(uuid.uuid4()),
                type=payload["type"],
                linkedid=record.linkedid,
                payload=payload,
                targets=list(targets),
                at=record.ended_at,
            )

    def committed(self, record: Write, *, new: bool, seconds: float) -> None:
        if new and isinstance(record, FinishResponse):
            self._wake()
