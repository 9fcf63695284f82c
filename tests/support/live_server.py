"""The real app listening on a loopback port, for clients that are not asyncio (a browser, schemathesis).

The server lives in a thread of its own that runs one `asyncio.run`: the database is made, the app served and
everything torn down on that loop, so the test's thread never runs one (a live sync Playwright marks its thread's
loop as running, and asyncio refuses a second there).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.keys import SESSIONS

if TYPE_CHECKING:
    from tests.conftest import Databases

T = TypeVar("T")
# Bounds for a loaded 2-core machine, not measures: a healthy start or stop takes well under a second.
WITHIN = 60.0  # to start, and for a coroutine given to run()
STOP_WITHIN = 30.0


class LiveServer:
    """`create_app(Settings(...))` on a fresh migrated database, at `url`; `run()` a coroutine on its loop."""

    def __init__(self, databases: Databases, spool_dir: Path, **settings: Any) -> None:
        self._databases = databases
        self._spool_dir = spool_dir
        self._overrides = settings
        self._ready: Future[None] = Future()  # set once serving, or with the error that stopped the start
        self._done: Future[None] = Future()  # set when the thread ends, with what went wrong after the start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="live-server", daemon=True)
        self.url = ""
        self.settings: Settings | None = None
        self._app: web.Application | None = None

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The app's own sessions: seed with them through `run()`, e.g. `live.run(seed(live.sessions, rows))`."""
        assert self._app is not None, "the server is not started"
        return self._app[SESSIONS]

    def start(self) -> LiveServer:
        self._thread.start()
        self._ready.result(WITHIN)
        return self

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop (where its engine lives) and return its result."""
        assert self._loop is not None, "the server is not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(WITHIN)

    def stop(self) -> None:
        if self._thread.ident is None:  # never started
            return
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STOP_WITHIN)
        assert not self._thread.is_alive(), f"the live server did not stop within {STOP_WITHIN} s"
        if self._ready.done() and self._ready.exception(0) is None:  # a failed start was raised by start()
            self._done.result(0)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            self._done.set_exception(exc)
        else:
            self._done.set_result(None)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        database_url = await self._databases.create()
        try:
            # The socket is bound before the settings are made, so they name the port actually served (no race
            # for a port another process may take between a look-up and the bind).
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
                self.settings = Settings(
                    _env_file=None,
                    database_url=database_url,
                    spool_dir=self._spool_dir,
                    http_host="127.0.0.1",
                    http_port=port,
                    **self._overrides,
                )
                self._app = create_app(self.settings)
                runner = web.AppRunner(self._app, shutdown_timeout=5.0)
                await runner.setup()
                try:
                    await web.SockSite(runner, sock).start()
                    self.url = f"http://127.0.0.1:{port}"
                    self._ready.set_result(None)
                    await self._stop.wait()
                finally:
                    await runner.cleanup()
        finally:
            await self._databases.drop(database_url)
