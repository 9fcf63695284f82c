"""Driving Debian's Chromium with Playwright: the launch, the two screens, screenshots and checks on a page.

IVR_SURVEY_TEST_BROWSER names the browser (CI sets /usr/bin/chromium). Unset, the browser tests skip; set, a
browser that is missing or does not start fails them. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from playwright.sync_api import Page

BROWSER_ENV = "IVR_SURVEY_TEST_BROWSER"
HOW_TO_RUN = f"browser tests need Chromium: apt-get install chromium, then {BROWSER_ENV}=/usr/bin/chromium make test"
# A headless browser that reaches nothing by itself: no sandbox (CI runs as root), no GPU, no updates, no sync.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    mobile: bool  # a phone: the page's <meta name=viewport> is honoured and touch is on


LAPTOP = Viewport("laptop", 1280, 800, mobile=False)
PHONE = Viewport("phone", 390, 844, mobile=True)
VIEWPORTS = (LAPTOP, PHONE)

# The artifact name of each open page's test, set by the `page` fixture, read by `shot`.
_TEST_NAMES: WeakKeyDictionary[Page, str] = WeakKeyDictionary()


def browser_path() -> str | None:
    return os.environ.get(BROWSER_ENV) or None


def artifact_name(nodeid: str) -> str:
    """A file name from a test's id: `tests/browser/test_smoke.py::test_x[phone]` -> `test_smoke.test_x-phone`."""
    path, _, name = nodeid.partition("::")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{Path(path).stem}.{name}").strip("-")


def name_page(page: Page, nodeid: str) -> None:
    _TEST_NAMES[page] = artifact_name(nodeid)


def shot(page: Page, name: str = "") -> Path:
    """Save a full-page screenshot as test-artifacts/<test>[--<name>].png and return its path."""
    stem = _TEST_NAMES.get(page, "unnamed") + (f"--{name}" if name else "")
    path = ARTIFACTS / f"{stem}.png"
    page.screenshot(path=path, full_page=True)
    return path


def foreign_requests(urls: list[str], server_url: str) -> list[str]:
    """The requested URLs that left the live server: any other host, port or scheme. Data and blob URLs never
    reach the network."""
    own = _origin(server_url)
    return [url for url in urls if urlsplit(url).scheme not in {"data", "blob"} and _origin(url) != own]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window: 0 when it never scrolls sideways."""
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return max(0, int(width) - int(window))


def assert_no_horizontal_scroll(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert overflow == 0, f"{page.url} scrolls sideways: {overflow} px wider than the window"
