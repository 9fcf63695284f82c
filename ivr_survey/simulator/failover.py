"""A failover drill on the simulated PBX: two service instances (child processes, `ivr-survey serve`) share one
PostgreSQL and one ARI app; callers are mid-survey when the active one is killed with SIGKILL; the standby takes
over and adopts them. The test of issue 15 and `bench/failover.py` both run it; it measures, per caller, the
time from the kill to the first prompt the new active instance plays, and reports what the database stored."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..db.engine import create_engine, create_sessionmaker
from ..db.migrate import upgrade
from ..db.ratings import list_ratings
from ..db.repository import add_survey_version
from ..survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from .ari import FakeAsterisk

USER, PASSWORD, APP = "ivr-survey", "failover-secret", "ivr-survey"
SURVEY = "csat3"  # three questions: a caller can be between them when the active instance dies
# (question's prompt, keys the caller presses) in order; the thanks prompt follows.
ANSWERS = (("survey-rate", "4"), ("survey-solved", "1"), ("survey-nps", "9#"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    """One `ivr-survey serve` child process."""

    name: str
    port: int
    process: asyncio.subprocess.Process

    async def health(self) -> dict[str, Any] | None:
        """Its /healthz body, or None while it does not answer."""
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
                http.get(f"http://127.0.0.1:{self.port}/healthz") as resp,
            ):
                body: dict[str, Any] = await resp.json()
                return body
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def role(self) -> str | None:
        body = await self.health()
        return None if body is None else body.get("role")


@dataclass
class Caller:
    linkedid: str
    channel: str
    events: asyncio.Queue[dict[str, Any]]
    answered_before: int  # questions answered before the kill
    replayed_after: float | None = None  # seconds from the kill to the first prompt of the new active instance


@dataclass
class Drill:
    """What one drill saw."""

    callers: list[Caller]
    most_sockets: int  # the most events websockets the PBX ever had open at once
    # linkedid -> (status, [(question, keys, attempts)])
    stored: dict[str, tuple[str, list[tuple[str, str | None, int]]]] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)  # linkedid -> survey responses stored for it
    stranded: list[str] = field(default_factory=list)  # channels still in the PBX at the end
    new_active_takeovers: int | None = None

    @property
    def replays(self) -> list[float]:
        return sorted(c.replayed_after for c in self.callers if c.replayed_after is not None)


@contextlib.asynccontextmanager
async def instances(
    fake: FakeAsterisk, database_url: str, workdir: Path, *, count: int = 2
) -> AsyncIterator[list[Instance]]:
    """Start `count` instances one after the other (the first applies the migrations), each on a port of its own;
    SIGKILL whatever is left at the end."""
    started: list[Instance] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_SURVEY_")}
    env.update(
        IVR_SURVEY_DATABASE_URL=database_url,
        IVR_SURVEY_ARI_URL=fake.base_url,
        IVR_SURVEY_ARI_USER=USER,
        IVR_SURVEY_ARI_PASSWORD=PASSWORD,
        IVR_SURVEY_ARI_APP=APP,
        # Long enough that no question times out while the standby takes over.
        IVR_SURVEY_NO_INPUT_TIMEOUT="15",
        IVR_SURVEY_INTER_DIGIT_TIMEOUT="3",
        IVR_SURVEY_SHUTDOWN_GRACE="1",
    )
    try:
        for n in range(count):
            port = _free_port()
            name = f"instance-{n + 1}"
            spool = workdir / f"spool-{n + 1}"
            log = os.open(workdir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # what it logged
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ivr_survey.cli",
                "serve",
                env={**env, "IVR_SURVEY_HTTP_PORT": str(port), "IVR_SURVEY_SPOOL_DIR": str(spool)},
                cwd=workdir,
                stdout=log,
                stderr=log,
            )
            os.close(log)  # the child has its own copy
            instance = Instance(name, port, process)
            started.append(instance)
            await _until(instance.health, f"{name} to answer /healthz", 60.0)
        yield started
    finally:
        for instance in started:
            if instance.process.returncode is None:
                instance.process.send_signal(signal.SIGKILL)
                await instance.process.wait()


async def _until(probe: Any, what: str, timeout: float) -> Any:  # noqa: ASYNC109
    """Await probe() until it gives something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = await probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _prompt(events: asyncio.Queue[dict[str, Any]], sound: str, playback: re.Pattern[str] | None = None) -> None:
    """Wait until the caller hears `sound` (played by an instance whose playback ids match `playback`)."""
    async with asyncio.timeout(30.0):
        while True:
            event = await events.get()
            if event["type"] != "PlaybackStarted" or event["playback"]["media_uri"] != f"sound:{sound}":
                continue
            if playback is None or playback.fullmatch(event["playback"]["id"]):
                return


