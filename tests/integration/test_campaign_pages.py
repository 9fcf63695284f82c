"""The Campaigns pages over HTTP, without a browser: the list and its New campaign form (the API's defaults, each
refusal under its field in the viewer's language), roles and CSRF, the contacts upload with its bad lines, steering
with the 409s said in words, and one campaign's progress, answers and results as the API gives them."""

from __future__ import annotations

import html
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db import campaigns as db
from ivr_survey.db import dialing
from ivr_survey.db.models import CampaignContact
from ivr_survey.db.operators import OperatorRow, upsert_operators
from ivr_survey.db.tokens import create_token
from ivr_survey.keys import SESSIONS
from tests.support.campaigns import answer, make_campaign, place, settle
from tests.support.seed import add_survey, question

ADMIN = "bootstrap-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
RU = {"Accept-Language": "ru"}
T = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday; the pages sum a campaign's answers up to now, after T


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    config = Settings(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        api_token=ADMIN,
        default_country="RU",
    )  # type: ignore[call-arg]
    async with TestClient(TestServer(create_app(config))) as c:
        yield c


async def sign_in(client: TestClient, role: str) -> str:
    """A session of a new token of this role; the CSRF value of its forms."""
    client.session.cookie_jar.clear()
    async with client.app[SESSIONS]() as s, s.begin():
        value = await create_token(s, name=f"{role[:3]}-{role}", role=role)
    resp = await client.post("/ui/sign-in", data={"token": value, "next": "/ui/campaigns"}, allow_redirects=False)
    assert resp.status == 303
    page = await (await client.get("/ui/campaigns")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def text(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> str:
    resp = await client.get(path, **kwargs)
    body = await resp.text()
    assert resp.status == status, body
    assert resp.content_type == "text/html"
    return body


def plain(fragment: str) -> str:
    """A page's fragment as its reader sees it: tags dropped, entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def by_attr(page: str, attr: str) -> dict[str, str]:
    """The text of each element carrying `attr`, by the attribute's value (elements holding no other such one)."""
    return {
        m.group(2): plain(m.group(3))
        for m in re.finditer(rf'<(\w+)[^>]*\b{attr}="([^"]+)"[^>]*>(.*?)</\1>', page, re.DOTALL)
    }


def section(page: str, testid: str) -> str:
    """The inside of the element with this data-testid (elements of its own kind nested in it included)."""
    start = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>', page)
    assert start is not None, testid
    depth = 1
    for tag in re.finditer(rf"<(/?){start.group(1)}\b[^>]*>", page[start.end() :]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return page[start.end() : start.end() + tag.start()]
    raise AssertionError(f"{testid} is never closed")


def counts(page: str) -> dict[str, str]:
    """The progress section's counts by key."""
    return {key: value for key, value in re.findall(r'<li data-key="(\w+)">.*?<strong>([^<]*)</strong>', page)}


def rows(page: str, testid: str) -> list[list[str]]:
    body = section(page, testid)
    return [
        [plain(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>")[1], re.DOTALL)
    ]


FORM = {
    "name": "November NPS",
    "survey": "default",
    "endpoint": "PJSIP/{number}@trunk",
    "caller_id": "",
    "concurrency": "5",
    "calls_per_minute": "",
    "ring_timeout": "30",
    "max_attempts": "3",
    "retry_delay": "30",
    "hours_from": "09:00",
    "hours_to": "20:00",
    "hours_timezone": "Europe/Moscow",
    "opt_out_key": "9",
}
WEEKDAYS = [("weekdays", str(d)) for d in (1, 2, 3, 4, 5)]


def form(csrf: str, **fields: str) -> list[tuple[str, str]]:
    return [("csrf", csrf), *{**FORM, **fields}.items(), *WEEKDAYS]


async def api(client: TestClient, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    resp = await client.request(method, path, headers={**AUTH, **kwargs.pop("headers", {})}, **kwargs)
    body = await resp.json()
    assert resp.status == status, body
    return body


# --- the list and the form ---


async def test_the_empty_list_and_the_form_filled_with_the_apis_defaults(client: TestClient) -> None:
    await sign_in(client, "analyst")
    page = await text(client, "/ui/campaigns")
    assert plain(section(page, "no-campaigns")) == (
        "No campaigns yet. Supervisors create campaigns here (or through POST /campaigns); their progress and answers"
        " appear here."
    )
    assert 'data-testid="campaign-form"' not in page
    assert '<a href="/ui/campaigns" aria-current="page">Campaigns</a>' in page

    await sign_in(client, "supervisor")
    page = await text(client, "/ui/campaigns", headers=RU)
    assert '<a href="/ui/campaigns" aria-current="page">Кампании</a>' in page
    assert plain(section(page, "no-campaigns")).startswith("Кампаний пока нет. Создайте кампанию в форме ниже")
    assert '<details class="new-campaign" open' in page  # nothing to list: the form is open
    values = dict(re.findall(r'<input type="(?:text|number|time)" name="(\w+)" value="([^"]*)"', page))
    assert values == {
        "name": "",
        "endpoint": "",
        "caller_id": "",
        "concurrency": "5",
        "calls_per_minute": "",
        "ring_timeout": "30",
        "max_attempts": "3",
        "retry_delay": "30",
        "hours_from": "09:00",
        "hours_to": "20:00",
        "hours_timezone": "Europe/Moscow",
    }
    ticked = re.findall(r'name="weekdays" value="(\d)" checked> (\w+)', page)
    assert ticked == [("1", "пн"), ("2", "вт"), ("3", "ср"), ("4", "чт"), ("5", "пт")]
    assert '<option value="9" selected>9</option>' in page
    assert '<option value="default" selected>default</option>' in page


async def test_a_supervisor_creates_a_campaign_and_the_list_shows_it(client: TestClient) -> None:
    csrf = await sign_in(client, "supervisor")
    fields = {"caller_id": "Company <74950000000>", "calls_per_minute": "20", "retry_delay": "45", "opt_out_key": ""}
    resp = await client.post("/ui/campaigns", data=form(csrf, **fields), allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/ui/campaigns/1?done=create"
    created = await api(client, "GET", "/campaigns/1")
    picked = {k: created[k] for k in ("name", "caller_id", "calls_per_minute", "retry_delay", "opt_out_key")}
    assert picked == {
        "name": "November NPS",
        "caller_id": "Company <74950000000>",
        "calls_per_minute": 20,
        "retry_delay": 2700,
        "opt_out_key": None,
    }
    assert created["calling_hours"] == {
        "from": "09:00",
        "to": "20:00",
        "timezone": "Europe/Moscow",
        "weekdays": [1, 2, 3, 4, 5],
    }
    assert created["created_by"] == "sup-supervisor"
    page = await text(client, "/ui/campaigns/1?done=create")
    assert plain(section(page, "done")) == "Campaign created as a draft. Upload its contacts, then start it."
    assert plain(section(page, "calling-hours")) == "09:00–20:00 Europe/Moscow · Mon, Tue, Wed, Thu, Fri"

    listed = await text(client, "/ui/campaigns?tz=UTC")
    [row] = rows(listed, "campaigns-table")
    created_at = datetime.fromisoformat(created["created_at"]).strftime("%-m/%-d/%y, %-I:%M %p")
    assert row == ["November NPS default", "draft", "0 of 0 done", "—", created_at, "sup-supervisor"]
    assert '<details class="new-campaign"  data-testid' in listed  # closed while there are campaigns


ERRORS_RU = {
    "name": "Обязательное поле: одна строка, не длиннее 200 символов.",
    "endpoint": "Вид Tech/ресурс с {number} один раз, например PJSIP/{number}@trunk или Local/{number}@customers.",
    "concurrency": "Целое число от 1 до 200.",
    "calls_per_minute": "Целое число от 1 до 600 или пусто (без ограничения).",
    "ring_timeout": "Целое число от 5 до 300.",
    "retry_delay": "Целое число от 0 до 10080.",
    "hours_from": "Время суток, от 00:00 до 23:59.",
    "hours_timezone": "Такого часового пояса нет; пример: Europe/Moscow.",
    "weekdays": "Отметьте хотя бы один день.",
}


async def test_a_refused_form_says_why_under_each_field(client: TestClient) -> None:
    csrf = await sign_in(client, "supervisor")
    bad = {
        "name": " ",
        "endpoint": "PJSIP/trunk",
        "concurrency": "0",
        "calls_per_minute": "many",
        "ring_timeout": "4.5",
        "retry_delay": "10081",
        "hours_from": "25:00",
        "hours_timezone": "Mars/Base",
    }
    data = [(k, v) for k, v in form(csrf, **bad) if k != "weekdays"]
    resp = await client.post("/ui/campaigns", data=data, headers=RU)
    assert resp.status == 400
    page = await resp.text()
    assert by_attr(page, "data-error-for") == ERRORS_RU
    assert plain(section(page, "form-error")) == "Кампания не создана: исправьте отмеченные поля."
    assert 'value="Mars/Base"' in page and 'value="10081"' in page  # what was typed is kept
    assert '<details class="new-campaign" open' in page
    assert (await api(client, "GET", "/campaigns"))["items"] == []

    window = await client.post("/ui/campaigns", data=form(csrf, hours_from="10:00", hours_to="10:00"))
    assert window.status == 400
    assert by_attr(await window.text(), "data-error-for") == {
        "hours_to": "From and to are the same time: the calling window would be empty."
    }


async def test_the_services_refusals_are_said_under_their_field(client: TestClient) -> None:
    await add_survey(client.app[SESSIONS], "nps", question("nps", range(11), kind="nps"))  # keys 0..10
    csrf = await sign_in(client, "supervisor")
    nope = await client.post("/ui/campaigns", data=form(csrf, survey="nope"))
    assert nope.status == 400
    page = await nope.text()
    assert by_attr(page, "data-error-for") == {
        "survey": "No survey nope is stored; an administrator adds it (ivr-survey survey add FILE)."
    }
    assert '<option value="nope" selected>nope</option>' in page  # the survey asked for stays chosen
    taken = await client.post("/ui/campaigns", data=form(csrf, survey="nps"), headers=RU)
    assert by_attr(await taken.text(), "data-error-for") == {
        "opt_out_key": "Клавиша 9 начинает ответ на вопрос «nps» этого опроса: выберите другую или «нет»."
    }
    assert (await api(client, "GET", "/campaigns"))["items"] == []
    ok = await client.post("/ui/campaigns", data=form(csrf, survey="nps", opt_out_key="*"), allow_redirects=False)
    assert ok.status == 303


# --- roles and CSRF ---


async def test_an_analyst_sees_no_forms_and_every_post_is_refused(client: TestClient) -> None:
    campaign = await make_campaign(client.app[SESSIONS], ["+79161234567"], at=T)
    csrf = await sign_in(client, "analyst")
    page = await text(client, f"/ui/campaigns/{campaign}")
    assert re.findall(r'<form method="post" action="([^"]+)"', page) == ["/ui/sign-out"]
    assert 'data-testid="csv"' not in page
    posts = {
        "/ui/campaigns": form(csrf),
        f"/ui/campaigns/{campaign}/start": [("csrf", csrf)],
        f"/ui/campaigns/{campaign}/cancel": [("csrf", csrf), ("confirm", "yes")],
        f"/ui/campaigns/{campaign}/contacts": [("csrf", csrf), ("contacts", "phone\n+79161234568\n")],
    }
    for path, data in posts.items():
        resp = await client.post(path, data=data)
        assert resp.status == 403, path
        assert "This needs the supervisor role" in await resp.text()
    body = await api(client, "GET", f"/campaigns/{campaign}")
    assert (body["state"], body["progress"]["total"]) == ("draft", 1)
    assert len((await api(client, "GET", "/campaigns"))["items"]) == 1


async def test_a_post_without_the_csrf_value_changes_nothing(client: TestClient) -> None:
    campaign = await make_campaign(client.app[SESSIONS], ["+79161234567"], at=T)
    await sign_in(client, "supervisor")
    for path, data in (
        ("/ui/campaigns", form("forged")),
        (f"/ui/campaigns/{campaign}/start", {}),
        (f"/ui/campaigns/{campaign}/contacts", {"contacts": "phone\n+79161234568\n"}),
    ):
        resp = await client.post(path, data=data)
        assert resp.status == 403, path
        assert "did not come from this site" in await resp.text()
    body = await api(client, "GET", f"/campaigns/{campaign}")
    assert (body["state"], body["progress"]["total"]) == ("draft", 1)


# --- contacts ---

CONTACTS = (
    "phone,Name,operator,timezone,segment\r\n"
    "8 (916) 123-45-67,Анна,7001,,vip\r\n"  # 2
    "+7 916 123-45-68,Борис,7002,Asia/Yekaterinburg,\r\n"  # 3
    "abc,Bad,,,\r\n"  # 4
    "89161234567,Анна again,,,\r\n"  # 5: line 2's number
    "+79160000000,On the list,,,\r\n"  # 6
    "+79161234569,Tz,,Mars/Olympus,\r\n"  # 7
)


def upload(csrf: str, data: bytes | io.BytesIO, filename: str = "contacts.csv") -> FormData:
    body = FormData()
    body.add_field("csrf", csrf)
    body.add_field("contacts", data, filename=filename, content_type="text/csv")
    return body


async def test_an_upload_shows_what_was_added_and_each_bad_line(client: TestClient) -> None:
    await api(client, "POST", "/do-not-call", 201, json={"phone": "+7 916 000 00 00"})
    campaign = await make_campaign(client.app[SESSIONS], [], at=T)
    csrf = await sign_in(client, "supervisor")
    resp = await client.post(f"/ui/campaigns/{campaign}/contacts", data=upload(csrf, CONTACTS.encode()))
    assert resp.status == 200
    page = await resp.text()
    result = section(page, "upload-result")
    assert counts(result) == {"added": "3", "duplicates": "1", "dnc": "1", "rejected": "2"}
    assert rows(result, "rejected") == [
        ["4", 'phone: "abc" is not a phone number'],
        ["7", 'timezone: "Mars/Olympus" is not a known time zone (e.g. Europe/Moscow)'],
    ]
    assert counts(section(page, "progress")) == {
        "total": "3",
        "pending": "2",
        "in_progress": "0",
        "completed": "0",
        "partial": "0",
        "no_input": "0",
        "opted_out": "0",
        "no_answer": "0",
        "busy": "0",
        "failed": "0",
        "dnc": "1",
    }
    # the API says the same
    assert (await api(client, "GET", f"/campaigns/{campaign}"))["progress"]["total"] == 3
    # the language switch of this answer comes back to the campaign's page, not to the form's address
    assert f"/ui/language/ru?next=/ui/campaigns/{campaign}" in page

    many = "phone\n" + "".join(f"bad{n}\n" for n in range(60)) + "+79161234570\n"
    resp = await client.post(f"/ui/campaigns/{campaign}/contacts", data=upload(csrf, many.encode()), headers=RU)
    page = await resp.text()
    result = section(page, "upload-result")
    assert counts(result)["rejected"] == "60" and counts(result)["added"] == "1"
    lines = rows(result, "rejected")
    assert len(lines) == 50 and lines[0] == ["2", 'phone: "bad0" is not a phone number'] and lines[-1][0] == "51"
    assert plain(section(result, "rejected-more")) == "…и ещё отклонённых строк: 10."


async def test_an_upload_that_is_no_contacts_list_is_refused_in_words(client: TestClient) -> None:
    campaign = await make_campaign(client.app[SESSIONS], [], at=T)
    csrf = await sign_in(client, "supervisor")
    no_phone = await client.post(f"/ui/campaigns/{campaign}/contacts", data=upload(csrf, b"name\nAnna\n"))
    assert no_phone.status == 400
    assert plain(section(await no_phone.text(), "upload-error")) == (
        "The file was not read: the header has no phone column"
    )
    no_file = await client.post(f"/ui/campaigns/{campaign}/contacts", data={"csrf": csrf, "contacts": ""}, headers=RU)
    assert no_file.status == 400
    assert plain(section(await no_file.text(), "upload-error")) == "Выберите файл CSV."
    too_big = upload(csrf, io.BytesIO(b"phone\n" + b"1" * (20 * 1024 * 1024)))
    refused = await client.post(f"/ui/campaigns/{campaign}/contacts", data=too_big)
    assert refused.status == 413
    assert plain(section(await refused.text(), "upload-error")) == (
        "The file is larger than 20 MB; split it into several uploads."
    )
    far_too_big = upload(csrf, io.BytesIO(b"phone\n" + b"1" * (21 * 1024 * 1024)))
    refused = await client.post(f"/ui/campaigns/{campaign}/contacts", data=far_too_big)  # stopped as it arrives
    assert refused.status == 413
    assert (
        plain(section(await refused.text(), "error"))
        == "Cannot show this 413 What was sent is larger than 20 MB. Overview"
    )
    assert (await api(client, "GET", f"/campaigns/{campaign}"))["progress"]["total"] == 0


# --- steering ---


async def steer(client: TestClient, campaign: int, command: str, csrf: str, **more: str) -> tuple[int, str]:
    resp = await client.post(f"/ui/campaigns/{campaign}/{command}", data={"csrf": csrf, **more}, allow_redirects=False)
    if resp.status == 303:
        return 303, resp.headers["Location"]
    return resp.status, plain(section(await resp.text(), "notice"))


async def test_start_pause_resume_cancel_and_the_refusals_in_words(client: TestClient) -> None:
    campaign = await make_campaign(client.app[SESSIONS], [], at=T)
    csrf = await sign_in(client, "supervisor")
    assert await steer(client, campaign, "start", csrf) == (
        409,
        "The campaign has no contacts yet: upload a CSV first.",
    )
    await client.post(f"/ui/campaigns/{campaign}/contacts", data=upload(csrf, b"phone\n+79161234567\n"))
    page = await text(client, f"/ui/campaigns/{campaign}")
    assert re.findall(r'data-testid="command-(\w+)"', page) == ["start", "cancel"]
    assert "data-refresh" not in page  # a draft's progress does not move

    assert await steer(client, campaign, "start", csrf) == (303, f"/ui/campaigns/{campaign}?done=start")
    page = await text(client, f"/ui/campaigns/{campaign}?done=start")
    assert plain(section(page, "done")) == "Started: the service is calling."
    assert plain(section(page, "campaign-state")) == "running"
    assert re.findall(r'data-testid="command-(\w+)"', page) == ["pause", "cancel"]
    assert f'data-refresh="/ui/campaigns/{campaign}/progress"' in page
    fragment = await text(client, f"/ui/campaigns/{campaign}/progress")
    assert fragment.lstrip().startswith('<section class="progress-section" data-campaign-progress data-state="running"')
    assert counts(fragment)["pending"] == "1"

    assert await steer(client, campaign, "start", csrf) == (
        409,
        "Not done: the campaign is running; «Start» is for a campaign that is «draft».",
    )
    assert await steer(client, campaign, "pause", csrf) == (303, f"/ui/campaigns/{campaign}?done=pause")
    assert await steer(client, campaign, "pause", csrf) == (
        409,
        "Not done: the campaign is paused; «Pause» is for a campaign that is «running».",
    )
    assert await steer(client, campaign, "resume", csrf) == (303, f"/ui/campaigns/{campaign}?done=resume")
    assert await steer(client, campaign, "cancel", csrf) == (400, "Not cancelled: tick the box to confirm.")
    assert (await api(client, "GET", f"/campaigns/{campaign}"))["state"] == "running"
    assert await steer(client, campaign, "cancel", csrf, confirm="yes") == (
        303,
        f"/ui/campaigns/{campaign}?done=cancel",
    )
    page = await text(client, f"/ui/campaigns/{campaign}", headers=RU)
    assert 'data-testid="commands"' not in page and 'data-testid="upload"' not in page
    assert plain(section(page, "campaign-state")) == "отменена"
    ended = await client.post(f"/ui/campaigns/{campaign}/contacts", data=upload(csrf, b"phone\n+79161234568\n"))
    assert ended.status == 409
    assert plain(section(await ended.text(), "upload-error")) == (
        "The campaign is cancelled: contacts are added only until it is finished or cancelled."
    )
    resume = await client.post(f"/ui/campaigns/{campaign}/resume", data={"csrf": csrf}, headers=RU)
    assert resume.status == 409
    assert plain(section(await resume.text(), "notice")) == (
        "Не выполнено: кампания сейчас в состоянии «отменена»; «Продолжить» — для кампании в состоянии"
        " «приостановлена»."
    )


async def test_a_campaign_that_is_not_there(client: TestClient) -> None:
    csrf = await sign_in(client, "supervisor")
    for path in ("/ui/campaigns/9", "/ui/campaigns/9/progress", "/ui/campaigns/abc", "/ui/campaigns/99999999999"):
        page = await text(client, path, 404, headers=RU)
        assert "Кампании" in plain(section(page, "error")), path
    resp = await client.post("/ui/campaigns/9/start", data={"csrf": csrf})
    assert resp.status == 404
    assert "No campaign 9." in await resp.text()
    resp = await client.post("/ui/campaigns/9/contacts", data=upload(csrf, b"phone\n+79161234568\n"))
    assert resp.status == 404


# --- progress, answers, results ---

PHONES = ["+79161234567", "+79161234568", "+79161234569", "+79161234570"]
AFTER = (
    question("rating", [1, 2, 3, 4, 5], text={"en": "Rate us", "ru": "Оцените нас"}),
    question("solved", [0, 1], kind="yes_no"),
)


async def dialled(client: TestClient) -> int:
    """A running campaign of a two-question survey: one contact answered both (4, yes), one twice did not
    answer, one is on the line, one is still to call."""
    sessions = client.app[SESSIONS]
    await add_survey(sessions, "after", *AFTER)
    campaign = await make_campaign(sessions, PHONES, at=T - timedelta(days=1), survey="after")
    async with sessions() as s, s.begin():
        await db.change_state(s, campaign, "start", at=T)
        await upsert_operators(s, [OperatorRow(code="7001", name="Анна Смирнова", team=None)])
        await s.execute(update(CampaignContact).values(operator="7001"))
    a, b, c, _ = PHONES
    called = await place(sessions, campaign, a, at=T)
    await answer(
        sessions,
        called,
        linkedid="1795000000.1",
        at=T + timedelta(seconds=5),
        answers=[("rating", 4.0), ("solved", 1.0)],
        status="completed",
        survey="after",
    )
    await settle(sessions, called, outcome="completed", cause=16, at=T + timedelta(minutes=1))
    first = await place(sessions, campaign, b, at=T)
    await settle(sessions, first, outcome="no_answer", cause=19, at=T + timedelta(seconds=30), retry_at=T)
    second = await place(sessions, campaign, b, at=T + timedelta(hours=1))
    await settle(sessions, second, outcome="no_answer", cause=19, at=T + timedelta(hours=1, seconds=30))
    await place(sessions, campaign, c, at=T + timedelta(hours=2))
    return campaign


async def test_the_progress_answers_and_results_of_a_running_campaign(client: TestClient) -> None:
    campaign = await dialled(client)
    await sign_in(client, "supervisor")
    page = await text(client, f"/ui/campaigns/{campaign}?tz=UTC")
    api_view = await api(client, "GET", f"/campaigns/{campaign}")
    assert counts(section(page, "progress")) == {k: str(v) for k, v in api_view["progress"].items()}
    assert api_view["progress"] == {
        **dict.fromkeys(db.PROGRESS_KEYS, 0),
        "total": 4,
        "pending": 1,
        "in_progress": 1,
        "completed": 1,
        "no_answer": 1,
    }
    assert api_view["response_rate"] == 0.5
    assert plain(section(page, "response-rate")) == "50.0%"
    assert "2 of 4 done" in plain(section(page, "progress"))
    bar = re.findall(r'<rect class="(o-\w+)"[^>]*><title>([^<]+)</title>', page)
    assert bar == [
        ("o-completed", "Answered every question: 1"),
        ("o-no_answer", "No answer: 1"),
        ("o-in_progress", "On the line: 1"),
    ]
    cards = re.findall(
        r'<figure class="chart" data-question="(\w+)">(.*?)</figure>', section(page, "summary"), re.DOTALL
    )
    assert [(key, re.search(r"<figcaption><span>([^<]+)</span>", card).group(1)) for key, card in cards] == [
        ("rating", "Rate us"),
        ("solved", "solved"),  # no wording: its key
    ]
    assert [dict(re.findall(r'data-figure="(\w+)">([^<]+)<', card)) for _, card in cards] == [
        {"responses": "1", "average": "4.00", "csat": "100.0%"},
        {"responses": "1", "yes": "100.0%"},
    ]
    assert rows(page, "results") == [
        [
            "+79161234567",
            "C67",
            "Анна Смирнова 7001",
            "Answered every question",
            "1",
            "11/23/26, 10:00 AM",
            "4",
            "rating 4 solved 1",
        ],
        ["+79161234568", "C68", "Анна Смирнова 7001", "No answer", "2", "11/23/26, 11:00 AM", "—", ""],
        ["+79161234569", "C69", "Анна Смирнова 7001", "not final yet", "1", "11/23/26, 12:00 PM", "—", ""],
        ["+79161234570", "C70", "Анна Смирнова 7001", "not final yet", "0", "", "—", ""],
    ]
    assert f'href="/campaigns/{campaign}/results?format=csv" download' in page
    # the link's file: the API's, read with the browser's session
    csv_file = await client.get(f"/campaigns/{campaign}/results?format=csv")
    assert csv_file.status == 200 and csv_file.content_type == "text/csv"
    assert (await csv_file.text()).splitlines()[1].startswith("+79161234567,C67,7001,completed,1,")

    await sign_in(client, "analyst")
    page = await text(client, f"/ui/campaigns/{campaign}?tz=UTC")
    assert [row[0] for row in rows(page, "results")] == ["+7******4567", "+7******4568", "+7******4569", "+7******4570"]
    assert plain(section(page, "phones-masked")) == (
        "Phone numbers are shown in full to supervisors; the results file too."
    )


async def test_the_results_come_in_pages_as_the_calls_do(client: TestClient) -> None:
    phones = [f"+7916{n:07d}" for n in range(55)]
    campaign = await make_campaign(client.app[SESSIONS], phones, at=T)
    await sign_in(client, "supervisor")
    page = await text(client, f"/ui/campaigns/{campaign}")
    first = rows(page, "results")
    assert [r[0] for r in first] == phones[:50]
    found = re.search(r'<a href="([^"]+)" data-testid="next-page">', page)
    assert found is not None
    second = await text(client, html.unescape(found.group(1)))
    assert [r[0] for r in rows(second, "results")] == phones[50:]
    assert 'data-testid="next-page"' not in second
    refused = await text(client, f"/ui/campaigns/{campaign}?cursor=nonsense", 400)
    assert "cursor is not one this API gave out" in refused


async def test_the_list_says_why_the_service_paused_a_campaign(client: TestClient) -> None:
    campaign = await make_campaign(client.app[SESSIONS], ["+79161234567"], at=T)
    reason = "10 attempts in a row failed (the last: failed, cause 3); check the endpoint"
    async with client.app[SESSIONS]() as s, s.begin():
        await db.change_state(s, campaign, "start", at=T)
        assert await dialing.pause_itself(s, campaign, reason=reason)
    await sign_in(client, "analyst")
    page = await text(client, "/ui/campaigns", headers=RU)
    [row] = rows(page, "campaigns-table")
    assert row[1] == f"приостановлена Приостановлена сервисом: {reason}"
    detail = await text(client, f"/ui/campaigns/{campaign}")
    assert plain(section(detail, "state-reason")) == f"Paused by the service: {reason}"
