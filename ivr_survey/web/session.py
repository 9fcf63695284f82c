"""The browser's session: a signed cookie (HttpOnly, SameSite=Strict) naming the API token the user signed in with
by its hash, never the token itself, so revoking the token ends the session. Forms that change data carry a
per-session CSRF value, checked against the cookie's."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Settings

log = logging.getLogger(__name__)

COOKIE = "ivr_session"
MAX_AGE = 12 * 3600  # a working shift; then the user signs in again
KEY_FILE = "session.key"


@dataclass(frozen=True, slots=True)
class WebSession:
    token_hash: str  # hash_token() of the API token signed in with
    csrf: str


class SessionCodec:
    def __init__(self, secret: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="ivr-survey-session")

    def new(self, token_hash: str) -> WebSession:
        return WebSession(token_hash=token_hash, csrf=secrets.token_urlsafe(24))

    def dump(self, session: WebSession) -> str:
        return self._signer.dumps({"h": session.token_hash, "c": session.csrf})

    def load(self, cookie: str | None) -> WebSession | None:
        """The session in a cookie, or None when it is absent, forged, expired or malformed."""
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("h"), str) or not isinstance(data.get("c"), str):
            return None
        return WebSession(token_hash=data["h"], csrf=data["c"])


def csrf_ok(session: WebSession | None, presented: str | None) -> bool:
    return session is not None and presented is not None and hmac.compare_digest(session.csrf, presented)


def session_secret(settings: Settings) -> str:
    """IVR_SURVEY_SESSION_SECRET, else the key kept in the data folder, made on first use (readable by the owner
    only)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = Path(settings.data_dir) / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another instance in the same folder made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key + "\n")
    log.info("made a session key in %s", path)
    return key
