"""The HTTP side of the foundation: health probe, bearer token, one JSON error shape."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from ivr_survey.app import create_app
from ivr_survey.config import Settings


def make_settings(database_url: str, tmp_path, **extra) -> Settings:
    return Settings(_env_file=None, database_url=database_url, spool_dir=tmp_path / "spool", **extra)


async def test_healthz_reports_database(database_url: str, tmp_path) -> None:
    app = create_app(make_settings(database_url, tmp_path, api_token="t0ken"))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert await resp.json() == {
            "status": "ok",
            "database": "ok",
            "ari": "disabled",
            "ami": "disabled",
            "agi": "disabled",
            "pending_records": 0,
            "spool": {"status": "ok", "pending": 0, "set_aside": 0},
        }


async def test_healthz_503_when_database_unreachable(tmp_path) -> None:
    url = "postgresql+asyncpg://nobody:pw@127.0.0.1:1/none"
    app = create_app(make_settings(url, tmp_path))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/healthz")
        assert resp.status == 503
        body = await resp.json()
        assert (body["status"], body["database"]) == ("degraded", "unreachable")


async def test_token_required_everywhere_but_healthz(database_url: str, tmp_path) -> None:
    app = create_app(make_settings(database_url, tmp_path, api_token="t0ken"))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/ratings")
        assert resp.status == 401
        assert await resp.json() == {
            "error": {"code": "unauthorized", "message": "missing or invalid bearer token", "details": {}}
        }
        resp = await client.get("/ratings", headers={"Authorization": "Bearer wrong"})
        assert resp.status == 401
        resp = await client.get("/ratings", headers={"Authorization": "Bearer t0ken"})
        assert resp.status == 200
        assert await resp.json() == {"items": [], "next_cursor": None}


async def test_errors_share_one_shape(database_url: str, tmp_path) -> None:
    app = create_app(make_settings(database_url, tmp_path))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/no-such-thing")
        assert resp.status == 404
        assert await resp.json() == {"error": {"code": "not_found", "message": "Not Found", "details": {}}}
        resp = await client.get("/ratings?limit=0")
        assert resp.status == 400
        assert await resp.json() == {
            "error": {
                "code": "invalid_parameter",
                "message": "limit must be a whole number from 1 to 1000",
                "details": {"parameter": "limit"},
            }
        }
        resp = await client.post("/healthz")
        assert resp.status == 405
        assert (await resp.json())["error"]["code"] == "method_not_allowed"
