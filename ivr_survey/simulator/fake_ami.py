"""The simulated PBX's Manager Interface: a loopback AMI server that answers Login, Ping and CoreShowChannels as
Asterisk 22 does and sends every logged-in client the events the simulated calls make (with Timestamp headers,
as manager.conf's timestampevents = yes). `ivr-survey demo` points the real AMI collector at it, so the call
history fills up as it would beside an Asterisk."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

EOL = "\r\n"
_DIALPLAN_EVENTS = ("Newexten", "VarSet")  # Asterisk sends these with the dialplan privilege, the rest with call


def _block(headers: dict[str, str]) -> bytes:
    return ("".join(f"{k}: {v}{EOL}" for k, v in headers.items()) + EOL).encode()


def reply(action: dict[str, str], channels: list[dict[str, str]]) -> bytes:
    """Asterisk's answer to an action other than Login: Ping, CoreShowChannels (listing `channels`, each with
    Channel, Uniqueid and Linkedid), or an error for anything else."""
    name, action_id = action.get("Action", "").lower(), action.get("ActionID", "")
    if name == "ping":
        return _block({"Response": "Success", "ActionID": action_id, "Ping": "Pong", "Timestamp": f"{time.time():.6f}"})
    if name == "coreshowchannels":
        out = [
            _block(
                {"Response": "Success", "ActionID": action_id, "EventList": "start", "Message": "Channels will follow"}
            )
        ]
        out += [
            _block(
                {
                    "Event": "CoreShowChannel",
                    "ActionID": action_id,
                    "Channel": ch["Channel"],
                    "Uniqueid": ch["Uniqueid"],
                    "Linkedid": ch["Linkedid"],
                }
            )
            for ch in channels
        ]
        out.append(
            _block(
                {
                    "Event": "CoreShowChannelsComplete",
                    "ActionID": action_id,
                    "EventList": "Complete",
                    "ListItems": str(len(channels)),
                }
            )
        )
        return b"".join(out)
    return _block({"Response": "Error", "ActionID": action_id, "Message": "Invalid/unknown command"})


class FakeAmiServer:
    def __init__(self, *, user: str, secret: str) -> None:
        self.user, self.secret = user, secret
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._alive: dict[str, dict[str, str]] = {}  # uniqueid -> the channel's Newchannel headers

    async def __aenter__(self) -> FakeAmiServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in list(self._clients):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def emit(self, event: str, **headers: str) -> None:
        """Send one event to every logged-in client."""
        privilege = "dialplan,all" if event in _DIALPLAN_EVENTS else "call,all"
        message = {"Event": event, "Privilege": privilege, "Timestamp": f"{time.time():.6f}", **headers}
        if event == "Newchannel":
            self._alive[headers["Uniqueid"]] = message
        elif event == "Hangup":
            self._alive.pop(headers.get("Uniqueid", ""), None)
        data = _block(message)
        for writer in list(self._clients):
            writer.write(data)

    def mixmonitor(self, channel: dict[str, str], path: Path) -> None:
        """MixMonitor starting on the channel (dialplan `MixMonitor(${UNIQUEID}.wav)`), with the events Asterisk
        22 sends for it: the application's Newexten, the VarSet of MIXMONITOR_FILENAME naming the file in full,
        and MixMonitorStart."""
        self.emit("Newexten", **channel, Extension=channel["Exten"], Application="MixMonitor", AppData=path.name)
        self.emit("VarSet", **channel, Variable="MIXMONITOR_FILENAME", Value=str(path))
        self.emit("MixMonitorStart", **channel)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"Asterisk Call Manager/11.0.0{EOL}".encode())
        try:
            while True:
                raw = await reader.readuntil((EOL + EOL).encode())
                action = dict(line.split(": ", 1) for line in raw.decode().split(EOL) if ": " in line)
                name, action_id = action.get("Action", "").lower(), action.get("ActionID", "")
                if name == "login":
                    ok = action.get("Username") == self.user and action.get("Secret") == self.secret
                    writer.write(
                        _block(
                            {
                                "Response": "Success" if ok else "Error",
                                "ActionID": action_id,
                                "Message": "Authentication accepted" if ok else "Authentication failed",
                            }
                        )
                    )
                    if not ok:
                        return
                    self._clients.add(writer)
                else:
                    writer.write(reply(action, list(self._alive.values())))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()
