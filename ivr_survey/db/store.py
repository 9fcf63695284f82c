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

from sqlalchemy.exc import DataError, IntegrityError
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


def _is_permanent(exc: BaseException) -> bool:
    """A record the database will never take (retrying cannot help), as opposed to an outage of any kind:
    refused connections, a server starting up, too many connections, deadlocks, timeouts."""
    return isinstance(exc, IntegrityError | DataError | LookupError | ValueError | KeyError)


class SurveyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spool_dir: Path,
        *,
        retry_initial: float = 0.5,
        retry_cap: float = 15.0,
        write_timeout: float = 3.0,
    ) -> None:
        self._sessions = sessions
        self._spool_dir = spool_dir
        self._spool = spool_dir / "pending.jsonl"
        self._rejected = spool_dir / "rejected.jsonl"
        self._corrupt = spool_dir / "corrupt.jsonl"
        self._pending: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._retry_initial = retry_initial
        self._retry_cap = retry_cap
        self._task: asyncio.Task[None] | None = None
        # A caller waits on each write: a database that hangs must not keep them in silence.
        self._write_timeout = write_timeout

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        """Load what a previous run left in the spool and start replaying it."""
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        if self._spool.exists():
            corrupt = []
            for number, line in enumerate(self._spool.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    self._pending.append(Record.from_json(line))
                except (ValueError, KeyError, TypeError):  # e.g. the last line of a crash mid-write
                    corrupt.append(line)
                    log.warning("unreadable line %d of %s kept in %s", number, self._spool, self._corrupt)
            if corrupt:
                with self._corrupt.open("a", encoding="utf-8") as fh:
                    fh.writelines(line + "\n" for line in corrupt)
                self._rewrite_spool()
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
        with contextlib.suppress(TimeoutError):  # shutdown must end; what is pending stays on disk
            async with asyncio.timeout(self._write_timeout * 2):
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
        async with asyncio.timeout(self._write_timeout), self._sessions() as session, session.begin():
            await _WRITERS[record.op](session, **record.data)

    async def _write(self, record: Record) -> None:
        if not self._pending:
            try:
                await self._apply(record)
                return
            except BaseException as exc:  # the keypress goes to the spool whatever went wrong, even a cancel
                log.warning(
                    "database write failed for call %s (%s); spooling",
                    record.data.get("linkedid"),
                    exc.__class__.__name__,
                )
                self._append(record)
                if not isinstance(exc, Exception):
                    raise
                return
        self._append(record)

    def _append(self, record: Record) -> None:
        # Memory first: should the disk fail too, the record still waits here for the database.
        self._pending.append(record)
        self._wake.set()
        try:
            self._spool_dir.mkdir(parents=True, exist_ok=True)
            with self._spool.open("a+", encoding="utf-8") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:  # a crash mid-line must not glue this record onto the broken one
                    fh.seek(fh.tell() - 1)
                    if fh.read(1) != "\n":
                        fh.write("\n")
                fh.write(record.to_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.error("spool %s not writable (%s); %d records kept in memory only", self._spool,
                      exc.__class__.__name__, self.pending)

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
            written = rejected = 0
            while self._pending:
                record = self._pending[0]
                try:
                    await self._apply(record)
                    written += 1
                except Exception as exc:
                    if not _is_permanent(exc):
                        break
                    # A record the database refuses for good must not block the rest: set it aside on disk.
                    log.error("survey record for call %s rejected (%s); kept in %s",
                              record.data.get("linkedid"), exc.__class__.__name__, self._rejected)
                    with self._rejected.open("a", encoding="utf-8") as fh:
                        fh.write(record.to_json() + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                    rejected += 1
                self._pending.popleft()
            if written or rejected:
                self._rewrite_spool()
                if not self._pending:
                    log.info("spool replayed: %d survey records written, %d rejected", written, rejected)
            return not self._pending

    async def _replay_loop(self) -> None:
        delay = self._retry_initial
        while True:
            await self._wake.wait()
            try:
                if await self.flush():
                    self._wake.clear()
                    delay = self._retry_initial
                    continue
            except Exception:  # e.g. the spool's disk; keep trying rather than stop replaying for good
                log.exception("replaying the spool failed; retrying in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_cap)
