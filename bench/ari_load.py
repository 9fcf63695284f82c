"""ARI load benchmark: surveyed calls from the simulated PBX, the service next to a bare ARI app (run by hand,
not in CI).

    .venv/bin/python bench/ari_load.py [--calls 200] [--in-flight 20 | --ramp 3 | --rate 10]
        [--database-url URL] [--only service|floor] [--profile FILE] [--settle 30]

Each app runs against its own simulated PBX, one after the other, with the same callers (the same seed): first
the floor (`bench/bare_ari.py`: the same prompts and REST requests over the same ARI client, nothing stored),
then the service (`create_app`, as `ivr-survey serve` runs it). The PBX and each app are processes of their own,
so each app's CPU (all its threads, start-up excluded) and peak RSS are its own. The callers arrive
- `--in-flight K`: K at a time, each next caller as soon as one hangs up (the steady rate of a busy PBX);
- `--ramp S`: all of them over S seconds (`--calls 1000 --ramp 3` puts 1,000 in the survey at once);
- `--rate R`: R a second whatever the service does, for a soak (`--calls 6000 --rate 10`, ten minutes).
Every caller waits for the question to start, waits 0.3-1.5 s, and presses a key (one in ten a wrong key first).

Reported per app: CPU seconds per surveyed call, and the service's over the floor's (the ratio); event -> first
REST request latency (for StasisStart and ChannelDtmfReceived, what a caller waits on); peak concurrent calls;
peak RSS; RSS and Python's allocated blocks by minute; RSS and asyncio tasks once the calls are over and
`--settle` seconds later; and answers lost (every key pressed must be stored, after the spool's replay for the
service).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bare_ari, next to this file

from ivr_survey.ari.client import AriClient
from ivr_survey.config import Settings, normalise_database_url

APP = "ivr-survey"
PASSWORD = "bench-secret"
REQUESTS = [0]  # REST requests the app made while measured


# -- the simulated PBX (a process of its own) --------------------------------------------------------


async def pbx(args: argparse.Namespace) -> None:
    from ivr_survey.simulator.ari import FakeAsterisk

    rng = random.Random(args.seed)
    # Every caller's waits drawn up front, so both apps meet the same callers.
    waits = [(rng.uniform(0.3, 1.5), rng.uniform(0.2, 0.6), str(rng.randint(1, 5))) for _ in range(args.calls)]
    async with FakeAsterisk(user=APP, password=PASSWORD, app=APP) as fake:
        print(json.dumps({"base_url": fake.base_url}), flush=True)
        await fake.wait_for_app(timeout=60)
        lines = asyncio.Semaphore(args.in_flight) if args.in_flight else None
        pressed: dict[str, str] = {}
        began = time.perf_counter()

        async def caller(n: int) -> None:
            if args.rate:
                await asyncio.sleep(max(0.0, began + n / args.rate - time.perf_counter()))
            elif args.ramp:
                await asyncio.sleep(args.ramp * n / args.calls)
            wait, wrong_wait, key = waits[n]
            linkedid = f"bench-{args.run}-{n}"
            channel = await fake.place_call(args=[f"operator=7{n % 200:03d}"], linkedid=linkedid)
            events = fake.subscribe(channel)
            while (await events.get())["type"] != "PlaybackStarted":
                pass
            await asyncio.sleep(wait)
            if n % 10 == 0:  # one caller in ten presses a wrong key first
                await fake.press(channel, "9")
                await asyncio.sleep(wrong_wait)
            await fake.press(channel, key)
            pressed[linkedid] = key
            await fake.wait_channel_gone(channel, timeout=120)

        async def line(n: int) -> None:
            if lines is None:
                await caller(n)
                return
            async with lines:
                await caller(n)

        await asyncio.gather(*(line(n) for n in range(args.calls)))
        print(json.dumps({"pressed": pressed}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the run is over


# -- measuring an app (in its own process) -------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def _channel_of(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in ("channels", "playbacks"):
        return parts[2].split("-pb-")[0]
    return None


def _time_events(on_event_owner: type, method: str) -> list[float]:
    """Latency from an event the caller waits on to the first REST request it leads to, the same way for both
    apps: the event handler and the client's request are wrapped."""
    pending: dict[str, float] = {}
    latencies: list[float] = []
    requests = REQUESTS
    on_event, request = getattr(on_event_owner, method), AriClient._request

    def timed_on_event(self: Any, event: dict[str, Any]) -> None:
        if event.get("type") in ("StasisStart", "ChannelDtmfReceived"):
            pending[event["channel"]["id"]] = time.perf_counter()
        on_event(self, event)

    async def timed_request(self: AriClient, verb: str, path: str, **kwargs: Any) -> Any:
        requests[0] += 1
        started = pending.pop(_channel_of(path) or "", None)
        if started is not None:
            latencies.append(time.perf_counter() - started)
        return await request(self, verb, path, **kwargs)

    setattr(on_event_owner, method, timed_on_event)
    AriClient._request = timed_request  # type: ignore[method-assign]
    return latencies


