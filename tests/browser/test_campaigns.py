"""The Campaigns pages in Chromium, on a laptop and on a phone: a supervisor creates a campaign (a refused field
said under it first), uploads a CSV through the file chooser, starts it, watches its progress move without a
reload while calls end, sees it finish and downloads its results; nothing is asked of any other host and no page
scrolls sideways."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import campaigns, dialing
from ivr_survey.db.operators import OperatorRow, upsert_operators
from ivr_survey.db.repository import add_survey_version
from ivr_survey.db.tokens import create_token
from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from tests.support.browser import ARTIFACTS, LAPTOP, assert_no_horizontal_scroll, foreign_requests, shot
from tests.support.campaigns import answer, new_campaign, place, settle
from tests.support.live_server import LiveServer

CONTACTS = (
    "phone,name,operator,segment\n"
    "8 (916) 123-45-67,Анна Петрова,7001,vip\n"
    "+7 916 123-45-68,Борис Орлов,7001,\n"
    "+7 916 123-45-69,Вера Ким,7002,\n"
    "not a number,Bad,,\n"  # line 5
)
ANNA, BORIS, VERA = "+79161234567", "+79161234568", "+79161234569"


async def seed(sessions: async_sessionmaker[AsyncSession]) -> str:
    """A supervisor's token, and the operators the contacts belong to."""
    async with sessions() as s, s.begin():
        await upsert_operators(s, [OperatorRow("7001", "Ольга Смирнова", "Sales"), OperatorRow("7002", None, None)])
        return await create_token(s, name="sam", role="supervisor")


async def first_calls(sessions: async_sessionmaker[AsyncSession], campaign: int, at: datetime) -> None:
    """Anna answers the default survey (a 5); Boris does not answer; Vera is on the line."""
    called = await place(sessions, campaign, ANNA, at=at)
    await answer(sessions, called, linkedid="1795000000.1", at=at, answers=[("rating", 5.0)], status="completed")
    await settle(sessions, called, outcome="completed", cause=16, at=at + timedelta(seconds=40))
    missed = await place(sessions, campaign, BORIS, at=at)
    await settle(sessions, missed, outcome="no_answer", cause=19, at=at + timedelta(seconds=30))
    await place(sessions, campaign, VERA, at=at)


async def last_call(sessions: async_sessionmaker[AsyncSession], campaign: int, at: datetime) -> None:
    """Vera's call fails, and the campaign, with nobody left to call, is finished (as the dialer does it)."""
    async with sessions() as s:
        attempt = next(a for a in await dialing.open_attempts(s) if a.campaign_id == campaign)
    await settle(sessions, attempt.channel_id, outcome="failed", cause=3, at=at)
    async with sessions() as s, s.begin():
        assert await dialing.finish_if_done(s, campaign, at=at)


def progress_of(page: Page) -> dict[str, str]:
    items = page.get_by_test_id("progress").locator("ul.counts li")
    return {
        items.nth(i).get_attribute("data-key") or "": items.nth(i).locator("strong").inner_text()
        for i in range(items.count())
    }


