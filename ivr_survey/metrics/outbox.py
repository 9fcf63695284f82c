"""The outbox's gauges, read from the database when scraped: pending and failed deliveries per target."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import outbox
from .registry import Metrics


def outbox_refresher(
    metrics: Metrics, sessions: async_sessionmaker[AsyncSession], targets: Sequence[str]
) -> Callable[[], Awaitable[None]]:
    async def refresh() -> None:
        async with sessions() as session:
            found = {(c.target, c.state): c.count for c in await outbox.counts(session)}
        for name in targets:
            metrics.outbox_pending.labels(target=name).set(found.get((name, "pending"), 0))
            metrics.outbox_failed.labels(target=name).set(found.get((name, "failed"), 0))

    return refresh


def count_dropped(metrics: Metrics) -> Callable[[str], None]:
    return lambda target: metrics.outbox_dropped.labels(target=target).inc()