def _thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each live thread of this process, by its Python name."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    seconds: dict[str, float] = {}
    for native_id, name in names.items():
        try:
            fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, TypeError):
            continue
        seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return seconds


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _tasks() -> int:
    return len(asyncio.all_tasks())


async def _measure(
    args: argparse.Namespace, calls_now: Callable[[], int], latencies: list[float], profile: cProfile.Profile | None
) -> dict[str, Any]:
    """From start-up's end until the parent says the calls are over (a line on stdin), then `--settle` seconds."""
    loop = asyncio.get_running_loop()
    tasks_idle = _tasks()
    REQUESTS[0] = 0
    cpu0, threads0, wall0 = _cpu(), _thread_cpu(), time.perf_counter()
    print(json.dumps({"ready": True}), flush=True)
    if profile is not None:
        profile.enable()
    over = loop.run_in_executor(None, sys.stdin.readline)
    peak, by_minute, blocks_by_minute = 0, [], []
    while not over.done():  # sample the calls in the survey, and RSS and Python's own blocks once a minute
        peak = max(peak, calls_now())
        if time.perf_counter() - wall0 >= 60 * len(by_minute):
            by_minute.append(_rss_mib())
            blocks_by_minute.append(sys.getallocatedblocks())
        await asyncio.sleep(0.05)
    await over
    if profile is not None:
        profile.disable()
    cpu, threads1, wall = _cpu() - cpu0, _thread_cpu(), time.perf_counter() - wall0
    rss_at_end, tasks_at_end = _rss_mib(), _tasks()
    await asyncio.sleep(args.settle)
    return {
        "cpu_seconds": round(cpu, 3),
        "cpu_ms_per_call": round(cpu / args.calls * 1000, 2),
        "cpu_seconds_by_thread": {
            name: round(seconds - threads0.get(name, 0.0), 2) for name, seconds in threads1.items()
        },
        "wall_seconds": round(wall, 1),
        "peak_concurrent_calls": peak,
        "events_timed": len(latencies),
        "rest_requests": REQUESTS[0],
        "latency_p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "latency_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "latency_max_ms": round(max(latencies, default=0.0) * 1000, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_by_minute_mib": by_minute,
        # what Python itself holds (objects of every kind); RSS also holds SQLite's page caches, malloc's arenas
        "python_blocks_by_minute": blocks_by_minute,
        "rss_at_end_mib": rss_at_end,
        "rss_settled_mib": _rss_mib(),
        "tasks_idle": tasks_idle,
        "tasks_at_end": tasks_at_end,
        "tasks_settled": _tasks(),
    }


def _dump(profile: cProfile.Profile | None, path: str | None) -> None:
    if profile is None or path is None:
        return
    profile.dump_stats(path)
    with open(f"{path}.txt", "w") as out:
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(60)


async def floor_app(args: argparse.Namespace) -> None:
    from bare_ari import BareSurvey

    latencies = _time_events(BareSurvey, "on_event")
    async with AriClient(args.base_url, APP, PASSWORD, APP) as client:
        app = BareSurvey(client)
        stop = asyncio.Event()
        listening = asyncio.create_task(app.run(stop))
        profile = cProfile.Profile() if args.profile else None
        result = await _measure(args, lambda: len(app.calls), latencies, profile)
        stop.set()
        await listening
    _dump(profile, args.profile)
    print(json.dumps({**result, "answers": app.answers}), flush=True)


async def service_app(args: argparse.Namespace) -> None:
    from aiohttp.test_utils import TestServer

    from ivr_survey.app import create_app
    from ivr_survey.ari.stasis import StasisApp
    from ivr_survey.keys import STASIS, STORE

    latencies = _time_events(StasisApp, "on_event")
    settings = Settings(
        _env_file=None,
        database_url=args.database_url,
        spool_dir=Path(args.spool),
        ari_url=args.base_url,
        ari_user=APP,
        ari_password=PASSWORD,
        log_level="WARNING",
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    stasis = server.app[STASIS]
    profile = cProfile.Profile() if args.profile else None
    result = await _measure(args, lambda: len(stasis.calls), latencies, profile)
    # writes that waited too long went to the spool: an answer is lost only if the replay does not store it
    store = server.app[STORE]
    spooled = store.pending
    replay0 = time.perf_counter()
    for _ in range(240):  # two minutes at most
        if await store.flush():
            break
        await asyncio.sleep(0.5)
    replay = time.perf_counter() - replay0
    await server.close()
    _dump(profile, args.profile)
    print(json.dumps({**result, "writes_spooled": spooled, "replay_seconds": round(replay, 1)}), flush=True)


# -- the run (this process) -------------------------------------------------------------------------


async def _child(role: str, args: argparse.Namespace, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--role",
        role,
        "--calls",
        str(args.calls),
        "--ramp",
        str(args.ramp),
        "--in-flight",
        str(args.in_flight),
        "--rate",
        str(args.rate),
        "--seed",
        str(args.seed),
        "--run",
        args.run,
        "--settle",
        str(args.settle),
        *extra,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        # The PBX reports every keypress it made on one line: far beyond the default 64 KiB.
        limit=1 << 26,
    )


async def _line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise RuntimeError(f"a child process ended early (exit {await process.wait()})")
    result: dict[str, Any] = json.loads(line)
    return result


def _tell(process: asyncio.subprocess.Process, line: str = "\n") -> None:
    assert process.stdin is not None
    process.stdin.write(line.encode())


async def _phase(role: str, args: argparse.Namespace, *extra: str) -> tuple[dict[str, Any], dict[str, str]]:
    """One app against a PBX of its own: what the app measured, and the keys the callers pressed."""
    phone = await _child("pbx", args)
    base_url = (await _line(phone))["base_url"]
    app = await _child(role, args, "--base-url", base_url, *extra)
    await _line(app)  # started
    pressed: dict[str, str] = (await _line(phone))["pressed"]
    _tell(app)  # the calls are over
    result = await _line(app)
    await app.wait()
    assert phone.stdin is not None
    phone.stdin.close()  # the PBX stops only after the app has
    await phone.wait()
    return result, pressed


async def _stored_answers(url: str, run: str) -> dict[str, str | None]:
    from sqlalchemy import select

    from ivr_survey.db.engine import create_engine
    from ivr_survey.db.models import Call, SurveyAnswer, SurveyResponse

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Call.linkedid, SurveyAnswer.digits)
                .join(SurveyResponse, SurveyResponse.call_id == Call.id)
                .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
                .where(Call.linkedid.like(f"bench-{run}-%"))
            )
            return {linkedid: digits for linkedid, digits in rows}
    finally:
        await engine.dispose()


