"""The floor for bench/ari_load.py: the same survey as the service's default one, over the same ARI client, with
no database, no spool and no state machine (run by hand, not in CI).

Per call it does what the service asks Asterisk to do: read the linkedid, answer, play the question; on a key
stop the prompt, and either play the invalid-key prompt and the question again, or keep the answer in memory,
play the thanks and hang up once it has played. What the service spends beyond this is its own work.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ivr_survey.ari.client import AriClient

log = logging.getLogger(__name__)

QUESTION, INVALID, THANKS = "survey-rate", "survey-invalid", "survey-thanks"
VALID = frozenset("12345")


@dataclass
class _Call:
    channel_id: str
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    linkedid: str = ""
    played: int = 0
    playing: set[str] = field(default_factory=set)
    thanks: str | None = None
    task: asyncio.Task[None] | None = None


class BareSurvey:
    """One worker task per caller, fed by a queue in the order Asterisk sent the events (as the service does)."""

    def __init__(self, client: AriClient) -> None:
        self.client = client
        self.calls: dict[str, _Call] = {}
        self.answers: dict[str, str] = {}  # linkedid -> the key that answered

    def on_event(self, event: dict[str, Any]) -> None:
        channel_id = (event.get("channel") or {}).get("id")
        if channel_id is None:
            target = (event.get("playback") or {}).get("target_uri", "")
            channel_id = target.removeprefix("channel:") if target.startswith("channel:") else None
        if channel_id is None:
            return
        if event["type"] == "StasisStart":
            call = self.calls[channel_id] = _Call(channel_id)
            call.task = asyncio.create_task(self._run(call))
        call_ = self.calls.get(channel_id)
        if call_ is not None:
            call_.inbox.put_nowait(event)

    async def _play(self, call: _Call, sound: str) -> str:
        call.played += 1
        playback_id = f"{call.channel_id}-pb-{call.played}"
        call.playing.add(playback_id)
        await self.client.play(call.channel_id, playback_id, f"sound:{sound}", lang="en")
        return playback_id

    async def _run(self, call: _Call) -> None:
        try:
            while True:
                event = await call.inbox.get()
                kind = event["type"]
                if kind == "StasisStart":
                    call.linkedid = await self.client.get_variable(call.channel_id, "CHANNEL(linkedid)") or ""
                    await self.client.answer(call.channel_id)
                    await self._play(call, QUESTION)
                elif kind == "ChannelDtmfReceived" and call.thanks is None:
                    for playback_id in list(call.playing):
                        await self.client.stop_playback(playback_id)
                    call.playing.clear()
                    if event["digit"] in VALID:
                        self.answers[call.linkedid] = event["digit"]
                        call.thanks = await self._play(call, THANKS)
                    else:
                        await self._play(call, INVALID)
                        await self._play(call, QUESTION)
                elif kind == "PlaybackFinished":
                    call.playing.discard(event["playback"]["id"])
                    if event["playback"]["id"] == call.thanks:
                        await self.client.hangup(call.channel_id)
                elif kind in ("StasisEnd", "ChannelDestroyed"):
                    return
        except Exception:
            log.exception("bare survey: call %s failed", call.channel_id)
        finally:
            self.calls.pop(call.channel_id, None)

    async def run(self, stop: asyncio.Event) -> None:
        await self.client.listen(self.on_event, stop=stop)
