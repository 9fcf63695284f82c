"""Where adapters put survey results: the database first, a disk spool while it is unreachable.

A keypress, once made, is never lost: a write that fails for any reason is appended (fsynced) to a
JSON-lines spool and kept in memory; a background task replays the spool, in order, when the
database answers again. Once anything is spooled every later write queues behind it, so that a
call's answer can never reach the database before the response it belongs to. Every write is
idempotent, so a replay after a crash half-way through the spool stores nothing twice.

Only an outage is waited out. A record the database refuses for any other reason (a constraint, a field
this version does not know) would never go through, so it is set aside into the dead letters beside the
spool, logged once, counted in /healthz, and the replay goes on with the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..backoff import Backoff
from .outage import first_line, is_outage
from .spool import SpoolFile
from .sqlite_file import SqliteFile
from .writer import Writer, writer_for
from .writes import RefusedLine, Write

log = logging.getLogger(__name__)

T = TypeVar("T")


class WriteListener(Protocol):
    """What follows a write: the outbox's events (in the write's own transaction) and the metrics (once it is
    committed)."""

    def stored(self, conn: Connection, record: Write) -> None:
        """In the write's transaction, only when it stored something anew (never for its replay): what goes with
        it is written here, or neither is. It may run on the writer's thread: no event loop calls here."""

    def committed(self, record: Write, *, new: bool, seconds: float) -> None:
        """After the commit, with the time the write took; `new` is False for a replay that changed nothing."""


@dataclass(frozen=True, slots=True)
class SpoolHealth:
    problem: str | None  # why a record could not be spooled now; None while it could
    pending: int
    set_aside: int


class SurveyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spool_dir: Path,
        *,
        retry_initial: float = 0.5,
        retry_cap: float = 15.0,
        write_timeout: float = 3.0,
        listeners: Sequence[WriteListener] = (),
        writer: Writer | None = None,
        sqlite_file: SqliteFile | None = None,
    ) -> None:
        """writer: where the writes run (default: the one for the sessions' database, given the SQLite file to
        watch)."""
        self._sessions = sessions
        self._writer = writer if writer is not None else writer_for(sessions, sqlite_file)
        self.listeners = list(listeners)
        self._file = SpoolFile(spool_dir)
        # One thread, so records reach the file in the order the loop hands them over.
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="survey-spool")
        self._closed = False
        self._pending: deque[Write] = deque()
        self._memory_only = False  # a spool write failed: some pending records are not on disk
        self._set_aside = 0
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._retry_initial = retry_initial
        self._retry_cap = retry_cap
        self._task: asyncio.Task[None] | None = None
        # A caller waits on each write: a database that hangs must not keep them in silence.
        self._write_timeout = write_timeout

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """For the reads that go with the writes (what a crashed instance stored for a caller)."""
        return self._sessions

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def set_aside(self) -> int:
        """Records the database refused, kept in the dead letters."""
        return self._set_aside

    async def start(self) -> None:
        """Load what a previous run left in the spool and start replaying it."""
        records, unusable, self._set_aside = await self._on_disk(self._file.load)
        for number, why in unusable:
            if isinstance(why, RefusedLine):
                log.error(
                    "call %s: line %d of %s set aside in %s: %s",
                    why.call_id,
                    number,
                    self._file.path,
                    self._file.rejected,
                    why,
                )
            else:
                log.warning("unreadable line %d of %s kept in %s", number, self._file.path, self._file.corrupt)
        self._pending.extend(records)
        if self._pending:
            log.warning("%d survey records left in %s from a previous run; replaying", self.pending, self._file.path)
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
            log.warning("%d survey records kept in %s until the database is back", self.pending, self._file.path)
        self._closed = True
        self._disk.shutdown(wait=True)
        await self._writer.close()

    async def health(self) -> SpoolHealth:
        return SpoolHealth(await self._on_disk(self._file.probe), self.pending, self._set_aside)

    async def _on_disk(self, work: Callable[..., T], *args: Any) -> T:
        if self._closed:
            return work(*args)  # a write after close(): slow, on the loop, but kept
        return await asyncio.get_running_loop().run_in_executor(self._disk, work, *args)

    def _transaction(self, conn: Connection, records: tuple[Write, ...]) -> list[bool]:
        stored = []
        for record in records:
            new = record.apply(conn)
            if new:
                for listener in self.listeners:
                    listener.stored(conn, record)
            stored.append(new)
        return stored

    async def _apply(self, records: tuple[Write, ...]) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with asyncio.timeout(self._write_timeout):
            stored = await self._writer.run(functools.partial(self._transaction, records=records))
        seconds = loop.time() - began
        for record, new in zip(records, stored, strict=True):
            for listener in self.listeners:
                listener.committed(record, new=new, seconds=seconds)

    async def write(self, *records: Write) -> None:
        """Store the records, in one transaction, or spool them: either way they are safe when this returns."""
        if not self._pending:
            try:
                await self._apply(records)
                return
            except BaseException as exc:  # the keypresses go to the spool whatever went wrong, even a cancel
                log.warning(
                    "database write failed for call %s (%s); spooling", records[0].linkedid, exc.__class__.__name__
                )
                for record in records:
                    await self._spool(record)
                if not isinstance(exc, Exception):
                    raise
                return
        for record in records:
            await self._spool(record)

    async def _spool(self, record: Write) -> None:
        # Memory first, at once: should the disk fail too, the record still waits here for the database,
        # and its place in the queue is taken before anything else can be spooled.
        self._pending.append(record)
        self._wake.set()
        try:
            await self._on_disk(self._file.append, record)
        except OSError as exc:
            self._memory_only = True
            log.error(
                "spool %s not writable (%s); %d records kept in memory only",
                self._file.path,
                exc.strerror or exc.__class__.__name__,
                self.pending,
            )

    async def flush(self) -> bool:
        """Replay the spool in order; True when nothing is left pending."""
        async with self._flush_lock:
            written = rejected = 0
            while self._pending:
                record = self._pending[0]
                try:
                    await self._apply((record,))
                    written += 1
                except Exception as exc:
                    if is_outage(exc):
                        break
                    await self._set_aside_one(record, exc)
                    rejected += 1
                self._pending.popleft()
            if written or rejected:
                await self._on_disk(self._file.replace, list(self._pending))
                self._memory_only = False
                if not self._pending:
                    log.info("spool replayed: %d survey records written, %d set aside", written, rejected)
            return not self._pending

    async def _set_aside_one(self, record: Write, exc: Exception) -> None:
        await self._on_disk(self._file.set_aside, record)  # an OSError here keeps the record pending
        self._set_aside += 1
        log.error(
            "survey %s record for call %s refused by the database (%s: %s); set aside in %s",
            record.op,
            record.linkedid,
            exc.__class__.__name__,
            first_line(exc),
            self._file.rejected,
        )

    async def _replay_loop(self) -> None:
        # jittered, so that instances sharing one database do not all knock at once when it returns
        backoff = Backoff(initial=self._retry_initial, cap=self._retry_cap)
        while True:
            await self._wake.wait()
            try:
                if self._memory_only and await self._on_disk(self._file.in_sync):
                    self._memory_only = False
                    log.warning("spool %s writable again; %d records on disk", self._file.path, self.pending)
                if await self.flush():
                    self._wake.clear()
                    backoff.reset()
                    continue
            except Exception:  # e.g. the spool's disk; keep trying rather than stop replaying for good
                log.exception("replaying the spool failed; retrying")
            await asyncio.sleep(backoff.next_delay())
