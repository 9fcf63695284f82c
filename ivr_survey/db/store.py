"""Where adapters put survey results: the database first, a disk spool while it is unreachable.

A keypress, once made, is never lost: a write that fails for any reason is appended (fsynced) to a
JSON-lines spool and kept in memory; a background task replays the spool, in order, when the
database answers again. Once anything is spooled every later write queues behind it, so that a
call's answer can never reach the database before the response it belongs to. Every write is
idempotent, so a replay after a crash half-way through the spool stores nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import repository

log = logging.getLogger(__name__)

_WRITERS: dict[str, Callable[..., Awaitable[Any]]] = {
    "start": repository.start_response,
    "answer": repository.save_answer,
    "finish": repository.finish_response,
}
_TIME_FIELDS = ("started_at", "answered_at", "ended_at")


@dataclass(frozen=True, slots=True)
class Record:
    op: str
    data: dict[str, Any]

    def to_json(self) -> str:
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.data.items()}
        return json.dumps({"op": self.op, "data": data}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Record:
        raw = json.loads(line)
        data = raw["data"]
        for key in _TIME_FIELDS:
            if data.get(key) is not None:
                data[key] = datetime.fromisoformat(data[key])
        return cls(raw["op"], data)


def _is_outage(exc: BaseException) -> bool:
    """Connection trouble (retry later), as opposed to a record the database will never take."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    return isinstance(exc, OSError | TimeoutError)


class SurveyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spool_dir: Path,
        *,
        retry_initial: float = 0.5,
        retry_cap: float = 15.0,
    ) -> None:
        self._sessions = sessions
        self._spool_dir = spool_dir
        self._spool = spool_dir / "pending.jsonl"
        self._rejected = spool_dir / "rejected.jsonl"
        self._pending: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._retry_initial = retry_initial
        self._retry_cap = retry_cap
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        """Load what a previous run left in the spool and start replaying it."""
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        if self._spool.exists():
            for line in self._spool.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self._pending.append(Record.from_json(line))
            if self._pending:
                log.warning("%d survey records left in %s from a previous run; replaying", self.pending, self._spool)
                self._wake.set()
        self._task = asyncio.create_task(self._replay_loop(), name="survey-store-replay")

    async def close(self) -> None:
        """Stop the replay task after one last attempt; what is still pending stays on disk."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._pending:
            log.warning("%d survey records kept in %s until the database is back", self.pending, self._spool)

    async def record_start(self, **data: Any) -> None:
        await self._write(Record("start", data))

    async def record_answer(self, **data: Any) -> None:
        await self._write(Record("answer", data))

    async def record_finish(self, **data: Any) -> None:
        await self._write(Record("finish", data))

    async def _apply(self, record: Record) -> None:
        async with self._sessions() as session, session.begin():
            await _WRITERS[record.op](session, **record.data)

    async def _write(self, record: Record) -> None:
        if not self._pending:
            try:
                await self._apply(record)
                return
            except Exception as exc:  # the keypress goes to the spool whatever went wrong
                log.warning(
                    "database write failed for call %s (%s); spooling",
                    record.data.get("linkedid"),
                    exc.__class__.__name__,
                )
        self._append(record)

    def _append(self, record: Record) -> None:
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        with self._spool.open("a", encoding="utf-8") as fh:
            fh.write(record.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._pending.append(record)
        self._wake.set()

    def _rewrite_spool(self) -> None:
        tmp = self._spool.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(r.to_json() + "\n" for r in self._pending)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._spool)

    async def flush(self) -> bool:
        """Replay the spool in order; True when nothing is left pending."""
        async with self._flush_lock:
            applied = 0
            while self._pending:
                record = self._pending[0]
                try:
                    await self._apply(record)
                except Exception as exc:
                    if _is_outage(exc):
                        break
                    # A record the database refuses for good must not block the rest: set it aside on disk.
                    log.error("survey record for call %s rejected (%s); kept in %s",
                              record.data.get("linkedid"), exc, self._rejected)
                    with self._rejected.open("a", encoding="utf-8") as fh:
                        fh.write(record.to_json() + "\n")
                self._pending.popleft()
                applied += 1
            if applied:
                self._rewrite_spool()
                if not self._pending:
                    log.info("database back: %d spooled survey records written", applied)
            return not self._pending

    async def _replay_loop(self) -> None:
        delay = self._retry_initial
        while True:
            await self._wake.wait()
            if await self.flush():
                self._wake.clear()
                delay = self._retry_initial
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_cap)
