"""The Live page in Chromium, on a laptop and on a phone: the call in progress appears (the AMI history of a fake
Asterisk), with the operator's name and a timer that runs; a supervisor rings their phone to whisper to the
operator, sees the listen on the line, and ends it; nothing is asked of any other host and no page scrolls
sideways."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.operators import OperatorRow, upsert_operators
from ivr_survey.db.tokens import create_token
from ivr_survey.simulator.ari import FakeAsterisk
from tests.integration.test_live_listen import CALL, OPERATOR_CHANNEL, _talking
from tests.support.browser import assert_no_horizontal_scroll, foreign_requests, shot
from tests.support.fake_ami import FakeAmi
from tests.support.live_server import LiveServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def seed(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as s, s.begin():
        await upsert_operators(s, [OperatorRow("7001", "Ольга Смирнова", "Sales")])
        return await create_token(s, name="sam", role="supervisor")


@contextmanager
def pbx(live_server: Callable[..., LiveServer]) -> Iterator[tuple[LiveServer, FakeAsterisk]]:
    """The app, and on its loop a fake ARI holding the operator's channel and a fake AMI telling of the call."""
    ami_port, ari_port = _free_port(), _free_port()
    live = live_server(
        api_token="bootstrap-admin-token-for-tests",
        ami_host="127.0.0.1",
        ami_port=ami_port,
        ari_url=f"http://127.0.0.1:{ari_port}",
        ari_password="secret",
        live_listen=True,
        default_country="RU",
    )

    async def start() -> tuple[FakeAsterisk, FakeAmi]:
        fake = FakeAsterisk(user="ivr-survey", password="secret", port=ari_port, speed=50.0)
        await fake.start()
        fake.add_channel(name=f"PJSIP/7001-{CALL}", linkedid=CALL, channel_id=OPERATOR_CHANNEL)
        ami = FakeAmi.from_events(_talking(CALL, time.time() - 62), listen_port=ami_port)
        await ami.start()
        return fake, ami

    fake, ami = live.run(start())
    try:
        yield live, fake
    finally:
        live.run(ami.close())
        live.run(fake.stop())


def test_a_supervisor_whispers_to_an_operator_from_the_live_page(
    live_server: Callable[..., LiveServer], page: Page, requests_made: list[str]
) -> None:
    with pbx(live_server) as (live, fake):
        token = live.run(seed(live.sessions))
        page.goto(f"{live.url}/ui/live")
        page.get_by_test_id("token").fill(token)
        page.get_by_test_id("sign-in").click()
        expect(page.locator("h1")).to_have_text("Calls in progress")
        row = page.locator(f'tr[data-call="{CALL}"]')
        expect(row).to_be_visible(timeout=20_000)  # the collector logs in to the AMI within seconds
        expect(row).to_contain_text("Ольга Смирнова")
        expect(row).to_contain_text("79161234567")  # in full, for a supervisor
        timer = row.locator("td.timer")
        expect(timer).to_have_text(re.compile(r"^1:0\d$"))  # on the phone since a minute and some seconds
        assert_no_horizontal_scroll(page)
        shot(page, "talking")

        page.locator('input[name="endpoint"]').fill("PJSIP/7100")
        page.locator('select[name="mode"]').select_option("whisper")
        page.get_by_test_id(f"listen-{CALL}").click()
        expect(page.get_by_test_id("notice")).to_contain_text("Your phone rings")
        mine = page.get_by_test_id("my-listens")
        for _ in range(50):  # the fake answers at once; the list is drawn as the page loads
            if "On the line" in mine.inner_text():
                break
            page.reload()
        expect(mine).to_contain_text("On the line")
        expect(mine).to_contain_text("operator 7001")
        assert any(r.path == f"/ari/channels/{OPERATOR_CHANNEL}/snoop" for r in fake.requests)
        shot(page, "listening")

        mine.get_by_role("button", name="End").click()
        expect(page.get_by_test_id("notice")).to_contain_text("ended")
        expect(page.get_by_test_id("my-listens")).to_have_count(0)
        # the phone and the mode are remembered for the next listen
        expect(page.locator('input[name="endpoint"]')).to_have_value("PJSIP/7100")
        expect(page.locator('select[name="mode"]')).to_have_value("whisper")
    assert foreign_requests(requests_made, live.url) == []
