"""Issue 15, active/standby: two instances with the same ARI app on one database; only the lock holder connects."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ivr_survey.app import create_app
from ivr_survey.db.ratings import list_ratings
from ivr_survey.keys import LEADERSHIP, SESSIONS, STASIS
from ivr_survey.simulator.ari import FakeAsterisk
from tests.integration.test_stasis import SPEED, prompt, settings_for
from tests.support.network_cut import NetworkCut
from tests.support.waiting import wait_until


async def _health(server: TestServer) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/healthz")) as resp:
        return resp.status, await resp.json()


def _role(server: TestServer) -> str:
    return server.app[LEADERSHIP].role


async def test_one_active_instance_and_a_takeover_when_its_lock_connection_dies(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("standbys need PostgreSQL's advisory lock; on SQLite one instance runs")
    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        servers = [
            TestServer(create_app(settings_for(database_url, fake, tmp_path, spool_dir=tmp_path / f"spool-{n}")))
            for n in (1, 2)
        ]
        try:
            for server in servers:
                await server.start_server()
            await wait_until(lambda: sorted(map(_role, servers)) == ["active", "standby"], "one active, one standby")
            await fake.wait_for_app()
            active, standby = sorted(servers, key=_role)
            await wait_until(lambda: active.app[STASIS].connected, "the active one to connect")
            assert fake.websocket_count() == 1

            status, body = await _health(active)
            assert (status, body["status"], body["ari"], body["role"], body["takeovers"]) == (
                200,
                "ok",
                "connected",
                "active",
                1,
            )
            status, body = await _health(standby)
            assert (status, body["status"], body["ari"], body["role"], body["takeovers"]) == (
                200,
                "ok",
                "standby",
                "standby",
                0,
            )

            # The lock's session asks the server to drop it soon after its peer stops answering (a cut network).
            lock_conn = active.app[LEADERSHIP]._conn
            assert lock_conn is not None
            shown = [
                (await lock_conn.execute(text(f"SHOW {name}"))).scalar_one()
                for name in (
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                    "tcp_user_timeout",
                )
            ]
            assert shown == ["2", "1", "3", "5000"]  # tcp_user_timeout in ms

            # A network cut between the active one and PostgreSQL: its lock's session ends.
            dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
            admin = await asyncpg.connect(dsn)
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", active.app[LEADERSHIP].lock_pid)
            finally:
                await admin.close()
            await wait_until(
                lambda: (_role(active), _role(standby)) == ("standby", "active"), "the standby to take over", 10.0
            )
            await wait_until(lambda: standby.app[STASIS].connected, "the new active one to connect")
            assert (fake.websocket_count(), fake.most_websockets) == (1, 1)  # never two at once
            assert not active.app[STASIS].connected
            assert (active.app[LEADERSHIP].takeovers, standby.app[LEADERSHIP].takeovers) == (1, 1)
            status, body = await _health(active)
            assert (status, body["ari"], body["role"]) == (200, "standby", "standby")

            channel = await fake.place_call(args=["operator=7001"], linkedid="L-after")
            await prompt(fake.subscribe(channel), "survey-rate")
            assert (channel in standby.app[STASIS].calls, active.app[STASIS].calls) == (True, {})
            await fake.press(channel, "4")
            await fake.wait_channel_gone(channel)
            await wait_until(lambda: not standby.app[STASIS].calls, "the survey to end")
            async with standby.app[SESSIONS]() as session:
                rated = [(r.call_id, r.status, r.score) for r in (await list_ratings(session, limit=10)).items]
            assert rated == [("L-after", "completed", 4.0)]
        finally:
            for server in servers:
                await server.close()
    assert (fake.websocket_count(), fake.most_websockets) == (0, 1)


async def test_a_second_instance_on_one_sqlite_file_stays_a_standby(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite file's lock; PostgreSQL has standbys that take over")
    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        first = TestServer(create_app(settings_for(database_url, fake, tmp_path, spool_dir=tmp_path / "spool-1")))
        second = TestServer(create_app(settings_for(database_url, fake, tmp_path, spool_dir=tmp_path / "spool-2")))
        await first.start_server()
        try:
            await wait_until(lambda: first.app[STASIS].connected, "the first to connect")
            await second.start_server()
            await wait_until(lambda: "SQLite allows one instance" in caplog.text, "the second to refuse")
            assert (_role(first), _role(second), fake.websocket_count()) == ("active", "standby", 1)
            status, body = await _health(second)
            assert (status, body["status"], body["ari"], body["role"], body["takeovers"]) == (
                200,
                "ok",
                "standby",
                "standby",
                0,
            )
        finally:
            await second.close()
            await first.close()
    refusals = [r for r in caplog.records if r.name == "ivr_survey.db.leadership" and r.levelno == logging.ERROR]
    path = make_url(database_url).database
    assert [r.getMessage() for r in refusals] == [
        f"another instance is active on the SQLite database {path} (it holds {path}.active.lock); SQLite allows one"
        " instance: this one stays a standby and takes no ARI calls (use PostgreSQL for standbys)"
    ]


async def test_a_cut_network_makes_the_active_one_step_down_before_the_standby_steps_up(
    database_url: str, tmp_path: Path
) -> None:
    """The network between the active instance and PostgreSQL goes dead (no reset, no close): its lock check hangs
    and it steps down; the server keeps the lock until it drops the dead session (its keepalives give up, here the
    relay's far side closing), and only then does the standby win it. No moment with two on the websocket."""
    if not database_url.startswith("postgresql"):
        pytest.skip("standbys need PostgreSQL's advisory lock; on SQLite one instance runs")
    url = make_url(database_url)
    async with (
        NetworkCut(url.host or "127.0.0.1", url.port or 5432) as network,
        FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake,
    ):
        cut_url = url.set(host="127.0.0.1", port=network.port).render_as_string(hide_password=False)
        active = TestServer(create_app(settings_for(cut_url, fake, tmp_path, spool_dir=tmp_path / "spool-1")))
        standby = TestServer(create_app(settings_for(database_url, fake, tmp_path, spool_dir=tmp_path / "spool-2")))
        try:
            await active.start_server()
            await wait_until(lambda: active.app[STASIS].connected, "the first to be active and connect", 10.0)
            await standby.start_server()
            await wait_until(lambda: standby.app[LEADERSHIP]._task is not None, "the second to watch the lock")

            network.cut()
            await wait_until(lambda: _role(active) == "standby", "the cut-off one to step down", 10.0)
            await wait_until(lambda: fake.websocket_count() == 0, "the cut-off one to close its websocket")
            assert _role(standby) == "standby"  # the server still holds the cut-off one's lock

            network.drop_far_side()
            await wait_until(lambda: standby.app[STASIS].connected, "the standby to take over", 15.0)
            assert (_role(active), _role(standby), fake.websocket_count(), fake.most_websockets) == (
                "standby",
                "active",
                1,
                1,
            )
        finally:
            await standby.close()
            await active.close()
    assert (fake.websocket_count(), fake.most_websockets) == (0, 1)
