"""The whole chain in a real browser: the live app on its own database, Chromium driven by Playwright, a
screenshot, and no request to anything but the live server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page

from tests.support.browser import LAPTOP, assert_no_horizontal_scroll, foreign_requests, shot
from tests.support.live_server import LiveServer
from tests.support.seed import Rated, seed

HEALTHY = {
    "status": "ok",
    "database": "ok",
    "ari": "disabled",
    "ami": "disabled",
    "agi": "disabled",
    "pending_records": 0,
    "spool": {"status": "ok", "pending": 0, "set_aside": 0},
}


def test_healthz_shows_its_json_in_chromium(
    live_server: Callable[..., LiveServer], page: Page, requests_made: list[str]
) -> None:
    live = live_server()
    response = page.goto(f"{live.url}/healthz")
    assert response is not None and response.status == 200
    assert json.loads(page.locator("body").inner_text()) == HEALTHY
    assert shot(page, "healthz").stat().st_size > 0
    assert_no_horizontal_scroll(page)
    assert requests_made[0] == f"{live.url}/healthz"
    assert foreign_requests(requests_made, live.url) == []


@pytest.mark.parametrize("viewport", [LAPTOP], ids=["laptop"])
def test_seeded_rows_reach_the_browser_under_the_tests_token(
    live_server: Callable[..., LiveServer], page: Page, requests_made: list[str]
) -> None:
    live = live_server(api_token="browser-admin-token")
    t = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    live.run(seed(live.sessions, [Rated(f"B{n}", "7001", t + timedelta(minutes=n), float(n + 3)) for n in range(3)]))

    refused = page.goto(f"{live.url}/ratings")
    assert refused is not None and refused.status == 401
    page.context.set_extra_http_headers({"Authorization": "Bearer browser-admin-token"})
    page.goto(f"{live.url}/ratings")
    body = json.loads(page.locator("body").inner_text())
    assert [(r["call_id"], r["score"]) for r in body["items"]] == [("B2", 5.0), ("B1", 4.0), ("B0", 3.0)]
    assert foreign_requests(requests_made, live.url) == []
