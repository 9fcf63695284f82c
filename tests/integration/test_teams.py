"""Operators with names and teams: storage, PUT /operators/{id}, the team filter on every endpoint that filters by
operator, and the operator's name next to their id. Exact rows and hand-checked numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from ivr_survey.db.history import save_call
from ivr_survey.db.models import Operator
from ivr_survey.db.operators import KEEP, OperatorRow, Upserted, get_operator, list_operators, set_operator
from ivr_survey.db.operators import upsert_operators as upsert
from ivr_survey.db.repository import operator_id
from ivr_survey.db.tokens import create_token
from tests.integration.test_operators_review import evaluate
from tests.support.api_client import AUTH, admin_client, get
from tests.support.seed import Rated, seed

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PERIOD = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
SALES = "Продажи"  # a Cyrillic team name, as the demo's: it must survive the URL
Q_SALES = quote(SALES)
TEAMS = [
    OperatorRow("7001", "Анна Смирнова", SALES),
    OperatorRow("7002", "John Miller", SALES),
    OperatorRow("7003", "Olga Ivanova", "Support"),
    OperatorRow("7004", None, None),  # in no team
]


@pytest.fixture
async def client(database_url: str, tmp_path) -> AsyncIterator[TestClient]:
    async with admin_client(database_url, tmp_path) as c:
        yield c


async def stored(sessions) -> list[OperatorRow]:
    async with sessions() as s:
        return await list_operators(s)


# --- storage ---


async def test_upsert_creates_updates_and_never_duplicates(sessions) -> None:
    async with sessions() as s, s.begin():
        await operator_id(s, code="7001")  # first seen on a call: no name, no team
        assert await upsert(s, TEAMS) == Upserted(created=3, updated=1)
    assert await stored(sessions) == TEAMS
    async with sessions() as s, s.begin():
        assert await upsert(s, TEAMS) == Upserted(created=0, updated=0)  # the same file again changes nothing
        changed = [OperatorRow("7001", "Анна Смирнова", None), OperatorRow("7005", "Мария Кузнецова", "Support")]
        assert await upsert(s, changed) == Upserted(created=1, updated=1)
    assert await stored(sessions) == [changed[0], *TEAMS[1:], changed[1]]
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Operator))).scalar_one() == 5
        assert await list_operators(s, team="Support") == [TEAMS[2], changed[1]]
        assert await get_operator(s, code="7002") == TEAMS[1]
        assert await get_operator(s, code="7999") is None


async def test_upsert_of_more_rows_than_one_statement_takes(sessions) -> None:
    rows = [OperatorRow(f"{n:04d}", f"Operator {n}", f"team {n % 3}") for n in range(1201)]
    async with sessions() as s, s.begin():
        assert await upsert(s, rows) == Upserted(created=1201, updated=0)
        renamed = [OperatorRow(r.code, r.name, "one team") for r in rows]
        assert await upsert(s, renamed) == Upserted(created=0, updated=1201)
    assert await stored(sessions) == renamed


async def test_set_operator_keeps_what_is_not_given(sessions) -> None:
    async with sessions() as s, s.begin():
        assert await set_operator(s, code="7001", name="Анна") == (OperatorRow("7001", "Анна", None), True)
        assert await set_operator(s, code="7001", team=SALES) == (OperatorRow("7001", "Анна", SALES), False)
        assert await set_operator(s, code="7001", name=None, team=KEEP) == (OperatorRow("7001", None, SALES), False)
        assert await set_operator(s, code="7001") == (OperatorRow("7001", None, SALES), False)


# --- PUT /operators/{id} ---


async def put(client: TestClient, path: str, body: Any, status: int, token: str = "admin-token") -> Any:
    resp = await client.put(path, json=body, headers={"Authorization": f"Bearer {token}"})
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


def bad(parameter: str, message: str) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": {"parameter": parameter}}}


async def test_put_creates_then_updates(client: TestClient, sessions) -> None:
    created = await put(client, "/operators/7009", {"name": " Мария Кузнецова ", "team": "Support"}, 201)
    assert created == {"operator": "7009", "name": "Мария Кузнецова", "team": "Support"}
    assert await put(client, "/operators/7009", {"team": SALES}, 200) == {**created, "team": SALES}
    assert await put(client, "/operators/7009", {"name": None}, 200) == {
        "operator": "7009",
        "name": None,
        "team": SALES,
    }
    assert await put(client, "/operators/7009", {}, 200) == {"operator": "7009", "name": None, "team": SALES}
    async with sessions() as s, s.begin():
        await operator_id(s, code="7010")  # seen on a call
    assert await put(client, "/operators/7010", {"name": "Иван Петров"}, 200) == {
        "operator": "7010",
        "name": "Иван Петров",
        "team": None,
    }
    one = await get(client, "/operators/7009")
    assert (one["operator"], one["name"], one["team"]) == ("7009", None, SALES)
    assert await stored(sessions) == [OperatorRow("7009", None, SALES), OperatorRow("7010", "Иван Петров", None)]


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/operators/7001", {"name": "x" * 201}, bad("name", "name is longer than 200 characters")),
        ("/operators/7001", {"team": "x" * 101}, bad("team", "team is longer than 100 characters")),
        ("/operators/7001", {"team": "   "}, bad("team", "team is blank; send null to clear it")),
        ("/operators/7001", {"team": ""}, bad("team", "team is blank; send null to clear it")),
        ("/operators/7001", {"name": 7001}, bad("name", "name must be a string, or null to clear it")),
        ("/operators/7001", {"name": "Anna\nSmith"}, bad("name", "name must not contain control characters")),
        ("/operators/7001", {"name": "A\x00"}, bad("name", "name must not contain control characters")),
        (
            "/operators/7001",
            {"name": "Anna", "group": "Sales"},
            bad("group", "unknown field 'group'; the fields are: name, team"),
        ),
        ("/operators/" + "7" * 65, {}, bad("operator", "the operator id is longer than 64 characters")),
        ("/operators/%207001", {}, bad("operator", "the operator id is blank or has blanks around it")),
        (
            "/operators/7001",
            ["Anna"],
            {"error": {"code": "invalid_json", "message": "the body must be a JSON object", "details": {}}},
        ),
    ],
)
async def test_put_refuses_bad_input_and_stores_nothing(
    client: TestClient, sessions, path: str, body: Any, expected: dict
) -> None:
    async with sessions() as s, s.begin():
        await upsert(s, TEAMS[:1])
    assert await put(client, path, body, 400) == expected
    assert await stored(sessions) == TEAMS[:1]


async def test_put_is_for_admins(client: TestClient, sessions) -> None:
    async with sessions() as s, s.begin():
        tokens = {role: await create_token(s, name=role, role=role) for role in ("analyst", "supervisor")}
    for role, token in tokens.items():
        refused = await put(client, "/operators/7001", {"name": "Anna"}, 403, token)
        assert refused == {
            "error": {
                "code": "forbidden",
                "message": f"this needs the admin role; the token's role is {role}",
                "details": {"required_role": "admin"},
            }
        }
    assert await stored(sessions) == []
    async with sessions() as s, s.begin():
        admin = await create_token(s, name="root", role="admin")
    assert await put(client, "/operators/7001", {"name": "Anna"}, 201, admin) == {
        "operator": "7001",
        "name": "Anna",
        "team": None,
    }


# --- the team filter and the names, endpoint by endpoint ---


async def seed_floor(sessions) -> None:
    """Surveyed calls of each operator (one unknown), three of them evaluated."""
    async with sessions() as s, s.begin():
        await upsert(s, TEAMS)
    await seed(
        sessions,
        [
            Rated("A", "7001", T, 5.0, queue="sales"),
            Rated("B", "7002", T + timedelta(hours=1), 2.0),
            Rated("C", "7003", T + timedelta(hours=2), 4.0),
            Rated("D", "7004", T + timedelta(hours=3), 1.0),
            Rated("E", None, T + timedelta(hours=4), 3.0),
        ],
    )
    await evaluate(sessions, "A", 90.0)
    await evaluate(sessions, "B", 70.0)
    await evaluate(sessions, "C", 50.0)


async def test_ratings_of_a_team_with_names_in_json_and_csv(client: TestClient, sessions) -> None:
    await seed_floor(sessions)
    everything = await get(client, "/ratings")
    assert [(i["call_id"], i["operator"], i["operator_name"]) for i in everything["items"]] == [
        ("E", None, None),
        ("D", "7004", None),
        ("C", "7003", "Olga Ivanova"),
        ("B", "7002", "John Miller"),
        ("A", "7001", "Анна Смирнова"),
    ]
    team = await get(client, f"/ratings?team={Q_SALES}")
    assert [(i["call_id"], i["operator_name"]) for i in team["items"]] == [("B", "John Miller"), ("A", "Анна Смирнова")]
    assert [i["call_id"] for i in (await get(client, "/ratings?team=Support&score_min=4"))["items"]] == ["C"]
    assert (await get(client, "/ratings?team=Nobody"))["items"] == []
    assert [i["call_id"] for i in (await get(client, f"/ratings?team={Q_SALES}&operator=7003"))["items"]] == []

    resp = await client.get(f"/ratings?format=csv&team={Q_SALES}", headers=AUTH)
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["call_id"], r["operator"], r["operator_name"]) for r in rows] == [
        ("B", "7002", "John Miller"),
        ("A", "7001", "Анна Смирнова"),
    ]


async def test_summary_of_a_team_counts_csat_and_cqr_of_its_operators(client: TestClient, sessions) -> None:
    await seed_floor(sessions)

    def brief(body: dict) -> list[tuple]:
        return [(g["key"], g["offered"], g["average"], g["cqr_average"], g["cqr_evaluations"]) for g in body["groups"]]

    by_operator = await get(client, f"/ratings/summary?group_by=operator&team={Q_SALES}&{PERIOD}")
    assert brief(by_operator) == [("7001", 1, 5.0, 90.0, 1), ("7002", 1, 2.0, 70.0, 1)]
    by_day = await get(client, f"/ratings/summary?group_by=day&team={Q_SALES}&{PERIOD}")
    assert brief(by_day) == [("2026-11-20T00:00:00+00:00", 2, 3.5, 80.0, 2)]
    everyone = await get(client, f"/ratings/summary?group_by=day&{PERIOD}")
    assert brief(everyone) == [("2026-11-20T00:00:00+00:00", 5, 3.0, 70.0, 3)]
    support = await get(client, f"/ratings/summary?group_by=week&team=Support&{PERIOD}")
    assert brief(support) == [("2026-11-16T00:00:00+00:00", 1, 4.0, 50.0, 1)]
    by_queue = await get(client, f"/ratings/summary?group_by=queue&team={Q_SALES}&{PERIOD}")
    assert [(g["key"], g["offered"]) for g in by_queue["groups"]] == [("sales", 1), (None, 1)]


async def test_operators_of_a_team(client: TestClient, sessions) -> None:
    await seed_floor(sessions)
    everyone = await get(client, f"/operators?{PERIOD}")
    assert [(i["operator"], i["name"], i["team"], i["csat"]["offered"]) for i in everyone["items"]] == [
        ("7001", "Анна Смирнова", SALES, 1),
        ("7002", "John Miller", SALES, 1),
        ("7003", "Olga Ivanova", "Support", 1),
        ("7004", None, None, 1),
    ]
    team = await get(client, f"/operators?team={Q_SALES}&{PERIOD}")
    assert [(i["operator"], i["name"], i["csat"]["average"], i["cqr"]) for i in team["items"]] == [
        ("7001", "Анна Смирнова", 5.0, {"average": 90.0, "evaluations": 1}),
        ("7002", "John Miller", 2.0, {"average": 70.0, "evaluations": 1}),
    ]
    assert (await get(client, f"/operators?team=Nobody&{PERIOD}"))["items"] == []

    one = await get(client, f"/operators/7003?team=Support&{PERIOD}")
    assert (one["operator"], one["name"], one["team"], one["csat"]["average"], one["cqr"]) == (
        "7003",
        "Olga Ivanova",
        "Support",
        4.0,
        {"average": 50.0, "evaluations": 1},
    )
    assert [(w["week"], w["offered"], w["cqr_average"]) for w in one["trend"]] == [
        ("2026-11-16T00:00:00+00:00", 1, 50.0)
    ]
    elsewhere = await get(client, f"/operators/7003?team={Q_SALES}", status=404)
    assert elsewhere["error"] == {
        "code": "not_found",
        "message": f"no operator '7003' in team '{SALES}'",
        "details": {"operator": "7003"},
    }


async def test_review_queue_of_a_team(client: TestClient, sessions) -> None:
    await seed_floor(sessions)
    body = await get(client, f"/review-queue?date=2026-11-20&share=1&team={Q_SALES}")
    assert body["operators"] == [
        {"operator": "7001", "operator_name": "Анна Смирнова", "calls": 1, "selected": 1},
        {"operator": "7002", "operator_name": "John Miller", "calls": 1, "selected": 1},
    ]
    assert [(i["call_id"], i["operator"], i["operator_name"], i["reason"]) for i in body["items"]] == [
        ("A", "7001", "Анна Смирнова", "sample"),
        ("B", "7002", "John Miller", "low_score"),
    ]
    everyone = await get(client, "/review-queue?date=2026-11-20&share=1")
    assert [(o["operator"], o["operator_name"]) for o in everyone["operators"]] == [
        ("7001", "Анна Смирнова"),
        ("7002", "John Miller"),
        ("7003", "Olga Ivanova"),
        ("7004", None),
    ]
    assert (await get(client, "/review-queue?date=2026-11-20&team=Nobody"))["items"] == []


async def test_evaluations_of_a_team(client: TestClient, sessions) -> None:
    await seed_floor(sessions)
    body = await get(client, f"/cqr/evaluations?team={Q_SALES}")
    assert sorted((i["call_id"], i["operator"], i["operator_name"], i["cqr"]) for i in body["items"]) == [
        ("A", "7001", "Анна Смирнова", 90.0),
        ("B", "7002", "John Miller", 70.0),
    ]
    support = await get(client, "/cqr/evaluations?team=Support&good=false")
    assert [(i["call_id"], i["operator_name"]) for i in support["items"]] == [("C", "Olga Ivanova")]
    assert (await get(client, "/cqr/evaluations?team=Support&good=true"))["items"] == []


def history(linkedid: str, minute: int, disposition: str, **fields: Any) -> dict[str, Any]:
    started = T + timedelta(minutes=minute)
    answered = disposition == "answered"
    return dict(
        linkedid=linkedid,
        direction=fields.pop("direction", "inbound"),
        disposition=disposition,
        source="ami",
        client_number=f"7999000000{minute}",
        started_at=started,
        answered_at=started + timedelta(seconds=5) if answered else None,
        ended_at=started + timedelta(seconds=65),
        ring_seconds=5.0 if answered else 20.0,
        talk_seconds=60.0 if answered else None,
        **fields,
    )


CALLS = [
    history("H1", 1, "answered", operator="7001", rung=["7001"]),
    history("H2", 2, "missed", rung=["7002", "7003"]),  # rang one of each team; nobody answered
    history("H3", 3, "answered", operator="7003", rung=["7003"]),
    history("H4", 4, "missed", rung=["7004"]),
    history("H5", 5, "answered", operator="7002", rung=["7002"], direction="outbound"),
]


async def seed_calls(sessions) -> None:
    async with sessions() as s, s.begin():
        await upsert(s, TEAMS)
        for row in CALLS:
            await save_call(s, **row)


async def test_calls_of_a_team_with_names_in_json_and_csv(client: TestClient, sessions) -> None:
    await seed_calls(sessions)

    async def listed(query: str) -> list[tuple]:
        body = await get(client, f"/calls?order=asc&{query}")
        return [(i["call_id"], i["operator"], i["operator_name"], i["rung_operators"]) for i in body["items"]]

    assert await listed(f"team={Q_SALES}") == [
        ("H1", "7001", "Анна Смирнова", ["7001"]),
        ("H2", None, None, ["7002", "7003"]),
        ("H5", "7002", "John Miller", ["7002"]),
    ]
    assert await listed("team=Support") == [
        ("H2", None, None, ["7002", "7003"]),
        ("H3", "7003", "Olga Ivanova", ["7003"]),
    ]
    assert await listed("team=Support&disposition=answered") == [("H3", "7003", "Olga Ivanova", ["7003"])]
    assert await listed("team=Nobody") == []
    one = await get(client, "/calls/H1")
    assert (one["operator"], one["operator_name"]) == ("7001", "Анна Смирнова")

    resp = await client.get(f"/calls?format=csv&order=asc&team={Q_SALES}", headers=AUTH)
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["call_id"], r["operator"], r["operator_name"], r["rung_operators"]) for r in rows] == [
        ("H1", "7001", "Анна Смирнова", "7001"),
        ("H2", "", "", "7002 7003"),
        ("H5", "7002", "John Miller", "7002"),
    ]


async def test_call_stats_of_a_team(client: TestClient, sessions) -> None:
    await seed_calls(sessions)

    async def stats(query: str) -> list[tuple]:
        body = await get(client, f"/calls/stats?{PERIOD}&{query}")
        return [(g["key"], g["total"], g["answered"], g["missed"]) for g in body["groups"]]

    # grouped by operator, a team's view shows the team's operators only (H2 also rang 7003, of Support)
    assert await stats(f"group_by=operator&team={Q_SALES}") == [("7001", 1, 1, 0), ("7002", 2, 1, 1)]
    assert await stats("group_by=operator&team=Support") == [("7003", 2, 1, 1)]
    assert await stats("group_by=operator") == [
        ("7001", 1, 1, 0),
        ("7002", 2, 1, 1),
        ("7003", 2, 1, 1),
        ("7004", 1, 0, 1),
    ]
    assert await stats(f"group_by=day&team={Q_SALES}") == [("2026-11-20T00:00:00+00:00", 3, 2, 1)]
    assert await stats(f"group_by=queue&team={Q_SALES}") == [(None, 3, 2, 1)]


@pytest.mark.parametrize(
    "path",
    [
        "/ratings?team=",
        "/ratings/summary?team=",
        "/operators?team=",
        "/operators/7001?team=",
        "/calls?team=",
        "/calls/stats?team=",
        "/review-queue?team=",
        "/cqr/evaluations?team=",
    ],
)
async def test_an_empty_team_is_refused(client: TestClient, path: str) -> None:
    body = await get(client, path, status=400)
    assert body["error"] == {
        "code": "invalid_parameter",
        "message": "team is empty; leave it out instead",
        "details": {"parameter": "team"},
    }