async def prepare(database_url: str) -> None:
    """Migrate the database and add the three-question survey the callers answer."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await add_survey_version(session, name=SURVEY, definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict())
    finally:
        await engine.dispose()


async def drill(
    fake: FakeAsterisk, database_url: str, workdir: Path, *, callers: int = 20, tag: str = "failover"
) -> Drill:
    """Run the drill once: `callers` callers mid-survey (every third has answered one question, every third two),
    SIGKILL of the active instance, then every caller answers what is left once the new active one asks again."""
    async with instances(fake, database_url, workdir) as running:
        roles = await _until(lambda: _roles(running), "one active instance and one standby", 30.0)
        active = running[roles.index("active")]
        standby = running[roles.index("standby")]
        await fake.wait_for_app(timeout=10.0)

        async def call(n: int) -> Caller:
            linkedid = f"L-{tag}-{n:02d}"
            channel = await fake.place_call(args=[f"operator={7001 + n % 4}", f"survey={SURVEY}"], linkedid=linkedid)
            events = fake.subscribe(channel)
            answered = n % 3
            await _prompt(events, ANSWERS[0][0])
            for question, (sound, keys) in enumerate(ANSWERS[:answered]):
                if question:
                    await _prompt(events, sound)
                await fake.press(channel, keys)
                await _prompt(events, "survey-accepted")  # the answer is stored before it is accepted
            return Caller(linkedid, channel, events, answered)

        people = list(await asyncio.gather(*(call(n) for n in range(callers))))
        killed_at = time.monotonic()
        active.process.send_signal(signal.SIGKILL)
        await active.process.wait()

        async def goes_on(caller: Caller) -> None:
            adopted = re.compile(rf"{re.escape(caller.channel)}-[0-9a-f]{{8}}-pb-\d+")
            await _prompt(caller.events, ANSWERS[caller.answered_before][0], adopted)
            caller.replayed_after = time.monotonic() - killed_at
            for question, (sound, keys) in enumerate(ANSWERS[caller.answered_before :]):
                if question:  # the first was heard above
                    await _prompt(caller.events, sound, adopted)
                await fake.press(caller.channel, keys)
            await _prompt(caller.events, "survey-thanks", adopted)
            with contextlib.suppress(TimeoutError):  # one that stays is counted as stranded below
                await fake.wait_channel_gone(caller.channel, timeout=30.0)

        await asyncio.gather(*(goes_on(c) for c in people))
        body = await standby.health()
        result = Drill(
            people, fake.most_websockets, new_active_takeovers=None if body is None else body.get("takeovers")
        )
        result.stranded = sorted(set(fake.live_channels) & {c.channel for c in people})
        await _stored(database_url, result)
        return result


async def _roles(running: list[Instance]) -> list[str | None] | None:
    roles = [await i.role() for i in running]
    return roles if sorted(map(str, roles)) == ["active", "standby"] else None


async def _stored(database_url: str, result: Drill) -> None:
    # Answers reach the database in the background (the spool); the drill waits until every survey is settled.
    engine = create_engine(database_url)
    try:
        ours = {c.linkedid for c in result.callers}

        async def read() -> bool:
            async with create_sessionmaker(engine)() as session:
                rows = (await list_ratings(session, limit=1000)).items
            result.responses, result.stored = {}, {}
            for row in rows:
                if row.call_id in ours:
                    result.responses[row.call_id] = result.responses.get(row.call_id, 0) + 1
                    result.stored[row.call_id] = (row.status, [(a.question, a.key, a.attempts) for a in row.answers])
            settled = all(status != "in_progress" for status, _ in result.stored.values())
            return settled and set(result.stored) == ours

        with contextlib.suppress(TimeoutError):
            await _until(read, "every response to be settled", 15.0)
    finally:
        await engine.dispose()
