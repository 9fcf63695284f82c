"""The FastAGI entry end to end: a scripted client plays Asterisk's side of the AGI protocol on loopback
(headers, then a scripted reply to each command it expects), and we assert the commands it was sent and
the rows stored, which must look like an ARI call's but for channel == "agi"."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.agi.server import AgiServer
from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db.catalog import SurveyCatalog
from ivr_survey.db.models import SurveyAnswer, SurveyResponse
from ivr_survey.db.ratings import list_ratings
from ivr_survey.db.repository import add_survey_version
from ivr_survey.db.store import SurveyStore
from ivr_survey.service.survey_run import SurveySetup
from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from ivr_survey.survey.timing import Timing
from tests.support.api_client import get
from tests.support.waiting import free_port

HEADER_TIMEOUT = 1.0
TIMING = Timing(no_input_timeout=0.1, inter_digit_timeout=0.1, max_retries=2)
Script = list[tuple[str, str | None]]  # (command we expect, what Asterisk answers; None: the PBX vanishes)

# -- Asterisk's side ------------------------------------------------------------------------------


def stream(sound: str) -> str:
    return f'STREAM FILE {sound} "0123456789*#"'


def key(digit: str) -> str:
    """STREAM FILE / WAIT FOR DIGIT ended by a key: its ASCII code."""
    return f"200 result={ord(digit)} endpos=8000"


PLAYED = "200 result=0 endpos=20000"  # the prompt played to its end
SILENCE = "200 result=0"  # WAIT FOR DIGIT timed out
WAIT = "WAIT FOR DIGIT 100"  # no_input_timeout / inter_digit_timeout of 0.1 s
HANGUP = ("HANGUP", "200 result=1")
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"


def opening(linkedid: str) -> Script:
    return [("GET VARIABLE CHANNEL(linkedid)", f"200 result=1 ({linkedid})"), ("ANSWER", "200 result=0")]


def headers(script: str, uniqueid: str, *, callerid: str = "79991234567", language: str = "en") -> bytes:
    lines = {
        "network": "yes",
        "network_script": script,
        "request": f"agi://127.0.0.1:4573/{script}",
        "channel": f"PJSIP/client-{uniqueid}",
        "language": language,
        "type": "PJSIP",
        "uniqueid": uniqueid,
        "version": "22.1.0",
        "callerid": callerid,
        "calleridname": "unknown",
        "context": "post-call",
        "extension": "s",
        "priority": "2",
        "enhanced": "0.0",
        "threadid": "140093710538432",
    }
    return "".join(f"agi_{k}: {v}\n" for k, v in lines.items()).encode() + b"\n"


async def converse(
    port: int,
    script: Script,
    *,
    agi_script: str = "survey?operator=7001&queue=sales",
    uniqueid: str = "1700000000.13",
    **header_args: Any,
) -> list[str]:
    """Play one call: every command received, in order; "<EOF>" once the server closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(headers(agi_script, uniqueid, **header_args))
    received: list[str] = []
    try:
        for expected, reply in script:
            line = await asyncio.wait_for(reader.readline(), 5)
            if not line:
                break
            received.append(line.decode().rstrip("\n"))
            if received[-1] != expected:
                return received
            if reply is None:
                writer.transport.abort()  # gone without a word, as a crashed PBX or a cut network
                return received
            writer.write(reply.encode() + b"\n")
        while True:  # after the script only the close may come
            try:
                line = await asyncio.wait_for(reader.readline(), 2)
            except TimeoutError:
                return [*received, "<still open>"]
            if not line:
                return [*received, "<EOF>"]
            received.append(line.decode().rstrip("\n"))
    finally:
        writer.close()


def commands(script: Script, end: str = "<EOF>") -> list[str]:
    return [command for command, _ in script] + ([end] if end else [])


# -- the service's side ---------------------------------------------------------------------------


