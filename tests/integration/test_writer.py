"""The SQLite writer thread: writes waiting together are committed together and answered each, one that fails
fails alone, and the file it writes into is checked before every write."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from ivr_survey.db.sqlite_file import DatabaseFileLost, SqliteFile
from ivr_survey.db.writer import ThreadWriter


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[ThreadWriter]:
    path = tmp_path / "w.db"
    path.touch()  # as the app's migrations make it before the writer starts
    watched = SqliteFile(path)
    writer = ThreadWriter(f"sqlite+aiosqlite:///{path}", watched)
    await writer.run(lambda conn: conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)")))
    yield writer
    await writer.close()
    watched.close()


def insert(n: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
        return n * 10

    return work


def rows(conn: Connection) -> list[int]:
    return [n for (n,) in conn.execute(text("SELECT n FROM t ORDER BY n"))]


async def _held(writer: ThreadWriter) -> tuple[asyncio.Future[None], threading.Event]:
    """A write that keeps the thread busy until released, so that the next ones wait together."""
    release, started = threading.Event(), threading.Event()

    def hold(_conn: Connection) -> None:
        started.set()
        release.wait(10)

    held = asyncio.ensure_future(writer.run(hold))
    await asyncio.to_thread(started.wait, 10)
    return held, release


async def test_writes_waiting_on_the_thread_are_each_committed_and_answered(writer: ThreadWriter) -> None:
    held, release = await _held(writer)
    waiting = [asyncio.ensure_future(writer.run(insert(n))) for n in (1, 2, 3)]
    await asyncio.sleep(0)
    release.set()
    await held
    assert await asyncio.gather(*waiting) == [10, 20, 30]
    assert await writer.run(rows) == [1, 2, 3]


async def test_a_failing_write_fails_alone_and_the_others_waiting_are_stored(writer: ThreadWriter) -> None:
    def broken(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t (n) VALUES (2)"))
        raise ValueError("refused")

    held, release = await _held(writer)
    waiting = [asyncio.ensure_future(writer.run(work)) for work in (insert(1), broken, insert(3))]
    await asyncio.sleep(0)
    release.set()
    await held
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "refused"
    assert await writer.run(rows) == [1, 3]  # the failed write's own insert rolled back with it


async def test_a_write_cancelled_while_waiting_never_runs(writer: ThreadWriter) -> None:
    held, release = await _held(writer)
    cancelled = asyncio.ensure_future(writer.run(insert(7)))
    kept = asyncio.ensure_future(writer.run(insert(8)))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await held
    assert await kept == 80
    assert await writer.run(rows) == [8]


async def test_close_writes_what_waits_then_refuses_more(writer: ThreadWriter) -> None:
    held, release = await _held(writer)
    waiting = asyncio.ensure_future(writer.run(insert(5)))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(writer.close())
    release.set()
    await closing
    assert await held is None
    assert await waiting == 50
    with pytest.raises(RuntimeError, match="closed"):
        await writer.run(insert(6))


async def test_a_deleted_database_file_fails_every_write(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    path.touch()
    watched = SqliteFile(path)
    writer = ThreadWriter(f"sqlite+aiosqlite:///{path}", watched)
    try:
        await writer.run(lambda conn: conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)")))
        path.unlink()
        with pytest.raises(DatabaseFileLost, match="missing"):
            await writer.run(insert(1))
    finally:
        await writer.close()
        watched.close()
