"""The survey catalog: callers arriving together share one read of a survey, and one of them hanging up does
not take the others' read with it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import catalog
from ivr_survey.db.catalog import SurveyCatalog
from ivr_survey.survey.definition import SurveyDefinition


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names the catalog read from the database, each read held until the test lets it go."""
    done: list[str] = []
    original = catalog.stored_survey

    async def counted(session: AsyncSession, name: str) -> SurveyDefinition | None:
        await asyncio.sleep(0.05)  # a read the others arrive during
        done.append(name)
        return await original(session, name)

    monkeypatch.setattr(catalog, "stored_survey", counted)
    return done


async def test_callers_arriving_together_share_one_read(
    sessions: async_sessionmaker[AsyncSession], reads: list[str]
) -> None:
    surveys = SurveyCatalog(sessions)
    found = await asyncio.gather(*(surveys.get(None) for _ in range(20)))
    assert reads == ["default"]
    assert {(d.name, d.version) for d in found} == {("default", 1)}
    await surveys.get("default")  # cached now
    assert reads == ["default"]


async def test_a_caller_gone_mid_read_leaves_the_read_to_the_others(
    sessions: async_sessionmaker[AsyncSession], reads: list[str]
) -> None:
    surveys = SurveyCatalog(sessions)
    first = asyncio.create_task(surveys.get(None))
    second = asyncio.create_task(surveys.get(None))
    await asyncio.sleep(0.01)
    first.cancel()
    definition = await second
    assert (definition.name, definition.version, reads) == ("default", 1, ["default"])
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_read_is_tried_again_by_the_next_caller(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    async def away(session: AsyncSession, name: str) -> Any:
        attempts.append(name)
        raise ConnectionRefusedError("database away")

    monkeypatch.setattr(catalog, "stored_survey", away)
    surveys = SurveyCatalog(sessions)
    found = await asyncio.gather(*(surveys.get(None) for _ in range(3)))
    assert [(d.name, d.version) for d in found] == [("default", 1)] * 3  # the built-in one
    await surveys.get(None)
    assert attempts == ["default", "default"]
