"""The outbox's targets and policy from the settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..config import Settings
from .events import ALERT_WEBHOOK, TELEGRAM, WEBHOOK, Policy
from .listener import OutboxListener
from .sender import OutboxSender
from .targets import Target, Telegram, Webhook


def _now() -> datetime:
    return datetime.now(UTC)


def _secret(value: object) -> str | None:
    return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]


def targets_of(settings: Settings) -> list[Target]:
    found: list[Target] = []
    timeout = settings.webhook_timeout
    if settings.webhook_url is not None:
        found.append(Webhook(WEBHOOK, settings.webhook_url, _secret(settings.webhook_secret), timeout=timeout))
    if settings.alert_webhook_url is not None:
        secret = _secret(settings.alert_webhook_secret)
        found.append(Webhook(ALERT_WEBHOOK, settings.alert_webhook_url, secret, timeout=timeout))
    if settings.telegram_bot_token is not None and settings.telegram_chat_id is not None:
        language = settings.alert_language or ("ru" if settings.default_language == "ru" else "en")
        token = settings.telegram_bot_token.get_secret_value()
        found.append(
            Telegram(settings.telegram_api_url, token, settings.telegram_chat_id, language=language, timeout=timeout)
        )
    return found


def outbox_sender(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], *, on_dropped: Callable[[str], None]
) -> tuple[OutboxSender, OutboxListener] | None:
    """The sender and the store's listener; None when no target is configured (nothing is written then)."""
    targets = targets_of(settings)
    if not targets:
        return None
    names = [t.name for t in targets]
    policy = Policy(
        result_targets=tuple(n for n in names if n == WEBHOOK),
        alert_targets=tuple(n for n in names if n in (ALERT_WEBHOOK, TELEGRAM)),
        alert_max_score=settings.alert_max_score,
        link_base=settings.link_base,
        country=settings.default_country,
    )
    sender = OutboxSender(
        sessions,
        targets,
        clock=_now,
        max_age=settings.outbox_max_age,
        on_dropped=on_dropped,
    )
    return sender, OutboxListener(policy, sender.wake)
