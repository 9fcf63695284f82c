"""The base of :class:`~.server.FakeAsterisk`: the state every part of the fake shares and
the plumbing they all use (record keeping, ids, change notification, background tasks,
sending an event to the app and the subscribers, forgetting a channel, the playback registry).

The fake is one object built in layers, each a class in its own module that adds one concern
on top of the layers below it (:mod:`.hangup`, then :mod:`.media` and :mod:`.originate`,
then :mod:`.routes`, then :mod:`.server`). Each layer declares, as class annotations, the
attributes it uses that no layer below declares; ``FakeAsterisk.__init__`` sets them all.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from . import events
from .channels import Channel, Playback
from .events import EventSocket

__all__ = ["Core"]

log = logging.getLogger("ivr_survey.simulator.ari")


class Core:
    """Shared state and plumbing (set up by ``FakeAsterisk.__init__``)."""

    speed: float
    asterisk_id: str
    record_limit: int | None
    events: list[dict[str, Any]]

    _channels: dict[str, Channel]
    _playbacks: dict[str, list[Playback]]
    _apps: dict[str, EventSocket]  # app name -> the socket that gets its events
    _sockets: set[EventSocket]
    most_websockets: int  # the most events websockets ever open at once (two instances both on the app?)
    _subscribers: dict[str | None, list[asyncio.Queue[dict[str, Any]]]]
    _tasks: set[asyncio.Task[Any]]
    _changed: asyncio.Event
    _seq: itertools.count[int]

    # -- plumbing ----------------------------------------------------------------------

    def _keep(self, records: list[Any], item: Any) -> None:
        records.append(item)
        limit = self.record_limit
        if limit is not None and len(records) > limit + max(limit // 10, 1):
            del records[: len(records) - limit]

    def _new_id(self, now: float) -> str:
        # Asterisk's uniqueid: "<epoch seconds of creation>.<global counter>".
        return f"{int(now)}.{next(self._seq)}"

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _sleep(self, call_seconds: float) -> None:
        if call_seconds > 0:
            await asyncio.sleep(call_seconds / self.speed)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fake Asterisk task failed", exc_info=task.exception())
        self._notify()

    # -- the app's websockets and the events sent to them --------------------------------

    def _unregister(self, sock: EventSocket) -> None:
        self._sockets.discard(sock)
        for app in sock.apps:
            if self._apps.get(app) is sock:
                del self._apps[app]

    def _send(self, channel: Channel, event: dict[str, Any]) -> None:
        """Send an event about ``channel`` to its app, if the app is subscribed to it."""
        if not channel.subscribed or channel.app is None:
            return
        event["asterisk_id"] = self.asterisk_id
        event["application"] = channel.app
        self._keep(self.events, event)
        sock = self._apps.get(channel.app)
        if sock is not None:
            sock.send(event)
        for key in (channel.id, None):
            for queue in self._subscribers.get(key, ()):
                queue.put_nowait(event)

    # -- channels going away -------------------------------------------------------------

    def _destroy(self, channel: Channel, cause: int) -> None:
        """ChannelDestroyed (if subscribed) and forget the channel."""
        if channel.local_half == 2:
            # The ;2 half's dialplan app is already cleared in its ChannelDestroyed,
            # the ;1 half keeps AppDial2 (originate-outcomes.jsonl).
            channel.app_name = channel.app_data = ""
        self._send(channel, events.destroyed(channel, cause))
        self._remove(channel)

    def _remove(self, channel: Channel) -> None:
        channel.alive = False
        channel.in_stasis = False
        if self._channels.get(channel.id) is channel:
            del self._channels[channel.id]
        task = channel.origin_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        self._notify()

    # -- the playback registry -----------------------------------------------------------

    def _register_playback(self, pb: Playback) -> None:
        # Asterisk does not refuse a duplicate playback id (playback_create() just links
        # another object; api-docs list no 409 for play): both exist, lookups find one.
        self._playbacks.setdefault(pb.id, []).append(pb)

    def _forget_playback(self, pb: Playback) -> None:
        playbacks = self._playbacks.get(pb.id)
        if playbacks and pb in playbacks:
            playbacks.remove(pb)
            if not playbacks:
                del self._playbacks[pb.id]

    def _find_playback(self, playback_id: str) -> Playback | None:
        playbacks = self._playbacks.get(playback_id)
        return playbacks[0] if playbacks else None
