"""The simulated PBX's recordings: its MixMonitor events reach the AMI collector as a real Asterisk's do, and the
API serves the generated file. (`ivr-survey demo` end to end: tests/integration/test_cli.py.)"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.ami.collector import AmiCollector
from ivr_survey.ami.tracker import CallTracker
from ivr_survey.config import Settings
from ivr_survey.db.models import Call
from ivr_survey.service.naming import OperatorNames
from ivr_survey.simulator.fake_ami import FakeAmiServer
from ivr_survey.simulator.recordings import write_recording
from tests.support.api_client import AUTH, admin_client


def _channel(name: str, uniqueid: str, linkedid: str, context: str, exten: str, number: str) -> dict[str, str]:
    return {
        "Channel": name,
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
        "Context": context,
        "Exten": exten,
        "CallerIDNum": number,
    }


async def test_a_recorded_call_is_stored_with_its_file_and_served(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    folder = (tmp_path / "recordings-demo").resolve()
    folder.mkdir()
    async with FakeAmiServer(user="survey", secret="secret") as ami:
        tracker = CallTracker(OperatorNames.from_settings(Settings(_env_file=None)))
        collector = AmiCollector(
            sessions, tracker, host="127.0.0.1", port=ami.port, user="survey", secret="secret", reconnect_timeout=0
        )
        await collector.start()
        try:
            async with asyncio.timeout(10):
                while not collector.connected:
                    await asyncio.sleep(0.01)
            caller = _channel("PJSIP/trunk-00000001", "1796000000.1", "1796000000.1", "incoming", "7001", "79991234567")
            agent = _channel("PJSIP/7001-00000002", "1796000000.2", "1796000000.1", "operators", "7001", "7001")
            dial = {
                **caller,
                "DestChannel": agent["Channel"],
                "DestUniqueid": agent["Uniqueid"],
                "DestLinkedid": agent["Linkedid"],
            }
            ami.emit("Newchannel", **caller)
            ami.emit("Newchannel", **agent)
            ami.emit("DialBegin", **dial)
            ami.emit("DialEnd", **dial, DialStatus="ANSWER")
            path = folder / "1796000000.1.wav"
            ami.mixmonitor(caller, path)
            write_recording(path, 2.5)
            ami.emit("Hangup", **agent, Cause="16")
            ami.emit("Hangup", **caller, Cause="16")
            async with asyncio.timeout(10):
                while collector.written < 1:
                    await asyncio.sleep(0.01)
            await collector.drain()
        finally:
            await collector.stop()
    async with sessions() as s:
        stored = (await s.execute(select(Call.disposition, Call.recording))).one()
    assert tuple(stored) == ("answered", str(path))
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 20_000)
    async with admin_client(database_url, tmp_path, recordings_dir=folder) as client:
        resp = await client.get("/calls/1796000000.1/recording", headers=AUTH)
        assert (resp.status, resp.headers["Content-Type"]) == (200, "audio/x-wav")
        assert await resp.read() == path.read_bytes()
        listed = await (await client.get("/calls/1796000000.1", headers=AUTH)).json()
        assert listed["recording"] == "/calls/1796000000.1/recording"
