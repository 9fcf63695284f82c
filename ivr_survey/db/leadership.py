"""Which instance is active for an ARI app: the one holding a lock that the database itself releases.

On PostgreSQL the lock is `pg_try_advisory_lock` on a dedicated connection (outside the pool): PostgreSQL frees it
when the holder's session ends (its process died, or its connection was cut), so there is no election protocol
and no lease to expire. A standby tries for it every `poll` seconds; the holder checks its connection as often
and steps down the moment the check fails, at the latest `step_down_bound` seconds after its session ended. So a
standby that wins the lock waits that long before it connects: if the server ended the old holder's session
(restart, `pg_terminate_backend`) while that holder still runs, the holder has let go of the app first, and
there is never a moment with two instances on the app's websocket. The lock's session asks the server for short
TCP keepalives, so that a cut network ends it within seconds rather than the kernel's two hours.

On SQLite there is one instance: an exclusive `flock` on
`<database file>.active.lock`, held for the process's life; a second instance on the same file stays a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import NullPool, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .engine import postgresql_connection
from .models import utcnow
from .sqlite_file import SqliteFile

log = logging.getLogger(__name__)

Role = Literal["active", "standby"]
Transition = Callable[[], Awaitable[None]]

# The lock's session, on the server's side: a peer that stops answering is dropped within about 5 seconds.
_KEEPALIVES = {
    "tcp_keepalives_idle": "2",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "5000",
}


def advisory_key(purpose: str) -> int:
    """An advisory lock's key: the same on every instance, a signed 64-bit integer (bigint)."""
    digest = hashlib.sha256(purpose.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_key(app_name: str) -> int:
    """The advisory lock's key for an ARI app."""
    return advisory_key(f"ivr-survey ari app {app_name}")


class Leadership:
    """Runs `on_active` when this instance wins the lock and `on_standby` when it loses it."""

    def __init__(
        self, database_url: str, app_name: str, *, on_active: Transition, on_standby: Transition, poll: float = 0.5
    ) -> None:
        self.url = database_url
        self.app_name = app_name
        self.key = lock_key(app_name)
        self.poll = poll
        # The holder's check runs every `poll` seconds and gives up after 2 * poll: the longest it takes to see
        # its session end.
        self.step_down_bound = 3 * poll
        self._on_active = on_active
        self._on_standby = on_standby
        self.role: Role = "standby"
        self.role_since: datetime = utcnow()
        self.takeovers = 0  # times this instance became active
        self.lock_pid: int | None = None  # the PostgreSQL backend holding our lock, while we hold it
        self._task: asyncio.Task[None] | None = None
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._lock_fd: int | None = None

    def start(self) -> None:
        if self.url.startswith("sqlite"):
            sqlite_file = SqliteFile.of(self.url)
            run = self._sqlite(None if sqlite_file is None else sqlite_file.path)
        else:
            run = self._postgresql()
        self._task = asyncio.create_task(run, name="leadership")

    async def stop_watching(self) -> None:
        """Make no more transitions; the lock stays held, so no standby takes over while this one drains."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def release(self) -> None:
        """Let the lock go, after the drain: a standby may take over."""
        await self._drop_connection()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the file releases its flock
            self._lock_fd = None

    async def _become(self, role: Role) -> None:
        self.role, self.role_since = role, utcnow()
        if role == "active":
            self.takeovers += 1
            log.info("active for the ARI app %r (takeover %d)", self.app_name, self.takeovers)
            await self._on_active()
        else:
            log.warning("lost the lock of the ARI app %r (its database connection died); now a standby", self.app_name)
            await self._on_standby()

    # -- SQLite -----------------------------------------------------------------------------------------------

    async def _sqlite(self, path: Path | None) -> None:
        if path is not None:  # an in-memory database cannot be shared: nothing to guard
            lock_path = path.with_name(path.name + ".active.lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                log.error(
                    "another instance is active on the SQLite database %s (it holds %s); SQLite allows one"
                    " instance: this one stays a standby and takes no ARI calls (use PostgreSQL for standbys)",
                    path,
                    lock_path,
                )
                return
            self._lock_fd = fd
        await self._become("active")

    # -- PostgreSQL -------------------------------------------------------------------------------------------

    async def _postgresql(self) -> None:
        asyncpg_url, connect_args = postgresql_connection(self.url)
        server_settings = {**connect_args.get("server_settings", {}), **_KEEPALIVES}
        self._engine = create_async_engine(
            asyncpg_url,
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={**connect_args, "server_settings": server_settings},
        )
        unreachable = False
        while True:
            try:
                won = await self._try_lock(self._engine)
                unreachable = False
            except Exception as exc:  # the database is down: a standby keeps trying
                if not unreachable:
                    log.warning("cannot reach the database for the active lock (%s); retrying", type(exc).__name__)
                unreachable = True
                won = False
                await self._drop_connection()
            if won:
                await asyncio.sleep(self.step_down_bound)  # the previous holder, if it still runs, has let go
                await self._become("active")
                await self._hold()
                await self._drop_connection()
                await self._become("standby")
            await asyncio.sleep(self.poll)

    async def _try_lock(self, engine: AsyncEngine) -> bool:
        if self._conn is None:
            # autocommit: the lock belongs to the session; no transaction is left open beside it
            self._conn = await engine.connect()
            await self._conn.execution_options(isolation_level="AUTOCOMMIT")
        won = bool((await self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar())
        if won:
            self.lock_pid = (await self._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return won

    async def _hold(self) -> None:
        """Returns once the lock's connection fails a check: PostgreSQL has released the lock, or will."""
        assert self._conn is not None
        while True:
            await asyncio.sleep(self.poll)
            try:
                async with asyncio.timeout(self.poll * 2):
                    await self._conn.execute(text("SELECT 1"))
            except Exception:
                return

    async def _drop_connection(self) -> None:
        conn, self._conn, self.lock_pid = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # a dead connection cannot be closed politely
            with contextlib.suppress(Exception):
                await conn.close()
