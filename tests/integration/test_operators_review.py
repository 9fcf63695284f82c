"""Operators (CSAT next to CQR), CQR in the summary, and the day's review queue: exact rows."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from ivr_survey.db import repository as repo
from ivr_survey.db.models import Call, CqrEvaluation, CqrScorecard
from tests.support.api_client import admin_client, get
from tests.support.seed import Rated, seed

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday
PERIOD = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"


@pytest.fixture
async def client(database_url: str, tmp_path) -> AsyncIterator[TestClient]:
    async with admin_client(database_url, tmp_path) as c:
        yield c


async def evaluate(sessions, linkedid: str, cqr: float, supervisor: str = "sv") -> None:
    async with sessions() as s, s.begin():
        card = (await s.execute(select(CqrScorecard).where(CqrScorecard.version == 99))).scalar_one_or_none()
        if card is None:
            card = CqrScorecard(call_type="qualification", version=99, weights={"greeting": 1.0})
            s.add(card)
            await s.flush()
        call_id = (await s.execute(select(Call.id).where(Call.linkedid == linkedid))).scalar_one()
        s.add(
            CqrEvaluation(
                call_id=call_id,
                call_type="qualification",
                scorecard_id=card.id,
                supervisor=supervisor,
                scores={"greeting": cqr / 100},
                cqr=cqr,
            )
        )


async def seed_floor(sessions) -> None:
    await seed(
        sessions,
        [
            Rated("A", "7001", T, 5.0),
            Rated("B", "7001", T + timedelta(hours=1), 2.0),
            Rated("C", "7001", T + timedelta(days=7), 4.0),  # the next week
            Rated("D", "7002", T, 3.0),
        ],
    )
    async with sessions() as s, s.begin():  # a call of 7003 that was evaluated but not surveyed
        await repo.upsert_call(s, linkedid="E", operator="7003", started_at=T + timedelta(hours=2))
    await evaluate(sessions, "A", 90.0)
    await evaluate(sessions, "B", 70.0)
    await evaluate(sessions, "C", 55.5)
    await evaluate(sessions, "E", 100.0)


async def test_summary_puts_cqr_next_to_csat(client: TestClient, sessions) -> None:
    await seed_floor(sessions)
    body = await get(client, f"/ratings/summary?group_by=operator&{PERIOD}")
    assert [(g["key"], g["offered"], g["average"], g["cqr_average"], g["cqr_evaluations"]) for g in body["groups"]] == [
        ("7001", 3, 3.6667, 71.83, 3),
        ("7002", 1, 3.0, None, 0),
        ("7003", 0, None, 100.0, 1),
    ]
    weeks = await get(client, f"/ratings/summary?group_by=week&{PERIOD}")
    assert [(g["key"], g["offered"], g["cqr_average"], g["cqr_evaluations"]) for g in weeks["groups"]] == [
        ("2026-11-16T00:00:00+00:00", 3, 86.67, 3),
        ("2026-11-23T00:00:00+00:00", 1, 55.5, 1),
    ]
    by_queue = await get(client, f"/ratings/summary?group_by=queue&{PERIOD}")
    assert "cqr_average" not in by_queue["groups"][0]


async def test_operators_side_by_side(client: TestClient, sessions) -> None:
    await seed_floor(sessions)
    body = await get(client, f"/operators?{PERIOD}")
    assert body["items"] == [
        {
            "operator": "7001",
            "name": None,
            "team": None,
            "csat": {
                "offered": 3,
                "responses": 3,
                "response_rate": 1.0,
                "average": 3.6667,
                "csat": 0.6667,
                "csat_ci95": [0.2077, 0.9385],
            },
            "cqr": {"average": 71.83, "evaluations": 3},
        },
        {
            "operator": "7002",
            "name": None,
            "team": None,
            "csat": {
                "offered": 1,
                "responses": 1,
                "response_rate": 1.0,
                "average": 3.0,
                "csat": 0.0,
                "csat_ci95": [0.0, 0.7935],
            },
            "cqr": {"average": None, "evaluations": 0},
        },
        {
            "operator": "7003",
            "name": None,
            "team": None,
            "csat": {
                "offered": 0,
                "responses": 0,
                "response_rate": None,
                "average": None,
                "csat": None,
                "csat_ci95": None,
            },
            "cqr": {"average": 100.0, "evaluations": 1},
        },
    ]
    one = await get(client, f"/operators/7001?{PERIOD}")
    assert (one["operator"], one["csat"]["average"], one["cqr"]) == (
        "7001",
        3.6667,
        {"average": 71.83, "evaluations": 3},
    )
    assert one["trend"] == [
        {
            "week": "2026-11-16T00:00:00+00:00",
            "offered": 2,
            "responses": 2,
            "average": 3.5,
            "csat": 0.5,
            "cqr_average": 80.0,
            "cqr_evaluations": 2,
        },
        {
            "week": "2026-11-23T00:00:00+00:00",
            "offered": 1,
            "responses": 1,
            "average": 4.0,
            "csat": 1.0,
            "cqr_average": 55.5,
            "cqr_evaluations": 1,
        },
    ]
    missing = await get(client, "/operators/9999", status=404)
    assert missing["error"]["code"] == "not_found"


def _sample_rank(day: str, linkedid: str) -> str:
    # The documented rule: the sample is ordered by sha256("<date>:<call id>").
    return hashlib.sha256(f"{day}:{linkedid}".encode()).hexdigest()


async def test_review_queue(client: TestClient, sessions) -> None:
    scores = [5.0, 1.0, 4.0, None, 2.0, 5.0, 3.0, 4.0, 5.0, 4.0]  # operator 7001: ten calls, two rated 1-2
    await seed(
        sessions,
        [Rated(f"R{n}", "7001", T + timedelta(minutes=n), s) for n, s in enumerate(scores)]
        + [
            Rated("S0", "7002", T, 4.0),
            Rated("S1", "7002", T + timedelta(minutes=1), 5.0),
            Rated("other-day", "7002", T + timedelta(days=1), 1.0),
        ],
    )
    await evaluate(sessions, "R4", 85.0)

    body = await get(client, "/review-queue?date=2026-11-20&share=0.3")
    rest_7001 = sorted([f"R{n}" for n in (0, 2, 3, 5, 6, 7, 8, 9)], key=lambda c: _sample_rank("2026-11-20", c))
    first_7002 = sorted(["S0", "S1"], key=lambda c: _sample_rank("2026-11-20", c))[0]
    assert body["operators"] == [
        {"operator": "7001", "operator_name": None, "calls": 10, "selected": 3},
        {"operator": "7002", "operator_name": None, "calls": 2, "selected": 1},
    ]
    assert [(i["call_id"], i["reason"], i["evaluated"]) for i in body["items"]] == [
        ("R1", "low_score", False),
        ("R4", "low_score", True),
        (rest_7001[0], "sample", False),
        (first_7002, "sample", False),
    ]
    again = await get(client, "/review-queue?date=2026-11-20&share=0.3")
    assert again == body
    more = await get(client, "/review-queue?date=2026-11-20&share=0.5")
    assert [i["call_id"] for i in more["items"]][:5] == ["R1", "R4", *rest_7001[:3]]

    moscow_next_day = await get(client, "/review-queue?date=2026-11-21&tz=Europe/Moscow&share=1")
    assert [i["call_id"] for i in moscow_next_day["items"]] == ["other-day"]
    for query, parameter in (
        ("share=0", "share"),
        ("share=1.5", "share"),
        ("date=20-11-2026", "date"),
        ("tz=Nowhere/City", "tz"),
        ("date=0001-01-01&tz=Europe/Moscow", "date"),
        ("date=9999-12-31&tz=America/Anchorage", "date"),
    ):
        bad = await get(client, f"/review-queue?{query}", status=400)
        assert bad["error"]["details"] == {"parameter": parameter}
