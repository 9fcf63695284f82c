"""Statement helpers every part of the storage uses, whichever way it talks to the database."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, CursorResult, FromClause, Result, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .engine import dialect_of


def affected(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched (what `session.execute` returns for one is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount


def upsert_insert(bind: AsyncSession | Connection, table: FromClause) -> Any:
    """An INSERT with on_conflict_do_nothing/on_conflict_do_update, in the session's (or connection's) dialect."""
    return (postgresql.insert if dialect_of(bind) == "postgresql" else sqlite.insert)(cast(Table, table))
