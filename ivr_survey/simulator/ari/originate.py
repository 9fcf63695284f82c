"""Originating calls: ``POST /channels`` and what the far end then does, decided by an
:class:`OriginateScript` (per endpoint, or the trace's ``[customers]`` context by default)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from aiohttp import web

from . import events
from .channels import Channel
from .hangup import Hangups
from .rest import error, json_response, request_body

__all__ = ["KNOWN_TECHNOLOGIES", "OriginateScript", "Originator", "Outcome"]

Outcome = Literal["answer", "busy", "noanswer", "congestion", "fail"]

#: Endpoint technologies an originate can use by default; others fail with the trace's 500.
KNOWN_TECHNOLOGIES: Final = frozenset({"Local", "PJSIP", "SIP", "IAX2", "DAHDI"})


@dataclass(frozen=True)
class OriginateScript:
    """What the far end of an originated call does.

    ``ring``: call-time seconds of ringing before the far end answers/rejects.
    ``talk``: after answering, the far end hangs up after this long (None: it waits for the
    app to hang up). ``noanswer`` rings until the originate ``timeout`` expires.
    ``fail``: the channel cannot even be created (500, like ``Bogus/123``).
    """

    outcome: Outcome
    ring: float = 0.0
    talk: float | None = None


class Originator(Hangups):
    """``POST /channels`` and the far end's script."""

    known_technologies: frozenset[str]
    #: The most originated calls alive at once (a Local channel's two halves are one call).
    originated_peak: int
    _scripts: dict[str, OriginateScript]
    _linkedids: dict[str, str]
    _local_seq: itertools.count[int]

    def _script_for(self, endpoint: str) -> OriginateScript:
        script = self._scripts.get(endpoint)
        if script is not None:
            return script
        tech, _, device = endpoint.partition("/")
        if tech not in self.known_technologies:
            return OriginateScript("fail")
        if tech == "Local":
            exten = device.split("@", 1)[0]
            if exten in ("answer", "busy", "noanswer", "congestion"):
                return OriginateScript(cast(Outcome, exten))  # the [customers] context of the trace
        return OriginateScript("answer")

    async def _run_originate(
        self,
        a: Channel,
        b: Channel | None,
        script: OriginateScript,
        dialstring: str,
        app_args: list[str],
        dial_timeout: int,
    ) -> None:
        """The far end's script; event order copied from originate-outcomes.jsonl."""
        await asyncio.sleep(0)  # the 200 goes out before the first event, as in the trace
        if b is not None:
            self._send(b, events.caller_id(b))
            self._send(b, events.channel_event("ChannelConnectedLine", b))

        def dialplan(app_name: str, app_data: str, priority: int = 1) -> None:
            # the [customers] context: `exten => noanswer,1,Ringing()` / `same => n,Wait(60)`
            if b is not None:
                b.app_name, b.app_data, b.priority = app_name, app_data, priority
                self._send(b, events.dialplan(b))

        def state(channel: Channel | None, value: str) -> None:
            if channel is not None:
                channel.state = value
                self._send(channel, events.channel_event("ChannelStateChange", channel))

        # Local channels: the ;1 half reports cause 0 while the ;2 half carries the real
        # one (README); without a ;2 half the ;1 half carries it (*extrapolated*).
        outcome = script.outcome
        if outcome == "answer":
            self._send(a, events.dial(a, dialstring, ""))
            await self._sleep(script.ring)
            dialplan("Answer", "")
            state(b, "Up")
            state(a, "Up")
            self._send(a, events.dial(a, dialstring, "ANSWER"))
            a.app_name, a.app_data = "Stasis", ",".join([a.app or "", *app_args])
            if a.app not in self._apps:
                # Stasis() on an unregistered app fails and the call ends (*extrapolated*).
                self._send(a, events.varset(a, "STASISSTATUS", "FAILED"))
                self._teardown_originated(a, 16)
                return
            self._send(a, events.varset(a, "STASISSTATUS", ""))
            a.in_stasis = True
            self._send(a, events.stasis_start(a, app_args))
            if script.talk is not None:
                await self._sleep(script.talk)
                if a.alive:
                    self._far_end_hangup(a, 16)
        elif outcome == "busy":
            dialplan("Busy", "5")
            self._send(a, events.dial(a, dialstring, ""))
            await self._sleep(script.ring)
            self._send(a, events.dial(a, dialstring, "BUSY"))
            state(b, "Busy")
            if b is not None:
                self._send(b, events.hangup_request(b, 0))
                self._send(b, events.hangup_request(b, 16, soft=True))
                self._destroy(b, 17)
            self._destroy(a, 0 if b is not None else 17)
        elif outcome == "congestion":
            self._send(a, events.dial(a, dialstring, ""))
            await self._sleep(script.ring)
            dialplan("Congestion", "5")
            state(b, "Busy")
            self._send(a, events.dial(a, dialstring, "CONGESTION"))
            if b is not None:
                self._send(b, events.hangup_request(b, 0))
            self._destroy(a, 0 if b is not None else 34)
            if b is not None:
                self._send(b, events.hangup_request(b, 16, soft=True))
                self._destroy(b, 34)
        else:  # noanswer: rings until the originate's timeout (8 s in the trace)
            self._send(a, events.dial(a, dialstring, ""))
            dialplan("Ringing", "")
            state(a, "Ringing")
            self._send(a, events.dial(a, dialstring, "RINGING"))
            dialplan("Wait", "60", 2)
            if dial_timeout < 0:
                await asyncio.Event().wait()  # no timeout: until the app hangs up
            await self._sleep(float(dial_timeout))
            if b is not None:
                self._send(b, events.hangup_request(b, 19))
            self._destroy(a, 19)
            if b is not None:
                self._send(b, events.hangup_request(b, 16, soft=True))
                self._destroy(b, 19)

    async def _h_originate(self, request: web.Request) -> web.Response:
        # Query parameters and the JSON body both work; the body wins
        # (ast_ari_channels_originate_parse_body). The trace's dialer used a JSON body.
        args: dict[str, Any] = {k: v for k, v in request.query.items() if k != "api_key"}
        body = request_body(request)
        args.update({k: v for k, v in body.items() if k != "variables"})
        endpoint = str(args.get("endpoint") or "")
        if not endpoint:
            return error(400, "Endpoint must be specified")
        tech, _, device = endpoint.partition("/")
        if not tech or not device:
            return error(400, "Invalid endpoint specified")
        app = args.get("app")
        if not app and not args.get("extension"):
            return error(400, "Application or extension must be specified")
        channel_id = args.get("channelId")
        other_id = args.get("otherChannelId")
        for wanted in (channel_id, other_id):
            if wanted and wanted in self._channels:
                return error(409, "Channel with given unique ID already exists")
        script = self._script_for(endpoint)
        if script.outcome == "fail":
            # originate-outcomes.jsonl, Bogus/123: a 500 whose JSON body is a *string*
            # holding '{"error":"Allocation failed"}' -- reproduced as recorded.
            return json_response(500, json.dumps({"error": "Allocation failed"}, separators=(",", ":")))
        try:
            timeout = int(args.get("timeout", 30))
        except (TypeError, ValueError):
            timeout = 30
        if timeout == 0:
            timeout = 30
        caller = self._parse_caller_id(str(args.get("callerId") or ""))
        variables = body.get("variables")
        now = time.time()
        is_local = tech == "Local"
        exten, _, context = device.partition("@")
        if not is_local:
            exten, context = "s", "default"  # *extrapolated*
        suffix = f"{next(self._local_seq):08x}"
        a = Channel(
            id=str(channel_id) if channel_id else self._new_id(now),
            name=f"{endpoint}-{suffix};1" if is_local else f"{endpoint}-{suffix}",
            state="Down",
            caller=dict(caller),
            connected=dict(caller),
            accountcode="",
            context=context or "default",
            exten=exten or "s",
            priority=1,
            app_name="AppDial2",
            app_data="(Outgoing Line)",
            creationtime=events.timestamp(now),
            language="en",
            linkedid="",
            variables={str(k): str(v) for k, v in variables.items()} if isinstance(variables, dict) else {},
            app=str(app) if app else None,
            subscribed=bool(app),  # stasis_app_subscribe_channel() at originate time
            originated=True,
            local_half=1 if is_local else 0,
        )
        a.linkedid = a.id
        b: Channel | None = None
        if is_local:
            b = Channel(
                id=str(other_id) if other_id else self._new_id(now),
                name=f"{endpoint}-{suffix};2",
                state="Ring",
                caller=dict(caller),
                connected=dict(caller),
                accountcode="",
                context=a.context,
                exten=a.exten,
                priority=1,
                app_name="",
                app_data="",
                creationtime=events.timestamp(now),
                language="en",
                linkedid=a.id,
                app=a.app,
                subscribed=a.subscribed,  # "Subscribe to the Local channel peer also."
                originated=True,
                local_half=2,
            )
            a.peer = b
            b.peer = a
            self._channels[b.id] = b
            self._linkedids[b.id] = a.id
        self._channels[a.id] = a
        self._linkedids[a.id] = a.id
        calls = sum(1 for c in self._channels.values() if c.originated and c.alive and c.local_half != 2)
        self.originated_peak = max(self.originated_peak, calls)
        app_args_text = str(args.get("appArgs") or "")
        app_args = app_args_text.split(",") if app_args_text else []
        dialstring = device if is_local else endpoint
        a.origin_task = self._spawn(self._run_originate(a, b, script, dialstring, app_args, timeout))
        self._notify()
        return json_response(200, a.to_json())

    @staticmethod
    def _parse_caller_id(text: str) -> dict[str, str]:
        """``Company <74950000000>`` -> name Company, number 74950000000."""
        match = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
        if match:
            return {"name": match.group(1).strip(), "number": match.group(2).strip()}
        text = text.strip()
        if text.replace("+", "").isdigit():
            return {"name": "", "number": text}
        return {"name": text, "number": ""}
