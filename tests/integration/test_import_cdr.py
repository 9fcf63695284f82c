"""ivr-survey import-cdr: Master.csv backfills the same rows the AMI collector writes; importing again changes
nothing; calls the collector already wrote are left alone; bad lines are named and skipped."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.test_ami import ANSWERED, EXPECTED, MISSED, TRACE, rows
from tests.support.fake_ami import FakeAmi

MASTER = Path(__file__).resolve().parents[1] / "data" / "Master.csv"
# What the CSV can tell: everything but who hung up first.
IMPORTED = {
    linkedid: {**row, "history_source": "cdr_import", "hangup_side": None} for linkedid, row in EXPECTED.items()
}


async def import_cdr(database_url: str, tmp_path: Path, path: Path = MASTER, **extra: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_SURVEY_")}
    env.update(IVR_SURVEY_DATABASE_URL=database_url, IVR_SURVEY_SPOOL_DIR=str(tmp_path / "spool"), **extra)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr_survey.cli",
        "import-cdr",
        str(path),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_import_gives_the_traced_calls_and_again_changes_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    code, out, err = await import_cdr(database_url, tmp_path)
    assert code == 0, err
    assert out == (
        f"2 calls imported from {MASTER}; 0 imported before, unchanged; 0 already collected from AMI "
        "left as they were; 3 lines skipped\n"
    )
    assert err == (
        f"{MASTER}:5: skipped: 1 columns, cdr_csv writes at least 16\n"
        f"{MASTER}:6: skipped: 6 columns, cdr_csv writes at least 16\n"
        f"{MASTER}:10: skipped: start 'not a time' is not a time\n"
    )
    first = await rows(sessions)
    assert first == IMPORTED
    code, out, _ = await import_cdr(database_url, tmp_path)
    assert code == 0
    assert out == (
        f"0 calls imported from {MASTER}; 2 imported before, unchanged; 0 already collected from AMI "
        "left as they were; 3 lines skipped\n"
    )
    assert await rows(sessions) == first


async def test_import_leaves_collected_calls_alone(run, database_url: str, sessions, tmp_path: Path) -> None:
    await run(FakeAmi.from_trace(TRACE))
    code, out, _ = await import_cdr(database_url, tmp_path)
    assert code == 0
    assert out == (
        f"0 calls imported from {MASTER}; 0 imported before, unchanged; 2 already collected from AMI "
        "left as they were; 3 lines skipped\n"
    )
    assert await rows(sessions) == {ANSWERED: EXPECTED[ANSWERED], MISSED: EXPECTED[MISSED]}


async def test_a_missing_file_is_one_line(database_url: str, tmp_path: Path) -> None:
    code, out, err = await import_cdr(database_url, tmp_path, tmp_path / "nope.csv")
    assert (code, out) == (2, "")
    assert err.startswith(f"ivr-survey: {tmp_path / 'nope.csv'}: ") and err.count("\n") == 1


async def test_debug_logs_show_no_callers_numbers(database_url: str, tmp_path: Path) -> None:
    """aiosqlite's DEBUG lines would print every statement's parameters: the callers' numbers here."""
    code, out, err = await import_cdr(database_url, tmp_path, IVR_SURVEY_LOG_LEVEL="DEBUG")
    assert (code, out.split(";")[0]) == (0, f"2 calls imported from {MASTER}")
    assert " DEBUG " in err
    for number in ("79991234567", "79990000000"):
        assert number not in err
