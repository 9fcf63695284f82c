"""Whether the browser tests run: without IVR_SURVEY_TEST_BROWSER they skip saying how to run them (`make test`
on a machine with only Python and make); with it, a missing or broken browser fails them (CI never skips
silently). Each case is a pytest of the smoke test in a subprocess, on SQLite, with the variable as it says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import BROWSER_ENV, HOW_TO_RUN

ROOT = Path(__file__).resolve().parents[2]
SMOKE = "tests/browser/test_browser_smoke.py::test_healthz_shows_its_json_in_chromium"  # on a laptop and a phone
CASES = {"unset": None, "missing": "/nonexistent/chromium", "broken": "/bin/false"}
DATABASE_ENV = "IVR_SURVEY_TEST_DATABASE_URL"
# The cases run on SQLite whatever the suite's database is: CI's PostgreSQL pass would only repeat them.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get(DATABASE_ENV)), reason="the same on any database: the SQLite pass runs it"
)


def _pytest(executable: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {BROWSER_ENV, DATABASE_ENV}}
    if executable is not None:
        env[BROWSER_ENV] = executable
    # Only the plugin the suite's settings need (pytest-asyncio): hypothesis' and schemathesis' take seconds to load.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "pytest_asyncio.plugin", SMOKE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, tuple[int, str]]]:
    """The three cases run at once (each mostly imports): case -> (exit code, output)."""
    procs = {case: _pytest(executable) for case, executable in CASES.items()}
    try:
        yield {case: (proc.wait(120), proc.communicate()[0]) for case, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_without_the_variable_browser_tests_skip_saying_how_to_run_them(runs: dict[str, tuple[int, str]]) -> None:
    code, out = runs["unset"]
    assert code == 0, out
    assert f"SKIPPED [2] tests/browser/test_browser_smoke.py: {HOW_TO_RUN}" in out
    assert "2 skipped in" in out


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("missing", f"{BROWSER_ENV}=/nonexistent/chromium: no such executable (apt-get install chromium)"),
        ("broken", f"{BROWSER_ENV}=/bin/false did not start: "),
    ],
)
def test_with_the_variable_a_missing_or_broken_browser_fails(
    runs: dict[str, tuple[int, str]], case: str, says: str
) -> None:
    code, out = runs[case]
    assert code == 1, out
    assert says in out
    assert "2 errors in" in out
    assert "skipped" not in out
