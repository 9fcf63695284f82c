"""Snoop channels and mixing bridges: ``POST /channels/{id}/snoop`` and ``/bridges``.

No trace of a real Asterisk holds them; what is here follows the api-docs (channels.json, bridges.json,
events.json) and Asterisk 22's source. res/ari/resource_channels.c checks the directions (400 "Invalid direction
specified for spy", "Direction must be specified for at least spy or whisper", "Application name is required")
and answers 404 "Provided channel was not found"; res/res_stasis_snoop.c names the snoop channel
``Snoop/<spied uniqueid>-<counter %08x>``, Up, with a linkedid of its own, runs ``Stasis(app,args)`` on it
(StasisStart), and hangs it up once the spied channel is gone (StasisEnd, ChannelDestroyed). A channel leaving
Stasis while in a bridge leaves the bridge first (ChannelLeftBridge); ``DELETE /bridges/{id}`` empties it
(ChannelLeftBridge each) and then BridgeDestroyed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import events
from .channels import Channel
from .hangup import Hangups
from .rest import error, json_response, no_content

__all__ = ["Bridge", "Bridging"]

_DIRECTIONS = ("none", "both", "out", "in")


@dataclass(eq=False)
class Bridge:
    id: str
    kind: str
    name: str
    creationtime: str
    channels: list[Channel] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": "simple_bridge" if len(self.channels) < 3 else "softmix",
            "bridge_type": self.kind,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": [c.id for c in self.channels],
            "creationtime": self.creationtime,
            "video_mode": "talker",
        }


def _bridge_event(kind: str, bridge: Bridge, channel: Channel | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "timestamp": events.timestamp(), "bridge": bridge.to_json()}
    if channel is not None:
        event["channel"] = channel.to_json()
    return event


class Bridging(Hangups):
    """Snoops on channels and the bridges of the app."""

    _bridges: dict[str, Bridge]
    _snoops: dict[str, list[Channel]]  # spied channel id -> its snoop channels
    _snoop_seq: itertools.count[int]
    _apps: dict[str, Any]

    # -- snoop ---------------------------------------------------------------------------

    async def _h_snoop(self, request: web.Request) -> web.Response:
        q = request.query
        spy, whisper = q.get("spy") or "none", q.get("whisper") or "none"
        if spy not in _DIRECTIONS:
            return error(400, "Invalid direction specified for spy")
        if whisper not in _DIRECTIONS:
            return error(400, "Invalid direction specified for whisper")
        if spy == whisper == "none":
            return error(400, "Direction must be specified for at least spy or whisper")
        app = q.get("app")
        if not app:
            return error(400, "Application name is required")
        spied = self._channels.get(request.match_info["channelId"])
        if spied is None or not spied.alive:
            return error(404, "Provided channel was not found")
        snoop_id = request.match_info.get("snoopId") or q.get("snoopId")
        if snoop_id and snoop_id in self._channels:
            return error(500, "Snoop channel could not be created")
        now = time.time()
        args = [a for a in (q.get("appArgs") or "").split(",") if a]
        snoop = Channel(
            id=snoop_id or self._new_id(now),
            name=f"Snoop/{spied.id}-{next(self._snoop_seq):08x}",
            state="Up",
            caller={"name": "", "number": ""},
            connected={"name": "", "number": ""},
            accountcode="",
            context="default",
            exten="s",
            priority=1,
            app_name="Stasis",
            app_data=",".join([app, *args]),
            creationtime=events.timestamp(now),
            language="en",
            linkedid="",
            app=app,
            subscribed=True,
        )
        snoop.linkedid = snoop.id
        snoop.variables["SNOOP_SPY"], snoop.variables["SNOOP_WHISPER"] = spy, whisper
        self._channels[snoop.id] = snoop
        self._snoops.setdefault(spied.id, []).append(snoop)
        body = snoop.to_json()
        if app in self._apps:
            snoop.in_stasis = True
            self._send(snoop, events.stasis_start(snoop, args))
        self._notify()
        return json_response(200, body)

    def _end_snoops(self, spied: Channel) -> None:
        """The spied channel is gone: its audiohooks end, and so do its snoop channels."""
        for snoop in self._snoops.pop(spied.id, []):
            if snoop.alive:
                self._leave_stasis(snoop)
                self._destroy(snoop, 16)

    # -- bridges -------------------------------------------------------------------------

    async def _h_create_bridge(self, request: web.Request) -> web.Response:
        q = request.query
        bridge_id = request.match_info.get("bridgeId") or q.get("bridgeId") or f"bridge-{next(self._snoop_seq)}"
        if bridge_id in self._bridges:
            return error(409, "Bridge with the same bridgeId already exists")
        kinds = [k for k in (q.get("type") or "mixing").split(",") if k]
        bridge = Bridge(bridge_id, "holding" if "holding" in kinds else "mixing", q.get("name", ""), events.timestamp())
        self._bridges[bridge_id] = bridge
        return json_response(200, bridge.to_json())

    async def _h_get_bridge(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["bridgeId"])
        if bridge is None:
            return error(404, "Bridge not found")
        return json_response(200, bridge.to_json())

    async def _h_add_channel(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["bridgeId"])
        ids = [c for c in (request.query.get("channel") or "").split(",") if c]
        if not ids:
            return error(400, "Missing parameter channel")
        found = [self._channels.get(c) for c in ids]
        if any(c is None or not c.alive for c in found):
            return error(400, "Channel not found")
        if bridge is None:
            return error(404, "Bridge not found")
        channels = [c for c in found if c is not None]
        if any(not c.in_stasis for c in channels):
            return error(422, "Channel not in Stasis application")
        for channel in channels:
            self._leave_bridges(channel)
            bridge.channels.append(channel)
            self._send(channel, _bridge_event("ChannelEnteredBridge", bridge, channel))
        return no_content()

    async def _h_remove_channel(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["bridgeId"])
        channel = self._channels.get(request.query.get("channel") or "")
        if channel is None:
            return error(400, "Channel not found")
        if bridge is None:
            return error(404, "Bridge not found")
        if channel not in bridge.channels:
            return error(422, "Channel not in this bridge")
        self._leave(bridge, channel)
        return no_content()

    async def _h_destroy_bridge(self, request: web.Request) -> web.Response:
        bridge = self._bridges.pop(request.match_info["bridgeId"], None)
        if bridge is None:
            return error(404, "Bridge not found")
        for channel in list(bridge.channels):
            self._leave(bridge, channel)
        self._send_bridge(bridge, _bridge_event("BridgeDestroyed", bridge))
        return no_content()

    def _send_bridge(self, bridge: Bridge, event: dict[str, Any]) -> None:
        """A bridge's own event, to the app that made it (every app here: the fake has one)."""
        event["asterisk_id"] = self.asterisk_id
        for app, sock in self._apps.items():
            sock.send({**event, "application": app})
        self._keep(self.events, event)

    def _leave(self, bridge: Bridge, channel: Channel) -> None:
        bridge.channels.remove(channel)
        self._send(channel, _bridge_event("ChannelLeftBridge", bridge, channel))

    def _leave_bridges(self, channel: Channel) -> None:
        for bridge in self._bridges.values():
            if channel in bridge.channels:
                self._leave(bridge, channel)

    # -- hooks into leaving Stasis and going away ----------------------------------------------

    def _leave_stasis(self, channel: Channel) -> bool:
        self._leave_bridges(channel)
        return super()._leave_stasis(channel)

    def _remove(self, channel: Channel) -> None:
        self._leave_bridges(channel)
        super()._remove(channel)
        self._end_snoops(channel)