@pytest.fixture
async def store(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> AsyncIterator[SurveyStore]:
    store = SurveyStore(sessions, tmp_path / "spool")
    await store.start()
    yield store
    await store.close()


@pytest.fixture
async def server(sessions: async_sessionmaker[AsyncSession], store: SurveyStore) -> AsyncIterator[AgiServer]:
    server = AgiServer(
        SurveySetup(store, SurveyCatalog(sessions), TIMING), port=0, header_timeout=HEADER_TIMEOUT, reply_timeout=2.0
    )
    await server.start()
    yield server
    await server.stop(grace=1.0)


@pytest.fixture
async def csat3(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await add_survey_version(session, name="csat3", definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict())


async def ratings(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessions() as session:
        return [asdict(r) for r in (await list_ratings(session, limit=1000)).items]


async def answers(sessions: async_sessionmaker[AsyncSession]) -> list[tuple]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                SurveyResponse.channel,
                SurveyAnswer.position,
                SurveyAnswer.question,
                SurveyAnswer.digits,
                SurveyAnswer.score,
                SurveyAnswer.attempts,
            )
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .order_by(SurveyAnswer.response_id, SurveyAnswer.position)
        )
        return [tuple(r) for r in rows]


def summary(rating: dict[str, Any]) -> tuple:
    return rating["call_id"], rating["channel"], rating["status"], rating["score"]


RATED_4: Script = [
    *opening("1700000000.12"),
    (stream("survey-rate"), key("4")),  # barge-in: the key ends the prompt
    (stream("survey-thanks"), PLAYED),
    HANGUP,
]


# -- the survey paths -----------------------------------------------------------------------------


async def test_rated_4(server: AgiServer, sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await converse(server.port, RATED_4) == commands(RATED_4)

    [rating] = await ratings(sessions)
    assert {k: v for k, v in rating.items() if k not in ("started_at", "ended_at")} == {
        "call_id": "1700000000.12",
        "channel_uniqueid": "1700000000.13",
        "operator": "7001",
        "operator_name": None,
        "queue": "sales",
        "survey": "default",
        "survey_version": 1,
        "channel": "agi",
        "language": "en",
        "status": "completed",
        "reason": None,
        "score": 4.0,
        "answers": [{"question": "rating", "key": "4", "score": 4.0, "attempts": 1}],
        "caller": "79991234567",
        "campaign": None,
    }
    assert rating["ended_at"] is not None
    async with sessions() as session:
        assert (await session.scalar(select(SurveyResponse.args))) == {"operator": "7001", "queue": "sales"}


async def test_each_reply_that_leads_to_actions_is_timed(server: AgiServer) -> None:
    """The key (its answer committed, thanks queued) and the end of thanks (hang-up); how long is not asserted."""
    timed: list[float] = []
    server.on_latency = timed.append
    assert await converse(server.port, RATED_4) == commands(RATED_4)
    assert len(timed) == 2 and all(seconds >= 0 for seconds in timed)


@pytest.mark.parametrize(
    ("thanks", "end"),
    [
        (key("1"), [HANGUP]),  # a key cuts 'thanks' short; the survey still hangs up at once
        ("200 result=-1 endpos=800\nHANGUP", [HANGUP]),  # the caller hung up during 'thanks': still completed
        ("HANGUP\n" + DEAD, []),  # ... and Asterisk said so first: nothing more is asked of the dead channel
    ],
)
async def test_after_the_last_answer_keys_and_hangups_change_nothing(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], thanks: str, end: Script
) -> None:
    script: Script = [*opening("L-thanks"), (stream("survey-rate"), key("4")), (stream("survey-thanks"), thanks), *end]
    assert await converse(server.port, script) == commands(script)
    assert [summary(r) for r in await ratings(sessions)] == [("L-thanks", "agi", "completed", 4.0)]


async def test_invalid_then_5_after_the_prompt(server: AgiServer, sessions: async_sessionmaker[AsyncSession]) -> None:
    """9 is no answer: 'invalid' and the question again; 5 comes while waiting after the prompt."""
    script: Script = [
        *opening("L-invalid"),
        (stream("survey-rate"), key("9")),
        (stream("survey-invalid"), PLAYED),
        (stream("survey-rate"), PLAYED),
        (WAIT, key("5")),
        (stream("survey-thanks"), PLAYED),
        HANGUP,
    ]
    assert await converse(server.port, script) == commands(script)
    assert [summary(r) for r in await ratings(sessions)] == [("L-invalid", "agi", "completed", 5.0)]
    assert await answers(sessions) == [("agi", 0, "rating", "5", 5.0, 2)]


async def test_silence_is_no_input_after_two_retries(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    script: Script = [
        *opening("L-silent"),
        *[(stream("survey-rate"), PLAYED), (WAIT, SILENCE)] * 3,
        (stream("survey-thanks"), PLAYED),
        HANGUP,
    ]
    assert await converse(server.port, script) == commands(script)
    assert [summary(r) for r in await ratings(sessions)] == [("L-silent", "agi", "no_input", None)]
    assert await answers(sessions) == [("agi", 0, "rating", None, None, 3)]


async def test_three_questions_in_russian_with_barge_in_and_two_key_nps(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], csat3: None
) -> None:
    """lang=ru sets the channel's language (STREAM FILE plays in it); a key during 'accepted' answers the
    next question at once, so its prompt is never played; NPS 10 is '1' during the prompt, '0' after it."""
    script: Script = [
        *opening("L-csat3"),
        ("SET VARIABLE CHANNEL(language) ru", "200 result=1"),
        (stream("survey-rate"), key("5")),
        (stream("survey-accepted"), key("1")),
        (stream("survey-accepted"), PLAYED),
        (stream("survey-nps"), key("1")),
        (WAIT, key("0")),
        (stream("survey-thanks"), PLAYED),
        HANGUP,
    ]
    received = await converse(
        server.port, script, agi_script="survey?operator=7002&survey=csat3&lang=ru", callerid="unknown"
    )
    assert received == commands(script)
    [rating] = await ratings(sessions)
    assert (*summary(rating), rating["survey"], rating["language"], rating["caller"]) == (
        "L-csat3",
        "agi",
        "completed",
        5.0,
        "csat3",
        "ru",
        None,
    )
    assert await answers(sessions) == [
        ("agi", 0, "rating", "5", 5.0, 1),
        ("agi", 1, "solved", "1", 1.0, 1),
        ("agi", 2, "nps", "10", 10.0, 1),
    ]


async def test_caller_hangs_up_mid_survey_answers_kept(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], csat3: None
) -> None:
    """STREAM FILE ends -1 and Asterisk sends HANGUP; the next command is refused (511): abandoned, the
    rating already given stays stored, and nothing more is asked of the dead channel."""
    script: Script = [
        *opening("L-gone"),
        (stream("survey-rate"), key("5")),
        (stream("survey-accepted"), PLAYED),
        (stream("survey-solved"), "200 result=-1 endpos=1200\nHANGUP"),
        (WAIT, DEAD),
    ]
    assert await converse(server.port, script, agi_script="survey?operator=7001&survey=csat3") == commands(script)
    assert [summary(r) for r in await ratings(sessions)] == [("L-gone", "agi", "abandoned", 5.0)]
    assert await answers(sessions) == [("agi", 0, "rating", "5", 5.0, 1)]


