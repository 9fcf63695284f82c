"""A fake Asterisk Manager Interface on loopback that replays a recorded AMI trace byte for byte.

A trace (../shared/asterisk-ari/traces/ami-*.txt) is what a real Asterisk 22 sent: its banner, the answer to
the Login, then the events. The fake sends the banner on connect, answers Login as Asterisk does (the trace's
answer with the client's ActionID after the Response line), then the event bytes exactly as recorded. It also
answers Ping and CoreShowChannels (from the channels the stream has opened and not hung up so far), and records
every action it was sent.

A plan can drop the connection at byte offsets of the event stream (`cuts`); on the next login the stream goes
on from `resume(cut)`: the same offset (nothing lost), or further on (what Asterisk said during an outage).
`junk` is sent before the stream on every connection."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ivr_survey.simulator.fake_ami import reply
from tests.support.reference import TRACES

EOL = b"\r\n"


def ami_event(name: str, ts: float, **headers: str) -> dict[str, str]:
    """An event as Asterisk stamps it (manager.conf timestampevents = yes), for tables of events."""
    return {"Event": name, "Timestamp": f"{ts:.6f}", **headers}


def split_trace(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(banner line, login answer block, event stream), each with its line ends."""
    banner_end = raw.index(EOL) + 2
    login_end = raw.index(EOL + EOL, banner_end) + 4
    return raw[:banner_end], raw[banner_end:login_end], raw[login_end:]


def event_bounds(stream: bytes) -> list[int]:
    """Offsets where events start, and the end."""
    bounds, pos = [0], 0
    while (nxt := stream.find(EOL + EOL, pos)) != -1:
        pos = nxt + 4
        bounds.append(pos)
    return bounds


@dataclass
class FakeAmi:
    trace: bytes
    cuts: list[int] = field(default_factory=list)
    resume: Callable[[int], int] = lambda offset: offset
    junk: bytes = b""
    actions: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0
    listen_port: int = 0  # 0: any free one (`port` says which)

    def __post_init__(self) -> None:
        self.banner, self.login_answer, self.stream = split_trace(self.trace)
        self.position = 0
        self.server: asyncio.Server | None = None
        self.port = 0
        self.done = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def from_trace(cls, name: str, **kwargs: object) -> FakeAmi:
        return cls((TRACES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_events(cls, events: list[dict[str, str]], **kwargs: object) -> FakeAmi:
        """A real Asterisk 22's banner and Login answer (from a trace), then these events (from a table), on the
        wire as Asterisk writes them."""
        banner, login, _ = split_trace((TRACES / "ami-answered-then-missed.txt").read_bytes())
        stream = b"".join(b"".join(f"{k}: {v}".encode() + EOL for k, v in e.items()) + EOL for e in events)
        return cls(banner + login + stream, **kwargs)  # type: ignore[arg-type]

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for writer in list(self._writers):
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def alive_channels(self) -> list[dict[str, str]]:
        """Channels opened and not hung up in the stream up to the current position (Asterisk's own view)."""
        alive: dict[str, dict[str, str]] = {}
        for block in self.stream[: self.position].split(EOL + EOL):
            headers = _headers(block)
            if headers.get("Event") == "Newchannel":
                alive[headers["Uniqueid"]] = headers
            elif headers.get("Event") == "Hangup":
                alive.pop(headers.get("Uniqueid", ""), None)
        return list(alive.values())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            writer.write(self.banner)
            while True:
                block = await reader.readuntil(EOL + EOL)
                action = _headers(block)
                self.actions.append(action)
                if not await self._answer(action, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        """Answer one action; False once the connection is to be dropped."""
        name, action_id = action.get("Action", "").lower(), action.get("ActionID", "")
        if name == "login":
            # Asterisk puts the ActionID right after the Response line
            first, rest = self.login_answer.split(EOL, 1)
            writer.write(first + EOL + f"ActionID: {action_id}".encode() + EOL + rest)
            writer.write(self.junk)
            return await self._send_stream(writer)
        writer.write(reply(action, self.alive_channels()))
        await writer.drain()
        return True

    async def _send_stream(self, writer: asyncio.StreamWriter) -> bool:
        cut = next((c for c in self.cuts if c > self.position), None)
        end = len(self.stream) if cut is None else cut
        writer.write(self.stream[self.position : end])
        await writer.drain()
        if cut is None:
            self.position = end
            self.done.set()
            return True
        self.cuts.remove(cut)
        self.position = self.resume(cut)
        return False  # drop the connection mid-stream


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z0-9_-]+", key):
            headers.setdefault(key, value)
    return headers
