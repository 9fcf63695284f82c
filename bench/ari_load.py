"""ARI load benchmark: N concurrent surveyed calls from the simulated PBX (run by hand, not in CI).

    .venv/bin/python bench/ari_load.py [--calls 1000] [--ramp 3] [--database-url URL]

The simulated PBX runs in a child process (so that its work is not counted as ours); the service runs
here. Reported: per-event handling latency (websocket event in -> first REST request out, for
StasisStart and ChannelDtmfReceived, the events a caller waits on), CPU seconds of the service per
surveyed call, peak RSS of the service, peak concurrent calls, how many writes the spool held at the end,
and whether every keypress was stored once it was replayed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ivr_survey.app import create_app
from ivr_survey.ari.client import AriClient
from ivr_survey.ari.stasis import StasisApp
from ivr_survey.config import Settings, normalise_database_url
from ivr_survey.db.migrate import upgrade
from ivr_survey.db.models import Call, SurveyAnswer, SurveyResponse
from ivr_survey.keys import SESSIONS, STASIS, STORE
from ivr_survey.simulator.ari import FakeAsterisk

PASSWORD = "bench-secret"


# -- the simulated PBX (child process) ----------------------------------------------------


async def pbx(calls: int, ramp: float, seed: int) -> None:
    rng = random.Random(seed)
    async with FakeAsterisk(user="ivr-survey", password=PASSWORD, app="ivr-survey") as fake:
        print(json.dumps({"base_url": fake.base_url}), flush=True)
        await fake.wait_for_app(timeout=60)
        pressed: dict[str, str] = {}

        async def caller(n: int) -> None:
            await asyncio.sleep(ramp * n / calls)
            channel = await fake.place_call(args=[f"operator=7{n % 200:03d}"], linkedid=f"bench-{n}")
            events = fake.subscribe(channel)
            while (await events.get())["type"] != "PlaybackStarted":
                pass
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            if n % 10 == 0:  # one caller in ten presses a wrong key first
                await fake.press(channel, "9")
                await asyncio.sleep(rng.uniform(0.2, 0.6))
            key = str(rng.randint(1, 5))
            await fake.press(channel, key)
            pressed[f"bench-{n}"] = key
            await fake.wait_channel_gone(channel, timeout=120)

        await asyncio.gather(*(caller(n) for n in range(calls)))
        print(json.dumps({"pressed": pressed}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# -- the service under measurement (this process) -------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def _channel_of(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in ("channels", "playbacks"):
        return parts[2].split("-pb-")[0]
    return None


async def service(calls: int, ramp: float, seed: int, database_url: str | None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    url = normalise_database_url(database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await upgrade(url)

    pending: dict[str, float] = {}
    latencies: list[float] = []
    on_event, request = StasisApp.on_event, AriClient._request

    def timed_on_event(self: StasisApp, event: dict[str, Any]) -> None:
        if event.get("type") in ("StasisStart", "ChannelDtmfReceived"):
            pending[event["channel"]["id"]] = time.perf_counter()
        on_event(self, event)

    async def timed_request(self: AriClient, method: str, path: str, **kwargs: Any) -> Any:
        started = pending.pop(_channel_of(path) or "", None)
        if started is not None:
            latencies.append(time.perf_counter() - started)
        return await request(self, method, path, **kwargs)

    StasisApp.on_event = timed_on_event  # type: ignore[method-assign]
    AriClient._request = timed_request  # type: ignore[method-assign]

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        "--calls",
        str(calls),
        "--ramp",
        str(ramp),
        "--seed",
        str(seed),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdin is not None
    base_url = json.loads(await child.stdout.readline())["base_url"]
    settings = Settings(
        _env_file=None,
        database_url=url,
        spool_dir=tmp / "spool",
        ari_url=base_url,
        ari_user="ivr-survey",
        ari_password=PASSWORD,
        log_level="WARNING",
    )
    from aiohttp.test_utils import TestServer

    server = TestServer(create_app(settings))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    await server.start_server()
    stasis = server.app[STASIS]
    peak = 0
    line_task = asyncio.ensure_future(child.stdout.readline())
    while not line_task.done() or stasis.calls:  # sample the number of calls in the survey
        peak = max(peak, len(stasis.calls))
        await asyncio.sleep(0.05)
    pressed: dict[str, str] = json.loads(await line_task)["pressed"]
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    # writes that waited too long went to the spool: an answer is lost only if the replay does not store it
    store = server.app[STORE]
    spooled = store.pending
    replay0 = time.perf_counter()
    for _ in range(240):  # two minutes at most
        if await store.flush():
            break
        await asyncio.sleep(0.5)
    replay = time.perf_counter() - replay0
    async with server.app[SESSIONS]() as session:
        stored = dict(
            (
                await session.execute(
                    select(Call.linkedid, SurveyAnswer.digits)
                    .join(SurveyResponse, SurveyResponse.call_id == Call.id)
                    .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
                )
            ).all()
        )
    await server.close()
    child.stdin.close()  # the simulated PBX stops only after the service has
    await child.wait()
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    lost = sorted(k for k, v in pressed.items() if stored.get(k) != v)
    return {
        "calls": calls,
        "database": url.split(":")[0],
        "peak_concurrent_calls": peak,
        "events_timed": len(latencies),
        "latency_p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "latency_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "latency_max_ms": round(max(latencies) * 1000, 2),
        "cpu_seconds_per_call": round(cpu / calls, 5),
        "peak_rss_mib": round(cpu1.ru_maxrss / 1024, 1),
        "wall_seconds": round(wall, 1),
        "answers_pressed": len(pressed),
        "writes_spooled_at_end": spooled,
        "replay_seconds": round(replay, 1),
        "answers_lost": len(lost),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds over which the calls arrive")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(pbx(args.calls, args.ramp, args.seed))
        return
    result = asyncio.run(service(args.calls, args.ramp, args.seed, args.database_url))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
