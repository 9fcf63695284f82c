"""What the answer spool does when things other than the database break: a record no database will take,
a spool folder that stops being writable, an SQLite file deleted under the service, a slow disk."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db.migrate import upgrade
from ivr_survey.db.spool import SpoolFile
from ivr_survey.db.store import SurveyStore
from ivr_survey.db.writes import FinishResponse, SaveAnswer, StartResponse
from ivr_survey.keys import STORE
from tests.support.store import T0, SwitchableWriter, answer_fields, response_rows, start_fields


def _line(op: str, data: dict) -> str:
    return json.dumps(
        {"op": op, "data": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}}
    )


def _break_folder(folder: Path) -> None:
    """The folder replaced by a regular file: nothing can be created in it, even by root."""
    shutil.rmtree(folder)
    folder.write_text("not a folder")


async def test_poison_record_is_set_aside_and_the_replay_goes_on(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a spool written by another version: a `start` with a field this one does not know
    poison = _line("start", {**start_fields("P"), "bogus_field": 1})
    (tmp_path / "pending.jsonl").write_text(
        "\n".join([poison, _line("start", start_fields("G")), _line("answer", answer_fields("G", "5"))]) + "\n"
    )
    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    with caplog.at_level(logging.ERROR, logger="ivr_survey.db.store"):
        await store.start()
        async with asyncio.timeout(10):
            while store.pending:
                await asyncio.sleep(0.01)
    assert await response_rows(sessions) == [("in_progress", "5")]
    assert (tmp_path / "rejected.jsonl").read_text() == poison + "\n"
    assert (tmp_path / "pending.jsonl").read_text() == ""
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"call P: line 1 of {tmp_path / 'pending.jsonl'} set aside in {tmp_path / 'rejected.jsonl'}: "
        "fields do not fit: bogus_field: Unexpected keyword argument"
    ]
    assert (await store.health()).set_aside == 1
    await store.close()
    # the count survives a restart: it is what the dead letters hold
    again = SurveyStore(sessions, tmp_path)
    await again.start()
    assert (await again.health()).set_aside == 1
    await again.close()


async def test_outage_is_waited_out_not_set_aside(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    real_apply = store._apply
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]  # as sqlite3 sets it: SQLITE_BUSY
    failures: list[BaseException] = [
        OperationalError("insert", {}, locked),
        ConnectionResetError(104, "reset"),
        TimeoutError(),
    ]

    async def apply(record) -> None:
        if failures:
            raise failures.pop(0)
        await real_apply(record)

    store._apply = apply  # type: ignore[method-assign]
    await store.write(StartResponse(**start_fields("O")))
    assert [await store.flush(), await store.flush(), await store.flush()] == [False, False, True]
    assert not (tmp_path / "rejected.jsonl").exists()
    assert await response_rows(sessions) == [("in_progress", None)]


async def test_unwritable_spool_keeps_answers_in_memory_and_says_so(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    folder = tmp_path / "spool"
    switch = SwitchableWriter(sessions)
    store = SurveyStore(sessions, folder, writer=switch, retry_initial=0.01, retry_cap=0.02)
    await store.start()
    assert (await store.health()).problem is None
    _break_folder(folder)
    assert (await store.health()).problem == "Not a directory"
    switch.down = True
    await store.write(StartResponse(**start_fields("M")))
    await store.write(SaveAnswer(**answer_fields("M", "4")))
    assert store.pending == 2
    health = await store.health()
    assert (health.problem, health.pending) == ("pending records are in memory only", 2)

    folder.unlink()  # the folder comes back: what waited in memory reaches the disk, in order
    folder.mkdir()
    async with asyncio.timeout(10):
        while (await store.health()).problem is not None:
            await asyncio.sleep(0.01)
    assert [json.loads(line)["op"] for line in (folder / "pending.jsonl").read_text().splitlines()] == [
        "start",
        "answer",
    ]
    await store.write(FinishResponse(linkedid="M", status="completed", ended_at=T0))
    assert [json.loads(line)["op"] for line in (folder / "pending.jsonl").read_text().splitlines()] == [
        "start",
        "answer",
        "finish",
    ]
    switch.down = False
    assert await store.flush() is True
    assert await response_rows(sessions) == [("completed", "4")]
    await store.close()


async def test_healthz_503_while_the_spool_is_unwritable(database_url: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=database_url, spool_dir=tmp_path / "spool")
    async with TestClient(TestServer(create_app(settings))) as client:
        _break_folder(tmp_path / "spool")
        resp = await client.get("/healthz")
        assert resp.status == 503
        body = await resp.json()
        assert (body["status"], body["database"]) == ("degraded", "ok")
        assert body["spool"] == {"status": "unwritable", "problem": "Not a directory", "pending": 0, "set_aside": 0}


async def test_sqlite_file_deleted_under_the_service(tmp_path: Path) -> None:
    path = tmp_path / "survey.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    settings = Settings(_env_file=None, database_url=url, spool_dir=tmp_path / "spool")
    async with TestClient(TestServer(create_app(settings))) as client:
        store = client.app[STORE]
        await store.write(StartResponse(**start_fields("before")))
        assert store.pending == 0
        assert (await client.get("/healthz")).status == 200

        path.unlink()
        resp = await client.get("/healthz")
        assert resp.status == 503
        body = await resp.json()
        assert (body["status"], body["database"]) == ("degraded", "lost")
        assert body["database_problem"] == f"database file {path} is missing (deleted, or its volume unmounted)"

        # the answer is not acknowledged into the unlinked file: it waits in the spool
        await store.write(StartResponse(**start_fields("after")))
        assert store.pending == 1
        spooled = (tmp_path / "spool" / "pending.jsonl").read_text().splitlines()
        assert [json.loads(line)["data"]["linkedid"] for line in spooled] == ["after"]
        # a new file made at the same path (as SQLite does on a new connection) is not the one opened
        resp = await client.get("/healthz")
        assert (await resp.json())["database"] == "lost"


async def test_spool_writes_leave_the_event_loop_free_and_keep_their_order(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch = SwitchableWriter(sessions)
    switch.down = True
    store = SurveyStore(sessions, tmp_path, writer=switch)
    await store.start()
    gate = threading.Event()
    writers: set[str] = set()
    real_append = SpoolFile.append

    def slow_append(self: SpoolFile, record) -> None:
        writers.add(threading.current_thread().name)
        # on the event loop this would wait in vain: the task that opens the gate could not run
        assert gate.wait(10), "the spool write blocked the event loop"
        real_append(self, record)

    monkeypatch.setattr(SpoolFile, "append", slow_append)
    linkedids = [f"L{n}" for n in range(20)]
    writes = asyncio.gather(*(store.write(StartResponse(**start_fields(n))) for n in linkedids))
    await asyncio.sleep(0)
    gate.set()
    await writes
    # each write was acknowledged only once its line was on disk, in the order of the calls
    spooled = (tmp_path / "pending.jsonl").read_text().splitlines()
    assert [json.loads(line)["data"]["linkedid"] for line in spooled] == linkedids
    assert writers == {"survey-spool_0"}
    await store.close()