async def test_pbx_vanishes_mid_survey_costs_one_line(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], csat3: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr_survey.agi")
    script: Script = [
        *opening("L-vanish"),
        (stream("survey-rate"), key("5")),
        (stream("survey-accepted"), PLAYED),
        (stream("survey-solved"), None),
    ]
    assert await converse(server.port, script, agi_script="survey?survey=csat3") == commands(script, end="")
    await wait_idle(server)
    assert [summary(r) for r in await ratings(sessions)] == [("L-vanish", "agi", "abandoned", 5.0)]
    assert await answers(sessions) == [("agi", 0, "rating", "5", 5.0, 1)]
    agi_records = [r for r in caplog.records if r.name.startswith("ivr_survey.agi")]
    assert [(r.levelname, r.exc_info) for r in agi_records] == [("INFO", None)]
    assert agi_records[0].getMessage().startswith("call L-vanish: AGI connection lost")


@pytest.mark.parametrize(
    "refusal",
    [
        "510 Invalid or unknown command",
        "520-Invalid command syntax.  Proper usage follows:\n"
        " Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n520 End of proper usage.",
    ],
)
async def test_refused_command_fails_the_survey_and_hangs_up(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], refusal: str
) -> None:
    script: Script = [*opening("L-refused"), (stream("survey-rate"), refusal), HANGUP]
    assert await converse(server.port, script) == commands(script)
    assert [summary(r) for r in await ratings(sessions)] == [("L-refused", "agi", "failed", None)]


