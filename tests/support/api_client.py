"""The app over HTTP with a bootstrap admin token, for API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from ivr_survey.app import create_app
from ivr_survey.config import Settings

AUTH = {"Authorization": "Bearer admin-token"}


@asynccontextmanager
async def admin_client(database_url: str, tmp_path: Path, **settings: object) -> AsyncIterator[TestClient]:
    config = Settings(
        _env_file=None, database_url=database_url, spool_dir=tmp_path / "spool", api_token="admin-token", **settings
    )  # type: ignore[arg-type]
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


async def get(client: TestClient, path: str, status: int = 200) -> dict:
    resp = await client.get(path, headers=AUTH)
    body = await resp.json()
    assert resp.status == status, body
    return body
