"""The ARI events: their JSON, built as Asterisk 22 sends it, and :class:`EventSocket`,
the ordered writer behind one events websocket.

Every builder returns a new event, key order as in the traces, without ``asterisk_id`` and
``application``: sending it to the app (:meth:`.core.Core._send`) adds those.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

if TYPE_CHECKING:
    from .channels import Channel, Playback

__all__ = [
    "ASTERISK_ID",
    "EventSocket",
    "application_replaced",
    "caller_id",
    "channel_event",
    "destroyed",
    "dial",
    "dialplan",
    "dtmf",
    "hangup_request",
    "playback",
    "stasis_start",
    "timestamp",
    "varset",
]

#: ``asterisk_id`` of every event in the traces.
ASTERISK_ID: Final = "02:fc:00:00:00:01"

# ast_cause2str() (main/channel.c); 0 is "Unknown".
_CAUSE_TEXT: Final[Mapping[int, str]] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}


def timestamp(at: float | None = None) -> str:
    """ARI's timestamp format: ``2026-11-26T17:56:57.019+0000`` (UTC, milliseconds)."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# -- events about a channel or a playback ---------------------------------------------------


def stasis_start(channel: Channel, args: list[str]) -> dict[str, Any]:
    return {"type": "StasisStart", "timestamp": timestamp(), "args": args, "channel": channel.to_json()}


def channel_event(kind: str, channel: Channel) -> dict[str, Any]:
    # StasisEnd, ChannelStateChange, ChannelConnectedLine
    return {"type": kind, "timestamp": timestamp(), "channel": channel.to_json()}


def dtmf(channel: Channel, digit: str, duration_ms: int) -> dict[str, Any]:
    return {
        "type": "ChannelDtmfReceived",
        "timestamp": timestamp(),
        "digit": digit,
        "duration_ms": duration_ms,
        "channel": channel.to_json(),
    }


def playback(pb: Playback) -> dict[str, Any]:
    kind = {"playing": "PlaybackStarted", "continuing": "PlaybackContinuing"}.get(pb.state, "PlaybackFinished")
    return {"type": kind, "timestamp": timestamp(), "playback": pb.to_json()}


def hangup_request(channel: Channel, cause: int, *, soft: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {"cause": cause}
    if soft:
        event["soft"] = True
    event.update({"type": "ChannelHangupRequest", "timestamp": timestamp(), "channel": channel.to_json()})
    return event


def destroyed(channel: Channel, cause: int) -> dict[str, Any]:
    return {
        "type": "ChannelDestroyed",
        "timestamp": timestamp(),
        "cause": cause,
        "cause_txt": _CAUSE_TEXT.get(cause, "Unknown"),
        "channel": channel.to_json(),
    }


def varset(channel: Channel, variable: str, value: str) -> dict[str, Any]:
    return {
        "variable": variable,
        "value": value,
        "type": "ChannelVarset",
        "timestamp": timestamp(),
        "channel": channel.to_json(),
    }


def caller_id(channel: Channel) -> dict[str, Any]:
    return {
        "type": "ChannelCallerId",
        "timestamp": timestamp(),
        "caller_presentation": 0,
        "caller_presentation_txt": "Presentation Allowed, Not Screened",
        "channel": channel.to_json(),
    }


def dialplan(channel: Channel) -> dict[str, Any]:
    return {
        "type": "ChannelDialplan",
        "timestamp": timestamp(),
        "dialplan_app": channel.app_name,
        "dialplan_app_data": channel.app_data,
        "channel": channel.to_json(),
    }


def dial(peer: Channel, dialstring: str, dialstatus: str) -> dict[str, Any]:
    # An originate's Dial events have no "caller", only the dialled "peer" (the ;1 half).
    return {
        "type": "Dial",
        "timestamp": timestamp(),
        "dialstatus": dialstatus,
        "forward": "",
        "dialstring": dialstring,
        "peer": peer.to_json(),
    }


# -- events about an application -------------------------------------------------------


def application_replaced(app: str, asterisk_id: str) -> dict[str, Any]:
    # Sent to the websocket an app's newer one replaced; not about a channel, so complete
    # as built (asterisk_id included).
    return {"type": "ApplicationReplaced", "timestamp": timestamp(), "application": app, "asterisk_id": asterisk_id}


# -- delivery ------------------------------------------------------------------------------


class EventSocket:
    """One connected events websocket; a writer task keeps the frames in order."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, apps: Sequence[str]) -> None:
        self.ws = ws
        self.request = request
        self.apps = tuple(apps)
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def send(self, event: Mapping[str, Any]) -> None:
        self._queue.put_nowait(json.dumps(event))

    def finish(self) -> None:
        self._queue.put_nowait(None)

    async def run_writer(self) -> None:
        while (data := await self._queue.get()) is not None:
            try:
                await self.ws.send_str(data)
            except Exception:  # the peer is gone; the reader side notices and cleans up
                return

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()
