"""Engine and session factory; SQLite gets WAL, foreign keys and a busy timeout on every connection, and a
PostgreSQL URL's libpq parameters (sslmode & co.) become asyncpg's arguments."""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_SSL_FILES = ("sslrootcert", "sslcert", "sslkey")
# Query parameters that reach asyncpg.connect (or SQLAlchemy's dialect) as the strings they are.
_PASSED_ON = ("prepared_statement_cache_size", "target_session_attrs", "passfile", "krbsrvname", "gsslib")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _unreadable(name: str, path: str, exc: OSError) -> ValueError:
    # ssl.SSLError is an OSError too: a malformed file reads like a missing one
    return ValueError(f"{name} {path}: {(exc.strerror or str(exc)).lower()}")


def _ssl_context(mode: str, files: dict[str, str]) -> ssl.SSLContext:
    """libpq's meaning of the files: with a root certificate even `require` verifies the chain (as verify-ca),
    only verify-full checks the host name; without one, verify-* trusts the system's CAs."""
    if mode not in {"require", "verify-ca", "verify-full"}:
        raise ValueError(f"{', '.join(files)} needs sslmode=require, verify-ca or verify-full")
    if "sslkey" in files and "sslcert" not in files:
        raise ValueError("sslkey needs sslcert, the client certificate it belongs to")
    root = files.get("sslrootcert")
    try:
        context = ssl.create_default_context(cafile=root)
    except OSError as exc:
        raise _unreadable("sslrootcert", str(root), exc) from None
    context.check_hostname = mode == "verify-full"
    if mode == "require" and root is None:
        context.verify_mode = ssl.CERT_NONE
    if "sslcert" in files:
        try:
            context.load_cert_chain(files["sslcert"], files.get("sslkey"))
        except OSError as exc:
            raise _unreadable("sslcert", files["sslcert"], exc) from None
    return context


def postgresql_connection(url: str | URL) -> tuple[URL, dict[str, Any]]:
    """The URL asyncpg is given and its connect_args. libpq's sslmode (or asyncpg's own ssl=), sslrootcert,
    sslcert and sslkey, as cloud providers write them, become asyncpg's `ssl` argument; a ValueError names
    a parameter asyncpg cannot take."""
    url = make_url(url)
    query: dict[str, str] = {}
    for name, value in url.query.items():
        if isinstance(value, tuple):
            raise ValueError(f"{name} is given more than once")
        query[name] = value
    if "ssl" in query and "sslmode" in query:
        raise ValueError("give sslmode or ssl, not both")
    mode = query.pop("sslmode", None) or query.pop("ssl", None)
    files = {name: query.pop(name) for name in _SSL_FILES if name in query}
    if unknown := sorted(set(query) - set(_PASSED_ON)):
        raise ValueError(
            f"parameter {unknown[0]!r} is not supported by asyncpg; remove it "
            f"(supported: sslmode, {', '.join(_SSL_FILES)}, {', '.join(_PASSED_ON)})"
        )
    if mode is not None and mode not in _SSL_MODES:
        raise ValueError(f"sslmode {mode!r} is not one of {', '.join(_SSL_MODES)}")
    # A server that stops answering must fail fast: callers wait on these writes (the spool takes over).
    args: dict[str, Any] = {"timeout": 5, "command_timeout": 10}
    if files:
        args["ssl"] = _ssl_context(mode or "prefer", files)
    elif mode is not None:  # asyncpg reads libpq's modes itself, with PGSSLROOTCERT or ~/.postgresql/root.crt
        args["ssl"] = mode
    return url.set(query=query), args


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: SQL errors must never carry callers' numbers into the logs.
    if url.startswith("sqlite"):
        engine = create_async_engine(url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    asyncpg_url, connect_args = postgresql_connection(url)
    return create_async_engine(
        asyncpg_url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=5,
        connect_args=connect_args,
    )


def sqlite_sync_engine(url: str) -> Engine:
    """The same SQLite file through the standard library's driver, with the same settings on every connection:
    for the store's writer thread."""
    engine = create_sync_engine(make_url(url).set(drivername="sqlite+pysqlite"), hide_parameters=True)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def dialect_of(bind: AsyncSession | Connection) -> str:
    """The session's (or connection's) database: "sqlite" or "postgresql"."""
    if isinstance(bind, Connection):
        return bind.dialect.name
    return bind.bind.dialect.name if bind.bind is not None else "sqlite"


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure means "unreachable" to a health probe
        return False
    return True
