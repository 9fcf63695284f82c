"""Fixtures shared by the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.ami.collector import AmiCollector
from ivr_survey.ami.tracker import CallTracker
from ivr_survey.config import Settings
from ivr_survey.service.naming import OperatorNames
from tests.support.fake_ami import FakeAmi


@pytest.fixture
async def run(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    """run(fake) -> the collector, once it has stored `calls` calls (or failed the test)."""
    started: list[tuple[FakeAmi, AmiCollector]] = []

    async def go(fake: FakeAmi, calls: int = 2) -> AmiCollector:
        await fake.start()
        tracker = CallTracker(OperatorNames.from_settings(Settings(_env_file=None)))
        collector = AmiCollector(
            sessions, tracker, host="127.0.0.1", port=fake.port, user="survey", secret="secret", reconnect_timeout=0
        )
        started.append((fake, collector))
        await collector.start()
        async with asyncio.timeout(10):
            await fake.done.wait()
            while collector.written < calls:
                await asyncio.sleep(0.01)
            await collector.drain()
        return collector

    yield go
    for fake, collector in started:
        await collector.stop()
        await fake.close()