def _lost(pressed: dict[str, str], stored: dict[str, str | None]) -> int:
    return sum(1 for linkedid, key in pressed.items() if stored.get(linkedid) != key)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from ivr_survey.db.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    url = normalise_database_url(args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await upgrade(url)
    arrival = f"{args.rate}/s" if args.rate else f"over {args.ramp} s" if args.ramp else f"{args.in_flight} in flight"
    report: dict[str, Any] = {"calls": args.calls, "arrival": arrival, "database": url.split(":")[0]}
    profile = ("--profile", args.profile) if args.profile else ()
    if args.only in (None, "floor"):
        floor_profile = ("--profile", f"{args.profile}.floor") if args.profile else ()
        floor, pressed = await _phase("floor", args, *floor_profile)
        answers = floor.pop("answers")
        report["floor"] = {**floor, "answers_lost": _lost(pressed, answers)}
    if args.only in (None, "service"):
        extra = ("--database-url", url, "--spool", str(tmp / "spool"), *profile)
        service, pressed = await _phase("service", args, *extra)
        report["service"] = {**service, "answers_lost": _lost(pressed, await _stored_answers(url, args.run))}
    if "floor" in report and "service" in report:
        report["cpu_ratio"] = round(report["service"]["cpu_seconds"] / report["floor"]["cpu_seconds"], 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=0, help="callers at a time (default 20 unless --ramp/--rate)")
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds over which all the calls arrive")
    parser.add_argument("--rate", type=float, default=0.0, help="calls arriving per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--only", choices=("service", "floor"))
    parser.add_argument(
        "--profile", help="cProfile the service's event loop into FILE, the floor's into FILE.floor (each with a .txt)"
    )
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait after the calls before the last RSS")
    parser.add_argument("--role", choices=("pbx", "floor", "service"), help=argparse.SUPPRESS)
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--spool", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.in_flight or args.ramp or args.rate):
        args.in_flight = 20
    if args.role is not None:
        asyncio.run({"pbx": pbx, "floor": floor_app, "service": service_app}[args.role](args))
        return
    args.run = args.run or f"{int(time.time())}"  # linkedids of their own, in a database reused across runs
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
