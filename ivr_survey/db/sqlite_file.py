"""The SQLite file, watched while the service runs.

Delete the file (or unmount its volume) under a running service and its open connections go on committing
into an unlinked inode that is gone at the next restart: every answer acknowledged meanwhile would be lost.
So each time a connection is taken from the pool, the file at the configured path must still be the one the
service opened; if it is not, the checkout fails with `DatabaseFileLost`, an outage: answers go to the spool
and the API answers 503, until an operator puts the file back and restarts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url


class DatabaseFileLost(Exception):
    """The database file at the configured path is gone, or is another file than the one opened."""


class SqliteFile:
    """Holds the opened file open (read-only), so that its inode cannot be reused by a file made anew at the
    same path, and compares: the path must still lead to it, and it must still have a name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def of(cls, url: str) -> SqliteFile | None:
        """The file behind a SQLite URL; None for PostgreSQL and in-memory databases."""
        parsed = make_url(url)
        if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
            return None
        return cls(Path(parsed.database).expanduser().resolve())

    def problem(self) -> str | None:
        """Why the file is not the one the service writes into; None while it is. The first file seen is
        the one opened (the engine creates it at its first connection if it was not there)."""
        try:
            # two stats per checkout: microseconds, next to the write that follows
            current = os.stat(self.path)
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            opened = os.fstat(self._fd)
        except FileNotFoundError:
            return "missing (deleted, or its volume unmounted)"
        except OSError as exc:
            return f"unreadable ({exc.strerror})"
        if opened.st_nlink == 0:
            return "deleted since the service opened it"
        if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            return "replaced by another file since the service opened it"
        return None

    def check(self) -> None:
        """Raises DatabaseFileLost unless the file is the one opened."""
        problem = self.problem()
        if problem is not None:
            raise DatabaseFileLost(f"database file {self.path} is {problem}")

    def watch(self, engine: Engine) -> None:
        """Check at every checkout from the engine's pool."""

        def check(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            self.check()

        self.problem()  # take hold of the file as it is now
        event.listen(engine, "checkout", check)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
