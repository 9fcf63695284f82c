"""The AMI adapter: panoramisk (1.4) keeps the connection and logs back in after a drop; its events go through
the CallTracker, and the calls it finishes are written by one writer task, in order, retried while the
database is away (a finished call is kept in memory until it is stored, in order).

After every login the collector asks Asterisk which channels still exist (CoreShowChannels): a call that was
in progress when the connection dropped and ended during the outage is finished then, from its Cdr events if
they were seen, else marked incomplete, so it is never lost silently. Writes are upserts by linkedid, so
nothing is stored twice after a reconnect.

Given the survey's setup, an inbound call answered by an operator and ended by the caller (who so never
reached the survey) is stored in the survey funnel too, as not_offered with reason caller_hung_up_first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message
from panoramisk.utils import EOL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..backoff import Backoff
from ..db.history import save_call
from ..db.models import utcnow
from ..service.survey_run import SurveySetup, record_not_reached
from .tracker import CallRecord, CallTracker

log = logging.getLogger(__name__)

EXPIRE_EVERY = 300.0


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol, which drops a block it cannot read without a word; this one logs it (its size
    only: a garbled block may hold anything) and goes on."""

    version: str | None  # Asterisk's, from the banner; set by panoramisk's connection_made

    def data_received(self, data: bytes) -> None:
        # Asterisk's banner can arrive before panoramisk has set the encoding (it does so once connected)
        text = data.decode(getattr(self, "encoding", "ascii"), "ignore")
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            self.version = text.partition(EOL)[0].partition("/")[2].strip()
        if self.queue:
            text = self.queue.popleft() + text
        blocks = text.split(EOL + EOL)
        self.queue.append(blocks.pop(-1))
        for block in blocks:
            block = block.strip()
            message = Message.from_line(block)
            if message is not None:
                self.handle_message(message)
            elif block and not block.startswith("Asterisk Call Manager/"):
                log.warning("AMI: an unreadable block of %d bytes skipped", len(block))


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, which would reconnect even after close(); this one stops when told to."""

    closing = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.closing:
            return None
        return super().connect(*args, **kwargs)


class AmiCollector:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tracker: CallTracker,
        *,
        host: str,
        port: int,
        user: str,
        secret: str,
        reconnect_timeout: int = 2,
        clock: Callable[[], datetime] = utcnow,
        survey: SurveySetup | None = None,
    ) -> None:
        self.sessions = sessions
        self.survey = survey
        self.tracker = tracker
        self.clock = clock
        self.connected = False
        self.reconnects = 0  # logins after a lost connection
        self.written = 0
        self.dispositions: Counter[str] = Counter()  # the calls stored, by disposition
        self._config = {
            "host": host,
            "port": port,
            "username": user,
            "secret": secret,
            "reconnect_timeout": reconnect_timeout,
        }
        self._records: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._manager: _Manager | None = None
        self._lost = False
        self._writing: CallRecord | None = None  # the call being stored (retried while the database is away)
        self._quiet = asyncio.Event()  # set while no call is in progress
        self._quiet.set()

    async def start(self) -> None:
        manager = _Manager(
            **self._config,
            loop=asyncio.get_running_loop(),
            events="on",
            log=log,
            protocol_factory=_Protocol,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        manager.register_event("*", self._on_event)
        self._manager = manager
        manager.connect()
        self._spawn(self._write_loop())
        self._spawn(self._expire_loop())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- panoramisk callbacks: they must never raise into its protocol

    def _on_event(self, _manager: Manager, message: Message) -> None:
        try:
            for record in self.tracker.feed(dict(message), self.clock()):
                self._records.put_nowait(record)
            if self.tracker.in_progress:
                self._quiet.clear()
            else:
                self._quiet.set()
        except Exception:
            log.exception("AMI event %s skipped", message.get("Event"))

    def _on_login(self, _manager: Manager) -> None:
        if self._lost:
            log.warning("AMI connection back")
            self.reconnects += 1
        self.connected, self._lost = True, False
        self._spawn(self._resync())

    def _on_disconnect(self, _manager: Manager, _exc: Any) -> None:
        if not self._lost:
            log.warning("AMI connection lost; calls in progress are checked when it is back")
        self.connected, self._lost = False, True

    # -- work

    async def _resync(self) -> None:
        if not self.tracker.in_progress or self._manager is None:
            return
        try:
            reply = await asyncio.wait_for(self._manager.send_action({"Action": "CoreShowChannels"}), 10)
        except (TimeoutError, OSError):
            log.warning("AMI CoreShowChannels gave no answer; calls in progress are kept")
            return
        messages = reply if isinstance(reply, list) else [reply]
        alive = {str(m.get("Linkedid")) for m in messages if m.get("Event") == "CoreShowChannel"}
        for record in self.tracker.resync(alive, self.clock()):
            self._records.put_nowait(record)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRE_EVERY)
            for record in self.tracker.expire(self.clock()):
                self._records.put_nowait(record)

    async def _write_loop(self) -> None:
        while True:
            self._writing = await self._records.get()
            await self._store(self._writing)
            self._writing = None
            self._records.task_done()

    async def _store(self, record: CallRecord) -> None:
        """Store one finished call, retrying until the database takes it: the calls behind it wait, so a
        call issued again (a late Cdr) is never overwritten by its older self."""
        backoff = Backoff(initial=0.5, cap=30.0)
        while True:
            try:
                async with self.sessions() as session, session.begin():
                    await save_call(session, **asdict(record))
            except Exception as exc:
                if backoff.attempt == 0:
                    log.warning("call %s not stored yet (%s); retrying", record.linkedid, type(exc).__name__)
                await asyncio.sleep(backoff.next_delay())
                continue
            self.written += 1
            self.dispositions[record.disposition] += 1
            log.info("call %s: %s %s", record.linkedid, record.direction, record.disposition)
            await self._funnel(record)
            return

    async def _funnel(self, record: CallRecord) -> None:
        """A caller who hung up on the operator never reached the survey: the funnel counts the call."""
        answered = record.direction == "inbound" and record.disposition == "answered" and record.operator
        if self.survey is None or not answered or record.hangup_side != "caller":
            return
        try:
            await record_not_reached(
                self.survey,
                linkedid=record.linkedid,
                caller_number=record.caller_number,
                operator=record.operator,
                queue=record.queue,
                at=record.ended_at or self.clock(),
            )
        except Exception:  # the call's history is stored; its place in the funnel is worth a warning only
            log.warning("call %s: not counted in the survey funnel", record.linkedid, exc_info=True)

    async def drain(self) -> None:
        """Wait until every finished call is stored."""
        await self._records.join()

    async def settle(self) -> None:
        """Wait until no call is in progress and every finished one is stored."""
        await self._quiet.wait()
        await self.drain()

    async def stop(self, *, grace: float = 5.0) -> None:
        if self._manager is not None:
            self._manager.closing = True
            self._manager.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace)
        unstored = self._records.qsize() + (self._writing is not None)
        if unstored:
            log.warning("%d finished calls not stored at shutdown", unstored)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
