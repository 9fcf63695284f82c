"""Fixtures of the browser tests: one Chromium for the package, a fresh context and page per test (on a laptop
and on a phone), the live app on its own database, the requests the page made, a screenshot after each test.

The tests are plain (sync) functions: sync Playwright owns this thread's event loop while the browser is open,
so nothing here may run asyncio in it; the live server runs its own loop in a thread (tests/support/live_server.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import (
    BROWSER_ENV,
    CHROMIUM_ARGS,
    HOW_TO_RUN,
    VIEWPORTS,
    Viewport,
    browser_path,
    name_page,
    shot,
)
from tests.support.live_server import LiveServer

if TYPE_CHECKING:
    from tests.conftest import Databases

CALL_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Without the variable (a machine with only Python and make) every test that needs the browser skips, saying
    # how to run it; with it (CI), nothing skips: a missing or broken browser fails in the `browser` fixture.
    if browser_path() is None:
        for item in items:
            if "browser" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=HOW_TO_RUN))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="package")
def browser(databases: Databases) -> Iterator[Browser]:
    """Chromium, launched once for the browser tests and closed after the last of them. Not once per session:
    while sync Playwright is open it marks this thread's event loop as running, and every async test after it
    would fail ("Runner.run() cannot be called from a running event loop"); for the same reason the template
    database (`databases`, made with asyncio.run) is made before it."""
    path = browser_path()
    if path is None:
        pytest.skip(HOW_TO_RUN)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"{BROWSER_ENV}={path}: no such executable (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        problem: str | None = None
        try:
            chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        except PlaywrightError as exc:
            problem = exc.message
        if problem is not None:
            # the browser's own words (its stderr, its exit code), without the two long command lines
            log = "\n".join(line for line in problem.strip().splitlines() if "<launching>" not in line)
            pytest.fail(f"{BROWSER_ENV}={path} did not start: {log}", pytrace=False)
        yield chromium
        chromium.close()


@pytest.fixture(params=VIEWPORTS, ids=lambda v: v.name)
def viewport(request: pytest.FixtureRequest) -> Viewport:
    """Each page test runs on a laptop and on a phone; `@pytest.mark.parametrize("viewport", [PHONE])` picks one."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def context(browser: Browser, viewport: Viewport) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
        locale="en-US",
        timezone_id="UTC",  # screenshots and asserted times do not depend on the machine's zone
    )
    yield ctx
    ctx.close()


@pytest.fixture
def requests_made(context: BrowserContext) -> list[str]:
    """Every URL requested by the test's pages (and their workers), in order, from before the first page opens."""
    urls: list[str] = []
    context.on("request", lambda req: urls.append(req.url))
    return urls


@pytest.fixture
def page(context: BrowserContext, requests_made: list[str], request: pytest.FixtureRequest) -> Iterator[Page]:
    """A blank page; after the test, pass or fail, a screenshot in test-artifacts/ named after it."""
    pg = context.new_page()
    name_page(pg, request.node.nodeid)
    yield pg
    if pg.is_closed():  # the test closed it: nothing left to show
        return
    try:
        shot(pg)
    except PlaywrightError:
        if request.node.stash.get(CALL_FAILED, True):
            return  # the page died with the test: the test's failure is the report, not this
        raise


@pytest.fixture
def live_server(databases: Databases, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """live_server(**settings) -> the real app on 127.0.0.1, on a fresh migrated database, with these settings
    (api_token=..., review_share=...); seed it with `live.run(seed(live.sessions, rows))`. Stopped after the test."""
    with ExitStack() as stack:
        started = 0

        def start(**settings: Any) -> LiveServer:
            nonlocal started
            started += 1
            server = LiveServer(databases, tmp_path / f"spool-{started}", **settings)
            stack.callback(server.stop)
            return server.start()

        yield start
