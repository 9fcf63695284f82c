"""`make run` as a new user meets it: the demo (simulated PBX, its own SQLite) serving, and the overview in
Chromium showing the simulated calls with the API's figures, anonymously on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from ivr_survey.web.i18n import Translator
from tests.support.browser import LAPTOP, foreign_requests, shot
from tests.support.waiting import free_port

WITHIN = 90.0  # a bound for a loaded machine, not a measure: the demo's first calls are rated in seconds


def _get(url: str) -> Any:
    import json

    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_SURVEY_")}
    env.update(IVR_SURVEY_HTTP_PORT=str(port), IVR_SURVEY_NO_INPUT_TIMEOUT="0.5", IVR_SURVEY_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr_survey.cli", "demo", "--per-second", "4", "--speed", "20", "--seed", "5"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WITHIN
        while True:
            assert proc.poll() is None, "the demo stopped"
            try:
                if _get(f"{url}/ratings/summary?group_by=all")["groups"][0]["responses"] >= 10:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the demo rated no calls"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("viewport", [LAPTOP], ids=["laptop"])
def test_the_demo_fills_the_overview_with_the_apis_figures(demo: str, page: Page, requests_made: list[str]) -> None:
    # calls keep coming: compare the page with the API read just before and just after it, when both agree
    for _ in range(20):
        before = _get(f"{demo}/ratings/summary?group_by=all&tz=UTC")["groups"][0]
        page.goto(f"{demo}/?tz=UTC")
        after = _get(f"{demo}/ratings/summary?group_by=all&tz=UTC")["groups"][0]
        if before == after:
            break
    else:
        pytest.fail("the demo's figures never held still for a page load")
    expect(page.locator("h1")).to_have_text("Overview")
    offered = page.get_by_test_id("tile-offered").locator(".value").inner_text()
    responses = page.get_by_test_id("tile-responses").locator(".value").inner_text()
    assert (offered, responses) == (str(after["offered"]), str(after["responses"]))
    average = page.get_by_test_id("tile-average").locator(".value").inner_text().rstrip("*")
    assert average == Translator("en", ZoneInfo("UTC")).num(after["average"], 2)
    rows = page.get_by_test_id("operator-table").locator("tbody tr[data-operator]")
    assert rows.count() >= 1
    named = {"Анна Смирнова", "Иван Петров", "Olga Ivanova", "John Miller", "Мария Кузнецова"}
    assert any(name in rows.nth(i).inner_text() for i in range(rows.count()) for name in named)
    shot(page, "demo-overview")
    assert foreign_requests(requests_made, demo) == []
