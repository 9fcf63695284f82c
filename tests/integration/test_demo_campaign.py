"""`ivr-survey demo` runs a campaign too: made once per demo database (a new one only when the last has ended),
its simulated customers called over the simulated PBX, their answers stored as the campaign's, and the same
campaign dialled on by the next run."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.models import Campaign, SurveyVersion
from ivr_survey.simulator.callers import OPERATORS
from ivr_survey.simulator.campaign import demo_campaign
from tests.support.dialing import MONDAY_10_MSK
from tests.support.waiting import free_port

WITHIN = 90.0  # a bound for a loaded machine, not a measure: the first campaign calls end within seconds
BANNER = "INFO ivr_survey: campaign 1 'Demo: customer satisfaction' "
SITE = "http://127.0.0.1:8080"

# (attempt outcome, hang-up cause, the survey's status, answers with a score) that each kind of customer leaves
ANSWERED = {
    ("completed", 16, "completed", 3),  # answered every question
    ("partial", 16, "abandoned", 1),  # hung up at the second question
    ("no_input", 16, "no_input", 0),  # silent
    ("no_input", 16, "abandoned", 0),  # hung up as soon as the machine spoke
    ("opted_out", 16, "abandoned", 0),
}
UNANSWERED = {("busy", 17, None, 0), ("no_answer", 19, None, 0), ("congestion", 34, None, 0)}


@pytest.mark.parametrize(
    ("state", "campaign", "banner"),
    [
        ("running", (1, "running"), "dialling on where the last run left off"),
        ("paused", (1, "paused"), "paused (by hand); resume it with POST /campaigns/1/resume"),
        ("draft", (1, "draft"), "a draft; start it with POST /campaigns/1/start"),
        ("finished", (2, "running"), "started"),
        ("cancelled", (2, "running"), "started"),
    ],
)
async def test_a_run_goes_on_with_the_last_campaign_until_it_has_ended(
    sessions: async_sessionmaker[AsyncSession], state: str, campaign: tuple[int, str], banner: str
) -> None:
    async with sessions.begin() as session:
        first = await demo_campaign(session, rng=random.Random(1), timezone="Europe/Moscow", at=MONDAY_10_MSK)
        await session.execute(update(Campaign).values(state=state))
    async with sessions.begin() as session:
        found = await demo_campaign(session, rng=random.Random(1), timezone="Europe/Moscow", at=MONDAY_10_MSK)
        stored = await session.scalar(select(func.count()).select_from(Campaign))
        surveys = await session.scalar(select(func.count()).select_from(SurveyVersion))
    assert (first.row.id, first.row.state, first.created) == (1, "running", True)
    assert (found.row.id, found.row.state, found.created, stored) == (*campaign, campaign[0] == 2, campaign[0])
    assert found.phones == first.phones  # the same seed, the same customers
    assert found.banner(SITE) == (
        f"campaign {campaign[0]} 'Demo: customer satisfaction' {banner}: survey csat-solved-nps, 30 customers, "
        f"3 calls at once; its progress at {SITE}/campaigns/{campaign[0]}, the Campaigns page at {SITE}/ui/campaigns"
    )
    assert surveys == 2  # the seeded default and the demo's survey, stored once


def _start(tmp_path: Path, run: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_SURVEY_")}
    env.update(IVR_SURVEY_HTTP_PORT=str(free_port()), IVR_SURVEY_NO_INPUT_TIMEOUT="0.5")
    with (tmp_path / f"run-{run}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ivr_survey.cli", "demo", "--per-second", "2", "--speed", "20", "--seed", "5"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(30)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()


def _query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(tmp_path / "ivr_survey-demo.db", timeout=5)) as db:
        return db.execute(sql).fetchall()


def _wait(proc: subprocess.Popen[bytes], what: str, ready: Any) -> None:
    deadline = time.monotonic() + WITHIN
    while True:
        assert proc.poll() is None, "the demo stopped"
        with contextlib.suppress(sqlite3.OperationalError):  # not made yet, or busy for a moment
            if ready():
                return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _log(tmp_path: Path, run: int) -> str:
    return (tmp_path / f"run-{run}.log").read_text(encoding="utf-8")


def test_the_demo_calls_its_campaign_and_the_next_run_goes_on_with_it(tmp_path: Path) -> None:
    proc = _start(tmp_path, 1)
    try:
        # a few calls over, among them some surveys
        _wait(
            proc,
            "ended campaign calls",
            lambda: (
                _query(
                    tmp_path,
                    "SELECT (SELECT count(*) FROM campaign_attempts WHERE ended_at IS NOT NULL), (SELECT count(*) "
                    "FROM survey_responses WHERE campaign_id IS NOT NULL AND status != 'in_progress')",
                )[0]
                >= (6, 2)
            ),
        )
        # what the ended attempts left, read while the demo runs on (stopping it cuts the calls on the line short)
        ended = _query(
            tmp_path,
            "SELECT a.contact_id, a.number, k.phone, a.outcome, a.cause, r.status, r.campaign_id, (SELECT count(*) "
            "FROM survey_answers s WHERE s.response_id = r.id AND s.score IS NOT NULL) FROM campaign_attempts a "
            "JOIN campaign_contacts k ON k.id = a.contact_id LEFT JOIN calls c ON c.linkedid = a.linkedid "
            "LEFT JOIN survey_responses r ON r.call_id = c.id "
            "WHERE a.ended_at IS NOT NULL ORDER BY a.id",
        )
        contacts = {
            row[0]: row[1:]
            for row in _query(tmp_path, "SELECT id, state, outcome, attempts, next_attempt_at FROM campaign_contacts")
        }
        opted_out = _query(tmp_path, "SELECT phone, source, campaign_id FROM do_not_call")
    finally:
        stopped = _stop(proc)
    assert stopped == 0
    assert BANNER + "started: survey csat-solved-nps, 30 customers, 3 calls at once; its progress at http://" in (
        _log(tmp_path, 1)
    )
    [campaign] = _query(
        tmp_path,
        "SELECT id, name, state, survey, endpoint, caller_id, concurrency, calls_per_minute, ring_timeout, "
        "max_attempts, retry_delay, calling_hours, opt_out_key, created_by FROM campaigns",
    )
    assert (*campaign[:11], json.loads(campaign[11]), *campaign[12:]) == (
        1,
        "Demo: customer satisfaction",
        "running",
        "csat-solved-nps",
        "Local/{number}@customers",
        "Company <74950000000>",
        3,
        None,
        25,
        3,
        60,
        {"from": "00:00", "to": "23:59", "timezone": "UTC", "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        "*",
        "demo",
    )
    people = _query(tmp_path, "SELECT phone, name, operator FROM campaign_contacts ORDER BY id")
    assert len(people) == len({phone for phone, _, _ in people}) == 30
    for phone, name, operator in people:
        assert re.fullmatch(r"\+79\d{9}", phone), phone
        assert re.fullmatch(r"[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+", name), name
        assert operator in OPERATORS
    # each ended attempt as its kind of customer leaves it, the answered ones with the campaign's survey response
    assert len(ended) >= 6
    for contact_id, number, _, outcome, cause, status, campaign_id, scored in ended:
        assert (outcome, cause, status, scored) in ANSWERED | UNANSWERED
        assert campaign_id == (None if status is None else 1)
        state, final, attempts, next_attempt_at = contacts[contact_id]
        if (contact_id, number + 1) in {(row[0], row[1]) for row in ended}:
            continue  # not its last attempt
        if outcome in ("busy", "no_answer", "congestion"):
            assert (state, final, attempts, next_attempt_at is not None) == ("pending", None, number, True)
        else:
            assert (state, final, attempts) == ("done", outcome, number)
    assert sum(status is not None for *_, status, _, _ in ended) >= 2
    # who pressed the opt-out key is on the do-not-call list, put there by the campaign
    assert {row[2] for row in ended if row[3] == "opted_out"} <= {phone for phone, _, _ in opted_out}
    assert {(source, campaign_id) for _, source, campaign_id in opted_out} <= {("opt_out", 1)}

    # the demo database is kept: the next run dials on with the same campaign
    again = _start(tmp_path, 2)
    try:
        _wait(
            again,
            "the second run's banner",
            lambda: BANNER + "dialling on where the last run left off" in _log(tmp_path, 2),
        )
    finally:
        stopped = _stop(again)
    assert stopped == 0
    assert _query(tmp_path, "SELECT id, name FROM campaigns") == [(1, "Demo: customer satisfaction")]
    assert _query(tmp_path, "SELECT count(*) FROM campaign_contacts") == [(30,)]
