"""Fair scoring's pages in Chromium, on a laptop and on a phone: an operator signs in, lands on their own page,
sees the evaluation of their call with its scores and disputes it; another supervisor revises it on the Disputes
page; nothing is asked of any other host and no page scrolls sideways."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.cqr import create_evaluation
from ivr_survey.db.operators import OperatorRow, upsert_operators
from ivr_survey.db.tokens import create_token
from tests.browser.test_workstation import sign_in
from tests.support.browser import assert_no_horizontal_scroll, foreign_requests, shot
from tests.support.live_server import LiveServer
from tests.support.scorecards import QUALIFICATION_62_5
from tests.support.seed import Rated, seed


async def prepare(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    """Olga's (7001) call A1, scored by sue; the tokens of Olga and of sam, another supervisor."""
    at = datetime.now(UTC) - timedelta(hours=2)
    await seed(sessions, [Rated("A1", "7001", at, 4.0, queue="sales")])
    async with sessions() as s, s.begin():
        await upsert_operators(s, [OperatorRow("7001", "Ольга Смирнова", "Sales")])
        await create_evaluation(
            s,
            linkedid="A1",
            call_type="qualification",
            scores=QUALIFICATION_62_5,
            comment="the need was missed",
            supervisor="sue",
        )
        return (
            await create_token(s, name="olga", role="operator", operator="7001"),
            await create_token(s, name="sam", role="supervisor"),
        )


def test_an_operator_disputes_and_another_supervisor_revises(
    live_server: Callable[..., LiveServer], page: Page, requests_made: list[str]
) -> None:
    live = live_server(api_token="bootstrap-admin-token-for-tests")
    olga, sam = live.run(prepare(live.sessions))
    sign_in(page, live, olga, "/ui/me")
    expect(page.get_by_test_id("operator-name")).to_contain_text("Ольга Смирнова")
    evaluation = page.locator("article.evaluation")
    expect(evaluation).to_contain_text("CQR 62.50")
    expect(evaluation).to_contain_text("the need was missed")
    assert_no_horizontal_scroll(page)
    shot(page, "mine")
    evaluation.get_by_text("Dispute", exact=True).click()
    evaluation.locator("textarea[name=comment]").fill("I asked about the need twice")
    evaluation.get_by_role("button", name="Send the dispute").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Your dispute is sent")
    expect(page.locator("article.evaluation .verdict")).to_contain_text("You disputed it")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live, sam, "/ui/disputes")
    dispute = page.locator("article.evaluation")
    expect(dispute).to_contain_text("I asked about the need twice")
    dispute.locator('input[name="score.identifying_problem"][value="1.0"]').check()
    assert_no_horizontal_scroll(page)
    shot(page, "to-decide")
    dispute.get_by_role("button", name="Revise with these scores").click()
    expect(page.get_by_test_id("notice")).to_contain_text("a new version")
    expect(page.get_by_test_id("decided")).to_contain_text("revised (v2)")
    assert foreign_requests(requests_made, live.url) == []
