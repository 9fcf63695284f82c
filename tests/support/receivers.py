"""Receivers of the outbox's events on loopback: a webhook and a fake Telegram Bot API. Each answers its requests
from a script (an HTTP status, "hang" for no answer until the client gives up) and then 200, and records what it
was sent, so tests count what arrived, and what was accepted."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.waiting import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered ("hang": 0)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`script`: the answers to the first requests, in order ("hang" holds the request until the client hangs
    up); every later request gets 200 (`default`)."""

    script: deque[int | str] = field(default_factory=deque)
    default: int | str = 200
    telegram: bool = False
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    def answer(self, answers: Iterable[int | str], *, then: int | str = 200) -> None:
        self.script = deque(answers)
        self.default = then

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        answer = self.script.popleft() if self.script else self.default
        record = Received(request.path, dict(request.headers), body, answer if isinstance(answer, int) else 0)
        self.received.append(record)
        if answer == "hang":
            await asyncio.sleep(3600)
        assert isinstance(answer, int)
        if not self.telegram:
            return web.Response(status=answer, text="ok" if answer < 300 else "receiver says no")
        if answer == 200:
            return web.json_response({"ok": True, "result": {"message_id": len(self.accepted)}})
        reply: dict[str, Any] = {"ok": False, "error_code": answer, "description": f"Bad Request: fake {answer}"}
        if answer == 429:
            reply = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests",
                "parameters": {"retry_after": 1},
            }
        return web.json_response(reply, status=answer)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