async def test_missing_sound_file_does_not_trap_the_caller(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Asterisk answers result=-1 endpos=0 for a file it cannot open: keys still count, the survey ends."""
    script: Script = [
        *opening("L-nosound"),
        (stream("survey-rate"), "200 result=-1 endpos=0"),
        (WAIT, key("3")),
        (stream("survey-thanks"), PLAYED),
        HANGUP,
    ]
    assert await converse(server.port, script) == commands(script)
    assert [summary(r) for r in await ratings(sessions)] == [("L-nosound", "agi", "completed", 3.0)]


@pytest.mark.parametrize(
    "script",
    [
        [("GET VARIABLE CHANNEL(linkedid)", "HANGUP\n" + DEAD)],  # nothing more is asked of a dead channel
        [("GET VARIABLE CHANNEL(linkedid)", "200 result=1 (L-early)"), ("ANSWER", "200 result=-1")],
    ],
)
async def test_gone_before_the_survey_began_stores_nothing(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], script: Script
) -> None:
    assert await converse(server.port, script) == commands(script)
    assert await ratings(sessions) == []


async def test_a_script_that_is_not_ours_is_closed_at_once(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert await converse(server.port, [], agi_script="billing?x=1") == ["<EOF>"]
    assert await ratings(sessions) == []


# -- robustness -----------------------------------------------------------------------------------


async def wait_idle(server: AgiServer) -> None:
    async with asyncio.timeout(5):
        while server.connections:
            await asyncio.sleep(0.01)


async def misbehave(port: int, kind: str) -> bytes:
    """A peer that is not Asterisk; what the server sent back before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if kind == "garbage":
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: survey-host\r\n\r\n")
        elif kind == "binary":
            writer.write(bytes(range(256)) * 4)
        elif kind == "stall":
            writer.write(headers("survey?operator=7001", "1700000000.99")[:60])  # and then nothing
        else:  # bare: connect and close, as a TCP health probe does
            return b""
        return await asyncio.wait_for(reader.read(), 5)
    except ConnectionResetError:  # closed while some of what it sent was still unread
        return b""
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("kind", "level", "message"),
    [
        ("bare", "DEBUG", "closed before a word (a health probe?)"),
        ("garbage", "WARNING", "not an AGI header: 'GET /healthz HTTP/1.1'; closed"),
        ("binary", "WARNING", "not an AGI header: "),
        ("stall", "WARNING", f"no complete headers within {HEADER_TIMEOUT:g} s; closed"),
    ],
)
async def test_bad_connection_costs_one_line_and_never_touches_a_call(
    server: AgiServer,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    level: str,
    message: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ivr_survey.agi")
    started = time.monotonic()
    bad = asyncio.create_task(misbehave(server.port, kind))
    await asyncio.sleep(0.05)  # the bad connection is in first
    assert await converse(server.port, RATED_4) == commands(RATED_4)
    if kind == "stall":
        assert not bad.done()  # the call went through while the stalled peer was still being waited for
    assert await bad == b""  # closed without a word sent to it
    await wait_idle(server)
    if kind == "stall":
        assert time.monotonic() - started >= HEADER_TIMEOUT

    assert [summary(r) for r in await ratings(sessions)] == [("1700000000.12", "agi", "completed", 4.0)]
    bad_records = [r for r in caplog.records if r.name == "ivr_survey.agi.server"]
    assert [(r.levelname, r.exc_info) for r in bad_records] == [(level, None)]
    assert message in bad_records[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_bare_connect_close_does_not_spin(server: AgiServer) -> None:
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
        await writer.wait_closed()
    await wait_idle(server)  # every connection's task has ended
    cpu = time.process_time()
    await asyncio.sleep(0.5)
    assert time.process_time() - cpu < 0.1  # a spinning loop would burn the whole half second


async def test_many_calls_at_once(server: AgiServer, sessions: async_sessionmaker[AsyncSession]) -> None:
    async def call(n: int) -> list[str]:
        script: Script = [
            *opening(f"L-{n:02d}"),
            (stream("survey-rate"), key(str(n % 5 + 1))),
            (stream("survey-thanks"), PLAYED),
            HANGUP,
        ]
        return await converse(
            server.port, script, uniqueid=f"1700000100.{n}", agi_script=f"survey?operator=70{n % 5:02d}"
        ) == commands(script)

    assert await asyncio.gather(*(call(n) for n in range(30))) == [True] * 30
    assert {r["call_id"]: (r["operator"], r["score"], r["status"]) for r in await ratings(sessions)} == {
        f"L-{n:02d}": (f"70{n % 5:02d}", float(n % 5 + 1), "completed") for n in range(30)
    }


# -- shutdown ---------------------------------------------------------------------------------------


async def step(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, command: str, reply: str | None) -> None:
    assert (await asyncio.wait_for(reader.readline(), 5)).decode() == command + "\n"
    if reply is not None:
        writer.write(reply.encode() + b"\n")


async def test_shutdown_lets_calls_finish_then_ends_the_rest(
    server: AgiServer, sessions: async_sessionmaker[AsyncSession], csat3: None
) -> None:
    """stop(): nothing new is accepted; a call answering within the grace completes; a call whose PBX stops
    answering is ended after the grace as failed, its answer kept, its connection closed."""
    port = server.port
    finishing = await asyncio.open_connection("127.0.0.1", port)
    finishing[1].write(headers("survey?operator=7001", "1700000200.2"))
    for command, reply in [*opening("L-finishing"), (stream("survey-rate"), PLAYED), (WAIT, None)]:
        await step(*finishing, command, reply)  # holds the reply to WAIT FOR DIGIT
    stuck = await asyncio.open_connection("127.0.0.1", port)
    stuck[1].write(headers("survey?operator=7002&survey=csat3", "1700000200.3"))
    for command, reply in [*opening("L-stuck"), (stream("survey-rate"), key("4")), (stream("survey-accepted"), None)]:
        await step(*stuck, command, reply)  # never answers STREAM FILE

    stopping = asyncio.create_task(server.stop(grace=0.5))
    await asyncio.sleep(0.05)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    finishing[1].write(key("5").encode() + b"\n")
    for command, reply in [(stream("survey-thanks"), PLAYED), HANGUP]:
        await step(*finishing, command, reply)
    assert await asyncio.wait_for(finishing[0].read(), 5) == b""
    assert not stopping.done()  # still waiting for the stuck call

    await asyncio.wait_for(stopping, 5)
    assert await asyncio.wait_for(stuck[0].read(), 1) == b""  # closed: the caller goes on in the dialplan
    for _, writer in (finishing, stuck):
        writer.close()
    assert not server.connections
    assert sorted(summary(r) for r in await ratings(sessions)) == [
        ("L-finishing", "agi", "completed", 5.0),
        ("L-stuck", "agi", "failed", 4.0),
    ]
    assert await answers(sessions) == [("agi", 0, "rating", "5", 5.0, 1), ("agi", 0, "rating", "4", 4.0, 1)]


# -- wiring ----------------------------------------------------------------------------------------


async def test_serve_listens_when_a_port_is_set_and_ratings_show_the_call(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        api_token="admin-token",
        agi_port=port,
        no_input_timeout=0.1,
        shutdown_grace=1.0,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        resp = await client.get("/healthz")
        assert (await resp.json())["agi"] == "listening"
        assert await converse(port, RATED_4) == commands(RATED_4)
        body = await get(client, "/ratings")
        assert [
            (i["call_id"], i["channel"], i["operator"], i["queue"], i["status"], i["score"]) for i in body["items"]
        ] == [("1700000000.12", "agi", "7001", "sales", "completed", 4.0)]
    with pytest.raises(OSError):  # the cleanup context closed the listener
        await asyncio.open_connection("127.0.0.1", port)
