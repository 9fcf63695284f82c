"""The database goes away mid-survey: answers wait on disk and arrive when it returns."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr_survey.db.models import SurveyAnswer, SurveyResponse
from ivr_survey.db.store import SurveyStore
from ivr_survey.db.writes import FinishResponse, SaveAnswer, StartResponse
from tests.support.store import T0, SwitchableWriter, answer_fields, response_rows, start_fields


async def test_outage_spools_then_replays_in_order(sessions, tmp_path: Path) -> None:
    switch = SwitchableWriter(sessions)
    store = SurveyStore(sessions, tmp_path, writer=switch, retry_initial=0.01, retry_cap=0.02)
    await store.start()
    await store.write(StartResponse(**start_fields("A")))
    switch.down = True
    await store.write(SaveAnswer(**answer_fields("A", "4")))
    await store.write(StartResponse(**start_fields("B")))
    await store.write(SaveAnswer(**answer_fields("B", "2")))
    await store.write(FinishResponse(linkedid="A", status="completed", ended_at=T0 + timedelta(seconds=4)))
    assert store.pending == 4
    spooled = [json.loads(line) for line in (tmp_path / "pending.jsonl").read_text().splitlines()]
    assert [r["op"] for r in spooled] == ["answer", "start", "answer", "finish"]
    assert await response_rows(sessions) == [("in_progress", None)]

    switch.down = False
    assert await store.flush() is True
    assert store.pending == 0
    assert (tmp_path / "pending.jsonl").read_text() == ""
    assert await response_rows(sessions) == [("completed", "4"), ("in_progress", "2")]
    await store.close()


async def test_spool_left_by_a_crashed_run_is_replayed_atstart_fields(sessions, tmp_path: Path) -> None:
    switch = SwitchableWriter(sessions)
    switch.down = True
    first = SurveyStore(sessions, tmp_path, writer=switch)
    await first.write(StartResponse(**start_fields("C")))
    await first.write(SaveAnswer(**answer_fields("C", "5")))
    assert first.pending == 2  # the process dies here without close()

    second = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await second.start()
    assert await second.flush() is True
    assert await response_rows(sessions) == [("in_progress", "5")]
    # Replaying the same spool again stores nothing twice.
    (tmp_path / "pending.jsonl").write_text(
        "".join(
            line + "\n"
            for line in [
                json.dumps(
                    {
                        "op": "answer",
                        "data": {**answer_fields("C", "5"), "answered_at": (T0 + timedelta(seconds=2)).isoformat()},
                    }
                )
            ]
        )
    )
    third = SurveyStore(sessions, tmp_path)
    await third.start()
    assert await third.flush() is True
    assert await response_rows(sessions) == [("in_progress", "5")]
    await second.close()
    await third.close()


async def test_record_the_database_refuses_is_set_aside_not_lost(sessions, tmp_path: Path) -> None:
    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await store.start()
    await store.write(SaveAnswer(**answer_fields("never-started", "3")))
    await store.write(StartResponse(**start_fields("D")))
    assert await store.flush() is True
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert [(r["op"], r["data"]["linkedid"], r["data"]["digits"]) for r in rejected] == [
        ("answer", "never-started", "3")
    ]
    assert await response_rows(sessions) == [("in_progress", None)]
    await store.close()


async def test_truncated_spool_line_is_set_aside_and_the_rest_replayed(sessions, tmp_path: Path) -> None:
    good = json.dumps({"op": "start", "data": {**start_fields("T"), "started_at": T0.isoformat()}})
    (tmp_path / "pending.jsonl").write_text(good + "\n" + '{"op": "fin')  # the crash came mid-write
    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await store.start()
    assert (tmp_path / "corrupt.jsonl").read_text() == '{"op": "fin\n'
    assert await store.flush() is True
    assert await response_rows(sessions) == [("in_progress", None)]
    # A record appended after a broken last line starts on a line of its own.
    (tmp_path / "pending.jsonl").write_text('{"op": "ans')
    switch = SwitchableWriter(sessions)
    switch.down = True
    second = SurveyStore(sessions, tmp_path, writer=switch)
    await second.write(SaveAnswer(**answer_fields("T", "4")))
    lines = (tmp_path / "pending.jsonl").read_text().splitlines()
    assert lines[0] == '{"op": "ans'
    assert json.loads(lines[1])["data"]["digits"] == "4"
    await store.close()


async def test_transient_server_errors_are_retried_not_rejected(sessions, tmp_path: Path) -> None:
    from asyncpg.exceptions import CannotConnectNowError, TooManyConnectionsError
    from sqlalchemy.exc import DBAPIError

    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    real_apply = store._apply
    # as asyncpg raises them (each with its SQLSTATE) and SQLAlchemy wraps them
    failures = [
        DBAPIError("connect", {}, CannotConnectNowError("the database system is starting up")),
        DBAPIError("insert", {}, TooManyConnectionsError("sorry, too many clients already")),
    ]

    async def apply(record) -> None:
        if failures:
            raise failures.pop(0)
        await real_apply(record)

    store._apply = apply  # type: ignore[method-assign]
    await store.write(StartResponse(**start_fields("U")))
    assert store.pending == 1
    assert await store.flush() is False  # the second failure: still an outage
    assert store.pending == 1
    assert await store.flush() is True
    assert not (tmp_path / "rejected.jsonl").exists()
    assert await response_rows(sessions) == [("in_progress", None)]


async def test_write_that_hangs_is_spooled_after_the_timeout(sessions, tmp_path: Path) -> None:
    import asyncio

    store = SurveyStore(sessions, tmp_path, write_timeout=0.1)
    real_apply = store._apply
    hang = True

    async def apply(record) -> None:
        if hang:
            async with asyncio.timeout(store._write_timeout):
                await asyncio.sleep(60)
        await real_apply(record)

    store._apply = apply  # type: ignore[method-assign]
    async with asyncio.timeout(2):
        await store.write(StartResponse(**start_fields("V")))
    assert store.pending == 1
    await store.write(SaveAnswer(**answer_fields("V", "5")))
    assert [json.loads(line)["op"] for line in (tmp_path / "pending.jsonl").read_text().splitlines()] == [
        "start",
        "answer",
    ]
    hang = False
    store._write_timeout = 10  # a first connection to a fresh PostgreSQL database may take longer than 0.1 s
    assert await store.flush() is True
    assert await response_rows(sessions) == [("in_progress", "5")]


async def test_write_cancelled_by_shutdown_is_spooled(sessions, tmp_path: Path) -> None:
    import asyncio

    store = SurveyStore(sessions, tmp_path, write_timeout=30)
    started = asyncio.Event()

    async def apply(record) -> None:
        started.set()
        await asyncio.sleep(60)

    store._apply = apply  # type: ignore[method-assign]
    task = asyncio.create_task(store.write(StartResponse(**start_fields("W"))))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [json.loads(line)["data"]["linkedid"] for line in (tmp_path / "pending.jsonl").read_text().splitlines()] == [
        "W"
    ]


async def test_spool_written_by_0_1_0_replays_after_the_upgrade(sessions, tmp_path: Path) -> None:
    """tests/data/spool-0.1.0.jsonl was written by 0.1.0's store (unversioned lines): a spool left by that
    release when it was stopped during an outage."""
    fixture = Path(__file__).parents[1] / "data" / "spool-0.1.0.jsonl"
    (tmp_path / "pending.jsonl").write_bytes(fixture.read_bytes())
    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await store.start()
    assert store.pending == 6
    assert await store.flush() is True
    assert not (tmp_path / "rejected.jsonl").exists()
    assert await response_rows(sessions) == [("completed", "4"), ("no_input", None)]
    async with sessions() as s:
        rows = await s.execute(
            select(
                SurveyResponse.language,
                SurveyResponse.queue,
                SurveyResponse.started_at,
                SurveyResponse.ended_at,
                SurveyAnswer.score,
                SurveyAnswer.attempts,
            )
            .outerjoin(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
            .order_by(SurveyResponse.id)
        )
        got = [
            (lang, queue, started.replace(tzinfo=UTC), ended.replace(tzinfo=UTC), score, attempts)
            for lang, queue, started, ended, score, attempts in rows
        ]
    assert got == [
        ("ru", "продажи", T0, T0 + timedelta(seconds=9), 4.0, 2),
        ("en", None, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1, seconds=21), None, 3),
    ]
    await store.close()


async def test_unknown_spool_version_is_set_aside_not_retried(sessions, tmp_path: Path) -> None:
    future = json.dumps({"v": 99, "op": "start", "data": {"linkedid": "F"}})
    good = json.dumps({"v": 1, "op": "start", "data": {**start_fields("G"), "started_at": T0.isoformat()}})
    (tmp_path / "pending.jsonl").write_text(future + "\n" + good + "\n")
    store = SurveyStore(sessions, tmp_path, retry_initial=0.01)
    await store.start()
    assert store.pending == 1
    assert await store.flush() is True
    assert await response_rows(sessions) == [("in_progress", None)]
    assert (tmp_path / "rejected.jsonl").read_text() == future + "\n"
    assert (tmp_path / "pending.jsonl").read_text() == ""
    assert (await store.health()).set_aside == 1
    await store.close()
