"""A day of known calls for the workstation's tests: two named operators in two teams, surveyed calls with
recordings, missed calls, two evaluations and a token per role."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db.cqr import create_evaluation
from ivr_survey.db.history import save_call
from ivr_survey.db.operators import OperatorRow, upsert_operators
from ivr_survey.db.tokens import create_token
from tests.support.seed import Rated, seed

DAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
PERIOD = "period=custom&from=2026-11-20&to=2026-11-20&tz=UTC"
API_PERIOD = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z&tz=UTC"
ANNA, JOHN = "7001", "7002"
# 7001: 40 calls scored 1,2,3,4,5,1,2,... (8 of each: average 3, CSAT 16/40); 7002: 5 calls, a thin sample
SCORES = {ANNA: [float(n % 5 + 1) for n in range(40)], JOHN: [5.0, 5.0, 4.0, 2.0, 1.0]}
MISSED = 3  # calls that rang 7002 and nobody answered
# Qualification, all done but the problem half found and no closing: 100 × (12 - 1.5 - 2) / 12 = 70.83
PARTIAL = {
    "greeting": 1.0,
    "identifying_problem": 0.5,
    "presenting_product": 1.0,
    "initiative": 1.0,
    "closing": 0.0,
    "tone": 1.0,
    "script": 1.0,
}
FULL = dict.fromkeys(PARTIAL, 1.0)  # CQR 100
HALF = dict.fromkeys(PARTIAL, 0.5)  # CQR 50: with FULL, 7001's average CQR is 75 and one call in two is good


@dataclass(frozen=True)
class Tokens:
    analyst: str
    supervisor: str
    admin: str


def write_wav(path: Path, seconds: float = 4.0) -> None:
    """A quiet tone: enough for a player to load, play and seek."""
    rate = 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = bytearray()
        for i in range(int(rate * seconds)):
            value = 2000 if (i // 20) % 2 else -2000  # a 200 Hz square wave
            frames += value.to_bytes(2, "little", signed=True)
        out.writeframes(bytes(frames))


def linkedid(operator: str, n: int) -> str:
    return f"{operator}.{n:03d}"


async def seed_day(sessions: async_sessionmaker[AsyncSession], recordings: Path) -> Tokens:
    recordings.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - the test's own folder
    rated: list[Rated] = []
    async with sessions() as s, s.begin():
        await upsert_operators(
            s, [OperatorRow(ANNA, "Анна Смирнова", "Sales"), OperatorRow(JOHN, "John Miller", "Support")]
        )
        minute = 0
        for operator, scores in SCORES.items():
            queue = "sales" if operator == ANNA else "support"
            for n, score in enumerate(scores):
                minute += 7
                at = DAY + timedelta(minutes=minute)
                call = linkedid(operator, n)
                write_wav(recordings / f"{call}.wav")
                await save_call(
                    s,
                    linkedid=call,
                    direction="inbound",
                    disposition="answered",
                    source="ami",
                    caller_number="79990000000",
                    client_number="79990000000",
                    queue=queue,
                    operator=operator,
                    rung=[operator],
                    started_at=at,
                    answered_at=at + timedelta(seconds=5),
                    ended_at=at + timedelta(seconds=125),
                    ring_seconds=5,
                    talk_seconds=120,
                    hangup_side="operator",
                    recording=f"{call}.wav",
                )
                rated.append(Rated(call, operator, at + timedelta(seconds=126), score, queue=queue))
        for n in range(MISSED):
            at = DAY + timedelta(hours=9, minutes=n)
            await save_call(
                s,
                linkedid=f"missed.{n}",
                direction="inbound",
                disposition="missed",
                source="ami",
                queue="support",
                rung=[JOHN],
                started_at=at,
                ended_at=at + timedelta(seconds=30),
                ring_seconds=30,
            )
        tokens = Tokens(
            analyst=await create_token(s, name="ann-analyst", role="analyst"),
            supervisor=await create_token(s, name="sam-supervisor", role="supervisor"),
            admin=await create_token(s, name="ada-admin", role="admin"),
        )
    await seed(sessions, rated)
    async with sessions() as s, s.begin():
        for call, scores in ((linkedid(ANNA, 2), FULL), (linkedid(ANNA, 3), HALF)):
            await create_evaluation(
                s, linkedid=call, call_type="qualification", scores=scores, comment=None, supervisor="other-supervisor"
            )
    return tokens
