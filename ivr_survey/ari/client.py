"""A thin asyncio client for the Asterisk REST Interface (ARI), on aiohttp.

Only what the survey needs: answer, play/stop a prompt, hang up, continue in the dialplan,
read a channel variable or an application, originate, and the events websocket with reconnection.

Behaviour taken from a real Asterisk 22 (see ``../shared/asterisk-ari/traces``):

* ``DELETE /playbacks/{id}`` answers 404 once the playback has finished, and
  ``DELETE /channels/{id}`` answers 404 once the channel is gone (the caller hung up
  first, or a second hangup raced the first one: ``rated-4.jsonl`` shows 204 then 404 for
  two DELETEs 3 ms apart). Both are normal and are not raised.
* Errors come back as ``{"message": "..."}``; a failed originate (``Bogus/123`` in
  ``originate-outcomes.jsonl``) came back as a 500 whose JSON body is a *string* holding
  ``{"error":"Allocation failed"}``. :class:`AriError` digs the text out of either.
* Credentials travel in an ``Authorization: Basic`` header built with
  :func:`aiohttp.encode_basic_auth` (aiohttp 3.14 deprecates ``BasicAuth``/``auth=``),
  never in a URL, so no URL, log line or exception text carries the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from ivr_survey.backoff import Backoff

__all__ = ["AriClient", "AriError", "AriUnavailable", "ConnectedCallback", "EventCallback"]

log = logging.getLogger(__name__)

EventCallback = Callable[[dict[str, Any]], Awaitable[None] | None]
ConnectedCallback = Callable[[], Awaitable[None] | None]

# Playback media schemes Asterisk understands (res_stasis_playback.c); anything without a
# scheme is taken as a sound name.
_MEDIA_SCHEMES: Final = ("sound:", "recording:", "number:", "digits:", "characters:", "tone:")


class AriError(Exception):
    """A non-2xx answer from ARI (other than the 404s that are normal).

    ``status`` is the HTTP status (0 for :class:`AriUnavailable`), ``message`` Asterisk's
    ``message`` (or ``error``) text. ``str()`` never contains credentials.
    """

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f" {method} {path}" if method else ""
        super().__init__(f"ARI{where} -> {status or 'unavailable'}: {message}")


class AriUnavailable(AriError):
    """Asterisk could not be reached: connection refused/reset or timeout (status 0)."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(0, message, method=method, path=path)


class _NotFound:
    """Marker for a tolerated 404."""


_NOT_FOUND: Final = _NotFound()


