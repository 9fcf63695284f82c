"""Where events go: a webhook (JSON, signed with an HMAC when a secret is set) and a Telegram chat. A target
sends one delivery and says how it went by raising DeliveryError: retryable (a timeout, a 5xx, 408 or 429) or
not (any other refusal, which a retry would only repeat)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Protocol

import aiohttp

from ..db.outbox import Delivery
from .messages import alert_text

USER_AGENT = "ivr-survey"
_RETRYABLE = {408, 425, 429}
_SHOWN = 200  # characters of a receiver's answer kept as the last error


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Target(Protocol):
    name: str

    async def send(self, http: aiohttp.ClientSession, delivery: Delivery) -> None: ...


def body_of(delivery: Delivery) -> bytes:
    return json.dumps({"event_id": delivery.event_id, **delivery.payload}, ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _refusal(status: int, text: str) -> DeliveryError:
    shown = " ".join(text.split())[:_SHOWN]
    retryable = status >= 500 or status in _RETRYABLE
    return DeliveryError(f"HTTP {status}" + (f": {shown}" if shown else ""), retryable=retryable)


async def _post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], seconds: float
) -> tuple[int, str]:
    try:
        async with http.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as response:
            return response.status, await response.text(errors="replace")
    except TimeoutError:
        raise DeliveryError(f"no answer within {seconds:g} s", retryable=True) from None
    except aiohttp.ClientError as exc:  # the message names host and port, never the path (Telegram's token)
        raise DeliveryError(f"{type(exc).__name__}: {_host_only(exc)}", retryable=True) from None


def _host_only(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    return type(exc).__name__


class Webhook:
    def __init__(self, name: str, url: str, secret: str | None, *, timeout: float) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._timeout = timeout

    async def send(self, http: aiohttp.ClientSession, delivery: Delivery) -> None:
        body = body_of(delivery)
        headers = {"X-Event-Id": delivery.event_id, "X-Event-Type": delivery.type}
        if self._secret:
            headers["X-Signature"] = signature(self._secret, body)
        status, text = await _post(http, self._url, body, headers, self._timeout)
        if not 200 <= status < 300:
            raise _refusal(status, text)


class Telegram:
    """The Bot API's sendMessage; its base URL is a setting, so tests (and a proxy) can stand in for it."""

    name = "telegram"

    def __init__(self, api_url: str, token: str, chat_id: str, *, language: str, timeout: float) -> None:
        self._url = f"{api_url}/bot{token}/sendMessage"
        self._chat_id = chat_id
        self._language = language
        self._timeout = timeout

    async def send(self, http: aiohttp.ClientSession, delivery: Delivery) -> None:
        text = alert_text(delivery.payload, self._language)
        body = json.dumps(
            {"chat_id": self._chat_id, "text": text, "disable_web_page_preview": True}, ensure_ascii=False
        ).encode()
        status, answer = await _post(http, self._url, body, {}, self._timeout)
        if 200 <= status < 300:
            return
        error = _refusal(status, _description(answer))
        if status == 429:  # the Bot API says how long to wait: {"parameters": {"retry_after": 5}}
            error.retry_after = _retry_after(answer)
        raise error


def _answer(text: str) -> dict[str, object]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _description(text: str) -> str:
    return str(_answer(text).get("description") or text)


def _retry_after(text: str) -> float | None:
    parameters = _answer(text).get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
