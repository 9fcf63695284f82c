"""GET /cqr/criteria: where the evaluated calls lose their CQR points, per criterion, with hand-checked numbers
over call types and scorecard versions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.cqr import DEFAULT_SCORECARDS
from ivr_survey.db import cqr as repo
from ivr_survey.db.repository import upsert_call
from ivr_survey.db.summary import criterion_summary
from tests.support.api_client import admin_client, get
from tests.support.scorecards import OBJECTION_82_5, QUALIFICATION_62_5, SPAM_ALL

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PERIOD = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"


async def _evaluate(s: AsyncSession, linkedid: str, call_type: str, scores: dict, supervisor: str = "sue") -> None:
    await repo.create_evaluation(
        s, linkedid=linkedid, call_type=call_type, scores=scores, comment=None, supervisor=supervisor
    )


@pytest.fixture
async def client(database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path) -> AsyncIterator[TestClient]:
    async with sessions() as s, s.begin():
        await upsert_call(s, linkedid="L1", operator="7001", started_at=T)
        await upsert_call(s, linkedid="L2", operator="7002", started_at=T + timedelta(minutes=1))
        await upsert_call(s, linkedid="L3", operator=None, started_at=T + timedelta(minutes=2))
        await upsert_call(s, linkedid="L4", operator="7001", queue="sales", started_at=T + timedelta(hours=1))
        await upsert_call(s, linkedid="OLD", operator="7001", started_at=T - timedelta(days=40))
        await _evaluate(s, "L1", "qualification", QUALIFICATION_62_5)
        await _evaluate(s, "L1", "objection", OBJECTION_82_5, supervisor="sam")
        await _evaluate(s, "L4", "spam", SPAM_ALL)
        await _evaluate(s, "OLD", "qualification", dict.fromkeys(QUALIFICATION_62_5, 0))  # before the period
        # spam's version 2 adds closing (Σw 10): L2 loses all of its 100·3/10 = 30 points there, CQR 70
        await repo.add_scorecard_version(
            s, call_type="spam", weights={**DEFAULT_SCORECARDS["spam"], "closing": 3}, created_by="admin"
        )
        await _evaluate(s, "L2", "spam", {**SPAM_ALL, "closing": 0})
    async with admin_client(database_url, tmp_path) as c:
        yield c


def brief(body: dict) -> list[tuple]:
    return [(c["criterion"], c["evaluations"], c["average_score"], c["points_lost"]) for c in body["criteria"]]


async def test_an_operators_criteria(client: TestClient) -> None:
    body = await get(client, f"/cqr/criteria?operator=7001&{PERIOD}")
    assert {k: v for k, v in body.items() if k != "criteria"} == {
        "from": "2026-11-20T00:00:00+00:00",
        "to": "2026-11-21T00:00:00+00:00",
        "operator": "7001",
        "queue": None,
        "evaluations": 3,  # CQR 62.5, 82.5 and 100: 18.33 points lost on average
    }
    assert body["criteria"][0] == {
        "criterion": "initiative",
        "name": "Initiative",
        "evaluations": 2,
        "average_score": 0.5,
        "points_lost": 5.56,  # 16.67 / 3
    }
    assert brief(body) == [
        ("initiative", 2, 0.5, 5.56),
        ("closing", 2, 0.5, 5.28),  # (8.33 + 7.5) / 3
        ("identifying_problem", 3, 0.8333, 4.17),  # 12.5 / 3
        ("handling_objections", 1, 0.5, 3.33),  # 10 / 3
        # nothing lost: in the order of the criteria
        ("greeting", 3, 1.0, 0.0),
        ("presenting_product", 2, 1.0, 0.0),
        ("related_offer", 1, 1.0, 0.0),
        ("tone", 3, 1.0, 0.0),
        ("difficult_client", 1, 1.0, 0.0),
        ("script", 2, 1.0, 0.0),
    ]
    # the criteria's points lost add up to 100 minus the average CQR, 18.33, up to their rounding
    assert round(sum(c["points_lost"] for c in body["criteria"]), 2) == 18.34


async def test_filters_versions_and_nothing_evaluated(client: TestClient) -> None:
    sales = await get(client, f"/cqr/criteria?operator=7001&queue=sales&{PERIOD}")
    assert (sales["evaluations"], brief(sales)) == (
        1,
        [(c, 1, 1.0, 0.0) for c in ("greeting", "identifying_problem", "related_offer", "tone", "script")],
    )
    # spam's version 2 weighs closing: L2 lost its 30 points there
    other = await get(client, f"/cqr/criteria?operator=7002&{PERIOD}")
    assert (other["evaluations"], brief(other)[0]) == (1, ("closing", 1, 0.0, 30.0))
    assert sum(c["points_lost"] for c in other["criteria"]) == 30.0
    # everyone: four evaluations, closing scored in three (0.5, 0.5, 0) and losing (8.33 + 7.5 + 30) / 4
    everyone = await get(client, f"/cqr/criteria?{PERIOD}")
    assert everyone["evaluations"] == 4
    assert brief(everyone)[0] == ("closing", 3, 0.3333, 11.46)
    # the month before holds only OLD's evaluation, which scored 0 everywhere: 100 points lost in all
    before = await get(client, "/cqr/criteria?operator=7001&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z")
    assert before["evaluations"] == 1
    assert brief(before) == [
        ("identifying_problem", 1, 0.0, 25.0),
        ("presenting_product", 1, 0.0, 16.67),
        ("initiative", 1, 0.0, 16.67),
        ("closing", 1, 0.0, 16.67),
        ("greeting", 1, 0.0, 8.33),
        ("tone", 1, 0.0, 8.33),
        ("script", 1, 0.0, 8.33),
    ]
    nobody = await get(client, f"/cqr/criteria?operator=7999&{PERIOD}")
    assert (nobody["evaluations"], nobody["criteria"]) == (0, [])


async def test_the_storage_reads_the_same(sessions) -> None:
    async with sessions() as s, s.begin():
        await upsert_call(s, linkedid="L1", operator="7001", started_at=T)
        await _evaluate(s, "L1", "objection", OBJECTION_82_5)
    async with sessions() as s:
        found = await criterion_summary(s, operator="7001", queue=None, date_from=T, date_to=T + timedelta(hours=1))
        # the period's end is exclusive: a call started at it is not counted
        after = await criterion_summary(s, operator=None, queue=None, date_from=T - timedelta(hours=1), date_to=T)
    assert found.evaluations == 1
    assert [(r.criterion, r.points_lost) for r in found.criteria[:2]] == [
        ("handling_objections", 10.0),
        ("closing", 7.5),
    ]
    assert (after.evaluations, after.criteria) == (0, [])


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("opertor=7001", "opertor", "unknown parameter 'opertor'; expected one of: from, to, operator, queue"),
        ("from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z", "to", "to is before from"),
        ("operator=", "operator", "operator is empty; leave it out instead"),
        (
            "from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "to",
            "from..to is too long: a period of at most 20 years",
        ),
    ],
)
async def test_bad_parameters(client: TestClient, query: str, parameter: str, message: str) -> None:
    body = await get(client, f"/cqr/criteria?{query}", status=400)
    assert (body["error"]["details"].get("parameter"), body["error"]["message"]) == (parameter, message)
