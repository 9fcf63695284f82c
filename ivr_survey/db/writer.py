"""Where the store's writes run: each is one synchronous function over a Core connection, run in a transaction
(of its own, or on SQLite shared with the writes waiting beside it), so that it costs the event loop one wait
whatever its statements.

- SQLite: on a thread of the writer's own, through the standard library's driver. aiosqlite hops between the
  loop and its thread for every execute, fetch and close (about 0.8 ms of CPU for a one-row SELECT on the
  project's machine, against 9 µs for the same SELECT on the thread); here a whole write is one hop. One
  thread, as SQLite takes one writer at a time anyway.
- PostgreSQL: asyncpg on the loop, the function run through SQLAlchemy's greenlet bridge (`run_sync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .engine import sqlite_sync_engine
from .sqlite_file import SqliteFile

T = TypeVar("T")


class Writer(Protocol):
    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a transaction of its own, committed when it returns, rolled back if it raises."""

    async def close(self) -> None: ...


_BATCH = 64  # writes committed together at most


@dataclass(slots=True)
class _Job:
    work: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any, Exception | None]]) -> None:
    for future, result, exc in outcomes:
        if future.cancelled():  # timed out meanwhile: the store has spooled what it carried
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)


class ThreadWriter:
    """SQLite: one thread, holding one connection of the standard driver (a checkout from the pool per write
    costs about as much as the write's statements). The writes waiting when the thread comes to them are
    committed together (group commit): a burst of callers costs one transaction, not one each. Should one of
    them fail, the others are not held to it: the batch is rolled back and each is written alone."""

    def __init__(self, url: str, sqlite_file: SqliteFile | None = None) -> None:
        self.engine = sqlite_sync_engine(url)
        self._file = sqlite_file
        if sqlite_file is not None:
            sqlite_file.problem()  # take hold of the file as it is now
        self._conn: Connection | None = None  # the thread's own, opened on its first write
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="survey-writer", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[[Connection], T]) -> T:
        # A write cancelled (timed out) before the thread took it never runs; one under way ends on its own.
        if self._closed:
            raise RuntimeError("the writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(work, future, loop))
        return await future

    async def close(self) -> None:
        """Writes what waits, then stops the thread."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self.engine.dispose()

    # -- on the thread --------------------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._commit([job for job in batch if not job.future.cancelled()])
        finally:
            self._drop()

    def _next_batch(self) -> list[_Job] | None:
        """The writes waiting, the first awaited; None once closed and all written."""
        first = self._jobs.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < _BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)  # close after this batch
                break
            batch.append(job)
        return batch

    def _commit(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, Exception | None]] = []
        if len(batch) > 1:
            try:
                results = self._transaction(lambda conn: [job.work(conn) for job in batch])
            except Exception:
                pass  # written alone below, each with its own outcome
            else:
                outcomes = [(job.future, result, None) for job, result in zip(batch, results, strict=True)]
        if not outcomes:
            for job in batch:
                try:
                    outcomes.append((job.future, self._transaction(job.work), None))
                except Exception as exc:
                    outcomes.append((job.future, None, exc))
        for loop in {job.loop for job in batch}:  # one wake-up of the loop for the whole batch
            mine = [outcome for outcome, job in zip(outcomes, batch, strict=True) if job.loop is loop]
            with contextlib.suppress(RuntimeError):  # that loop is closed: no one left waiting
                loop.call_soon_threadsafe(_settle, mine)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        # What the pool's checkout check does for the other connections (see sqlite_file.py), once per write.
        if self._file is not None:
            self._file.check()
        if self._conn is None:
            self._conn = self.engine.connect()
        try:
            with self._conn.begin():
                return work(self._conn)
        except BaseException:
            self._drop()  # a failed write leaves nothing behind: the next one starts on a fresh connection
            raise

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


class LoopWriter:
    """PostgreSQL: the engine's own connections, on the loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def run(self, work: Callable[[Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def close(self) -> None:
        """The engine is the app's, disposed with it."""


def writer_for(sessions: async_sessionmaker[AsyncSession], sqlite_file: SqliteFile | None = None) -> Writer:
    """The writer for the database the sessions are bound to."""
    engine: AsyncEngine = sessions.kw["bind"]
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return ThreadWriter(engine.url.render_as_string(hide_password=False), sqlite_file)
    return LoopWriter(engine)
