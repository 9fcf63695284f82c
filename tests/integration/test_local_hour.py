"""The local hour of the day, computed by the database (SQLite and PostgreSQL each their own way), is the hour a
clock in the zone showed, over a year of DST changes and zones off the whole hour."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import BigInteger, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.engine import dialect_of
from ivr_survey.db.timebuckets import HOUR, local_hour, offset_segments

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe"])
async def test_local_hour_is_the_clocks(sessions: async_sessionmaker[AsyncSession], zone: str) -> None:
    tz, rng = ZoneInfo(zone), random.Random(zone)
    first, last = int(START.timestamp()), int(END.timestamp())
    epochs = [rng.randrange(first, last) for _ in range(200)]
    # around each of the zone's offset changes of the year
    for change, _ in offset_segments(tz, START, END)[:-1]:
        assert change is not None
        epochs += [int(change.timestamp()) + d for d in (-HOUR, -1, 0, 1, HOUR - 1, HOUR)]
    found: list[int] = []
    async with sessions() as s:
        for i in range(0, len(epochs), 100):  # a hundred columns a query: far below either database's limit
            hours = (local_hour(dialect_of(s), literal(e, BigInteger), tz, START, END) for e in epochs[i : i + 100])
            found += (await s.execute(select(*hours))).one()
    assert found == [datetime.fromtimestamp(e, tz).hour for e in epochs]
