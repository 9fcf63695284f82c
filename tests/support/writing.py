"""A store record applied in a test's own session, as the store's writer applies it in a transaction of its own."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ivr_survey.db.writes import Write


async def write(session: AsyncSession, record: Write) -> bool:
    """What `record.apply` says: True when it stored something new."""
    return await session.run_sync(lambda s: record.apply(s.connection()))
