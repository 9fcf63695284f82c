"""The FastAGI server: every connection is its own task, and nothing one connection does (garbage, a stall,
a vanishing peer, a bug) reaches another; the most it costs is one log line. A bare connect-and-close (a TCP
health probe) is read as end-of-stream and the task ends at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..service.survey_run import SurveySetup
from .protocol import AgiChannel, AgiError, AgiGone, read_headers
from .survey import AgiSurvey

log = logging.getLogger(__name__)


class AgiServer:
    def __init__(
        self,
        setup: SurveySetup,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        header_timeout: float = 10.0,
        reply_timeout: float = 10.0,
    ) -> None:
        self.setup = setup
        self.host = host
        self.requested_port = port  # 0: any free port (tests)
        self.header_timeout = header_timeout  # a peer that never finishes its headers is dropped after this
        self.reply_timeout = reply_timeout  # Asterisk answers a command within this (plus what the command takes)
        self.connections: set[asyncio.Task[None]] = set()
        self.on_latency: Callable[[float], None] | None = None  # handed to each AgiSurvey
        self.draining = False
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.requested_port)
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot listen for FastAGI on {self.host}:{self.requested_port}: {exc.strerror}"
            ) from None
        log.info("FastAGI listening on %s:%d", self.host, self.port)

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        peer = writer.get_extra_info("peername")
        agi = AgiChannel(reader, writer, reply_timeout=self.reply_timeout)
        try:
            if self.draining:  # accepted just before the listener closed: the caller goes on in the dialplan
                return
            try:
                async with asyncio.timeout(self.header_timeout):
                    headers = await read_headers(reader)
            except TimeoutError:
                log.warning(
                    "AGI connection from %s: no complete headers within %g s; closed", peer, self.header_timeout
                )
                return
            except (AgiError, AgiGone) as exc:
                log.warning("AGI connection from %s: %s; closed", peer, exc)
                return
            if headers is None:
                log.debug("AGI connection from %s closed before a word (a health probe?)", peer)
                return
            await AgiSurvey(agi, headers, self.setup, on_latency=self.on_latency).run()
        except Exception:
            log.exception("AGI connection from %s failed", peer)
        finally:
            await agi.close()
            self.connections.discard(task)

    async def stop(self, *, grace: float) -> None:
        """Stop accepting, let surveys in progress finish within `grace` seconds, then end the rest."""
        if self._server is None:
            return
        self.draining = True
        self._server.close()  # new AGI() calls fail at once and go on in the dialplan
        if self.connections:
            log.info("waiting up to %.0f s for %d AGI connections in progress", grace, len(self.connections))
            _, pending = await asyncio.wait(list(self.connections), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        await self._server.wait_closed()
        self._server = None
