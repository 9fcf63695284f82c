"""The legs of a supervisor's live listen, over ARI, in the survey's own Stasis app.

A listen calls the supervisor's endpoint (POST /channels, appArgs listen=<id>, our channel id); when they answer
(StasisStart), a mixing bridge takes their channel and a snoop on the operator's channel (POST
/channels/{operator}/snoop, appArgs snoop=<id>): spy both, and whisper none (listen: nobody hears the
supervisor), out (whisper: the operator hears them) or both (barge: the caller too). It ends on request, when
the supervisor hangs up or never answers, and when the snooped channel goes (Asterisk then ends the snoop): each
end hangs up what is left and destroys the bridge, once, and the audit row says why.

These channels are never a caller's: the Stasis app hands their events here before any survey sees them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import listens
from ..db.listens import ListenRow
from ..db.models import utcnow
from ..service.live import LISTEN_VARIABLE, ListenRefused, ListenUnavailable
from .client import AriClient, AriError, AriUnavailable

log = logging.getLogger(__name__)

# spy, whisper: the directions of the snoop on the operator's channel (api-docs channels.json)
DIRECTIONS = {"listen": ("both", "none"), "whisper": ("both", "out"), "barge": ("both", "both")}
RING_SECONDS = 30
_GONE = ("StasisEnd", "ChannelDestroyed")


def leg_of(args: list[str]) -> int | None:
    """The listen a channel entering the app is a leg of (its first Stasis argument listen=<id> or
    snoop=<id>), or None: a caller."""
    key, _, value = (args[0] if args else "").partition("=")
    return int(value) if key in ("listen", "snoop") and value.isdigit() else None


@dataclass
class _Legs:
    listen: ListenRow
    operator_channel: str
    supervisor: str  # the ids we give the supervisor's channel, the snoop and the bridge
    snoop: str
    bridge: str
    answered: bool = False
    ended: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Listening:
    def __init__(
        self,
        client: AriClient,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ready: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.clock = clock
        self._ready = ready
        self._legs: dict[int, _Legs] = {}
        self._by_channel: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> list[int]:
        return sorted(self._legs)

    @property
    def ready(self) -> bool:
        """Whether this instance hears the app's events (a standby does not: its listens could never connect)."""
        return self._ready()

    async def start(self, listen: ListenRow, *, operator_channel: str, caller_id: str) -> None:
        tag = uuid.uuid4().hex[:8]
        legs = _Legs(
            listen,
            operator_channel,
            supervisor=f"listen-{listen.id}-{tag}",
            snoop=f"listen-{listen.id}-{tag}-snoop",
            bridge=f"listen-{listen.id}-{tag}",
        )
        self._legs[listen.id] = legs
        self._by_channel[legs.supervisor] = self._by_channel[legs.snoop] = listen.id
        try:
            await self.client.originate(
                endpoint=listen.endpoint,
                app_args=f"listen={listen.id}",
                caller_id=caller_id,
                timeout=RING_SECONDS,
                variables={LISTEN_VARIABLE: str(listen.id)},
                channel_id=legs.supervisor,
            )
        except AriUnavailable as exc:
            self._forget(legs)
            raise ListenUnavailable(exc.message) from None
        except AriError as exc:
            self._forget(legs)
            raise ListenRefused(exc.message) from None

    async def stop(self, listen_id: int, reason: str) -> bool:
        legs = self._legs.get(listen_id)
        if legs is None:
            return False
        await self._end(legs, reason)
        return True

    async def close(self) -> None:
        """The service stops: every listen ends."""
        await asyncio.gather(*(self._end(legs, "shutdown") for legs in list(self._legs.values())))
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)

    # -- events (from the websocket reader: must not block)

    def claims(self, event: dict[str, Any]) -> bool:
        """Whether the event is a listen leg's; it is handled here and never reaches a survey."""
        channel_id = event.get("channel", {}).get("id")
        if not isinstance(channel_id, str):
            return False
        kind = event.get("type")
        listen_id = self._by_channel.get(channel_id)
        if listen_id is None:
            stray = kind == "StasisStart" and leg_of(event.get("args", [])) is not None
            if stray:  # a leg of a listen we do not run (ended meanwhile, or another run's): nobody to hear it
                self._spawn(self._hang_up(channel_id))
            return stray
        legs = self._legs[listen_id]
        if kind == "StasisStart":
            self._spawn(self._answered(legs) if channel_id == legs.supervisor else self._snooping(legs))
        elif kind in _GONE:
            gone = channel_id == legs.supervisor
            reason = ("supervisor_hung_up" if legs.answered else "not_answered") if gone else "call_ended"
            self._spawn(self._end(legs, reason))
        return True

    # -- the steps

    async def _answered(self, legs: _Legs) -> None:
        async with legs.lock:
            if legs.ended:
                return
            legs.answered = True
            spy, whisper = DIRECTIONS[legs.listen.mode]
            try:
                await self.client.create_bridge(legs.bridge, name=f"listen-{legs.listen.id}")
                await self.client.add_to_bridge(legs.bridge, legs.supervisor)
                snoop = await self.client.snoop(
                    legs.operator_channel,
                    snoop_id=legs.snoop,
                    spy=spy,
                    whisper=whisper,
                    app_args=f"snoop={legs.listen.id}",
                )
            except AriError as exc:
                log.warning("listen %d: %s", legs.listen.id, exc)
                snoop, failed = None, True
            else:
                failed = False
            async with self.sessions() as session, session.begin():
                await listens.listen_answered(session, listen_id=legs.listen.id, at=self.clock())
        if snoop is None:  # the operator's channel went before we could snoop it: the call is over
            await self._end(legs, "failed" if failed else "call_ended")
        else:
            log.info("call %s: listen %d on the line", legs.listen.call_id, legs.listen.id)

    async def _snooping(self, legs: _Legs) -> None:
        async with legs.lock:
            if legs.ended:
                return
            try:
                await self.client.add_to_bridge(legs.bridge, legs.snoop)
            except AriError as exc:
                log.warning("listen %d: %s", legs.listen.id, exc)
                failed = True
            else:
                failed = False
        if failed:
            await self._end(legs, "failed")

    async def _end(self, legs: _Legs, reason: str) -> None:
        async with legs.lock:
            if legs.ended:
                return
            legs.ended = True
            for channel in (legs.supervisor, legs.snoop):
                await self._hang_up(channel)
            with contextlib.suppress(AriError):
                await self.client.destroy_bridge(legs.bridge)
            async with self.sessions() as session, session.begin():
                await listens.end_listen(session, listen_id=legs.listen.id, reason=reason, at=self.clock())
        self._forget(legs)
        log.info("call %s: listen %d ended (%s)", legs.listen.call_id, legs.listen.id, reason)

    async def _hang_up(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):
            await self.client.hangup(channel_id)

    def _forget(self, legs: _Legs) -> None:
        self._legs.pop(legs.listen.id, None)
        # the channels' last events (StasisEnd, ChannelDestroyed) still come: they are ours, handled as ended
        for channel in (legs.supervisor, legs.snoop):
            self._by_channel.pop(channel, None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
