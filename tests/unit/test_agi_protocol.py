"""The FastAGI line protocol: header block, dialplan arguments, argument quoting and replies."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from ivr_survey.agi.protocol import (
    MAX_HEADERS,
    AgiChannel,
    AgiError,
    AgiGone,
    Reply,
    quote,
    read_headers,
    script_args,
)


def reader_of(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_headers_until_the_empty_line() -> None:
    reader = reader_of(
        b"agi_network_script: survey?operator=7001\nagi_uniqueid: 1700000000.13\r\n"
        b"agi_callerid: unknown\nagi_rdnis:\n\nGET VARIABLE"
    )
    assert await read_headers(reader) == {
        "network_script": "survey?operator=7001",
        "uniqueid": "1700000000.13",
        "callerid": "unknown",
        "rdnis": "",
    }
    assert await reader.read() == b"GET VARIABLE"  # what follows the headers is left for the conversation


async def test_headers_none_on_a_bare_connect_close() -> None:
    assert await read_headers(reader_of(b"")) is None


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"GET / HTTP/1.1\r\n", AgiError, "not an AGI header: 'GET / HTTP/1.1'"),
        (b"\x16\x03\x01\x02\x00\x01\n", AgiError, "not an AGI header: '\\x16\\x03\\x01\\x02\\x00\\x01'"),
        (b"agi_uniqueid: 1\nagi_chan", AgiGone, "closed in the middle of the headers"),
        (b"agi_uniqueid: 1\n", AgiGone, "closed in the middle of the headers"),
        (b"".join(b"agi_x%d: y\n" % n for n in range(MAX_HEADERS + 1)), AgiError, f"more than {MAX_HEADERS} headers"),
        (b"agi_x: " + b"y" * 70_000 + b"\n", AgiError, "header line too long"),
    ],
)
async def test_headers_refused(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        await read_headers(reader_of(data))
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"network_script": "survey?operator=7001&queue=sales"}, ("survey", ["operator=7001", "queue=sales"])),
        ({"network_script": "/survey/?note=a%20b+c&&lang=ru"}, ("survey", ["note=a b c", "lang=ru"])),
        (
            {"network_script": "survey", "arg_1": "operator=7002", "arg_2": "queue=support", "arg_4": "lost"},
            ("survey", ["operator=7002", "queue=support"]),
        ),
        ({"network_script": "survey?queue=sales", "arg_1": "7001"}, ("survey", ["queue=sales", "7001"])),
        ({}, ("", [])),
    ],
)
def test_script_args(headers: dict[str, str], expected: tuple[str, list[str]]) -> None:
    assert script_args(headers) == expected


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("ru", "ru"),
        ("survey-rate", "survey-rate"),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("", '""'),
    ],
)
def test_quote(value: str, quoted: str) -> None:
    assert quote(value) == quoted


@pytest.mark.parametrize("value", ["ru\nHANGUP", "ru\r", "a\x00b"])
def test_quote_refuses_what_would_start_another_command(value: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        quote(value)


# -- commands and replies over a real socket pair -------------------------------------------------


class Peer:
    """Asterisk's end of the socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def answer(self, expected: str, reply: bytes) -> None:
        assert await self.reader.readline() == expected.encode() + b"\n"
        self.writer.write(reply)
        await self.writer.drain()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[AgiChannel, Peer]]:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    peer = Peer(*await asyncio.open_connection(sock=theirs))
    agi = AgiChannel(reader, writer, reply_timeout=0.2)
    yield agi, peer
    await agi.close()
    peer.writer.close()
    await peer.writer.wait_closed()


async def converse(agi: AgiChannel, peer: Peer, command: str, reply: bytes) -> Reply:
    sent = asyncio.create_task(agi.command(command))
    await peer.answer(command, reply)
    return await sent


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"200 result=1 (1700000000.12)\n", Reply(200, 1, "1700000000.12")),
        (b"200 result=1 (a (b) c)\n", Reply(200, 1, "a (b) c")),
        (b"200 result=0\n", Reply(200, 0, None)),
        (b"200 result=52 endpos=8000\r\n", Reply(200, 52, None)),
        (b"200 result=-1 endpos=0\n", Reply(200, -1, None)),
    ],
)
async def test_replies(pair: tuple[AgiChannel, Peer], reply: bytes, expected: Reply) -> None:
    agi, peer = pair
    assert await converse(agi, peer, "GET VARIABLE CHANNEL(linkedid)", reply) == expected
    assert (agi.hung_up, agi.gone) == (False, False)


async def test_hangup_line_before_the_reply_marks_the_caller_gone(pair: tuple[AgiChannel, Peer]) -> None:
    agi, peer = pair
    assert await converse(agi, peer, "WAIT FOR DIGIT 100", b"HANGUP\n200 result=53\n") == Reply(200, 53, None)
    assert agi.hung_up


async def test_dead_channel(pair: tuple[AgiChannel, Peer]) -> None:
    agi, peer = pair
    reply = b"511 Command Not Permitted on a dead channel or intercept routine\n"
    assert await converse(agi, peer, "ANSWER", reply) == Reply(511)
    assert (agi.hung_up, agi.gone) == (True, False)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"510 Invalid or unknown command\n", "510 Invalid or unknown command"),
        (
            b"520-Invalid command syntax.  Proper usage follows:\n Usage: WAIT FOR DIGIT <timeout>\n"
            b"520 End of proper usage.\n",
            "520 Invalid command syntax.  Proper usage follows:",
        ),
        (b"200 nonsense\n", "200 nonsense"),
        (b"SSH-2.0-OpenSSH\n", "not an AGI reply: 'SSH-2.0-OpenSSH'"),
    ],
)
async def test_refusals_raise_and_the_conversation_stays_in_step(
    pair: tuple[AgiChannel, Peer], reply: bytes, message: str
) -> None:
    agi, peer = pair
    with pytest.raises(AgiError) as raised:
        await converse(agi, peer, "WAIT FOR DIGIT", reply)
    assert str(raised.value) == message
    assert await converse(agi, peer, "ANSWER", b"200 result=0\n") == Reply(200, 0, None)


async def test_closed_connection_is_gone_for_good(pair: tuple[AgiChannel, Peer]) -> None:
    agi, peer = pair
    sent = asyncio.create_task(agi.command('STREAM FILE survey-rate "0123456789*#"'))
    assert await peer.reader.readline() == b'STREAM FILE survey-rate "0123456789*#"\n'
    peer.writer.close()
    with pytest.raises(AgiGone, match="connection closed"):
        await sent
    assert agi.gone
    with pytest.raises(AgiGone, match="already closed"):
        await agi.command("HANGUP")


async def test_silence_past_the_reply_timeout_is_gone(pair: tuple[AgiChannel, Peer]) -> None:
    agi, peer = pair
    with pytest.raises(AgiGone, match=r"no reply to 'WAIT FOR DIGIT 100' \(TimeoutError\)"):
        await agi.command("WAIT FOR DIGIT 100", takes=0.1)
    assert agi.gone
    assert await peer.reader.readline() == b"WAIT FOR DIGIT 100\n"
