"""Database fixtures shared by every test.

The suite runs on SQLite by default and on PostgreSQL when IVR_SURVEY_TEST_DATABASE_URL names a
server (any database on it; the tests create and drop their own). Migrations run once into a
template; each test gets a fresh copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on
PostgreSQL), so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ivr_survey.config import normalise_database_url
from ivr_survey.db.engine import create_engine, create_sessionmaker
from ivr_survey.db.migrate import upgrade

PG_URL = os.environ.get("IVR_SURVEY_TEST_DATABASE_URL")


@dataclass(frozen=True)
class Databases:
    """Makes databases for tests: migrated copies of a template, or empty ones."""

    kind: str
    root: str  # the server URL (PostgreSQL) or a folder (SQLite)
    template: str

    def _pg_url(self, name: str) -> str:
        return make_url(self.root).set(database=name).render_as_string(hide_password=False)

    async def _pg_admin(self, sql: str) -> None:
        dsn = make_url(self.root).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self, *, migrated: bool = True) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            path = Path(self.root) / f"{name}.db"
            if migrated:
                shutil.copyfile(self.template, path)
            return f"sqlite+aiosqlite:///{path}"
        template = f" TEMPLATE {self.template}" if migrated else ""
        await self._pg_admin(f'CREATE DATABASE "{name}"{template}')
        return self._pg_url(name)

    async def drop(self, url: str) -> None:
        if self.kind == "postgresql":
            await self._pg_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    if PG_URL:
        root = normalise_database_url(PG_URL)
        dbs = Databases("postgresql", root, f"tpl_{uuid.uuid4().hex[:10]}")

        async def make_template() -> None:
            await dbs._pg_admin(f'CREATE DATABASE "{dbs.template}"')
            await upgrade(dbs._pg_url(dbs.template))

        asyncio.run(make_template())
        yield dbs
        asyncio.run(dbs._pg_admin(f'DROP DATABASE IF EXISTS "{dbs.template}" WITH (FORCE)'))
    else:
        folder = tmp_path_factory.mktemp("db")
        template = folder / "template.db"
        asyncio.run(upgrade(f"sqlite+aiosqlite:///{template}"))
        yield Databases("sqlite", str(folder), str(template))


@pytest.fixture
async def database_url(databases: Databases) -> AsyncIterator[str]:
    url = await databases.create()
    yield url
    await databases.drop(url)


@pytest.fixture
async def empty_database_url(databases: Databases) -> AsyncIterator[str]:
    url = await databases.create(migrated=False)
    yield url
    await databases.drop(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps made by tests keep their generated session key in a folder of their own, not the working one."""
    monkeypatch.setenv("IVR_SURVEY_DATA_DIR", str(tmp_path_factory.mktemp("data")))
