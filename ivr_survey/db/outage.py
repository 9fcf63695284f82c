"""Is this database error an outage (wait and retry), or a refusal that no retry can change?

One answer for everyone who asks: the answer spool retries only outages and sets everything else aside; the
API answers an outage with 503 and a Retry-After, anything else with its own status. Outages are what an
operator fixes by bringing something back: a refused or reset connection, a server starting or shutting
down, too many connections, a disk full or unreadable, a lock held too long, a timeout, the SQLite file
gone. Everything else (a constraint, a type, a field this version does not know) is a refusal.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

from .sqlite_file import DatabaseFileLost

# PostgreSQL's SQLSTATE classes and codes that an outage raises (appendix A of its manual).
_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "58"})  # connection, insufficient resources, system (I/O)
_OUTAGE_SQLSTATES = frozenset(
    {
        "40001",  # serialization failure
        "40P01",  # deadlock detected
        "55P03",  # lock not available
        "57014",  # query cancelled (statement timeout)
        "57P01",  # admin shutdown
        "57P02",  # crash shutdown
        "57P03",  # cannot connect now: the database system is starting up
        "57P05",  # idle session timeout
    }
)
# SQLite's primary result codes of the same kind: busy, locked, out of memory, read-only (a remount or a
# permission change), I/O error, disk full, cannot open the file.
_OUTAGE_SQLITE_CODES = frozenset({5, 6, 7, 8, 10, 13, 14})


def _chain(exc: BaseException) -> list[BaseException]:
    """The error with what it wraps: SQLAlchemy's `orig` and explicit causes."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return seen


def _is_outage_one(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseFileLost | OSError):  # refused, reset, timed out (TimeoutError is an OSError)
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):  # the pool waited in vain
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES or sqlstate in _OUTAGE_SQLSTATES
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return isinstance(code, int) and code & 0xFF in _OUTAGE_SQLITE_CODES
    return False


def first_line(exc: BaseException) -> str:
    """A database error's first line, for the log: enough to tell what went wrong, never the statement's
    parameters (the engine hides them, and nothing below the first line is kept)."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def is_outage(exc: BaseException) -> bool:
    return any(_is_outage_one(e) for e in _chain(exc))
