"""The FastAGI line protocol, as much of it as the survey needs.

Asterisk connects and sends `agi_name: value` lines ending with an empty line; then we send one
command a line and read its reply: `200 result=<n> [(<data>)] [endpos=<n>]`, `510` (unknown
command), `520-...` lines up to `520 End of proper usage.` (bad syntax), `511` (the channel is dead).
With AGISIGHUP on (the FastAGI default), Asterisk also sends a bare `HANGUP` line, between replies,
once the caller hangs up.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

MAX_HEADERS = 200  # Asterisk sends about 25 (plus agi_arg_N); more is not Asterisk

_HEADER = re.compile(r"agi_([a-z0-9_]+): ?(.*)")
_REPLY = re.compile(r"(\d{3})([ -])(.*)")
_RESULT = re.compile(r"result=(-?\d+)(?: \((.*)\))?")


class AgiGone(Exception):
    """The connection ended: closed, reset, or silent past a deadline."""


class AgiError(Exception):
    """Asterisk refused a command (510, 520 or anything but 200 and 511), or sent what is not AGI."""


def _line(raw: bytes) -> str:
    # Caller names and channel variables need not be UTF-8; nothing we act on is outside ASCII.
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


async def read_headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
    """The `agi_` header block as {name without agi_: value}; None when the peer closed before sending a byte
    (a TCP health probe). Raises AgiError on what is not an AGI header, AgiGone when it ends half-way."""
    headers: dict[str, str] = {}
    while True:
        try:
            raw = await reader.readline()
        except ValueError:  # a line past the stream's limit (64 KiB)
            raise AgiError("header line too long") from None
        except ConnectionError as exc:
            raise AgiGone(exc.__class__.__name__) from None
        if not raw and not headers:
            return None
        if not raw.endswith(b"\n"):  # readline's last, partial line at end-of-stream
            raise AgiGone("closed in the middle of the headers")
        line = _line(raw)
        if not line:
            return headers
        match = _HEADER.fullmatch(line)
        if match is None:
            raise AgiError(f"not an AGI header: {line[:60]!r}")
        if len(headers) >= MAX_HEADERS:
            raise AgiError(f"more than {MAX_HEADERS} headers")
        headers[match.group(1)] = match.group(2)


def script_args(headers: dict[str, str]) -> tuple[str, list[str]]:
    """The script path and its arguments: `survey?operator=7001&queue=sales` gives
    ("survey", ["operator=7001", "queue=sales"]); AGI(agi://host/survey,operator=7001) arguments
    (agi_arg_N) follow the query's, so both dialplan spellings work."""
    path, _, query = headers.get("network_script", "").partition("?")
    args = [unquote_plus(piece) for piece in query.split("&") if piece]
    n = 1
    while f"arg_{n}" in headers:
        args.append(headers[f"arg_{n}"])
        n += 1
    return path.strip("/"), args


def quote(value: str) -> str:
    """One command argument. A line break would end the command and start another one of the caller's
    choosing (lang= comes from the dialplan), so it is refused; spaces and quotes are quoted."""
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"control character in AGI argument {value!r}")
    if value and not any(c in value for c in ' "\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Reply:
    code: int  # 200, or 511 for a dead channel
    result: int = 0
    data: str | None = None  # the text in parentheses, e.g. a variable's value


class AgiChannel:
    """Commands over one FastAGI connection, one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, reply_timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._reply_timeout = reply_timeout
        self.hung_up = False  # Asterisk said HANGUP or answered 511: the caller is gone
        self.gone = False  # the connection itself is over; nothing more is sent

    async def command(self, command: str, *, takes: float = 0.0) -> Reply:
        """Send one command and read its reply; `takes` is how long the command itself may run
        (a prompt, a wait for a key) on top of the reply timeout."""
        if self.gone:
            raise AgiGone("connection already closed")
        try:
            async with asyncio.timeout(takes + self._reply_timeout):
                self._writer.write(command.encode() + b"\n")
                await self._writer.drain()
                return await self._read_reply()
        except (TimeoutError, ConnectionError) as exc:
            self.gone = True
            raise AgiGone(f"no reply to {command[:40]!r} ({exc.__class__.__name__})") from None
        except AgiGone:
            self.gone = True
            raise

    async def _read_reply(self) -> Reply:
        while True:
            line = await self._next_line()
            if line == "HANGUP":
                self.hung_up = True
                continue
            match = _REPLY.fullmatch(line)
            if match is None:
                raise AgiError(f"not an AGI reply: {line[:60]!r}")
            code, more, text = int(match.group(1)), match.group(2) == "-", match.group(3)
            while more:  # 520-Invalid command syntax... up to 520 End of proper usage.
                more = not (await self._next_line()).startswith(f"{code} ")
            if code == 511:
                self.hung_up = True
                return Reply(511)
            result = _RESULT.match(text)
            if code != 200 or result is None:
                raise AgiError(f"{code} {text}")
            return Reply(200, int(result.group(1)), result.group(2))

    async def _next_line(self) -> str:
        try:
            raw = await self._reader.readline()
        except ValueError:
            raise AgiError("reply line too long") from None
        if not raw.endswith(b"\n"):  # end-of-stream, maybe after part of a line
            raise AgiGone("connection closed")
        return _line(raw)

    async def close(self) -> None:
        self.gone = True
        self._writer.close()
        try:
            async with asyncio.timeout(self._reply_timeout):
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError):
            pass  # the peer went first or never acknowledged: either way we are done with it
