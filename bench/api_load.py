"""API benchmark: 1,000,000 surveyed calls across 200 operators and a year (run by hand, not in CI).

    .venv/bin/python bench/api_load.py [--database-url URL] [--calls 1000000] [--runs 20]

Seeds the database once (it is reused while it holds the same number of calls), starts the service in a
process of its own and times over HTTP on loopback: /ratings/summary for every grouping over the whole year,
and filtered /ratings pages. Prints p50/p95 per request in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

from ivr_survey.config import normalise_database_url
from ivr_survey.db.engine import create_engine
from ivr_survey.db.migrate import upgrade
from ivr_survey.db.models import Call, Operator, SurveyAnswer, SurveyResponse
from ivr_survey.db.timebuckets import HOUR, QUARTER_HOUR

YEAR_START = datetime(2025, 12, 1, tzinfo=UTC)
OPERATORS = 200
QUEUES = ("sales", "support", "billing", "retention", None)
TOKEN = "bench-token-0123456789"  # the service refuses a bootstrap token under 16 characters


async def seed(url: str, calls: int, seed_value: int = 7) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            have = (await conn.execute(select(func.count()).select_from(Call))).scalar_one()
            if have == calls:
                print(f"database already holds {calls} calls")
                return
            if have:
                raise SystemExit(f"database holds {have} calls, not {calls}: use an empty database")
            await conn.execute(insert(Operator), [{"code": f"7{n:03d}"} for n in range(OPERATORS)])
        rng = random.Random(seed_value)
        started = time.perf_counter()
        batch = 20_000
        for first in range(0, calls, batch):
            n_rows = min(batch, calls - first)
            call_rows, response_rows, answer_rows = [], [], []
            for i in range(first, first + n_rows):
                at = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
                operator_id, queue = rng.randrange(OPERATORS) + 1, rng.choice(QUEUES)
                call_rows.append(
                    {
                        "id": i + 1,
                        "linkedid": f"{1700000000 + i}.{i}",
                        "channel_uniqueid": f"c{i}",
                        "caller_number": f"7999{rng.randrange(10**7):07d}",
                        "operator_id": operator_id,
                        "queue": queue,
                        "started_at": at,
                    }
                )
                roll = rng.random()
                status = "completed" if roll < 0.82 else "no_input" if roll < 0.9 else "abandoned"
                score = rng.choices((1, 2, 3, 4, 5), (7, 8, 13, 27, 45))[0] if status == "completed" else None
                # the same rows the repository writes, summary copies included
                response_rows.append(
                    {
                        "id": i + 1,
                        "call_id": i + 1,
                        "survey_version_id": 1,
                        "channel": "ari",
                        "language": "en",
                        "status": status,
                        "args": {},
                        "started_at": at,
                        "ended_at": at + timedelta(seconds=9),
                        "operator_id": operator_id,
                        "queue": queue,
                        "survey_id": 1,
                        "score": score,
                        "satisfied": score >= 4 if score is not None else None,  # the default's 4-5
                        "started_slot": int(at.timestamp()) // QUARTER_HOUR,
                        "started_hour": int(at.timestamp()) // HOUR,
                    }
                )
                if score is not None:
                    answer_rows.append(
                        {
                            "response_id": i + 1,
                            "position": 0,
                            "question": "rating",
                            "digits": str(score),
                            "score": float(score),
                            "attempts": 1,
                            "answered_at": at + timedelta(seconds=4),
                        }
                    )
            async with engine.begin() as conn:
                await conn.execute(insert(Call), call_rows)
                await conn.execute(insert(SurveyResponse), response_rows)
                await conn.execute(insert(SurveyAnswer), answer_rows)
            print(f"\rseeded {first + n_rows:,} calls in {time.perf_counter() - started:.0f} s", end="", flush=True)
        print()
    finally:
        await engine.dispose()


def _ms(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] * 1000, 1)


async def _server(url: str) -> AsyncIterator[str]:
    """The service in a process of its own, as deployed: the client's work is not counted as the server's."""
    tmp = Path(tempfile.mkdtemp(prefix="ivr-api-bench-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "IVR_SURVEY_DATABASE_URL": url,
        "IVR_SURVEY_HTTP_PORT": str(port),
        "IVR_SURVEY_API_TOKEN": TOKEN,
        "IVR_SURVEY_SPOOL_DIR": str(tmp),
        "IVR_SURVEY_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from ivr_survey.cli import main; main()", "serve", "--no-migrate", cwd=tmp, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(100):
                try:
                    async with client.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        yield base
    finally:
        process.terminate()
        await process.wait()


async def measure(url: str, runs: int) -> dict[str, dict[str, float]]:
    period = "from=2025-12-01T00:00:00Z&to=2026-12-01T00:00:00Z"
    requests = {
        f"summary group_by={g}": f"/ratings/summary?group_by={g}&{period}"
        for g in ("operator", "queue", "survey", "hour", "day", "week", "month")
    }
    requests["summary group_by=day tz=Europe/Berlin"] = f"/ratings/summary?group_by=day&tz=Europe/Berlin&{period}"
    # a half-hour zone: summed from quarter-hour slots
    requests["summary group_by=day tz=Asia/Kolkata"] = f"/ratings/summary?group_by=day&tz=Asia/Kolkata&{period}"
    # the default period, the last 30 days (here the data's last 30 days)
    month = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
    requests["summary group_by=operator last month"] = f"/ratings/summary?group_by=operator&{month}"
    # filtered: counted from the responses, not from the per-quarter-hour tallies
    requests["summary group_by=hour operator=7042"] = f"/ratings/summary?group_by=hour&operator=7042&{period}"
    requests["summary group_by=day queue=sales"] = f"/ratings/summary?group_by=day&queue=sales&{period}"
    requests["summary group_by=operator queue=sales"] = f"/ratings/summary?group_by=operator&queue=sales&{period}"
    requests["summary group_by=hour survey=default"] = f"/ratings/summary?group_by=hour&survey=default&{period}"
    requests["summary group_by=week status+score<=2"] = (
        f"/ratings/summary?group_by=week&status=completed&score_max=2&{period}"
    )
    # one question by its key: its answers joined to their responses, no tallies
    for g in ("operator", "day"):
        requests[f"summary group_by={g} question=rating"] = f"/ratings/summary?group_by={g}&question=rating&{period}"
    requests["ratings operator=7042 page"] = "/ratings?operator=7042&limit=100"
    requests["ratings operator+queue+score<=2 page"] = "/ratings?operator=7042&queue=sales&score_max=2&limit=100"
    requests["ratings one month page"] = "/ratings?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&limit=100"
    results = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with contextlib.asynccontextmanager(_server)(url) as base, aiohttp.ClientSession(base) as client:
        for name, path in requests.items():
            timings = []
            for n in range(runs + 2):
                t0 = time.perf_counter()
                async with client.get(path, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, (path, resp.status)
                if n >= 2:  # two warm-up requests
                    timings.append(time.perf_counter() - t0)
            results[name] = {"p50_ms": _ms(timings, 0.5), "p95_ms": _ms(timings, 0.95)}
            print(f"{name:45s} p50 {results[name]['p50_ms']:8.1f} ms   p95 {results[name]['p95_ms']:8.1f} ms")
    return results


async def main_async(args: argparse.Namespace) -> None:
    default = f"sqlite+aiosqlite:///{Path(tempfile.gettempdir())}/ivr-api-bench.db"
    url = normalise_database_url(args.database_url or default)
    await upgrade(url)
    await seed(url, args.calls)
    result = await measure(url, args.runs)
    if args.json:
        print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in the temp folder")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
