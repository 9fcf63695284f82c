"""A TCP relay on loopback that can cut the network the way a dead switch does: nothing is refused or closed,
bytes just stop arriving. Later, `drop_far_side()` closes the relay's connections to the server, as the server's
own TCP keepalive would once it gives up on a peer that stopped answering."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self


class NetworkCut:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._cut = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._far: list[asyncio.StreamWriter] = []
        self._near: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.drop_far_side()
        for writer in self._near:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in (*self._far, *self._near)), return_exceptions=True)
        await self._server.wait_closed()

    def cut(self) -> None:
        """From now on no byte goes either way; every connection stays open."""
        self._cut.set()

    def drop_far_side(self) -> None:
        for writer in self._far:
            writer.close()

    async def _relay(self, near_reader: asyncio.StreamReader, near_writer: asyncio.StreamWriter) -> None:
        self._near.append(near_writer)
        far_reader, far_writer = await asyncio.open_connection(*self.target)
        self._far.append(far_writer)
        for reader, writer in ((near_reader, far_writer), (far_reader, near_writer)):
            task = asyncio.create_task(self._pump(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if self._cut.is_set():
                    await asyncio.Event().wait()  # a blackhole: the bytes are never delivered
                writer.write(data)
                await writer.drain()