def _error_text(body: bytes, reason: str | None) -> str:
    """Asterisk's error text from a response body (dict, JSON-encoded string, or text)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return reason or ""
    data: Any = text
    # Up to two rounds of decoding: the failed originate's body is a JSON string whose
    # content is itself a JSON object (originate-outcomes.jsonl).
    for _ in range(2):
        if not isinstance(data, str):
            break
        try:
            data = json.loads(data)
        except ValueError:
            break
    if isinstance(data, dict):
        for key in ("message", "error"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
        return json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        return data
    return text


def _redact(text: str, secret: str) -> str:
    # Defence in depth: nothing we build contains the password, but a server or proxy
    # might echo it. (Passwords shorter than 4 characters would mangle ordinary words.)
    return text.replace(secret, "***") if len(secret) >= 4 else text


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if inspect.isawaitable(value):
        await value


class AriClient:
    """Async ARI client owning one :class:`aiohttp.ClientSession`.

    Use ``await client.start()`` / ``await client.close()`` or ``async with AriClient(...)``.

    ``base_url`` is Asterisk's HTTP server, e.g. ``http://127.0.0.1:8088``; REST resources
    live under ``{base_url}/ari``. ``request_timeout`` bounds every REST call and the
    websocket handshake. Reconnection of :meth:`listen` uses ``backoff`` (default
    ``Backoff(0.5, 30.0)``); the backoff restarts from its initial delay after a
    connection that stayed up ``stable_after`` seconds. ``heartbeat`` is the websocket
    ping interval (a missing pong within ``heartbeat / 2`` drops the connection).
    """

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        request_timeout: float = 5.0,
        backoff: Backoff | None = None,
        heartbeat: float = 10.0,
        stable_after: float = 5.0,
    ) -> None:
        base = URL(base_url)
        if not base.is_absolute() or base.scheme not in ("http", "https", "ws", "wss"):
            raise ValueError("base_url must be an absolute http:// or https:// URL")
        # Credentials are passed separately; never keep any embedded in the URL.
        base = base.with_user(None).with_query(None).with_fragment(None)
        http_scheme = {"ws": "http", "wss": "https"}.get(base.scheme, base.scheme)
        ws_scheme = "wss" if http_scheme == "https" else "ws"
        root = str(base.with_scheme(http_scheme)).rstrip("/")
        self.app = app
        self.user = user
        self._password = password
        self._authorization = aiohttp.encode_basic_auth(user, password)
        self._rest_root = f"{root}/ari"
        ws_root = str(base.with_scheme(ws_scheme)).rstrip("/")
        self.events_url = f"{ws_root}/ari/events?" + urlencode({"app": app, "subscribeAll": "false"})
        self.request_timeout = request_timeout
        self.heartbeat = heartbeat
        self.stable_after = stable_after
        self._backoff = backoff if backoff is not None else Backoff(initial=0.5, cap=30.0)
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``{base_url}/ari`` without credentials (safe to log)."""
        return self._rest_root

    async def start(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        self._session = aiohttp.ClientSession(
            headers={"Authorization": self._authorization},
            # No total timeout on the session: it would also cut the long-lived events
            # websocket. REST calls get a per-request total timeout instead.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout),
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise RuntimeError("AriClient is not started; call `await client.start()` first")
        return self._session

    # -- REST ------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        tolerate_404: bool = False,
    ) -> Any:
        session = self._require_session()
        url = URL(self._rest_root + path, encoded=True)
        try:
            async with session.request(
                method,
                url,
                params=params,
                json=body,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            ) as resp:
                raw = await resp.read()
                status = resp.status
                reason = resp.reason
        except TimeoutError:
            raise AriUnavailable(f"no answer within {self.request_timeout:g}s", method=method, path=path) from None
        except (aiohttp.ClientError, OSError) as exc:  # refused, reset, garbled answer...
            text = _redact(str(exc) or type(exc).__name__, self._password)
            raise AriUnavailable(text, method=method, path=path) from None

        if 200 <= status < 300:
            if not raw.strip():
                return None
            try:
                return json.loads(raw)
            except ValueError:
                return raw.decode("utf-8", "replace")
        if status == 404 and tolerate_404:
            return _NOT_FOUND
        message = _redact(_error_text(raw, reason), self._password)
        raise AriError(status, message, method=method, path=path)

    @staticmethod
    def _seg(value: str) -> str:
        return quote(value, safe="")

    async def answer(self, channel_id: str) -> None:
        """``POST /channels/{id}/answer``."""
        await self._request("POST", f"/channels/{self._seg(channel_id)}/answer")

    async def play(
        self,
        channel_id: str,
        playback_id: str | None,
        media: str,
        *,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """``POST /channels/{id}/play/{playbackId}?media=sound:x[&lang=..]``.

        ``media`` is a media URI (``sound:survey-rate``); a bare name gets ``sound:``.
        With ``playback_id=None`` Asterisk picks a UUID (``POST /channels/{id}/play``).
        Returns the Playback JSON (its ``state`` is usually ``queued``, sometimes already
        ``playing``: both occur in the traces).
        """
        if not media.startswith(_MEDIA_SCHEMES):
            media = f"sound:{media}"
        params = {"media": media}
        if lang:
            params["lang"] = lang
        path = f"/channels/{self._seg(channel_id)}/play"
        if playback_id is not None:
            path += f"/{self._seg(playback_id)}"
        result = await self._request("POST", path, params=params)
        return result if isinstance(result, dict) else {}

    async def stop_playback(self, playback_id: str) -> None:
        """``DELETE /playbacks/{id}``; 404 (already finished) is normal."""
        await self._request("DELETE", f"/playbacks/{self._seg(playback_id)}", tolerate_404=True)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """``DELETE /channels/{id}``; 404 (already gone) is normal.

        ``reason`` is one of ARI's hangup reasons; ``normal`` is Asterisk's default and is
        not sent (the request then looks exactly like the ones in the traces).
        """
        params = None if reason == "normal" else {"reason": reason}
        await self._request("DELETE", f"/channels/{self._seg(channel_id)}", params=params, tolerate_404=True)

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        """``POST /channels/{id}/continue``; 404 (already gone) is normal."""
        params: dict[str, str] = {}
        if context is not None:
            params["context"] = context
        if extension is not None:
            params["extension"] = extension
        if priority is not None:
            params["priority"] = str(priority)
        await self._request(
            "POST", f"/channels/{self._seg(channel_id)}/continue", params=params or None, tolerate_404=True
        )

    async def get_variable(self, channel_id: str, variable: str) -> str | None:
        """``GET /channels/{id}/variable?variable=..``; None when the channel or the
        variable does not exist (Asterisk answers 404 for both)."""
        result = await self._request(
            "GET",
            f"/channels/{self._seg(channel_id)}/variable",
            params={"variable": variable},
            tolerate_404=True,
        )
        if result is _NOT_FOUND or not isinstance(result, dict):
            return None
        value = result.get("value")
        return value if isinstance(value, str) else None

    async def get_channel(self, channel_id: str) -> dict[str, Any] | None:
        """``GET /channels/{id}``: the channel, or None once it is gone (404)."""
        result = await self._request("GET", f"/channels/{self._seg(channel_id)}", tolerate_404=True)
        return result if isinstance(result, dict) else None

    async def get_application(self, app: str) -> dict[str, Any] | None:
        """``GET /applications/{app}``: the Application (its ``channel_ids`` are the channels the app is
        subscribed to, callers left in Stasis by a crashed instance included), or None if Asterisk knows no
        such app (404)."""
        result = await self._request("GET", f"/applications/{self._seg(app)}", tolerate_404=True)
        return result if isinstance(result, dict) else None

    async def originate(
        self,
        *,
        endpoint: str,
        app_args: str,
        caller_id: str | None = None,
        timeout: int = 30,  # noqa: ASYNC109 -- ARI's dial timeout, not an asyncio one
        variables: dict[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
    ) -> dict[str, Any]:
        """``POST /channels`` with a JSON body (as in ``originate-outcomes.jsonl``).

        Returns the new channel (state ``Down``). Its fate arrives as events:
        ``StasisStart`` when answered, else ``ChannelDestroyed`` with ``cause`` 17 (busy),
        19 (no answer) or 34 (congestion). An unknown technology fails with
        ``AriError(500, "Allocation failed")``.
        """
        body: dict[str, Any] = {"endpoint": endpoint, "app": self.app, "appArgs": app_args}
        if caller_id is not None:
            body["callerId"] = caller_id
        body["timeout"] = timeout
        if variables:
            body["variables"] = dict(variables)
        if channel_id is not None:
            body["channelId"] = channel_id
        if other_channel_id is not None:
            body["otherChannelId"] = other_channel_id
        result = await self._request("POST", "/channels", body=body)
        return result if isinstance(result, dict) else {}

    async def snoop(
        self, channel_id: str, *, snoop_id: str, spy: str, whisper: str, app_args: str
    ) -> dict[str, Any] | None:
        """``POST /channels/{id}/snoop`` (api-docs channels.json): a Snoop channel on ``channel_id`` that enters
        our app; None when the channel is gone (404)."""
        params = {"spy": spy, "whisper": whisper, "app": self.app, "appArgs": app_args, "snoopId": snoop_id}
        result = await self._request(
            "POST", f"/channels/{self._seg(channel_id)}/snoop", params=params, tolerate_404=True
        )
        return result if isinstance(result, dict) else None

    async def create_bridge(self, bridge_id: str, *, kind: str = "mixing", name: str | None = None) -> None:
        """``POST /bridges`` with our id (api-docs bridges.json)."""
        params = {"type": kind, "bridgeId": bridge_id, **({"name": name} if name else {})}
        await self._request("POST", "/bridges", params=params)

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        """``POST /bridges/{id}/addChannel``; the channel must be in our app (else 422)."""
        await self._request("POST", f"/bridges/{self._seg(bridge_id)}/addChannel", params={"channel": channel_id})

    async def destroy_bridge(self, bridge_id: str) -> None:
        """``DELETE /bridges/{id}``; 404 (already gone) is normal."""
        await self._request("DELETE", f"/bridges/{self._seg(bridge_id)}", tolerate_404=True)

    # -- events websocket ------------------------------------------------------------

    async def listen(
        self,
        on_event: EventCallback,
        *,
        on_connected: ConnectedCallback | None = None,
        on_disconnected: ConnectedCallback | None = None,
        on_replaced: ConnectedCallback | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Receive events until ``stop`` is set (or the task is cancelled).

        Connects ``GET /ari/events?app=..&subscribeAll=false`` and calls ``on_event`` with
        every event (parsed JSON object), in order, awaiting it if it returns an awaitable;
        ``on_connected`` is called after each successful (re)connection, before the first
        event of that connection, and ``on_disconnected`` once it is lost (or closed).
        Exceptions raised by the callbacks are logged and do not stop the stream. Non-JSON
        frames are logged and skipped.

        When Asterisk is down, refuses, answers 401 or drops the socket, reconnects after a
        backoff delay (capped exponential with full jitter), logging one warning per outage
        and one info line when back.

        ``ApplicationReplaced`` (another websocket took the app: a second instance with the same
        app name) ends it for good: one ERROR, ``on_disconnected`` then ``on_replaced``, and no
        reconnection, which would take the app back from the other instance mid-call.
        """
        self._require_session()
        stop_event = stop if stop is not None else asyncio.Event()
        backoff = self._backoff
        loop = asyncio.get_running_loop()
        outage_since: float | None = None  # monotonic time of the warning, None when up
        first = True

        while not stop_event.is_set():
            try:
                ws = await self._ws_connect()
            except _HandshakeFailed as exc:
                outage_since = self._report_outage(outage_since, exc.reason)
                if await self._sleep_or_stop(stop_event, backoff.next_delay()):
                    return
                continue

            connected_at = loop.time()
            if outage_since is not None:
                log.info("ARI reachable again at %s (after %.1fs)", self.events_url, time.monotonic() - outage_since)
                outage_since = None
            elif first:
                log.info("ARI events connected at %s", self.events_url)
            first = False

            try:
                if on_connected is not None:
                    try:
                        await _maybe_await(on_connected())
                    except Exception:
                        log.exception("ARI on_connected callback failed")
                reason = await self._receive_all(ws, on_event, stop_event)
            finally:
                await ws.close()
                if on_disconnected is not None:
                    try:
                        await _maybe_await(on_disconnected())
                    except Exception:
                        log.exception("ARI on_disconnected callback failed")

            if reason is None:
                log.error(
                    "another websocket took the ARI app %r (a second instance with the same app name?);"
                    " this instance takes no more ARI calls until restarted",
                    self.app,
                )
                if on_replaced is not None:
                    try:
                        await _maybe_await(on_replaced())
                    except Exception:
                        log.exception("ARI on_replaced callback failed")
                return
            if stop_event.is_set():
                return
            if loop.time() - connected_at >= self.stable_after:
                backoff.reset()
            outage_since = self._report_outage(outage_since, reason)
            if await self._sleep_or_stop(stop_event, backoff.next_delay()):
                return

    def _report_outage(self, outage_since: float | None, reason: str) -> float:
        reason = _redact(reason, self._password)
        if outage_since is None:
            log.warning("ARI unreachable at %s: %s; retrying", self.events_url, reason)
            return time.monotonic()
        log.debug("ARI still unreachable at %s: %s", self.events_url, reason)
        return outage_since

    @staticmethod
    async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> bool:
        """Wait ``delay`` seconds; True if ``stop`` got set meanwhile."""
        if stop.is_set():
            return True
        try:
            async with asyncio.timeout(delay):
                await stop.wait()
        except TimeoutError:
            return False
        return True

    async def _ws_connect(self) -> aiohttp.ClientWebSocketResponse:
        session = self._require_session()
        try:
            async with asyncio.timeout(self.request_timeout):
                return await session.ws_connect(
                    self.events_url,
                    heartbeat=self.heartbeat,
                    autoping=True,
                    # bounded wait for the server's answer to our close frame on stop
                    timeout=aiohttp.ClientWSTimeout(ws_close=min(self.request_timeout, 1.0)),
                )
        except aiohttp.WSServerHandshakeError as exc:
            hint = " (check the ARI user and password)" if exc.status == 401 else ""
            raise _HandshakeFailed(f"HTTP {exc.status} {exc.message}{hint}") from None
        except TimeoutError:
            raise _HandshakeFailed(f"no answer within {self.request_timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _HandshakeFailed(str(exc) or type(exc).__name__) from None

    async def _receive_all(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        on_event: EventCallback,
        stop: asyncio.Event,
    ) -> str | None:
        """Dispatch frames until the socket closes; returns why it closed, None once the app was replaced."""

        async def close_on_stop() -> None:
            await stop.wait()
            await ws.close()

        watcher = asyncio.create_task(close_on_stop())
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    if await self._dispatch(msg.data, on_event):
                        return None
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    break
                else:
                    log.debug("ARI: ignoring websocket frame of type %s", msg.type.name)
        finally:
            try:
                if stop.is_set() and not watcher.done():
                    # let the watcher's polite close finish (bounded by ws_close)
                    await asyncio.shield(watcher)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        exc = ws.exception()
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return "no heartbeat answer, connection presumed dead"
        if exc is not None:
            return f"connection lost ({type(exc).__name__}: {exc})"
        return f"connection closed (code {ws.close_code})"

    @staticmethod
    async def _dispatch(data: str, on_event: EventCallback) -> bool:
        """Hand one frame to ``on_event``; True (not handed on) if it says the app was replaced."""
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("ARI: skipping a non-JSON websocket frame: %.200r", data)
            return False
        if not isinstance(event, dict):
            log.warning("ARI: skipping a websocket frame that is not a JSON object: %.200r", data)
            return False
        if event.get("type") == "ApplicationReplaced":
            return True
        try:
            await _maybe_await(on_event(event))
        except Exception:
            log.exception("ARI event handler failed on %s", event.get("type"))
        return False

    def __repr__(self) -> str:
        return f"AriClient({self._rest_root!r}, user={self.user!r}, app={self.app!r})"


class _HandshakeFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
