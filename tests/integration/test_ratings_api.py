"""GET /ratings and GET /ratings/summary: exact rows and hand-checked numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from ivr_survey.db.summary import wilson_interval
from tests.support.api_client import AUTH, admin_client, get
from tests.support.seed import Rated, seed

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
async def client(database_url: str, tmp_path) -> AsyncIterator[TestClient]:
    async with admin_client(database_url, tmp_path) as c:
        yield c


FIVE = [Rated(f"L{n}", "7001", T + timedelta(minutes=n), float(6 - n), queue="sales") for n in range(1, 6)]


async def test_five_calls_rated_5_to_1(client: TestClient, sessions) -> None:
    await seed(sessions, [*FIVE, Rated("L6", "7001", T + timedelta(minutes=6), None, status="no_input")])
    body = await get(client, "/ratings/summary?group_by=operator&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z")
    assert body == {
        "group_by": "operator",
        "from": "2026-11-20T00:00:00+00:00",
        "to": "2026-11-21T00:00:00+00:00",
        "tz": "UTC",
        "question": None,
        "kind": None,  # the first question of each survey
        "groups": [
            {
                "key": "7001",
                "offered": 6,
                "responses": 5,
                "response_rate": 0.8333,
                "average": 3.0,
                "csat": 0.4,
                "csat_ci95": [0.1176, 0.7693],
                "csat_responses": 5,
                "distribution": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1},
                "cqr_average": None,
                "cqr_evaluations": 0,
                "cqr_good": 0,
                "cqr_good_share": None,
            }
        ],
    }


def test_wilson_interval_reference_values() -> None:
    # Reference values of the 95 % Wilson score interval.
    assert wilson_interval(2, 5) == (0.1176, 0.7693)
    assert wilson_interval(0, 10) == (0.0, 0.2775)
    assert wilson_interval(10, 10) == (0.7225, 1.0)
    assert wilson_interval(0, 0) is None


async def test_groupings(client: TestClient, sessions) -> None:
    await seed(
        sessions,
        [
            Rated("A1", "7001", T, 5.0, queue="sales"),
            Rated("A2", "7001", T + timedelta(hours=1), 4.0, queue="support"),
            Rated("A3", "7002", T + timedelta(hours=1, minutes=5), 2.0, queue="sales"),
            Rated("A4", None, T + timedelta(days=1), 1.0),
            Rated("A5", "7002", T + timedelta(days=8), None, status="abandoned", queue="sales"),
        ],
    )
    period = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"

    def brief(body: dict) -> list[tuple]:
        return [(g["key"], g["offered"], g["responses"], g["average"], g["csat"]) for g in body["groups"]]

    by_operator = await get(client, f"/ratings/summary?group_by=operator&{period}")
    assert brief(by_operator) == [("7001", 2, 2, 4.5, 1.0), ("7002", 2, 1, 2.0, 0.0), (None, 1, 1, 1.0, 0.0)]
    by_queue = await get(client, f"/ratings/summary?group_by=queue&{period}")
    assert brief(by_queue) == [("sales", 3, 2, 3.5, 0.5), ("support", 1, 1, 4.0, 1.0), (None, 1, 1, 1.0, 0.0)]
    by_survey = await get(client, f"/ratings/summary?group_by=survey&{period}")
    assert brief(by_survey) == [("default", 5, 4, 3.0, 0.5)]
    by_hour = await get(client, f"/ratings/summary?group_by=hour&{period}")
    assert brief(by_hour) == [
        ("2026-11-20T10:00:00+00:00", 1, 1, 5.0, 1.0),
        ("2026-11-20T11:00:00+00:00", 2, 2, 3.0, 0.5),
        ("2026-11-21T10:00:00+00:00", 1, 1, 1.0, 0.0),
        ("2026-11-28T10:00:00+00:00", 1, 0, None, None),
    ]
    by_week = await get(client, f"/ratings/summary?group_by=week&{period}")
    assert brief(by_week) == [
        ("2026-11-16T00:00:00+00:00", 4, 4, 3.0, 0.5),  # Monday of the week of Fri 20 Nov
        ("2026-11-23T00:00:00+00:00", 1, 0, None, None),
    ]
    by_month = await get(client, f"/ratings/summary?group_by=month&{period}")
    assert brief(by_month) == [("2026-11-01T00:00:00+00:00", 5, 4, 3.0, 0.5)]
    filtered = await get(client, f"/ratings/summary?group_by=day&{period}&queue=sales")
    assert brief(filtered) == [
        ("2026-11-20T00:00:00+00:00", 2, 2, 3.5, 0.5),
        ("2026-11-28T00:00:00+00:00", 1, 0, None, None),
    ]


async def test_a_period_that_cuts_hours_counts_only_what_is_inside(client: TestClient, sessions) -> None:
    """Whole hours are taken by their slot number; the cut first and last hours compare the start time."""
    await seed(
        sessions,
        [
            Rated("E1", "7001", datetime(2026, 11, 20, 10, 10, tzinfo=UTC), 5.0),  # before the period
            Rated("E2", "7001", datetime(2026, 11, 20, 10, 40, tzinfo=UTC), 4.0),
            Rated("E3", "7001", datetime(2026, 11, 20, 11, 20, tzinfo=UTC), 2.0),
            Rated("E4", "7001", datetime(2026, 11, 20, 11, 30, tzinfo=UTC), 1.0),  # at the exclusive end
        ],
    )
    period = "from=2026-11-20T10:30:00Z&to=2026-11-20T11:30:00Z"
    for unit in ("hour", "day"):
        body = await get(client, f"/ratings/summary?group_by={unit}&{period}")
        assert [(g["key"], g["offered"], g["average"]) for g in body["groups"]] == (
            [("2026-11-20T10:00:00+00:00", 1, 4.0), ("2026-11-20T11:00:00+00:00", 1, 2.0)]
            if unit == "hour"
            else [("2026-11-20T00:00:00+00:00", 2, 3.0)]
        )


async def test_day_buckets_follow_the_time_zone(client: TestClient, sessions) -> None:
    await seed(
        sessions,
        [
            Rated("M1", "7001", datetime(2026, 11, 25, 20, 30, tzinfo=UTC), 5.0),  # 23:30 in Moscow, 25 Nov
            Rated("M2", "7001", datetime(2026, 11, 25, 21, 30, tzinfo=UTC), 3.0),  # 00:30 in Moscow, 26 Nov
            # Berlin leaves summer time at 01:00 UTC on 25 Oct 2026: 23:30 UTC on 24 Oct is 01:30 CEST on 25 Oct,
            # 22:30 UTC on 25 Oct is 23:30 CET on 25 Oct, 23:30 UTC is already 26 Oct.
            Rated("B1", "7002", datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 4.0),
            Rated("B2", "7002", datetime(2026, 10, 25, 22, 30, tzinfo=UTC), 2.0),
            Rated("B3", "7002", datetime(2026, 10, 25, 23, 30, tzinfo=UTC), 1.0),
            # Kolkata is UTC+05:30: one UTC hour holds the end of 25 Nov and the start of 26 Nov there.
            Rated("K1", "7003", datetime(2026, 11, 25, 18, 20, tzinfo=UTC), 5.0),  # 23:50 on 25 Nov
            Rated("K2", "7003", datetime(2026, 11, 25, 18, 40, tzinfo=UTC), 2.0),  # 00:10 on 26 Nov
        ],
    )
    period = "from=2026-10-01T00:00:00Z&to=2026-12-01T00:00:00Z"
    moscow = await get(client, f"/ratings/summary?group_by=day&{period}&operator=7001&tz=Europe/Moscow")
    assert [(g["key"], g["offered"]) for g in moscow["groups"]] == [
        ("2026-11-25T00:00:00+03:00", 1),
        ("2026-11-26T00:00:00+03:00", 1),
    ]
    utc = await get(client, f"/ratings/summary?group_by=day&{period}&operator=7001")
    assert [(g["key"], g["offered"]) for g in utc["groups"]] == [("2026-11-25T00:00:00+00:00", 2)]
    berlin = await get(client, f"/ratings/summary?group_by=day&{period}&operator=7002&tz=Europe/Berlin")
    assert [(g["key"], g["offered"], g["average"]) for g in berlin["groups"]] == [
        ("2026-10-25T00:00:00+02:00", 2, 3.0),
        ("2026-10-26T00:00:00+01:00", 1, 1.0),
    ]
    for unit, keys in (
        ("day", ["2026-11-25T00:00:00+05:30", "2026-11-26T00:00:00+05:30"]),
        ("hour", ["2026-11-25T23:00:00+05:30", "2026-11-26T00:00:00+05:30"]),
    ):
        kolkata = await get(client, f"/ratings/summary?group_by={unit}&{period}&operator=7003&tz=Asia/Kolkata")
        assert [(g["key"], g["offered"], g["average"]) for g in kolkata["groups"]] == [
            (keys[0], 1, 5.0),
            (keys[1], 1, 2.0),
        ]
    utc_hour = await get(client, f"/ratings/summary?group_by=hour&{period}&operator=7003")
    assert [(g["key"], g["offered"], g["average"]) for g in utc_hour["groups"]] == [
        ("2026-11-25T18:00:00+00:00", 2, 3.5)
    ]


async def test_ratings_filters_and_keyset_pages(client: TestClient, sessions) -> None:
    await seed(
        sessions,
        [
            *FIVE,
            Rated("X", "7002", T + timedelta(minutes=30), 5.0, queue="support"),
            Rated("Y", "7002", T - timedelta(days=2), None, status="abandoned"),
        ],
    )
    everything = await get(client, "/ratings")
    assert [i["call_id"] for i in everything["items"]] == ["X", "L5", "L4", "L3", "L2", "L1", "Y"]
    assert everything["next_cursor"] is None
    item = everything["items"][1]
    assert item == {
        "call_id": "L5",
        "channel_uniqueid": "L5.2",
        "operator": "7001",
        "operator_name": None,
        "queue": "sales",
        "survey": "default",
        "survey_version": 1,
        "channel": "ari",
        "language": "en",
        "status": "completed",
        "reason": None,
        "score": 1.0,
        "answers": [{"question": "rating", "key": "1", "score": 1.0, "attempts": 1}],
        "caller": "79991234567",
        "started_at": "2026-11-20T10:05:00+00:00",
        "ended_at": "2026-11-20T10:05:05+00:00",
        "campaign": None,
    }

    async def ids(query: str) -> list[str]:
        return [i["call_id"] for i in (await get(client, "/ratings?" + query))["items"]]

    assert await ids("operator=7002") == ["X", "Y"]
    assert await ids("queue=sales") == ["L5", "L4", "L3", "L2", "L1"]
    assert await ids("status=abandoned") == ["Y"]
    assert await ids("score_min=4") == ["X", "L2", "L1"]
    assert await ids("score_min=2&score_max=3") == ["L4", "L3"]
    assert await ids("from=2026-11-20T10:02:00%2B00:00&to=2026-11-20T13:05:00%2B03:00") == ["L4", "L3", "L2"]

    seen, cursor = [], ""
    for _ in range(5):
        page = await get(client, f"/ratings?limit=3{cursor}")
        seen.append([i["call_id"] for i in page["items"]])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [["X", "L5", "L4"], ["L3", "L2", "L1"], ["Y"]]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("from=2026-11-20T10:00:00", "from"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z", "to"),
        ("score_min=high", "score_min"),
        ("score_max=nan", "score_max"),
        ("status=happy", "status"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("cursor=%%%", "cursor"),
        ("format=xml", "format"),
    ],
)
async def test_bad_parameters_name_themselves(client: TestClient, query: str, parameter: str) -> None:
    body = await get(client, "/ratings?" + query, status=400)
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["details"] == {"parameter": parameter}


@pytest.mark.parametrize(("query", "parameter"), [("group_by=year", "group_by"), ("tz=Mars/Olympus", "tz")])
async def test_bad_summary_parameters(client: TestClient, query: str, parameter: str) -> None:
    body = await get(client, "/ratings/summary?" + query, status=400)
    assert body["error"]["details"] == {"parameter": parameter}


@pytest.mark.parametrize(
    "path",
    [
        "/ratings/summary?group_by=hour&tz=Europe/Berlin&from=0001-01-02T00:00:00Z&to=9999-12-30T00:00:00Z",
        "/ratings/summary?group_by=day&from=1900-01-01T00:00:00Z",
        "/operators/7001?from=1900-01-01T00:00:00Z",
        "/operators?from=1900-01-01T00:00:00Z",
        "/calls/stats?group_by=day&from=1900-01-01T00:00:00Z",
    ],
)
async def test_a_period_longer_than_twenty_years_is_refused(client: TestClient, sessions, path: str) -> None:
    await seed(sessions, FIVE)
    body = await get(client, path, status=400)
    assert (body["error"]["code"], body["error"]["details"]) == ("invalid_parameter", {"parameter": "to"})
    assert body["error"]["message"] == "from..to is too long: a period of at most 20 years"


async def test_csv_export_is_the_same_query(client: TestClient, sessions) -> None:
    await seed(sessions, [*FIVE, Rated("X", "7002", T + timedelta(minutes=30), 5.0, caller="79990001122")])
    for headers, query in (
        (AUTH, "?format=csv&operator=7001&score_max=2"),
        ({**AUTH, "Accept": "text/csv"}, "?operator=7001&score_max=2"),
    ):
        resp = await client.get("/ratings" + query, headers=headers)
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(await resp.text())))
        assert rows == [
            [
                "call_id",
                "operator",
                "operator_name",
                "queue",
                "survey",
                "survey_version",
                "status",
                "score",
                "answers",
                "caller",
                "channel",
                "language",
                "started_at",
                "ended_at",
                "channel_uniqueid",
                "campaign",
                "reason",
            ],
            [
                "L5",
                "7001",
                "",
                "sales",
                "default",
                "1",
                "completed",
                "1.0",
                '[{"question":"rating","key":"1","score":1.0,"attempts":1}]',
                "79991234567",
                "ari",
                "en",
                "2026-11-20T10:05:00+00:00",
                "2026-11-20T10:05:05+00:00",
                "L5.2",
                "",
                "",
            ],
            [
                "L4",
                "7001",
                "",
                "sales",
                "default",
                "1",
                "completed",
                "2.0",
                '[{"question":"rating","key":"2","score":2.0,"attempts":1}]',
                "79991234567",
                "ari",
                "en",
                "2026-11-20T10:04:00+00:00",
                "2026-11-20T10:04:05+00:00",
                "L4.2",
                "",
                "",
            ],
        ]


async def test_csv_export_pages_through_everything(client: TestClient, sessions) -> None:
    rows = [Rated(f"C{n:04d}", "7001", T + timedelta(seconds=n), float(n % 5 + 1)) for n in range(2500)]
    await seed(sessions, rows)
    resp = await client.get("/ratings?format=csv", headers=AUTH)
    lines = list(csv.reader(io.StringIO(await resp.text())))
    assert len(lines) == 2501
    assert [line[0] for line in lines[1:]] == [f"C{n:04d}" for n in reversed(range(2500))]
