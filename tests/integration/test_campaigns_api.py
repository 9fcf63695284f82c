"""The campaigns API: creating (every refusal naming its field), contacts uploaded as CSV, steering, progress,
results, and who may do what."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ivr_survey.db import campaigns as db
from ivr_survey.db.summary import wilson_interval
from ivr_survey.db.tokens import create_token
from ivr_survey.service.phones import mask_phone
from tests.support.api_client import AUTH, admin_client
from tests.support.campaigns import answer, make_campaign, place, settle
from tests.support.seed import add_survey, question

T = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
MINIMAL = {"name": "November NPS", "endpoint": "PJSIP/{number}@trunk"}
CSV_TYPE = {"Content-Type": "text/csv"}


@pytest.fixture
async def client(database_url: str, tmp_path) -> AsyncIterator[TestClient]:
    async with admin_client(database_url, tmp_path, default_country="RU") as c:
        yield c


@pytest.fixture
async def roles(sessions) -> dict[str, dict[str, str]]:
    """Authorization headers by role (the admin is the bootstrap token)."""
    async with sessions() as s, s.begin():
        analyst = await create_token(s, name="ann", role="analyst")
        supervisor = await create_token(s, name="sue", role="supervisor")
    return {
        "analyst": {"Authorization": f"Bearer {analyst}"},
        "supervisor": {"Authorization": f"Bearer {supervisor}"},
        "admin": AUTH,
    }


async def call(
    client: TestClient, method: str, path: str, status: int, headers: dict[str, str] = AUTH, **kwargs: Any
) -> Any:
    resp = await client.request(method, path, headers=headers, **kwargs)
    body = await resp.json() if resp.content_type == "application/json" else await resp.text()
    assert resp.status == status, body
    return body


def refusal(body: dict) -> tuple[str, str, dict]:
    return body["error"]["code"], body["error"]["message"], body["error"]["details"]


# --- creating ---


async def test_a_campaign_is_created_as_a_draft_with_the_defaults(client: TestClient, roles) -> None:
    before = datetime.now(UTC)
    body = await call(client, "POST", "/campaigns", 201, roles["supervisor"], json=MINIMAL)
    created_at = datetime.fromisoformat(body.pop("created_at"))
    assert before <= created_at <= datetime.now(UTC)
    assert body == {
        "id": 1,
        "name": "November NPS",
        "survey": "default",
        "endpoint": "PJSIP/{number}@trunk",
        "caller_id": None,
        "concurrency": 5,
        "calls_per_minute": None,
        "ring_timeout": 30,
        "max_attempts": 3,
        "retry_delay": 1800,
        "calling_hours": {"from": "09:00", "to": "20:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]},
        "opt_out_key": "9",
        "state": "draft",
        "state_reason": None,
        "created_by": "sue",
        "started_at": None,
        "ended_at": None,
        "progress": dict.fromkeys(db.PROGRESS_KEYS, 0),
        "response_rate": None,
    }
    assert list(body["progress"]) == [
        "total",
        "pending",
        "in_progress",
        "completed",
        "partial",
        "no_input",
        "opted_out",
        "no_answer",
        "busy",
        "failed",
        "dnc",
    ]
    listed = await call(client, "GET", "/campaigns", 200, roles["analyst"])
    assert listed == {"items": [{**body, "created_at": created_at.isoformat()}]}


async def test_every_setting_given(client: TestClient) -> None:
    body = await call(
        client,
        "POST",
        "/campaigns",
        201,
        json={
            "name": "Weekend",
            "survey": "default",
            "endpoint": "Local/{number}@customers",
            "caller_id": "Company <74950000000>",
            "concurrency": 200,
            "calls_per_minute": 600,
            "ring_timeout": 5,
            "max_attempts": 20,
            "retry_delay": 0,
            # a window across midnight; the zone's default is kept when left out
            "calling_hours": {"from": "20:00", "to": "2:30", "weekdays": [6, 7, 6]},
            "opt_out_key": None,
        },
    )
    picked = {k: body[k] for k in ("endpoint", "caller_id", "concurrency", "calls_per_minute", "ring_timeout")}
    assert picked == {
        "endpoint": "Local/{number}@customers",
        "caller_id": "Company <74950000000>",
        "concurrency": 200,
        "calls_per_minute": 600,
        "ring_timeout": 5,
    }
    assert (body["max_attempts"], body["retry_delay"], body["opt_out_key"]) == (20, 0, None)
    assert body["calling_hours"] == {"from": "20:00", "to": "02:30", "timezone": "Europe/Moscow", "weekdays": [6, 7]}


WHOLE = "must be a whole number from"


@pytest.mark.parametrize(
    ("fields", "parameter", "message"),
    [
        ({"name": None}, "name", "name is required"),
        ({"name": " "}, "name", "name must be a non-empty string"),
        ({"name": "x" * 201}, "name", "name is longer than 200 characters"),
        ({"name": "a\tb"}, "name", "name must not contain control characters (tabs, line breaks, NUL)"),
        ({"endpoint": None}, "endpoint", "endpoint is required"),
        *(
            (
                {"endpoint": endpoint},
                "endpoint",
                "endpoint must look like Tech/resource with {number} once, e.g. PJSIP/{number}@trunk or "
                "Local/{number}@customers",
            )
            for endpoint in ("PJSIP/trunk", "{number}", "PJSIP/{number}@{number}", "PJSIP/{number} @trunk")
        ),
        ({"endpoint": "PJSIP/{number}@" + "t" * 250}, "endpoint", "endpoint is longer than 256 characters"),
        ({"survey": "nope"}, "survey", "no survey 'nope' is stored; add it first (ivr-survey survey add FILE)"),
        (
            {"caller_id": "Co\n<1>"},
            "caller_id",
            "caller_id must not contain control characters (tabs, line breaks, NUL)",
        ),
        ({"caller_id": ""}, "caller_id", "caller_id must be a non-empty string, or null"),
        *(({"concurrency": v}, "concurrency", f"concurrency {WHOLE} 1 to 200") for v in (0, 201, "5", True, 5.5)),
        ({"calls_per_minute": 0}, "calls_per_minute", f"calls_per_minute {WHOLE} 1 to 600, or null"),
        ({"calls_per_minute": 601}, "calls_per_minute", f"calls_per_minute {WHOLE} 1 to 600, or null"),
        ({"ring_timeout": 4}, "ring_timeout", f"ring_timeout {WHOLE} 5 to 300"),
        ({"ring_timeout": 301}, "ring_timeout", f"ring_timeout {WHOLE} 5 to 300"),
        ({"max_attempts": 0}, "max_attempts", f"max_attempts {WHOLE} 1 to 20"),
        ({"max_attempts": 21}, "max_attempts", f"max_attempts {WHOLE} 1 to 20"),
        ({"retry_delay": -1}, "retry_delay", f"retry_delay {WHOLE} 0 to 604800"),
        ({"retry_delay": 604801}, "retry_delay", f"retry_delay {WHOLE} 0 to 604800"),
        (
            {"calling_hours": "9-20"},
            "calling_hours",
            'calling_hours must be an object: {"from": "09:00", "to": "20:00", "timezone": ..., "weekdays": ...}',
        ),
        (
            {"calling_hours": {"from": "9"}},
            "calling_hours.from",
            'calling_hours.from: "9" is not a time of day HH:MM (00:00 to 23:59)',
        ),
        (
            {"calling_hours": {"to": "24:00"}},
            "calling_hours.to",
            'calling_hours.to: "24:00" is not a time of day HH:MM (00:00 to 23:59)',
        ),
        (
            {"calling_hours": {"timezone": "Mars/{Base}"}},
            "calling_hours.timezone",
            'calling_hours.timezone: "Mars/{Base}" is not a known time zone (e.g. Europe/Moscow)',
        ),
        (
            {"calling_hours": {"weekdays": [0]}},
            "calling_hours.weekdays",
            "calling_hours.weekdays: 0 is not a weekday (1=Monday .. 7=Sunday)",
        ),
        (
            {"calling_hours": {"weekdays": []}},
            "calling_hours.weekdays",
            "calling_hours.weekdays: must name at least one day (1=Monday .. 7=Sunday)",
        ),
        (
            {"calling_hours": {"from": "10:00", "to": "10:00"}},
            "calling_hours",
            "calling_hours: from and to are both 10:00; the window would be empty",
        ),
        (
            {"calling_hours": {"start": "10:00"}},
            "calling_hours",
            'calling_hours: unknown key "start"; the keys are from, to, timezone, weekdays',
        ),
        *(
            ({"opt_out_key": key}, "opt_out_key", "opt_out_key must be one key of 0-9, * or #, or null (no opt-out)")
            for key in ("99", "A", 9, "")
        ),
        (
            {"concurency": 5},
            "concurency",
            "unknown field 'concurency'; the fields are: name, survey, endpoint, caller_id, concurrency, "
            "calls_per_minute, ring_timeout, max_attempts, retry_delay, calling_hours, opt_out_key",
        ),
    ],
)
async def test_a_refused_field_is_named(
    client: TestClient, fields: dict[str, Any], parameter: str, message: str
) -> None:
    body = {k: v for k, v in {**MINIMAL, **fields}.items() if v is not None or k not in MINIMAL}
    refused = await call(client, "POST", "/campaigns", 400, json=body)
    assert refusal(refused) == ("invalid_parameter", message, {"parameter": parameter})
    assert (await call(client, "GET", "/campaigns", 200)) == {"items": []}


async def test_the_opt_out_key_must_not_take_an_answer(client: TestClient, sessions) -> None:
    await add_survey(sessions, "nps", question("nps", range(11), kind="nps"))  # keys 0..10
    refused = await call(client, "POST", "/campaigns", 400, json={**MINIMAL, "survey": "nps"})
    assert refusal(refused) == (
        "invalid_parameter",
        "opt_out_key 9 starts an answer to question 'nps' of survey 'nps'; choose another key, or send "
        "opt_out_key: null for no opt-out",
        {"parameter": "opt_out_key", "question": "nps"},
    )
    refused = await call(client, "POST", "/campaigns", 400, json={**MINIMAL, "survey": "nps", "opt_out_key": "1"})
    assert refusal(refused)[2] == {"parameter": "opt_out_key", "question": "nps"}  # 1 starts 10
    for key in ("*", "#", None):
        created = await call(client, "POST", "/campaigns", 201, json={**MINIMAL, "survey": "nps", "opt_out_key": key})
        assert created["opt_out_key"] == key


async def test_a_body_that_is_not_json_is_refused(client: TestClient) -> None:
    refused = await call(client, "POST", "/campaigns", 400, data=b"name=x")
    assert refusal(refused) == ("invalid_json", "the body is not valid JSON", {})


# --- contacts ---

CONTACTS = (
    "phone,Name,operator,timezone,segment\r\n"
    "8 (916) 123-45-67,Анна,7001,,vip\r\n"  # 2
    "+7 916 123-45-68,Борис,7002,Asia/Yekaterinburg,\r\n"  # 3
    "abc,Bad,,,\r\n"  # 4
    "89161234567,Анна again,,,\r\n"  # 5: line 2's number
    "\r\n"  # 6: blank, skipped
    "+79160000000,On the list,,,\r\n"  # 7
    "+79161234569,Tz,,Mars/Olympus,\r\n"  # 8
    "9161234570,Вера,7001,,\r\n"  # 9: no trunk prefix, still Russian
)


async def test_contacts_are_normalised_and_bad_rows_named_by_line(client: TestClient, roles) -> None:
    await call(client, "POST", "/campaigns", 201, json=MINIMAL)
    await call(client, "POST", "/do-not-call", 201, json={"phone": "+7 916 000 00 00"})
    uploaded = await call(
        client,
        "POST",
        "/campaigns/1/contacts",
        200,
        {**roles["supervisor"], **CSV_TYPE},
        data=CONTACTS.encode(),
    )
    assert uploaded == {
        "added": 4,
        "duplicates": 1,
        "dnc": 1,
        "rejected": [
            {"line": 4, "reason": 'phone: "abc" is not a phone number'},
            {"line": 8, "reason": 'timezone: "Mars/Olympus" is not a known time zone (e.g. Europe/Moscow)'},
        ],
    }
    # again, with one new number: the others are duplicates of the campaign's
    again = "phone\n+79161234568\n+79161234571\n"
    uploaded = await call(client, "POST", "/campaigns/1/contacts", 200, CSV_TYPE | AUTH, data=again.encode())
    assert uploaded == {"added": 1, "duplicates": 1, "dnc": 0, "rejected": []}
    results = await call(client, "GET", "/campaigns/1/results", 200)
    assert [(r["phone"], r["name"], r["operator"], r["tags"], r["outcome"]) for r in results["items"]] == [
        ("+79161234567", "Анна", "7001", {"segment": "vip"}, None),
        ("+79161234568", "Борис", "7002", {}, None),
        ("+79160000000", "On the list", None, {}, "dnc"),
        ("+79161234570", "Вера", "7001", {}, None),
        ("+79161234571", None, None, {}, None),
    ]
    campaign = await call(client, "GET", "/campaigns/1", 200)
    assert campaign["progress"] == {**dict.fromkeys(db.PROGRESS_KEYS, 0), "total": 5, "pending": 4, "dnc": 1}


async def test_without_a_default_country_a_number_keeps_its_digits(database_url: str, tmp_path) -> None:
    async with admin_client(database_url, tmp_path) as client:
        await call(client, "POST", "/campaigns", 201, json=MINIMAL)
        data = b"phone\n8 (916) 123-45-67\n+7 916 123-45-68\n"
        await call(client, "POST", "/campaigns/1/contacts", 200, CSV_TYPE | AUTH, data=data)
        results = await call(client, "GET", "/campaigns/1/results", 200)
    assert [r["phone"] for r in results["items"]] == ["89161234567", "+79161234568"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty; it needs a header line naming a phone column"),
        (b"\r\n\r\n", "the file is empty; it needs a header line naming a phone column"),
        (b"name,number\nAnna,+79161234567\n", "the header has no phone column"),
        (b"+79161234567\n", "the header has no phone column"),
        (b"phone\x00\n", "not CSV text (it holds NUL bytes); save the file as CSV UTF-8"),
    ],
)
async def test_a_file_that_is_no_contacts_list_is_refused(client: TestClient, data: bytes, message: str) -> None:
    await call(client, "POST", "/campaigns", 201, json=MINIMAL)
    refused = await call(client, "POST", "/campaigns/1/contacts", 400, CSV_TYPE | AUTH, data=data)
    assert refusal(refused) == ("invalid_parameter", message, {"parameter": "body"})
    assert (await call(client, "GET", "/campaigns/1", 200))["progress"]["total"] == 0


async def test_the_upload_must_be_csv_and_at_most_20_mb(client: TestClient) -> None:
    await call(client, "POST", "/campaigns", 201, json=MINIMAL)
    for headers in (AUTH, {**AUTH, "Content-Type": "application/json"}):
        refused = await call(client, "POST", "/campaigns/1/contacts", 415, headers, data=b"phone\n+79161234567\n")
        given = headers.get("Content-Type", "application/octet-stream")
        assert refusal(refused) == (
            "unsupported_media_type",
            f"the body must be a CSV file sent as Content-Type: text/csv (got {given})",
            {"content_type": given},
        )
    # with its charset it is fine, and a file over 1 MB (the other routes' limit) too
    big = b"phone\n" + b"".join(b"+7916%07d\n" % n for n in range(90_000))
    assert len(big) > 1024 * 1024
    headers = {**AUTH, "Content-Type": "text/csv; charset=utf-8"}
    uploaded = await call(client, "POST", "/campaigns/1/contacts", 200, headers, data=io.BytesIO(big))
    assert (uploaded["added"], uploaded["rejected"]) == (90_000, [])
    too_big = b"phone\n" + b"1" * (20 * 1024 * 1024)
    refused = await call(client, "POST", "/campaigns/1/contacts", 413, CSV_TYPE | AUTH, data=io.BytesIO(too_big))
    assert refusal(refused) == (
        "payload_too_large",
        "the file is larger than 20 MB; split it in several uploads",
        {"max_bytes": 20 * 1024 * 1024},
    )

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"phone\n"
        for _ in range(21):
            yield b"1" * (1024 * 1024)

    refused = await call(client, "POST", "/campaigns/1/contacts", 413, CSV_TYPE | AUTH, data=chunked())
    assert refusal(refused)[0] == "payload_too_large"
    assert (await call(client, "GET", "/campaigns/1", 200))["progress"]["total"] == 90_000


async def test_contacts_of_an_unknown_or_ended_campaign_are_refused(client: TestClient, roles) -> None:
    data = b"phone\n+79161234567\n"
    refused = await call(client, "POST", "/campaigns/7/contacts", 404, CSV_TYPE | AUTH, data=data)
    assert refusal(refused) == ("not_found", "no campaign 7", {"campaign": 7})
    refused = await call(client, "POST", "/campaigns/x/contacts", 404, CSV_TYPE | AUTH, data=data)
    assert refusal(refused) == ("not_found", "no campaign 'x'", {"campaign": "x"})
    await call(client, "POST", "/campaigns", 201, json=MINIMAL)
    refused = await call(client, "POST", "/campaigns/1/contacts", 403, roles["analyst"] | CSV_TYPE, data=data)
    assert refusal(refused)[0] == "forbidden"
    await call(client, "POST", "/campaigns/1/cancel", 200)
    refused = await call(client, "POST", "/campaigns/1/contacts", 409, CSV_TYPE | AUTH, data=data)
    assert refusal(refused) == (
        "campaign_state",
        "campaign 1 is cancelled; contacts are added until a campaign is finished or cancelled",
        {"state": "cancelled", "wanted": "given contacts"},
    )


# --- steering ---


async def test_start_pause_resume_cancel_and_the_409s(client: TestClient, roles) -> None:
    await call(client, "POST", "/campaigns", 201, json=MINIMAL)
    refused = await call(client, "POST", "/campaigns/1/start", 409)
    assert refusal(refused) == (
        "no_contacts",
        "campaign 1 has no contacts; upload them first (POST /campaigns/1/contacts)",
        {"campaign": 1},
    )
    await call(client, "POST", "/campaigns/1/contacts", 200, CSV_TYPE | AUTH, data=b"phone\n+79161234567\n")
    refused = await call(client, "POST", "/campaigns/1/pause", 409)
    assert refusal(refused) == (
        "campaign_state",
        "campaign 1 is draft; pause is for a campaign that is running",
        {"state": "draft", "wanted": "paused"},
    )
    await call(client, "POST", "/campaigns/1/start", 403, roles["analyst"])
    before = datetime.now(UTC)
    started = await call(client, "POST", "/campaigns/1/start", 200, roles["supervisor"])
    assert started["state"] == "running"
    assert before <= datetime.fromisoformat(started["started_at"]) <= datetime.now(UTC)
    steps = [
        ("start", 409, {"state": "running", "wanted": "running"}),
        ("resume", 409, {"state": "running", "wanted": "running"}),
        ("pause", 200, "paused"),
        ("pause", 409, {"state": "paused", "wanted": "paused"}),
        ("start", 409, {"state": "paused", "wanted": "running"}),
        ("resume", 200, "running"),
        ("pause", 200, "paused"),
        ("cancel", 200, "cancelled"),
        ("cancel", 409, {"state": "cancelled", "wanted": "cancelled"}),
        ("resume", 409, {"state": "cancelled", "wanted": "running"}),
    ]
    for command, status, expected in steps:
        body = await call(client, "POST", f"/campaigns/1/{command}", status)
        if status == 200:
            assert body["state"] == expected
        else:
            assert (body["error"]["code"], body["error"]["details"]) == ("campaign_state", expected), command
    cancelled = await call(client, "GET", "/campaigns/1", 200)
    assert cancelled["state"] == "cancelled"
    assert cancelled["started_at"] == started["started_at"]
    assert datetime.fromisoformat(cancelled["ended_at"]) >= datetime.fromisoformat(started["started_at"])
    for command in ("start", "pause", "resume", "cancel"):
        refused = await call(client, "POST", f"/campaigns/2/{command}", 404)
        assert refusal(refused) == ("not_found", "no campaign 2", {"campaign": 2})
    listed = await call(client, "GET", "/campaigns?state=running", 200)
    assert listed == {"items": []}
    assert [c["id"] for c in (await call(client, "GET", "/campaigns?state=cancelled", 200))["items"]] == [1]


# --- progress and results ---

PHONES = [f"+7916000000{n}" for n in range(1, 8)]
AFTER = (question("rating", [1, 2, 3, 4, 5]), question("solved", [0, 1], kind="yes_no"))  # keys 0-4, 0-1


async def dialled(sessions) -> int:
    """A campaign of a two-question survey whose seven contacts went every way a contact can."""
    await add_survey(sessions, "after", *AFTER)
    async with sessions() as s, s.begin():
        await db.add_dnc(s, PHONES[5], source="api", at=T)
    campaign = await make_campaign(sessions, PHONES, at=T - timedelta(days=1), survey="after")
    a, b, c, d, e, f, g = PHONES
    busy = await place(sessions, campaign, a, at=T)
    await settle(
        sessions, busy, outcome="busy", cause=17, at=T + timedelta(seconds=20), retry_at=T + timedelta(hours=1)
    )
    again = await place(sessions, campaign, a, at=T + timedelta(hours=1))
    await answer(
        sessions,
        again,
        linkedid="1795000000.100",
        at=T + timedelta(hours=1, seconds=5),
        answers=[("rating", 4.0), ("solved", 1.0)],
        status="completed",
        survey="after",
    )
    await settle(sessions, again, outcome="completed", cause=16, at=T + timedelta(hours=1, minutes=1))
    unanswered = await place(sessions, campaign, b, at=T)
    await settle(sessions, unanswered, outcome="no_answer", cause=19, at=T + timedelta(seconds=30))
    opted = await place(sessions, campaign, c, at=T + timedelta(minutes=1))
    await answer(
        sessions,
        opted,
        linkedid="1795000000.99",
        at=T + timedelta(minutes=1, seconds=5),
        answers=[("rating", 2.0)],
        status="partial",
        survey="after",
    )
    await settle(sessions, opted, outcome="opted_out", cause=16, at=T + timedelta(minutes=2))
    await place(sessions, campaign, d, at=T + timedelta(minutes=3))  # on the line
    silent = await place(sessions, campaign, e, at=T + timedelta(minutes=4))
    await answer(
        sessions,
        silent,
        linkedid="1795000000.101",
        at=T + timedelta(minutes=4, seconds=5),
        answers=[("rating", None), ("solved", None)],
        status="no_input",
        survey="after",
    )
    await settle(sessions, silent, outcome="no_input", cause=16, at=T + timedelta(minutes=5))
    wrong = await place(sessions, campaign, g, at=T + timedelta(minutes=6))
    await settle(sessions, wrong, outcome="failed", cause=3, at=T + timedelta(minutes=6, seconds=1))
    assert f == PHONES[5]  # on the do-not-call list before it was added: never dialled
    return campaign


PERIOD = "from=2026-11-22T00:00:00Z&to=2026-11-24T00:00:00Z"


async def test_progress_response_rate_and_summary(client: TestClient, sessions) -> None:
    campaign = await dialled(sessions)
    body = await call(client, "GET", f"/campaigns/{campaign}?{PERIOD}", 200)
    assert body["progress"] == {
        "total": 7,
        "pending": 0,
        "in_progress": 1,
        "completed": 1,
        "partial": 0,
        "no_input": 1,
        "opted_out": 1,
        "no_answer": 1,
        "busy": 0,
        "failed": 1,
        "dnc": 1,
    }
    # answered at least one question: the completed and the opted-out contact; with a final outcome but dnc: 5
    assert body["response_rate"] == 0.4
    assert body["summary"] == {
        "group_by": "all",
        "from": "2026-11-22T00:00:00+00:00",
        "to": "2026-11-24T00:00:00+00:00",
        "tz": "UTC",
        "question": None,
        "kind": None,
        "groups": [
            {
                "key": None,
                "offered": 3,
                "responses": 2,
                "response_rate": 0.6667,
                "average": 3.0,
                "csat": 0.5,
                "csat_ci95": list(wilson_interval(1, 2) or ()),
                "csat_responses": 2,
                "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0},
                "cqr_average": None,
                "cqr_evaluations": 0,
                "cqr_good": 0,
                "cqr_good_share": None,
            }
        ],
    }
    # the same as /ratings/summary filtered by the campaign
    ratings = await call(client, "GET", f"/ratings/summary?group_by=all&campaign={campaign}&survey=after&{PERIOD}", 200)
    assert ratings == body["summary"]
    solved = await call(client, "GET", f"/campaigns/{campaign}?question=solved&group_by=day&{PERIOD}", 200)
    [day] = solved["summary"]["groups"]
    assert (solved["summary"]["kind"], day["key"], day["offered"], day["responses"]) == (
        "yes_no",
        "2026-11-23T00:00:00+00:00",
        3,
        1,
    )
    assert (day["yes"], day["no"], day["yes_share"]) == (1, 0, 1.0)
    listed = await call(client, "GET", "/campaigns", 200)
    assert [(c["id"], c["progress"]["total"], c["response_rate"]) for c in listed["items"]] == [(campaign, 7, 0.4)]
    refused = await call(client, "GET", f"/campaigns/{campaign}?question=nps", 400)
    assert refusal(refused)[2] == {"parameter": "question"}
    assert refusal(await call(client, "GET", "/campaigns/9", 404)) == ("not_found", "no campaign 9", {"campaign": 9})


def result(phone: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "phone": phone,
        "name": name,
        "operator": None,
        "tags": {},
        "outcome": None,
        "attempts": 0,
        "last_attempt_at": None,
        "last_cause": None,
        "call_id": None,
        "score": None,
        "answers": [],
        **fields,
    }


RESULTS = [
    result(
        PHONES[0],
        "C01",
        outcome="completed",
        attempts=2,
        last_attempt_at="2026-11-23T11:00:00+00:00",
        last_cause=16,
        call_id="1795000000.100",
        score=4.0,
        answers=[{"question": "rating", "score": 4.0}, {"question": "solved", "score": 1.0}],
    ),
    result(
        PHONES[1], "C02", outcome="no_answer", attempts=1, last_attempt_at="2026-11-23T10:00:00+00:00", last_cause=19
    ),
    result(
        PHONES[2],
        "C03",
        outcome="opted_out",
        attempts=1,
        last_attempt_at="2026-11-23T10:01:00+00:00",
        last_cause=16,
        call_id="1795000000.99",
        score=2.0,
        answers=[{"question": "rating", "score": 2.0}],
    ),
    result(PHONES[3], "C04", attempts=1, last_attempt_at="2026-11-23T10:03:00+00:00"),
    result(
        PHONES[4],
        "C05",
        outcome="no_input",
        attempts=1,
        last_attempt_at="2026-11-23T10:04:00+00:00",
        last_cause=16,
        call_id="1795000000.101",
        answers=[{"question": "rating", "score": None}, {"question": "solved", "score": None}],
    ),
    result(PHONES[5], "C06", outcome="dnc"),
    result(PHONES[6], "C07", outcome="failed", attempts=1, last_attempt_at="2026-11-23T10:06:00+00:00", last_cause=3),
]


async def test_results_in_pages(client: TestClient, sessions) -> None:
    campaign = await dialled(sessions)
    first = await call(client, "GET", f"/campaigns/{campaign}/results?limit=4", 200)
    assert first["items"] == RESULTS[:4]
    second = await call(client, "GET", f"/campaigns/{campaign}/results?limit=4&cursor={first['next_cursor']}", 200)
    assert second == {"items": RESULTS[4:], "next_cursor": None}
    whole = await call(client, "GET", f"/campaigns/{campaign}/results?limit=7", 200)
    assert whole["items"] == RESULTS
    after_all = await call(client, "GET", f"/campaigns/{campaign}/results?limit=7&cursor={whole['next_cursor']}", 200)
    assert after_all == {"items": [], "next_cursor": None}
    refused = await call(client, "GET", f"/campaigns/{campaign}/results?cursor=WyJ4Il0", 400)  # ["x"]
    assert refusal(refused) == ("invalid_parameter", "cursor is not one this API gave out", {"parameter": "cursor"})
    assert refusal(await call(client, "GET", "/campaigns/9/results", 404))[0] == "not_found"


async def test_results_as_csv(client: TestClient, sessions) -> None:
    campaign = await dialled(sessions)
    async with sessions() as s, s.begin():  # a tag a spreadsheet would run, and a name
        await db.add_contacts(
            s, campaign, [db.NewContact(phone="+79169999999", name="=HYPERLINK(1)", tags={"segment": "vip"})], at=T
        )
    for headers, query in ((AUTH, "?format=csv"), ({**AUTH, "Accept": "text/csv"}, "")):
        resp = await client.get(f"/campaigns/{campaign}/results{query}", headers=headers)
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert resp.headers["Content-Disposition"] == f'attachment; filename="campaign-{campaign}.csv"'
        rows = list(csv.reader(io.StringIO(await resp.text())))
        assert rows == [
            [
                "phone",
                "name",
                "operator",
                "outcome",
                "attempts",
                "last_attempt_at",
                "last_cause",
                "call_id",
                "score",
                "rating",
                "solved",
                "tags",
            ],
            [
                PHONES[0],
                "C01",
                "",
                "completed",
                "2",
                "2026-11-23T11:00:00+00:00",
                "16",
                "1795000000.100",
                "4.0",
                "4.0",
                "1.0",
                "",
            ],
            [PHONES[1], "C02", "", "no_answer", "1", "2026-11-23T10:00:00+00:00", "19", "", "", "", "", ""],
            [
                PHONES[2],
                "C03",
                "",
                "opted_out",
                "1",
                "2026-11-23T10:01:00+00:00",
                "16",
                "1795000000.99",
                "2.0",
                "2.0",
                "",
                "",
            ],
            [PHONES[3], "C04", "", "", "1", "2026-11-23T10:03:00+00:00", "", "", "", "", "", ""],
            [
                PHONES[4],
                "C05",
                "",
                "no_input",
                "1",
                "2026-11-23T10:04:00+00:00",
                "16",
                "1795000000.101",
                "",
                "",
                "",
                "",
            ],
            [PHONES[5], "C06", "", "dnc", "0", "", "", "", "", "", "", ""],
            [PHONES[6], "C07", "", "failed", "1", "2026-11-23T10:06:00+00:00", "3", "", "", "", "", ""],
            ["+79169999999", "'=HYPERLINK(1)", "", "", "0", "", "", "", "", "", "", '{"segment":"vip"}'],
        ]


# --- the campaign filter of /ratings and the summaries ---


async def test_ratings_tell_campaign_answers_from_post_call_ones(client: TestClient, sessions) -> None:
    from tests.support.seed import Rated, seed

    campaign = await dialled(sessions)
    await seed(sessions, [Rated("P1", "7001", T + timedelta(minutes=30), 5.0), Rated("P2", "7002", T, 1.0)])

    async def ids(query: str) -> list[tuple[str, int | None]]:
        body = await call(client, "GET", f"/ratings?{query}", 200)
        return [(r["call_id"], r["campaign"]) for r in body["items"]]

    assert await ids("") == [
        ("1795000000.100", campaign),
        ("P1", None),
        ("1795000000.101", campaign),
        ("1795000000.99", campaign),
        ("P2", None),
    ]
    assert await ids(f"campaign={campaign}") == [
        ("1795000000.100", campaign),
        ("1795000000.101", campaign),
        ("1795000000.99", campaign),
    ]
    assert await ids("campaign=none") == [("P1", None), ("P2", None)]
    assert await ids("campaign=2") == []
    [item] = (await call(client, "GET", f"/ratings?campaign={campaign}&score_min=3", 200))["items"]
    assert (item["caller"], item["survey"], item["score"]) == (PHONES[0], "after", 4.0)  # the customer's number
    resp = await client.get(f"/ratings?campaign={campaign}&format=csv&score_min=3", headers=AUTH)
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["call_id"], r["campaign"]) for r in rows] == [("1795000000.100", str(campaign))]
    for bad in ("x", "0", "-1", "1.5", "2147483648"):
        refused = await call(client, "GET", f"/ratings?campaign={bad}", 400)
        assert refusal(refused) == (
            "invalid_parameter",
            "campaign must be a campaign's id or none",
            {"parameter": "campaign"},
        )

    def brief(body: dict) -> list[tuple]:
        return [(g["key"], g["offered"], g["responses"], g["average"]) for g in body["groups"]]

    # an unfiltered time summary adds up the stored tallies, which count every response; a filtered one does not
    everything = await call(client, "GET", f"/ratings/summary?group_by=hour&{PERIOD}", 200)
    assert brief(everything) == [
        ("2026-11-23T10:00:00+00:00", 4, 3, 2.6667),
        ("2026-11-23T11:00:00+00:00", 1, 1, 4.0),
    ]
    post_call = await call(client, "GET", f"/ratings/summary?group_by=hour&campaign=none&{PERIOD}", 200)
    assert brief(post_call) == [("2026-11-23T10:00:00+00:00", 2, 2, 3.0)]
    of_campaign = await call(client, "GET", f"/ratings/summary?group_by=hour&campaign={campaign}&{PERIOD}", 200)
    assert brief(of_campaign) == [("2026-11-23T10:00:00+00:00", 2, 1, 2.0), ("2026-11-23T11:00:00+00:00", 1, 1, 4.0)]
    by_operator = await call(client, "GET", f"/ratings/summary?group_by=operator&campaign=none&{PERIOD}", 200)
    assert brief(by_operator) == [("7001", 1, 1, 5.0), ("7002", 1, 1, 1.0)]
    total = await call(client, "GET", f"/ratings/summary?group_by=all&{PERIOD}", 200)
    assert brief(total) == [(None, 5, 4, 3.0)]


# --- the do-not-call list ---


async def test_do_not_call_add_list_delete_and_roles(client: TestClient, roles) -> None:
    before = datetime.now(UTC)
    added = await call(client, "POST", "/do-not-call", 201, roles["supervisor"], json={"phone": "8 (916) 123-45-67"})
    added_at = datetime.fromisoformat(added.pop("added_at"))
    assert before <= added_at <= datetime.now(UTC)
    assert added == {"phone": "+79161234567", "source": "api", "added_by": "sue", "campaign": None, "call_id": None}
    again = await call(client, "POST", "/do-not-call", 200, AUTH, json={"phone": "+7 916 123 45 67"})
    assert again == {**added, "added_at": added_at.isoformat()}  # the first entry stays
    await call(client, "POST", "/do-not-call", 201, json={"phone": "+44 20 7946 0000"})
    listed = await call(client, "GET", "/do-not-call", 200, roles["supervisor"])
    assert [e["phone"] for e in listed["items"]] == ["+442079460000", "+79161234567"]
    assert listed["next_cursor"] is None
    first = await call(client, "GET", "/do-not-call?limit=1", 200)
    assert [e["phone"] for e in first["items"]] == ["+442079460000"]
    second = await call(client, "GET", f"/do-not-call?limit=1&cursor={first['next_cursor']}", 200)
    assert [e["phone"] for e in second["items"]] == ["+79161234567"]

    for method, path, kwargs in (
        ("GET", "/do-not-call", {}),
        ("POST", "/do-not-call", {"json": {"phone": "+79160000000"}}),
        ("DELETE", "/do-not-call/%2B79161234567", {}),
    ):
        refused = await call(client, method, path, 403, roles["analyst"], **kwargs)
        assert refusal(refused)[0] == "forbidden"
    refused = await call(client, "DELETE", "/do-not-call/%2B79161234567", 403, roles["supervisor"])
    assert refusal(refused) == (
        "forbidden",
        "this needs the admin role; the token's role is supervisor",
        {"required_role": "admin"},
    )
    assert await call(client, "DELETE", "/do-not-call/%2B79161234567", 204) == ""
    refused = await call(client, "DELETE", "/do-not-call/%2B79161234567", 404)
    assert refusal(refused) == (
        "not_found",
        "the number is not on the do-not-call list",
        {"phone": "+79161234567"},
    )
    # as written before it is normalised
    refused = await call(client, "DELETE", "/do-not-call/8%20020%207946%200000", 404)  # no Russian number either
    assert refusal(refused)[2] == {"phone": "8 020 7946 0000"}
    assert await call(client, "DELETE", "/do-not-call/%2B44%2020%207946%200000", 204) == ""
    assert (await call(client, "GET", "/do-not-call", 200))["items"] == []


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("abc", 'phone: "abc" is not a phone number'),
        ("+7 916", 'phone: "+7 916" is too short'),
        (" ", "phone must be a non-empty string"),
        (7916, "phone must be a non-empty string"),
    ],
)
async def test_a_bad_number_is_refused(client: TestClient, phone: object, message: str) -> None:
    refused = await call(client, "POST", "/do-not-call", 400, json={"phone": phone})
    assert refusal(refused) == ("invalid_parameter", message, {"parameter": "phone"})


async def test_the_summary_period_defaults_to_the_campaigns_life(client: TestClient) -> None:
    created = await call(client, "POST", "/campaigns", 201, json=MINIMAL)
    before = datetime.now(UTC)
    summary = (await call(client, "GET", "/campaigns/1", 200))["summary"]
    assert summary["from"] == created["created_at"]
    assert before <= datetime.fromisoformat(summary["to"]) <= datetime.now(UTC)
    assert [(g["key"], g["offered"]) for g in summary["groups"]] == [(None, 0)]
    # a period ending before the campaign began is an empty one
    summary = (await call(client, "GET", "/campaigns/1?to=2026-01-01T00:00:00Z", 200))["summary"]
    assert (summary["from"], summary["to"]) == ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")
    refused = await call(client, "GET", "/campaigns/1?from=1900-01-01T00:00:00Z", 400)
    assert refusal(refused) == (
        "invalid_parameter",
        "from..to is too long: a period of at most 20 years",
        {"parameter": "to"},
    )
    refused = await call(client, "GET", "/campaigns/1?group_by=minute", 400)
    assert refusal(refused)[2] == {"parameter": "group_by"}


async def test_an_analyst_reads_the_results_with_the_numbers_masked(client: TestClient, sessions, roles) -> None:
    campaign = await dialled(sessions)
    masked = await call(client, "GET", f"/campaigns/{campaign}/results?limit=7", 200, roles["analyst"])
    assert [item["phone"] for item in masked["items"]] == [mask_phone(phone) for phone in PHONES[:7]]
    assert masked["items"][0]["phone"] == "+7******" + PHONES[0][-4:]
    assert [{**item, "phone": None} for item in masked["items"]] == [{**item, "phone": None} for item in RESULTS]
    resp = await client.get(f"/campaigns/{campaign}/results?format=csv", headers=roles["analyst"])
    rows = list(csv.reader(io.StringIO(await resp.text())))
    # a masked number is no plain number: the one CSV cell function keeps a spreadsheet from reading a formula
    assert [row[0] for row in rows[1:]] == ["'" + mask_phone(phone) for phone in PHONES[:7]]
    full = await call(client, "GET", f"/campaigns/{campaign}/results?limit=7", 200, roles["supervisor"])
    assert full["items"] == RESULTS
