"""Delivers the outbox: one loop per target, so that a slow or dead target delays only itself, and the caller's
survey never (it only wrote a row). Each delivery is tried until a 2xx, with capped, jittered backoff kept in the
database (a restart goes on where it was), and marked delivered in its own transaction after the 2xx; a crash
between the two sends it again, with the same X-Event-Id for the receiver to drop. On PostgreSQL the instances
sharing the database take turns per target (a transaction-level advisory lock), so a delivery goes out once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..backoff import Backoff
from ..db import outbox
from ..db.engine import dialect_of
from ..db.outage import is_outage
from ..db.outbox import Delivery
from .targets import DeliveryError, Target

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class OutboxSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        targets: list[Target],
        *,
        clock: Clock,
        max_age: float,
        retry_initial: float = 1.0,
        retry_cap: float = 300.0,
        poll: float = 1.0,
        batch: int = 20,
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.targets = targets
        self.clock = clock
        self.max_age = timedelta(seconds=max_age)
        self.retry_initial = retry_initial
        self.retry_cap = retry_cap
        self.poll = poll
        self.batch = batch
        self.on_dropped = on_dropped
        self._wakes = {t.name: asyncio.Event() for t in targets}
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None

    def wake(self) -> None:
        for event in self._wakes.values():
            event.set()

    async def start(self, *, rounds: bool = True) -> None:
        """With rounds=False nothing is sent until run_once() is called (tests that step the clock)."""
        self._http = aiohttp.ClientSession()
        if rounds:
            self._tasks = [asyncio.create_task(self._run(t), name=f"outbox-{t.name}") for t in self.targets]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._http is not None:
            await self._http.close()

    async def _run(self, target: Target) -> None:
        wake = self._wakes[target.name]
        while True:
            wake.clear()
            try:
                if await self.run_once(target):
                    continue
            except Exception as exc:
                if is_outage(exc):
                    log.warning("outbox %s: the database is unavailable (%s)", target.name, type(exc).__name__)
                else:
                    log.exception("outbox %s: a round failed; trying again", target.name)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await wake.wait()

    async def run_once(self, target: Target) -> bool:
        """Send what is due for the target now; False when nothing was."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            if not await outbox.lock_target(session, target=target.name):
                return False  # another instance is sending this target's events
            due = await outbox.due(session, target=target.name, now=now, limit=self.batch)
            hold = dialect_of(session) == "postgresql"
            if hold:  # the lock lasts while this transaction does
                await self._send_all(target, due)
        if not hold:
            await self._send_all(target, due)
        return bool(due)

    async def _send_all(self, target: Target, due: list[Delivery]) -> None:
        held: set[str] = set()  # calls whose earlier event waits: their later ones wait too
        for delivery in due:
            if delivery.linkedid is not None and delivery.linkedid in held:
                continue
            if not await self._send(target, delivery) and delivery.linkedid is not None:
                held.add(delivery.linkedid)

    async def _send(self, target: Target, delivery: Delivery) -> bool:
        """Try one delivery; True when it is settled (delivered, failed or dropped), False when it waits."""
        assert self._http is not None
        label = f"call {delivery.linkedid}: {delivery.type} to {target.name}"
        now = self.clock()
        if now - delivery.queued_at > self.max_age:
            async with self.sessions.begin() as session:
                await outbox.mark_dropped(
                    session, delivery_id=delivery.id, error=f"older than {self.max_age.total_seconds():g} s"
                )
            log.warning("%s dropped after %d attempts: older than the outbox's maximum age", label, delivery.attempts)
            if self.on_dropped is not None:
                self.on_dropped(target.name)
            return True
        try:
            await target.send(self._http, delivery)
        except DeliveryError as exc:
            at = self.clock()
            async with self.sessions.begin() as session:
                if exc.retryable:
                    delay = Backoff(self.retry_initial, self.retry_cap, attempt=delivery.attempts).next_delay()
                    delay = max(delay, exc.retry_after or 0.0)
                    retry_at = at + timedelta(seconds=delay)
                    await outbox.mark_retry(session, delivery_id=delivery.id, at=at, retry_at=retry_at, error=str(exc))
                else:
                    await outbox.mark_failed(session, delivery_id=delivery.id, at=at, error=str(exc))
            if exc.retryable:
                log.info("%s: attempt %d failed (%s); retrying", label, delivery.attempts + 1, exc)
                return False
            log.error("%s refused (%s); kept as failed in /events/outbox", label, exc)
            return True
        async with self.sessions.begin() as session:
            await outbox.mark_delivered(session, delivery_id=delivery.id, at=self.clock())
        log.info("%s delivered", label)
        return True