def test_a_supervisor_runs_a_campaign_from_upload_to_download(
    live_server: Callable[..., LiveServer], page: Page, tmp_path: Path, requests_made: list[str]
) -> None:
    live = live_server(api_token="bootstrap-admin-token-for-tests", default_country="RU")
    token = live.run(seed(live.sessions))
    page.goto(f"{live.url}/ui/campaigns")
    page.get_by_test_id("token").fill(token)
    page.get_by_test_id("sign-in").click()
    expect(page.locator("h1")).to_have_text("Survey campaigns")
    expect(page.get_by_test_id("no-campaigns")).to_be_visible()
    assert_no_horizontal_scroll(page)

    form = page.get_by_test_id("campaign-form")
    expect(form.locator("input[name=concurrency]")).to_have_value("5")
    form.locator("input[name=name]").fill("December CSAT")
    form.locator("input[name=endpoint]").fill("PJSIP/trunk")  # no {number}: the browser cannot tell, the API can
    form.locator("input[name=caller_id]").fill("Company <74950000000>")
    form.get_by_test_id("create").click()
    error = page.locator("[data-error-for=endpoint]")
    expect(error).to_have_text(
        "Tech/resource with {number} once, e.g. PJSIP/{number}@trunk or Local/{number}@customers."
    )
    shot(page, "refused")
    assert_no_horizontal_scroll(page)
    form = page.get_by_test_id("campaign-form")
    expect(form.locator("input[name=caller_id]")).to_have_value("Company <74950000000>")  # what was typed stays
    form.locator("input[name=endpoint]").fill("Local/{number}@customers")
    form.get_by_test_id("create").click()
    expect(page.get_by_test_id("done")).to_have_text("Campaign created as a draft. Upload its contacts, then start it.")
    campaign = int(page.url.split("/ui/campaigns/")[1].split("?")[0])

    csv_path = tmp_path / "customers.csv"
    csv_path.write_text(CONTACTS, encoding="utf-8")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("contacts-file").click()
    chooser.value.set_files(csv_path)
    page.get_by_test_id("upload-submit").click()
    result = page.get_by_test_id("upload-result")
    expect(result.locator("li[data-key=added] strong")).to_have_text("3")
    rejected = result.get_by_test_id("rejected").locator("tbody tr")
    expect(rejected).to_have_count(1)
    assert rejected.locator("td").all_inner_texts() == ["5", 'phone: "not a number" is not a phone number']
    assert_no_horizontal_scroll(page)
    shot(page, "uploaded")

    page.get_by_test_id("command-start").click()
    expect(page.get_by_test_id("done")).to_have_text("Started: the service is calling.")
    expect(page.get_by_test_id("campaign-state")).to_have_text("running")
    assert progress_of(page)["pending"] == "3"
    page.evaluate("() => { window.notReloaded = true; }")

    now = datetime.now(UTC)
    live.run(first_calls(live.sessions, campaign, now))
    progress = page.get_by_test_id("progress")
    expect(progress.locator("li[data-key=completed] strong")).to_have_text("1", timeout=15_000)  # fetched, not reloaded
    assert progress_of(page) == {
        "total": "3",
        "pending": "0",
        "in_progress": "1",
        "completed": "1",
        "partial": "0",
        "no_input": "0",
        "opted_out": "0",
        "no_answer": "1",
        "busy": "0",
        "failed": "0",
        "dnc": "0",
    }
    expect(progress.get_by_test_id("response-rate")).to_have_text("50.0%")
    expect(progress.locator(".progress-line .done")).to_have_text("2 of 3 done")
    assert page.evaluate("() => window.notReloaded === true")
    shot(page, "running")
    page.get_by_test_id("progress").get_by_role("link").click()  # the answers and customers of now
    expect(page.get_by_test_id("results").locator("tbody tr").nth(0).locator("[data-col=score]")).to_have_text("5")
    page.evaluate("() => { window.notReloaded = true; }")

    live.run(last_call(live.sessions, campaign, now + timedelta(minutes=1)))
    expect(page.get_by_test_id("campaign-state")).to_have_text("finished", timeout=15_000)  # drawn again
    assert page.get_by_test_id("commands").count() == 0 and page.get_by_test_id("upload").count() == 0
    assert not page.evaluate("() => window.notReloaded === true")
    results = page.get_by_test_id("results").locator("tbody tr")
    expect(results).to_have_count(3)
    expect(results.nth(0).locator("[data-col=operator]")).to_have_text("Ольга Смирнова 7001")
    expect(results.nth(0).locator("[data-col=outcome]")).to_have_text("Answered every question")
    expect(results.nth(2).locator("[data-col=outcome]")).to_have_text("Failed")
    assert_no_horizontal_scroll(page)
    shot(page, "finished")

    with page.expect_download() as download:
        page.get_by_test_id("csv").click()
    assert download.value.suggested_filename == f"campaign-{campaign}.csv"
    lines = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert lines[0][:4] == ["phone", "name", "operator", "outcome"]
    assert [[*line[:4], line[8]] for line in lines[1:]] == [
        [ANNA, "Анна Петрова", "7001", "completed", "5.0"],
        [BORIS, "Борис Орлов", "7001", "no_answer", ""],
        [VERA, "Вера Ким", "7002", "failed", ""],
    ]

    page.goto(f"{live.url}/ui/campaigns")
    row = page.get_by_test_id("campaigns-table").locator(f"tr[data-campaign='{campaign}']")
    expect(row.locator("[data-col=progress] .done")).to_have_text("3 of 3 done")
    expect(row.locator("[data-col=response-rate]")).to_have_text("33.3%")
    assert re.fullmatch(r"December CSAT\s+default", row.locator("td.name").inner_text())
    assert_no_horizontal_scroll(page)
    shot(page, "list")
    assert foreign_requests(requests_made, live.url) == []


NAMES = ("Анна Петрова", "Борис Орлов", "Вера Ким", "Глеб Зайцев", "Дина Лебедева", "Егор Волков", "Жанна Соколова")
# What each contact of the three-question campaign did, in the order they were added: the outcome, then the
# rating (1-5), solved (1 yes, 0 no) and NPS (0-10) it gave; None where it gave none.
DIALLED: tuple[tuple[str, tuple[float | None, ...]], ...] = (
    *(("completed", (r, s, n)) for r, s, n in [(5, 1, 10), (4, 1, 9), (5, 1, 9), (3, 0, 6), (4, 1, 8)] * 4),
    *(("partial", (r,)) for r in (2, 4, 5)),
    ("no_input", (None,)),
    ("opted_out", (1,)),
    *(("no_answer", ()) for _ in range(5)),
    *(("busy", ()) for _ in range(2)),
    ("failed", ()),
)
ON_THE_LINE, TO_CALL = 2, 3
README_CLIP = {"x": 0, "y": 0, "width": LAPTOP.width, "height": 2000}


