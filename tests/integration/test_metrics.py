"""GET /metrics against the simulated PBX: the survey counters equal the rows stored, a replay counts nothing
again, the HTTP counters count exactly the requests made, the links and the role read live, and the token
rules hold. Every figure is parsed from the exposition with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db.models import Call, Survey, SurveyAnswer, SurveyResponse
from ivr_survey.db.store import SurveyStore
from ivr_survey.db.tokens import create_token
from ivr_survey.db.writes import FinishResponse, SaveAnswer, StartResponse
from ivr_survey.keys import AMI, LEADERSHIP, SESSIONS, STASIS
from ivr_survey.metrics.live import LiveCollector
from ivr_survey.metrics.registry import Metrics
from ivr_survey.metrics.store import SurveyCounters, score_label
from ivr_survey.simulator.ari import FakeAsterisk
from tests.support.fake_ami import FakeAmi, event_bounds
from tests.support.store import T0, SwitchableWriter, answer_fields, start_fields
from tests.support.waiting import free_port, wait_until

SPEED = 50.0
API_TOKEN = "metrics-api-token-0123456789"
METRICS_TOKEN = "metrics-scrape-token-0123456789"

AMI_TRACE = "ami-answered-then-missed.txt"  # one call answered, one missed

Labels = tuple[tuple[str, str], ...]


def parse(text: str) -> dict[str, dict[Labels, float]]:
    """Sample name -> {sorted labels -> value}."""
    out: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def scrape(client: TestClient, **headers: str) -> dict[str, dict[Labels, float]]:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return parse(await response.text())


def settings_for(database_url: str, tmp_path: Path, fake: FakeAsterisk | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        no_input_timeout=0.1,
        inter_digit_timeout=0.1,
        shutdown_grace=2.0,
    )
    if fake is not None:
        values |= dict(ari_url=fake.base_url, ari_user="ivr-survey", ari_password="secret")
    return Settings(**(values | extra))


@dataclass
class Pbx:
    fake: FakeAsterisk
    client: TestClient

    @property
    def app(self) -> web.Application:
        return self.client.app

    async def events_until(self, channel: str, sound: str) -> None:
        events = self.fake.subscribe(channel)
        async with asyncio.timeout(5):
            while True:
                event = await events.get()
                if event["type"] == "PlaybackStarted" and event["playback"]["media_uri"] == f"sound:{sound}":
                    return

    async def done(self, channel: str) -> None:
        await self.fake.wait_channel_gone(channel, timeout=10)
        await wait_until(lambda: channel not in self.app[STASIS].calls, "the call to leave the app", 10)


@pytest.fixture
async def pbx(database_url: str, tmp_path: Path) -> AsyncIterator[Pbx]:
    async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
        client = TestClient(TestServer(create_app(settings_for(database_url, tmp_path, fake))))
        await client.start_server()
        try:
            await fake.wait_for_app()
            await wait_until(lambda: client.app[STASIS].connected, "ARI to connect")
            yield Pbx(fake, client)
        finally:
            await client.close()


async def rows(sessions: async_sessionmaker[AsyncSession]) -> tuple[dict, dict, dict]:
    """What the database holds: ended responses by (status, survey), started by survey, answers by question/score."""
    async with sessions() as s:
        by_status = await s.execute(
            select(SurveyResponse.status, Survey.name, func.count())
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .where(SurveyResponse.status != "in_progress")
            .group_by(SurveyResponse.status, Survey.name)
        )
        started = await s.execute(
            select(Survey.name, func.count())
            .select_from(SurveyResponse)
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .group_by(Survey.name)
        )
        answers = await s.execute(
            select(SurveyAnswer.question, SurveyAnswer.score, func.count()).group_by(
                SurveyAnswer.question, SurveyAnswer.score
            )
        )
        return (
            {(("status", st), ("survey", name)): float(n) for st, name, n in by_status},
            {(("survey", name),): float(n) for name, n in started},
            {(("question", q), ("score", score_label(score))): float(n) for q, score, n in answers},
        )


async def test_survey_counters_equal_the_rows_stored(pbx: Pbx) -> None:
    fake = pbx.fake
    # Three rated calls; while the first waits for its key, it is a survey in progress.
    first = await fake.place_call(args=["post-call", "7001"], linkedid="L-1")
    await pbx.events_until(first, "survey-rate")
    assert (await scrape(pbx.client))["ivr_survey_surveys_in_progress"] == {(("entry", "ari"),): 1.0}
    await fake.press(first, "5")
    await pbx.done(first)
    for linkedid, key in (("L-2", "4"), ("L-3", "5")):
        channel = await fake.place_call(args=["post-call", "7002"], linkedid=linkedid)
        await pbx.events_until(channel, "survey-rate")
        await fake.press(channel, key)
        await pbx.done(channel)
    silent = await fake.place_call(args=["post-call", "7001"], linkedid="L-silent")  # no_input
    await pbx.done(silent)
    gone = await fake.place_call(args=["post-call", "7003"], linkedid="L-gone")  # abandoned
    await pbx.events_until(gone, "survey-rate")
    await fake.caller_hangup(gone)
    await pbx.done(gone)

    metrics = await scrape(pbx.client)
    ended, started, answers = await rows(pbx.app[SESSIONS])
    assert (
        metrics["ivr_survey_surveys_total"]
        == ended
        == {
            (("status", "completed"), ("survey", "default")): 3.0,
            (("status", "no_input"), ("survey", "default")): 1.0,
            (("status", "abandoned"), ("survey", "default")): 1.0,
        }
    )
    assert metrics["ivr_survey_surveys_started_total"] == started == {(("survey", "default"),): 5.0}
    assert (
        metrics["ivr_survey_answers_total"]
        == answers
        == {
            (("question", "rating"), ("score", "5")): 2.0,
            (("question", "rating"), ("score", "4")): 1.0,
            (("question", "rating"), ("score", "none")): 1.0,
        }
    )
    writes = metrics["ivr_survey_db_write_seconds_count"]
    assert writes == {(("op", "start"),): 5.0, (("op", "answer"),): 4.0, (("op", "finish"),): 5.0}
    # Every key and prompt's end that led to actions was timed (how long it took is not asserted).
    assert metrics["ivr_survey_event_to_action_seconds_count"][(("entry", "ari"),)] >= 3
    assert metrics["ivr_survey_surveys_in_progress"] == {(("entry", "ari"),): 0.0}
    assert metrics["ivr_survey_spool_pending"] == {(): 0.0}
    assert metrics["ivr_survey_spool_set_aside"] == {(): 0.0}
    assert metrics["ivr_survey_campaign_calls_in_progress"] == {(): 0.0}


async def test_ari_link_and_the_role(pbx: Pbx) -> None:
    metrics = await scrape(pbx.client)
    assert metrics["ivr_survey_link_connected"] == {(("link", "ari"),): 1.0}
    assert metrics["ivr_survey_link_reconnects_total"] == {(("link", "ari"),): 0.0}
    assert metrics["ivr_survey_role"] == {(("role", "active"),): 1.0, (("role", "standby"),): 0.0}
    assert metrics["ivr_survey_takeovers_total"] == {(): 1.0}
    since = pbx.app[LEADERSHIP].role_since.timestamp()
    assert metrics["ivr_survey_role_since_seconds"] == {(): pytest.approx(since)}

    assert await pbx.fake.drop_websockets() == 1
    await wait_until(lambda: pbx.app[STASIS].reconnects == 1 and pbx.app[STASIS].connected, "ARI to reconnect")
    metrics = await scrape(pbx.client)
    assert metrics["ivr_survey_link_reconnects_total"] == {(("link", "ari"),): 1.0}
    assert metrics["ivr_survey_takeovers_total"] == {(): 1.0}  # a reconnect is no takeover

    await pbx.fake.stop()
    await wait_until(lambda: not pbx.app[STASIS].connected, "the app to see ARI gone")
    assert (await scrape(pbx.client))["ivr_survey_link_connected"] == {(("link", "ari"),): 0.0}


async def test_http_counters_count_the_requests_made(database_url: str, tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(settings_for(database_url, tmp_path)))) as client:
        for _ in range(2):
            assert (await client.get("/ratings")).status == 200
        assert (await client.get("/calls/nobody")).status == 404
        for path in ("/no/such/path", "/nor/this"):
            assert (await client.get(path)).status == 404
        assert (await client.post("/ratings")).status == 405
        first = await scrape(client)
        second = await scrape(client)

    requests = {
        (("method", "GET"), ("route", "/ratings"), ("status", "200")): 2.0,
        (("method", "GET"), ("route", "/calls/{call_id}"), ("status", "404")): 1.0,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 2.0,
        (("method", "POST"), ("route", "unmatched"), ("status", "405")): 1.0,
    }
    # A scrape is counted once it is answered: the first does not see itself, the second sees the first.
    assert first["ivr_survey_http_requests_total"] == requests
    assert second["ivr_survey_http_requests_total"] == requests | {
        (("method", "GET"), ("route", "/metrics"), ("status", "200")): 1.0
    }
    assert second["ivr_survey_http_request_seconds_count"] == {
        (("method", "GET"), ("route", "/ratings")): 2.0,
        (("method", "GET"), ("route", "/calls/{call_id}")): 1.0,
        (("method", "GET"), ("route", "unmatched")): 2.0,
        (("method", "POST"), ("route", "unmatched")): 1.0,
        (("method", "GET"), ("route", "/metrics")): 1.0,
    }


async def test_apps_in_one_process_count_apart(database_url: str, tmp_path: Path) -> None:
    async with (
        TestClient(TestServer(create_app(settings_for(database_url, tmp_path / "a")))) as a,
        TestClient(TestServer(create_app(settings_for(database_url, tmp_path / "b")))) as b,
    ):
        await a.get("/ratings")
        assert "ivr_survey_http_requests_total" not in await scrape(b)
        assert (await scrape(a))["ivr_survey_http_requests_total"] == {
            (("method", "GET"), ("route", "/ratings"), ("status", "200")): 1.0
        }


# -- who may scrape ---------------------------------------------------------------------------------------


async def status_of(client: TestClient, path: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return (await client.get(path, headers=headers)).status


async def test_off_loopback_a_token_is_needed(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(
        database_url, tmp_path, http_host="0.0.0.0", api_token=API_TOKEN, metrics_token=METRICS_TOKEN
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        async with client.app[SESSIONS]() as session, session.begin():
            stored = await create_token(session, name="grafana", role="analyst")
        assert await status_of(client, "/metrics", None) == 401
        assert await status_of(client, "/metrics", "not-a-token-of-ours") == 401
        assert await status_of(client, "/metrics", API_TOKEN) == 200
        assert await status_of(client, "/metrics", stored) == 200
        assert await status_of(client, "/metrics", METRICS_TOKEN) == 200
        # the metrics token opens /metrics and nothing else
        assert await status_of(client, "/ratings", METRICS_TOKEN) == 401
        assert await status_of(client, "/ratings", API_TOKEN) == 200


async def test_on_loopback_without_an_api_token_no_token_is_needed(database_url: str, tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(settings_for(database_url, tmp_path)))) as client:
        assert await status_of(client, "/metrics", None) == 200


async def test_a_metrics_token_alone_does_not_open_metrics_to_anyone(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path, http_host="0.0.0.0", metrics_token=METRICS_TOKEN)
    async with TestClient(TestServer(create_app(settings))) as client:
        assert await status_of(client, "/metrics", None) == 401
        assert await status_of(client, "/metrics", METRICS_TOKEN) == 200


# -- the spool's replay -------------------------------------------------------------------------------------


async def test_a_replayed_spool_record_is_not_counted_again(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    unplugged = SwitchableWriter(sessions)
    unplugged.down = True
    offline = SurveyStore(sessions, spool, writer=unplugged, retry_initial=0.01)
    await offline.start()
    for record in (
        StartResponse(**start_fields("L-spooled")),
        SaveAnswer(**answer_fields("L-spooled", "4")),
        FinishResponse(linkedid="L-spooled", status="completed", ended_at=T0),
    ):
        await offline.write(record)
    await offline.close()  # the three records wait on disk
    shutil.copytree(spool, tmp_path / "copy")

    metrics = Metrics()
    for _ in range(2):  # the spool replayed, then the same spool again (a crash before it was emptied)
        store = SurveyStore(sessions, spool, retry_initial=0.01, listeners=[SurveyCounters(metrics)])
        await store.start()
        await wait_until(lambda: store.pending == 0, "the spool to be replayed")  # noqa: B023
        await store.close()
        shutil.rmtree(spool)
        shutil.copytree(tmp_path / "copy", spool)

    values = parse((await metrics.render(None))[0].decode())
    assert values["ivr_survey_surveys_started_total"] == {(("survey", "default"),): 1.0}
    assert values["ivr_survey_answers_total"] == {(("question", "rating"), ("score", "4")): 1.0}
    assert values["ivr_survey_surveys_total"] == {(("status", "completed"), ("survey", "default")): 1.0}
    # every write was timed, the replays that stored nothing too
    assert values["ivr_survey_db_write_seconds_count"] == {
        (("op", "start"),): 2.0,
        (("op", "answer"),): 2.0,
        (("op", "finish"),): 2.0,
    }


async def test_refreshers_run_before_rendering_and_a_failing_or_hung_one_is_skipped() -> None:
    metrics = Metrics()
    order: list[str] = []

    async def broken() -> None:
        order.append("broken")
        raise aiohttp.ClientError("the database is away")

    async def outbox() -> None:
        order.append("outbox")
        metrics.outbox_pending.labels(target="webhook").set(3)

    async def hung() -> None:
        order.append("hung")
        await asyncio.Event().wait()

    metrics.refreshers += [broken, hung, outbox]
    with patch("ivr_survey.metrics.registry.REFRESH_SECONDS", 0.05):
        values = parse((await metrics.render(None))[0].decode())
    assert order == ["broken", "hung", "outbox"]
    assert values["ivr_survey_outbox_pending"] == {(("target", "webhook"),): 3.0}


# -- every link at once: what the dashboard asks for is exported ----------------------------------------------

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "ivr-survey.json"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
PERSONAL = re.compile(r"call|phone|number|linkedid|uniqueid|caller|contact", re.IGNORECASE)


def exported_names(text: str) -> tuple[set[str], set[str]]:
    """Every series name the exposition declares (a labelled metric without samples yet too), and every label
    name its samples carry."""
    names: set[str] = set()
    labels: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        labels |= {label for sample in family.samples for label in sample.labels}
    return names, labels


async def test_every_metric_the_dashboard_queries_is_exported(database_url: str, tmp_path: Path) -> None:
    ami = FakeAmi.from_trace(AMI_TRACE)
    await ami.start()
    agi_port = free_port()
    try:
        async with FakeAsterisk(user="ivr-survey", password="secret", app="ivr-survey", speed=SPEED) as fake:
            settings = settings_for(
                database_url,
                tmp_path,
                fake,
                ami_host="127.0.0.1",
                ami_port=ami.port,
                ami_secret="secret",
                agi_port=agi_port,
            )
            async with TestClient(TestServer(create_app(settings))) as client:
                await wait_until(lambda: client.app[STASIS].connected and client.app[AMI].connected, "ARI and AMI")
                await wait_until(lambda: client.app[AMI].written == 2, "the AMI trace's calls to be stored")
                channel = await fake.place_call(args=["post-call", "7001"], linkedid="L-dash")
                pbx = Pbx(fake, client)
                await pbx.events_until(channel, "survey-rate")
                await fake.press(channel, "5")
                await pbx.done(channel)
                response = await client.get("/metrics")
                text = await response.text()
                async with client.app[SESSIONS]() as session:
                    rows_by = await session.execute(select(Call.disposition, func.count()).group_by(Call.disposition))
                    dispositions = {disposition: n for disposition, n in rows_by}
    finally:
        await ami.close()

    metrics = parse(text)
    assert metrics["ivr_survey_link_connected"] == {
        (("link", "agi"),): 1.0,
        (("link", "ami"),): 1.0,
        (("link", "ari"),): 1.0,
    }
    assert metrics["ivr_survey_surveys_in_progress"] == {(("entry", "agi"),): 0.0, (("entry", "ari"),): 0.0}
    # the AMI collector's calls, as stored (the survey's call has no disposition: AMI did not see it)
    assert (
        metrics["ivr_survey_ami_calls_total"]
        == {(("disposition", d),): float(n) for d, n in dispositions.items() if d is not None}
        == {(("disposition", "answered"),): 1.0, (("disposition", "missed"),): 1.0}
    )

    names, labels = exported_names(text)
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {
        name
        for panel in board["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bivr_survey_\w+", target["expr"])
    }
    assert queried - names == set()
    assert {"ivr_survey_surveys_total", "ivr_survey_answers_total", "ivr_survey_spool_pending"} <= queried
    assert {label for label in labels if PERSONAL.search(label)} == set()


async def test_ami_reconnects_are_counted(run) -> None:
    bounds = event_bounds(FakeAmi.from_trace(AMI_TRACE).stream)
    cuts = [bounds[3] + 5, bounds[8] + 5]
    fake = FakeAmi.from_trace(AMI_TRACE, cuts=cuts, resume=lambda cut: max(b for b in bounds if b <= cut))
    collector = await run(fake)
    app = web.Application()
    app[AMI] = collector
    registry = CollectorRegistry()
    registry.register(LiveCollector(app))
    metrics = parse(generate_latest(registry).decode())
    assert fake.connections == 3
    assert metrics["ivr_survey_link_reconnects_total"] == {(("link", "ami"),): 2.0}
    assert metrics["ivr_survey_ami_calls_total"] == {
        (("disposition", "answered"),): 1.0,
        (("disposition", "missed"),): 1.0,
    }
