"""Alembic driven from code: `ivr-survey migrate`, `serve` at start, and the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from .engine import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


async def run_in_migration_transaction(url: str, migrate: Callable[[Connection], None]) -> None:
    """Run `migrate` in one transaction on its own engine. On SQLite, foreign keys are off meanwhile: a table
    altered in batch mode is copied, and dropping the old copy with foreign keys on would delete every row
    that refers to it (ON DELETE CASCADE). They are checked before the commit instead; a violation rolls the
    whole migration back."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # outside any transaction, or SQLite ignores it
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await conn.commit()
            async with conn.begin():
                await conn.run_sync(migrate)
                if sqlite and (broken := (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()):
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
    finally:
        await engine.dispose()  # its connections had foreign keys off: none goes back to a pool


async def _run(url: str, action: str, revision: str) -> None:
    await run_in_migration_transaction(
        url, lambda sync_conn: getattr(command, action)(alembic_config(sync_conn), revision)
    )


async def upgrade(url: str, revision: str = "head") -> None:
    await _run(url, "upgrade", revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await _run(url, "downgrade", revision)


async def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        await engine.dispose()