async def three_questions(sessions: async_sessionmaker[AsyncSession], at: datetime) -> int:
    """A running campaign of the three-question example survey (rating, solved, NPS), of every kind of outcome."""
    async with sessions() as s, s.begin():
        await add_survey_version(s, name="csat-solved-nps", definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict())
        await upsert_operators(
            s, [OperatorRow("7001", "Ольга Смирнова", "Sales"), OperatorRow("7002", "Иван Ли", None)]
        )
        row = await campaigns.create_campaign(
            s, new_campaign("December NPS", "csat-solved-nps", opt_out_key="*"), created_by="sam", at=at
        )
        total = len(DIALLED) + ON_THE_LINE + TO_CALL
        contacts = [
            campaigns.NewContact(
                phone=f"+7916555{n:04d}", line=n + 2, name=NAMES[n % len(NAMES)], operator=("7001", "7002")[n % 2]
            )
            for n in range(total)
        ]
        await campaigns.add_contacts(s, row.id, contacts, at=at)
        await campaigns.change_state(s, row.id, "start", at=at)
    keys = ("rating", "solved", "nps")
    for n, (outcome, scores) in enumerate(DIALLED):
        when = at + timedelta(minutes=n)
        channel = await place(sessions, row.id, contacts[n].phone, at=when)
        if scores:
            status = "abandoned" if outcome == "opted_out" else outcome
            answers = list(zip(keys, scores, strict=False))
            await answer(
                sessions,
                channel,
                linkedid=f"1795000000.{n}",
                at=when,
                answers=answers,
                status=status,
                survey="csat-solved-nps",
            )
        await settle(sessions, channel, outcome=outcome, cause=16 if scores else 19, at=when + timedelta(seconds=50))
    for n in range(len(DIALLED), len(DIALLED) + ON_THE_LINE):
        await place(sessions, row.id, contacts[n].phone, at=at + timedelta(minutes=n))
    return row.id


def test_a_campaign_of_three_questions_in_two_languages(
    live_server: Callable[..., LiveServer], page: Page, requests_made: list[str]
) -> None:
    live = live_server(api_token="bootstrap-admin-token-for-tests")
    token = live.run(seed(live.sessions))
    campaign = live.run(three_questions(live.sessions, datetime.now(UTC) - timedelta(hours=1)))
    page.goto(f"{live.url}/ui/campaigns/{campaign}")
    page.get_by_test_id("token").fill(token)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("campaign-name")).to_contain_text("December NPS")
    assert progress_of(page) == {
        "total": "38",
        "pending": "3",
        "in_progress": "2",
        "completed": "20",
        "partial": "3",
        "no_input": "1",
        "opted_out": "1",
        "no_answer": "5",
        "busy": "2",
        "failed": "1",
        "dnc": "0",
    }
    # answered a question: 20 + 3 partial + the opted-out one, of the 33 with a final outcome
    expect(page.get_by_test_id("response-rate")).to_have_text("72.7%")
    cards = page.get_by_test_id("summary").locator("figure[data-question]")
    expect(cards).to_have_count(3)
    figures = [
        {f.get_attribute("data-figure"): f.inner_text() for f in cards.nth(i).locator("[data-figure]").all()}
        for i in range(3)
    ]
    # rating: 96 points in 24 answers, 18 of them 4 or 5; solved: 16 yes of 20; NPS: 12 promoters, 4 detractors of 20
    assert figures == [
        {"responses": "24", "average": "4.00*", "csat": "75.0%*"},
        {"responses": "20", "yes": "80.0%*"},
        {"responses": "20", "nps": "40.0*"},
    ]
    expect(cards.nth(2).locator("figcaption span").first).to_have_text(
        "How likely are you to recommend us to a friend, from 0 to 10? Press it, then hash"
    )
    assert_no_horizontal_scroll(page)
    if page.viewport_size == {"width": LAPTOP.width, "height": LAPTOP.height}:
        shot(page, "english")
        # the README's docs/images/campaign.png, down to the first customers (copied there by hand)
        page.screenshot(path=ARTIFACTS / "campaign-readme.png", full_page=True, clip=README_CLIP)

    page.get_by_test_id("language-switch").get_by_role("link", name="RU").click()
    expect(page.get_by_test_id("response-rate")).to_have_text("72,7\u00a0%")
    expect(page.get_by_test_id("campaign-state")).to_have_text("идёт")
    expect(page.get_by_test_id("progress").locator("li[data-key=completed] .label")).to_have_text(
        "Ответили на все вопросы"
    )
    expect(cards.nth(0).locator("figcaption span").first).to_have_text("Пожалуйста, оцените разговор от 1 до 5")
    assert_no_horizontal_scroll(page)
    shot(page, "russian")
    page.goto(f"{live.url}/ui/campaigns")
    expect(page.get_by_test_id("campaigns-table").locator("[data-col=progress] .done")).to_have_text("33 из 38 готово")
    assert_no_horizontal_scroll(page)
    shot(page, "list-russian")
    assert foreign_requests(requests_made, live.url) == []
