"""The HTTP side: the aiohttp application with the ARI routes (``/ari/...``) and the fake's
own ``/_requests``, the middleware that authenticates and records every ARI request, and the
handlers (except ``POST /channels``, in :mod:`.originate`)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web

from . import events
from .bridges import Bridging
from .channels import Channel, Continue, Playback, read_variable
from .events import EventSocket
from .media import MediaPump
from .originate import Originator
from .rest import RECORD_KEY, RecordedRequest, error, json_response, no_content, request_body

__all__ = ["Routes"]

# DELETE /channels/{id}?reason=..: convert_reason_to_hangup_code() in resource_channels.c.
_HANGUP_REASONS: Final[Mapping[str, int]] = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}


class Routes(MediaPump, Originator, Bridging):
    """The aiohttp application and its handlers."""

    user: str
    password: str
    requests: list[RecordedRequest]

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/ari/events", self._h_events, allow_head=False)
        r.add_get("/ari/applications/{applicationName}", self._h_get_application, allow_head=False)
        r.add_get("/ari/channels", self._h_list_channels, allow_head=False)
        r.add_post("/ari/channels", self._h_originate)
        r.add_get("/ari/channels/{channelId}", self._h_get_channel, allow_head=False)
        r.add_delete("/ari/channels/{channelId}", self._h_hangup)
        r.add_post("/ari/channels/{channelId}/answer", self._h_answer)
        r.add_post("/ari/channels/{channelId}/continue", self._h_continue)
        r.add_post("/ari/channels/{channelId}/play", self._h_play)
        r.add_post("/ari/channels/{channelId}/play/{playbackId}", self._h_play)
        r.add_post("/ari/channels/{channelId}/snoop", self._h_snoop)
        r.add_post("/ari/channels/{channelId}/snoop/{snoopId}", self._h_snoop)
        r.add_post("/ari/bridges", self._h_create_bridge)
        r.add_post("/ari/bridges/{bridgeId}", self._h_create_bridge)
        r.add_get("/ari/bridges/{bridgeId}", self._h_get_bridge, allow_head=False)
        r.add_delete("/ari/bridges/{bridgeId}", self._h_destroy_bridge)
        r.add_post("/ari/bridges/{bridgeId}/addChannel", self._h_add_channel)
        r.add_post("/ari/bridges/{bridgeId}/removeChannel", self._h_remove_channel)
        r.add_get("/ari/channels/{channelId}/variable", self._h_get_variable, allow_head=False)
        r.add_post("/ari/channels/{channelId}/variable", self._h_set_variable)
        r.add_get("/ari/playbacks/{playbackId}", self._h_get_playback, allow_head=False)
        r.add_delete("/ari/playbacks/{playbackId}", self._h_stop_playback)
        # Not ARI: the recorded requests, for tests and the benchmark.
        r.add_get("/_requests", self._h_requests, allow_head=False)
        r.add_delete("/_requests", self._h_clear_requests)
        return app

    # -- authentication and recording --------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.user}:{self.password}"
        api_key = request.query.get("api_key")
        return api_key == f"{self.user}:{self.password}"

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not (request.path == "/ari" or request.path.startswith("/ari/")):
            return await handler(request)
        params: dict[str, str | list[str]] = {}
        for key in request.query:
            values = [v.split(":", 1)[0] + ":***" if key == "api_key" else v for v in request.query.getall(key)]
            params[key] = values[0] if len(values) == 1 else values
        body: Any = None
        parse_error = False
        if request.body_exists:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    parse_error = True
                    body = raw.decode("utf-8", "replace")
        record = RecordedRequest(request.method, request.path, params, body)
        self._keep(self.requests, record)
        request[RECORD_KEY] = record
        response: web.StreamResponse
        if not self._authorized(request):
            response = error(401, "Authentication required")
            response.headers["WWW-Authenticate"] = 'Basic realm="Asterisk REST Interface"'
        elif parse_error:
            response = error(400, "Error parsing request body")
        else:
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = error(404, "Resource not found")
            except web.HTTPMethodNotAllowed:
                response = error(405, "Invalid method")
        record.status = response.status
        return response

    def _control(self, channel_id: str) -> Channel | web.Response:
        """find_control(): 404 if the channel does not exist, 409 if not in Stasis."""
        channel = self._channels.get(channel_id)
        if channel is None or not channel.alive:
            return error(404, "Channel not found")
        if not channel.in_stasis:
            return error(409, "Channel not in Stasis application")
        return channel

    # -- the fake's own endpoints ------------------------------------------------------

    async def _h_requests(self, request: web.Request) -> web.Response:
        return json_response(200, [r.as_dict() for r in self.requests])

    async def _h_clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return no_content()

    # -- events websocket --------------------------------------------------------------

    async def _h_events(self, request: web.Request) -> web.StreamResponse:
        apps = [a for value in request.query.getall("app", []) for a in value.split(",") if a]
        if not apps:
            return error(400, "Missing params: app")
        ws = web.WebSocketResponse(protocols=("ari",), timeout=1.0)  # close handshake wait
        await ws.prepare(request)
        request[RECORD_KEY].status = ws.status
        sock = EventSocket(ws, request, apps)
        for app in apps:
            previous = self._apps.get(app)
            if previous is not None:
                # api-docs (events.json, ApplicationReplaced): the newer websocket wins,
                # the older one receives this event.
                previous.send(events.application_replaced(app, self.asterisk_id))
            self._apps[app] = sock
        self._sockets.add(sock)
        self.most_websockets = max(self.most_websockets, len(self._sockets))
        self._notify()
        writer = asyncio.get_running_loop().create_task(sock.run_writer())
        try:
            async for _msg in ws:
                pass  # nothing a client sends on the events socket matters here
        finally:
            self._unregister(sock)
            self._notify()
            sock.finish()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    # -- applications ------------------------------------------------------------------

    async def _h_get_application(self, request: web.Request) -> web.Response:
        # The app outlives its websocket while channels are in it (issue 15, fact 2): a caller stays in Stasis,
        # in silence, and is still listed. channel_ids: every channel the app is subscribed to (api-docs), so an
        # originated channel still ringing, and its Local ;2 half, are listed too.
        name = request.match_info["applicationName"]
        channel_ids = [c.id for c in self._channels.values() if c.alive and c.subscribed and c.app == name]
        if name not in self._apps and not channel_ids:
            return error(404, "Application not found")
        return json_response(
            200,
            {
                "name": name,
                "channel_ids": channel_ids,
                "bridge_ids": [],
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [],
                "events_disallowed": [],
            },
        )

    # -- channels ----------------------------------------------------------------------

    async def _h_list_channels(self, request: web.Request) -> web.Response:
        return json_response(200, [c.to_json() for c in self._channels.values() if c.alive])

    async def _h_get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channelId"])
        if channel is None or not channel.alive:
            return error(404, "Channel not found")
        return json_response(200, channel.to_json())

    async def _h_answer(self, request: web.Request) -> web.Response:
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        if channel.state != "Up":
            channel.state = "Up"
            self._send(channel, events.channel_event("ChannelStateChange", channel))
        # rated-4: 204 with no body.
        return no_content()

    async def _h_play(self, request: web.Request) -> web.Response:
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        if channel.state in ("Down", "Rsrved", "Ringing"):
            return error(412, "Channel in invalid state")
        medias = request.query.getall("media", [])
        medias = [m for value in medias for m in value.split(",") if m]
        if not medias:
            # stasis_app_control_play_uri() refuses an empty media list.
            return error(500, "Failed to queue media for playback")
        playback_id = request.match_info.get("playbackId") or request.query.get("playbackId") or str(uuid.uuid4())
        language = request.query.get("lang") or channel.language
        pb = Playback(id=playback_id, medias=medias, language=language, channel=channel)
        self._register_playback(pb)
        body = pb.to_json()  # "queued": the channel thread has not picked it up yet
        channel.commands.append(pb)
        self._schedule_pump(channel)
        response = json_response(201, body)
        response.headers["Location"] = f"/ari/playbacks/{playback_id}"
        return response

    async def _h_hangup(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channelId"])
        if channel is None or not channel.alive:
            # rated-4: a second DELETE 3 ms after the first answers 404 "Channel not found".
            return error(404, "Channel not found")
        reason = request.query.get("reason")
        reason_code = request.query.get("reason_code")
        if reason and reason_code:
            return error(400, "The reason and reason_code can't both be specified")
        cause = 16
        if reason_code:
            try:
                cause = int(reason_code)
            except ValueError:
                return error(400, "Invalid reason for hangup reason code provided")
        elif reason:
            if reason not in _HANGUP_REASONS:
                return error(400, "Invalid reason for hangup reason provided")
            cause = _HANGUP_REASONS[reason]
        if channel.local_half == 2 and channel.peer is not None:
            # Hanging up the far end's half of a Local pair: the app's side sees the far
            # end hang up (*extrapolated*).
            self._far_end_hangup(channel, cause)
        else:
            self._app_hangup(channel, cause)
        return no_content()

    async def _h_continue(self, request: web.Request) -> web.Response:
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        priority = request.query.get("priority")
        channel.commands.append(
            Continue(
                request.query.get("context"),
                request.query.get("extension"),
                int(priority) if priority and priority.isdigit() else None,
            )
        )
        self._schedule_pump(channel)
        return no_content()

    async def _h_get_variable(self, request: web.Request) -> web.Response:
        variable = request.query.get("variable", "")
        if not variable:
            return error(400, "Variable name is required")
        channel = self._channels.get(request.match_info["channelId"])
        if channel is None or not channel.alive:
            # ast_ari_channels_get_channel_var() has its own wording for a missing channel.
            return error(404, "Provided channel was not found")
        try:
            value = read_variable(channel, variable)
        except LookupError:
            return error(500, "Unable to read provided function")
        if value is None:
            return error(404, "Provided variable was not found")
        return json_response(200, {"value": value})

    async def _h_set_variable(self, request: web.Request) -> web.Response:
        variable = request.query.get("variable") or request_body(request).get("variable")
        if not variable:
            return error(400, "Variable name is required")
        channel = self._control(request.match_info["channelId"])
        if isinstance(channel, web.Response):
            return channel
        value = request.query.get("value", request_body(request).get("value", ""))
        channel.variables[str(variable)] = str(value)
        return no_content()

    # -- playbacks ---------------------------------------------------------------------

    async def _h_get_playback(self, request: web.Request) -> web.Response:
        pb = self._find_playback(request.match_info["playbackId"])
        if pb is None:
            return error(404, "Playback not found")
        return json_response(200, pb.to_json())

    async def _h_stop_playback(self, request: web.Request) -> web.Response:
        pb = self._find_playback(request.match_info["playbackId"])
        if pb is None:
            # README: DELETE /playbacks/{id} on a finished playback answers 404.
            return error(404, "Playback not found")
        self._stop_playback(pb)
        return no_content()
