"""GET /calls, /calls/stats, /calls/{id} and the recording, over a hand-checked day of call history."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.history import save_call
from ivr_survey.db.tokens import create_token
from tests.support.api_client import AUTH, admin_client, get
from tests.support.seed import Rated, seed


def t(hm: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-20T{hm}:00+00:00")


def call(
    linkedid: str,
    start: str,
    direction: str,
    disposition: str,
    client: str,
    *,
    operator: str | None = None,
    rung: list[str] | None = None,
    queue: str | None = None,
    ring: float | None = None,
    talk: float | None = None,
    recording: str | None = None,
) -> dict[str, Any]:
    started = t(start)
    answered = started + timedelta(seconds=ring or 0) if disposition == "answered" else None
    return dict(
        linkedid=linkedid,
        direction=direction,
        disposition=disposition,
        source="ami",
        caller_number=client,
        client_number=client,
        queue=queue,
        operator=operator,
        rung=rung or ([operator] if operator else []),
        started_at=started,
        answered_at=answered,
        ended_at=(answered or started) + timedelta(seconds=(talk or 0) + (0 if answered else ring or 0)),
        ring_seconds=ring,
        talk_seconds=talk,
        hangup_side="operator" if answered else None,
        recording=recording,
    )


DAY = [
    call(
        "C1",
        "10:00",
        "inbound",
        "answered",
        "79991110001",
        operator="7001",
        queue="sales",
        ring=5,
        talk=120,
        recording="2026/11/20/c1.wav",
    ),
    call(
        "C2",
        "10:30",
        "inbound",
        "answered",
        "79991110002",
        operator="7001",
        queue="sales",
        ring=15,
        talk=60,
        recording="../../../etc/passwd",
    ),
    call("C3", "11:00", "inbound", "missed", "79990000001", rung=["7001", "7002"], queue="sales", ring=20),
    call(
        "C4",
        "11:10",
        "inbound",
        "answered",
        "79991110004",
        operator="7002",
        queue="support",
        ring=10,
        talk=300,
        recording="/etc/passwd",
    ),
    call("C5", "12:00", "inbound", "abandoned_in_queue", "79990000002", rung=["7002"], queue="support", ring=30),
    call("C6", "11:30", "outbound", "answered", "79990000001", operator="7002", ring=8, talk=90),  # calls C3 back
    call("C7", "13:00", "inbound", "missed", "79990000003", rung=["7001"], queue="sales", ring=25),
    call("C8", "13:10", "outbound", "answered", "79990000003", operator="7001", ring=5, talk=30),  # calls C7 back
    call("C9", "13:05", "outbound", "busy", "79990000003"),  # not answered: no callback
]
PERIOD = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[TestClient]:
    recordings = tmp_path / "monitor"
    (recordings / "2026/11/20").mkdir(parents=True)
    (recordings / "2026/11/20/c1.wav").write_bytes(b"RIFF0123456789")
    (recordings / "escape.wav").symlink_to(tmp_path / "outside.wav")
    (tmp_path / "outside.wav").write_bytes(b"secret")
    async with sessions() as s, s.begin():
        for row in DAY:
            await save_call(s, **row)
    await seed(
        sessions,
        [
            Rated("C1", "7001", t("10:02"), 5.0, queue="sales"),
            Rated("C2", "7001", t("10:31"), None, status="no_input", queue="sales"),
            Rated("C4", "7002", t("11:16"), 2.0, queue="support"),
        ],
    )
    async with admin_client(database_url, tmp_path, recordings_dir=recordings) as c:
        yield c


def brief(group: dict[str, Any]) -> tuple:
    return tuple(
        group[k]
        for k in (
            "key",
            "total",
            "answered",
            "missed",
            "missed_share",
            "called_back",
            "callback_median_seconds",
            "ring_average_seconds",
            "talk_average_seconds",
            "talk_total_seconds",
            "surveyed",
            "response_rate",
        )
    )


async def test_stats_per_operator_queue_and_hour(client: TestClient) -> None:
    by_operator = await get(client, f"/calls/stats?group_by=operator&{PERIOD}")
    assert [brief(g) for g in by_operator["groups"]] == [
        # 7001 answered C1, C2, C8 and missed C3, C7 (both called back: after 1800 s and 600 s)
        ("7001", 5, 3, 2, 0.4, 2, 1200.0, 14.0, 70.0, 210.0, 2, 0.3333),
        # 7002 answered C4, C6 and missed C3, C5 (only C3 called back)
        ("7002", 4, 2, 2, 0.5, 1, 1800.0, 17.0, 195.0, 390.0, 1, 0.5),
    ]
    by_queue = await get(client, f"/calls/stats?group_by=queue&{PERIOD}")
    assert [brief(g) for g in by_queue["groups"]] == [
        ("sales", 4, 2, 2, 0.5, 2, 1200.0, 16.25, 90.0, 180.0, 2, 0.5),
        ("support", 2, 1, 1, 0.5, 0, None, 20.0, 300.0, 300.0, 1, 1.0),
        (None, 3, 2, 0, 0.0, 0, None, 6.5, 60.0, 120.0, 0, 0.0),
    ]
    by_hour = await get(client, f"/calls/stats?group_by=hour&{PERIOD}&tz=Europe/Moscow")
    assert [(g["key"], g["total"], g["answered"], g["missed"]) for g in by_hour["groups"]] == [
        ("2026-11-20T13:00:00+03:00", 2, 2, 0),
        ("2026-11-20T14:00:00+03:00", 3, 2, 1),
        ("2026-11-20T15:00:00+03:00", 1, 0, 1),
        ("2026-11-20T16:00:00+03:00", 3, 1, 1),
    ]
    one_operator = await get(client, f"/calls/stats?group_by=day&{PERIOD}&operator=7002")
    assert [brief(g) for g in one_operator["groups"]] == [
        ("2026-11-20T00:00:00+00:00", 4, 2, 2, 0.5, 1, 1800.0, 17.0, 195.0, 390.0, 1, 0.5),
    ]


async def test_stats_by_hour_of_day_and_over_the_whole_period(client: TestClient) -> None:
    moscow = await get(client, f"/calls/stats?group_by=hour_of_day&{PERIOD}&tz=Europe/Moscow")
    assert moscow["group_by"] == "hour_of_day"
    # the same calls as by hour in Moscow (UTC+3), keyed by the hour alone; hours without calls are left out
    assert [(g["key"], g["total"], g["answered"], g["missed"]) for g in moscow["groups"]] == [
        (13, 2, 2, 0),
        (14, 3, 2, 1),
        (15, 1, 0, 1),
        (16, 3, 1, 1),
    ]
    # UTC+05:30: 10:00 is 15:30, 10:30 is 16:00, ... 13:10 is 18:40
    kolkata = await get(client, f"/calls/stats?group_by=hour_of_day&{PERIOD}&tz=Asia/Kolkata")
    assert [(g["key"], g["total"]) for g in kolkata["groups"]] == [(15, 1), (16, 3), (17, 2), (18, 3)]
    whole = await get(client, f"/calls/stats?group_by=all&{PERIOD}")
    # 9 calls: 5 answered, 3 missed (C3, C5, C7), C9 busy; C3 and C7 called back after 1800 s and 600 s; 8 rang
    # for 118 s; the answered talked 120 + 60 + 300 + 90 + 30 s; C1, C2 and C4 surveyed, C1 and C4 rated
    assert [brief(g) for g in whole["groups"]] == [(None, 9, 5, 3, 0.3333, 2, 1200.0, 14.75, 120.0, 600.0, 3, 0.4)]
    sales = await get(client, f"/calls/stats?group_by=all&{PERIOD}&queue=sales")
    assert [brief(g) for g in sales["groups"]] == [(None, 4, 2, 2, 0.5, 2, 1200.0, 16.25, 90.0, 180.0, 2, 0.5)]
    # a period without calls: still the one group, of zeros
    empty = await get(client, "/calls/stats?group_by=all&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z")
    assert [brief(g) for g in empty["groups"]] == [(None, 0, 0, 0, None, 0, None, None, None, None, 0, None)]
    hours = await get(client, "/calls/stats?group_by=hour_of_day&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z")
    assert hours["groups"] == []
    bad = await get(client, f"/calls/stats?group_by=weekday&{PERIOD}", status=400)
    assert bad["error"]["details"] == {"parameter": "group_by"}


async def test_hour_of_day_across_dst_changes(client: TestClient, sessions) -> None:
    """Berlin springs forward at 01:00 UTC on 29 March 2026 (02:00 CET becomes 03:00 CEST) and falls back at
    01:00 UTC on 25 October (03:00 CEST becomes 02:00 CET): each call counts in the hour its clock showed."""

    def at(linkedid: str, when: str) -> dict[str, Any]:
        started = datetime.fromisoformat(when)
        return {**DAY[0], "linkedid": linkedid, "started_at": started, "answered_at": started, "ended_at": started}

    spring = [
        at("S1", "2026-03-29T00:30:00+00:00"),  # 01:30 CET
        at("S2", "2026-03-29T00:59:59+00:00"),  # 01:59:59 CET
        at("S3", "2026-03-29T01:00:00+00:00"),  # 03:00 CEST: there is no 02:00 that night
        at("S4", "2026-03-29T01:30:00+00:00"),  # 03:30 CEST
        at("S5", "2026-03-29T02:10:00+00:00"),  # 04:10 CEST
    ]
    autumn = [
        at("F1", "2026-10-25T00:30:00+00:00"),  # 02:30 CEST
        at("F2", "2026-10-25T01:30:00+00:00"),  # 02:30 CET, the second time round
        at("F3", "2026-10-25T02:30:00+00:00"),  # 03:30 CET
    ]
    async with sessions() as s, s.begin():
        for row in spring + autumn:
            await save_call(s, **row)

    async def hours(period: str, tz: str) -> list[tuple[int, int]]:
        body = await get(client, f"/calls/stats?group_by=hour_of_day&{period}&tz={tz}")
        return [(g["key"], g["total"]) for g in body["groups"]]

    march = "from=2026-03-28T22:00:00Z&to=2026-03-29T03:00:00Z"
    october = "from=2026-10-24T22:00:00Z&to=2026-10-25T03:00:00Z"
    both = "from=2026-03-01T00:00:00Z&to=2026-11-01T00:00:00Z"
    assert await hours(march, "Europe/Berlin") == [(1, 2), (3, 2), (4, 1)]
    assert await hours(october, "Europe/Berlin") == [(2, 2), (3, 1)]
    assert await hours(both, "Europe/Berlin") == [(1, 2), (2, 2), (3, 3), (4, 1)]
    assert await hours(both, "UTC") == [(0, 3), (1, 3), (2, 2)]


async def test_calls_sort_by_any_column_in_keyset_pages(client: TestClient) -> None:
    async def walk(query: str) -> list[str]:
        ids, cursor = [], ""
        while True:
            page = await get(client, f"/calls?{query}&limit=4{cursor}")
            ids += [i["call_id"] for i in page["items"]]
            if page["next_cursor"] is None:
                return ids
            cursor = f"&cursor={page['next_cursor']}"

    assert await walk("sort=ring_seconds&order=asc") == ["C1", "C8", "C6", "C4", "C2", "C3", "C7", "C5", "C9"]
    assert await walk("sort=ring_seconds&order=desc") == ["C5", "C7", "C3", "C2", "C4", "C6", "C8", "C1", "C9"]
    assert await walk("sort=started_at") == ["C8", "C9", "C7", "C5", "C6", "C4", "C3", "C2", "C1"]
    assert await walk("sort=operator&order=asc") == ["C1", "C2", "C8", "C4", "C6", "C3", "C5", "C7", "C9"]
    assert await walk("operator=7002") == ["C5", "C6", "C4", "C3"]
    assert await walk("disposition=missed&order=asc") == ["C3", "C7"]
    assert await walk("caller=%2B7%20999%20000-00-01") == ["C6", "C3"]
    assert await walk(f"direction=outbound&{PERIOD}") == ["C8", "C9", "C6"]
    # a cursor from another order is refused
    page = await get(client, "/calls?sort=ring_seconds&limit=1")
    error = await get(client, f"/calls?sort=started_at&cursor={page['next_cursor']}", status=400)
    assert error["error"]["details"] == {"parameter": "cursor"}


async def test_one_call_with_its_callback_survey_and_evaluations(client: TestClient) -> None:
    missed = await get(client, "/calls/C3")
    assert {k: missed[k] for k in ("disposition", "operator", "rung_operators", "callback", "survey")} == {
        "disposition": "missed",
        "operator": None,
        "rung_operators": ["7001", "7002"],
        "callback": {"call_id": "C6", "operator": "7002", "at": "2026-11-20T11:30:00+00:00", "after_seconds": 1800.0},
        "survey": None,
    }
    scores = {"greeting": 1, "identifying_problem": 1, "related_offer": 0, "tone": 1, "script": 0.5}
    resp = await client.post(
        "/cqr/evaluations", headers=AUTH, json={"call_id": "C1", "call_type": "spam", "scores": scores}
    )
    evaluation = await resp.json()
    assert resp.status == 201, evaluation
    rated = await get(client, "/calls/C1")
    assert (
        rated["operator"],
        rated["talk_seconds"],
        rated["surveyed"],
        rated["survey"]["score"],
        rated["recording"],
    ) == ("7001", 120.0, True, 5.0, "/calls/C1/recording")
    assert [(e["id"], e["call_type"], e["cqr"]) for e in rated["cqr_evaluations"]] == [
        (evaluation["id"], "spam", evaluation["cqr"])
    ]
    assert (await get(client, "/calls/NOPE", status=404))["error"]["code"] == "not_found"


async def test_calls_csv_is_the_whole_query(client: TestClient) -> None:
    resp = await client.get(f"/calls?format=csv&queue=sales&order=asc&{PERIOD}", headers=AUTH)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["call_id"], r["disposition"], r["rung_operators"], r["callback_call_id"]) for r in rows] == [
        ("C1", "answered", "7001", ""),
        ("C2", "answered", "7001", ""),
        ("C3", "missed", "7001 7002", "C6"),
        ("C7", "missed", "7001", "C8"),
    ]


async def test_recording_streams_with_range_and_nothing_outside_the_folder(client: TestClient, sessions) -> None:
    whole = await client.get("/calls/C1/recording", headers=AUTH)
    assert (whole.status, await whole.read(), whole.headers["Content-Type"]) == (200, b"RIFF0123456789", "audio/x-wav")
    part = await client.get("/calls/C1/recording", headers={**AUTH, "Range": "bytes=4-7"})
    assert (part.status, await part.read(), part.headers["Content-Range"]) == (206, b"0123", "bytes 4-7/14")
    beyond = await client.get("/calls/C1/recording", headers={**AUTH, "Range": "bytes=100-200"})
    assert beyond.status == 416
    # stored names that lead out of the folder: a relative climb, an absolute path, a symlink out
    async with sessions() as s, s.begin():
        await save_call(s, **{**DAY[8], "linkedid": "C10", "recording": "escape.wav"})
    for call_id in ("C2", "C4", "C10", "C3"):
        resp = await client.get(f"/calls/{call_id}/recording", headers=AUTH)
        assert resp.status == 404, call_id
        assert (await resp.json())["error"]["code"] == "not_found"
    climb = await client.get("/calls/..%2F..%2Fetc%2Fpasswd/recording", headers=AUTH)
    assert climb.status == 404


async def test_recordings_are_for_supervisors(client: TestClient, sessions) -> None:
    async with sessions() as s, s.begin():
        analyst = await create_token(s, name="ann", role="analyst")
        supervisor = await create_token(s, name="sue", role="supervisor")
    denied = await client.get("/calls/C1/recording", headers={"Authorization": f"Bearer {analyst}"})
    assert (denied.status, (await denied.json())["error"]["code"]) == (403, "forbidden")
    allowed = await client.get("/calls/C1/recording", headers={"Authorization": f"Bearer {supervisor}"})
    assert allowed.status == 200
    listed = await client.get("/calls", headers={"Authorization": f"Bearer {analyst}"})
    assert listed.status == 200
