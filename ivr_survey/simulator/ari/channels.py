"""Channel and playback state: what the fake knows about each channel and its playbacks.

:class:`Channel` is a caller's channel placed into Stasis or either half of an originated
call; :class:`Playback` is one ``POST /channels/{id}/play``; :class:`Continue` is one
``POST /channels/{id}/continue``. Playbacks and continues wait in the channel's command
queue (:attr:`Channel.commands`), which the media pump (:mod:`.media`) runs one at a time.
:func:`read_variable` answers ``GET /channels/{id}/variable``.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Channel", "Continue", "Playback", "read_variable"]


@dataclass(eq=False)
class Continue:
    """``POST /channels/{id}/continue``, queued behind the channel's playbacks."""

    context: str | None
    extension: str | None
    priority: int | None


@dataclass(eq=False)
class Playback:
    id: str
    medias: list[str]
    language: str
    channel: Channel
    state: str = "queued"
    index: int = 0
    cancelled: bool = False
    timer: asyncio.TimerHandle | None = None

    @property
    def media_uri(self) -> str:
        return self.medias[self.index]

    def to_json(self) -> dict[str, Any]:
        # stasis_app_playback_to_json(): next_media_uri only while more media follow.
        body: dict[str, Any] = {"id": self.id, "media_uri": self.media_uri}
        if self.index < len(self.medias) - 1:
            body["next_media_uri"] = self.medias[self.index + 1]
        body["target_uri"] = f"channel:{self.channel.id}"
        body["language"] = self.language
        body["state"] = self.state
        return body


@dataclass(eq=False)
class Channel:
    id: str
    name: str
    state: str
    caller: dict[str, str]
    connected: dict[str, str]
    accountcode: str
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str
    creationtime: str
    language: str
    linkedid: str
    variables: dict[str, str] = field(default_factory=dict)
    app: str | None = None  # the Stasis app it is in, or is subscribed to
    subscribed: bool = False  # the app is sent events about it
    in_stasis: bool = False
    alive: bool = True
    originated: bool = False  # created by POST /channels with app=
    local_half: int = 0  # 1 or 2 for the halves of an originated Local channel
    peer: Channel | None = None  # the ;2 half of an originated Local channel
    hangupcause: int = 16
    commands: deque[Playback | Continue] = field(default_factory=deque)
    current: Playback | None = None
    pump_scheduled: bool = False
    origin_task: asyncio.Task[None] | None = None

    def to_json(self) -> dict[str, Any]:
        # Key order as in the traces.
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": dict(self.caller),
            "connected": dict(self.connected),
            "accountcode": self.accountcode,
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": self.creationtime,
            "language": self.language,
        }


def read_variable(channel: Channel, name: str) -> str | None:
    """A channel variable, or a dialplan function when the name ends with ``)``.

    Unset variable: None (404 "Provided variable was not found"); unknown function or
    item: LookupError (500 "Unable to read provided function").
    """
    if name in channel.variables:
        return channel.variables[name]
    if name.endswith(")"):
        match = re.fullmatch(r"([A-Za-z_]+)\((.*)\)", name)
        if match is None:
            raise LookupError(name)
        func, arg = match.group(1).upper(), match.group(2).strip().lower()
        if func == "CHANNEL":
            items = {
                "linkedid": channel.linkedid,
                "uniqueid": channel.id,
                "name": channel.name,
                "language": channel.language,
                "accountcode": channel.accountcode,
                "state": channel.state,
                "channeltype": channel.name.split("/", 1)[0],
            }
        elif func in ("CALLERID", "CONNECTEDLINE"):
            party = channel.caller if func == "CALLERID" else channel.connected
            items = {
                "num": party["number"],
                "number": party["number"],
                "name": party["name"],
                "all": f'"{party["name"]}" <{party["number"]}>',
            }
        else:
            raise LookupError(name)
        if arg not in items:
            raise LookupError(name)
        return items[arg]
    builtins = {
        "UNIQUEID": channel.id,
        "CHANNEL": channel.name,
        "CONTEXT": channel.context,
        "EXTEN": channel.exten,
        "PRIORITY": str(channel.priority),
        "LANGUAGE": channel.language,
        "ACCOUNTCODE": channel.accountcode,
        "CALLERID(num)": channel.caller["number"],
    }
    return builtins.get(name)
