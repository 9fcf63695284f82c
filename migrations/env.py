"""Alembic environment: runs on a connection handed over by ivr_survey.db.migrate, or opens one itself
(async engine) when called from the alembic command line."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from ivr_survey.db.migrate import run_in_migration_transaction
from ivr_survey.db.models import Base

config = context.config
target_metadata = Base.metadata


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from ivr_survey.config import load_settings

        url = load_settings().database_url
    return url


async def _run_async() -> None:
    await run_in_migration_transaction(_url(), _do_run)


connection = config.attributes.get("connection")
if connection is not None:
    _do_run(connection)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_async())
