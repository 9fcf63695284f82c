"""Settings from IVR_SURVEY_* environment variables (and an optional .env file).

Built once by the CLI or the app factory, never at import, so tests can build their own.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .db.engine import postgresql_connection
from .service.phones import validate_country

ENV_PREFIX = "IVR_SURVEY_"

# Drivers we test against; a bare scheme is mapped to the async driver we ship.
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=3600)]

_BAD_PORT = "the port must be a number from 1 to 65535"
# A bootstrap admin token shorter than this is guessable; `openssl rand -hex 24` makes one of 48.
MIN_API_TOKEN_LENGTH = 16
# `ivr-survey demo` keeps its simulated calls (and their recordings) out of the database, spool and recordings
# a real `serve` in the same folder uses, and stops quickly; a setting given explicitly (environment or .env)
# still wins.
DEMO_DEFAULTS: dict[str, object] = {
    "database_url": "sqlite+aiosqlite:///./ivr_survey-demo.db",
    "spool_dir": Path("./spool-demo"),
    "recordings_dir": Path("./recordings-demo"),
    "shutdown_grace": 3.0,
    "live_listen": True,  # the simulated PBX's parties are no people: nobody's consent is needed
}


class ConfigError(Exception):
    """A one-line, secret-free description of a bad setting."""


def _check_port(port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(_BAD_PORT)


def http_url(value: str) -> str:
    """The check of every http(s) URL setting: a scheme, a host and a valid port; no trailing slash."""
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed IPv6 bracket
        raise ValueError("not a URL (expected e.g. http://127.0.0.1:8088)") from None
    if parts.scheme not in {"http", "https"}:
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("names no host (expected e.g. http://127.0.0.1:8088)")
    try:
        _check_port(parts.port)
    except ValueError:  # urlsplit's own refusal (not a number, above 65535) or port 0
        raise ValueError(_BAD_PORT) from None
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(http_url)]


def normalise_database_url(raw: str) -> str:
    """Accept the usual spellings and return a URL for one of our async drivers."""
    try:
        url: URL = make_url(raw)
        _check_port(url.port)
    except ArgumentError:
        raise ValueError("not a database URL (expected e.g. sqlite+aiosqlite:///./ivr_survey.db)") from None
    except ValueError:  # make_url's int() of a port that is not a number
        raise ValueError(_BAD_PORT) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(f"unsupported driver {url.drivername!r} (use sqlite+aiosqlite or postgresql+asyncpg)")
    url = url.set(drivername=driver)
    if driver.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            parent = Path(url.database).expanduser().resolve().parent
            if not parent.is_dir():
                raise ValueError(f"directory {parent} does not exist")
    elif not url.database:
        raise ValueError("PostgreSQL URL names no database")
    else:
        postgresql_connection(url)  # libpq's sslmode & co. must translate for asyncpg (the engine does the same)
    return url.render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./ivr_survey.db"
    http_host: str = "127.0.0.1"
    http_port: Port = 8080
    api_token: SecretStr | None = None
    # A bearer token that opens GET /metrics only (for Prometheus), beside any API token.
    metrics_token: SecretStr | None = None
    # Signs the web pages' session cookies; unset, one is generated and kept in data_dir/session.key (set it
    # when several instances serve the pages behind one address, so that each accepts the others' sessions).
    session_secret: SecretStr | None = None
    # Where the service keeps what it makes for itself (the generated session key).
    data_dir: Path = Path(".")

    ari_url: HttpUrl = "http://127.0.0.1:8088"
    ari_user: str = "ivr-survey"
    ari_password: SecretStr | None = None
    ari_app: str = "ivr-survey"

    # Survey timing; a survey definition says what is asked, these say how patiently.
    no_input_timeout: Seconds = 5.0
    inter_digit_timeout: Seconds = 3.0
    max_retries: Annotated[int, Field(ge=0, le=5)] = 2
    default_language: str = "en"
    default_survey: str = "default"

    # AMI call history: collected when ami_host is set.
    ami_host: str | None = None
    ami_port: Port = 5038
    ami_user: str = "ivr-survey"
    ami_secret: SecretStr | None = None
    # Direction of a call, from the dialplan context its first channel starts in (comma-separated names).
    inbound_contexts: str = "incoming,incoming-queue,from-external,from-trunk,from-pstn"
    outbound_contexts: str = "outbound,customers,from-internal-outbound"
    # How an operator is named everywhere (call history, ratings, CQR): the first group of this pattern
    # applied to a channel name, e.g. 7001 for PJSIP/7001-00000012 or Local/7001@operators-00000003;1.
    operator_pattern: str = r"^(?:PJSIP|SIP|IAX2|Local)/([^-@/;]+)"
    # cdr_manager and cdr_csv write the PBX's local time: its time zone.
    pbx_timezone: str = "UTC"
    # MixMonitor files are served from here (GET /calls/{id}/recording); nothing outside it.
    recordings_dir: Path | None = None
    # An operator may dispute an evaluation of their call within this many days of it (or of its last revision).
    dispute_days: Annotated[int, Field(ge=0, le=365)] = 7
    # Supervisors may listen to live calls (POST /calls/{id}/listen: listen, whisper, barge), over ARI, with
    # the AMI history naming the calls. Off by default: the law of some countries requires notice to the parties.
    live_listen: bool = False

    # FastAGI entry for PBXs without ARI: off unless a port is given (4573 is the usual one).
    agi_host: str = "127.0.0.1"
    agi_port: Port | None = None

    # Campaigns: contacts' and do-not-call numbers become E.164 in this country (ISO 3166 alpha-2, e.g. RU);
    # unset, a number without + is kept as its digits.
    default_country: str | None = None

    # Share of each operator's calls that the review queue proposes to supervisors.
    review_share: Annotated[float, Field(gt=0, le=1)] = 0.3

    # Events out (notify/): a webhook per survey result, and alerts of low scores to a webhook and/or Telegram.
    webhook_url: HttpUrl | None = None
    webhook_secret: SecretStr | None = None  # signs each body: X-Signature: sha256=<hex HMAC>
    alert_webhook_url: HttpUrl | None = None
    alert_webhook_secret: SecretStr | None = None
    # A first-question score at or below this alerts (as does an answer a survey marks with "alert").
    alert_max_score: float = 2.0
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: HttpUrl = "https://api.telegram.org"
    # The language of the Telegram message (en, ru); unset, the default language.
    alert_language: str | None = None
    # Where people open the service (the links in events and alerts); unset, http://HTTP_HOST:HTTP_PORT.
    public_url: HttpUrl | None = None
    webhook_timeout: Seconds = 5.0
    # An event not delivered within this many seconds is dropped (logged, counted, listed in /events/outbox).
    outbox_max_age: Annotated[float, Field(gt=0, le=30 * 86400)] = 86400.0

    # Answers wait here while the database is unreachable.
    spool_dir: Path = Path("./spool")
    # How long SIGTERM waits for surveys in progress.
    shutdown_grace: Seconds = 30.0
    log_level: str = "INFO"

    @field_validator(
        "api_token",
        "metrics_token",
        "ari_password",
        "ami_secret",
        "session_secret",
        "webhook_secret",
        "alert_webhook_secret",
        "telegram_bot_token",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # `IVR_SURVEY_ARI_PASSWORD=` copied unedited from .env.example must not switch ARI on with no password
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_token", "metrics_token", mode="before")
    @classmethod
    def _strip_api_token(cls, value: object) -> object:
        # the presented token is stripped of whitespace; a padded one in .env could otherwise never match
        return value.strip() if isinstance(value, str) else value

    @field_validator("http_host", "ami_host", "agi_host")
    @classmethod
    def _unbracket_host(cls, value: str | None) -> str | None:
        # `[::1]` as copied from a URL is the address ::1, which is what a socket binds or connects to
        if value and value.startswith("[") and value.endswith("]"):
            return value[1:-1]
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("pbx_timezone")
    @classmethod
    def _pbx_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known time zone (e.g. UTC, Europe/Moscow)") from None
        return value

    @field_validator("operator_pattern")
    @classmethod
    def _operator_pattern(cls, value: str) -> str:
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if groups < 1:
            raise ValueError("needs one group: the operator's name")
        return value

    @field_validator("default_country")
    @classmethod
    def _default_country(cls, value: str | None) -> str | None:
        return validate_country(value) if value and value.strip() else None

    @field_validator("webhook_url", "alert_webhook_url", "public_url", "telegram_chat_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("alert_language")
    @classmethod
    def _alert_language(cls, value: str | None) -> str | None:
        if value is not None and value not in ("en", "ru"):
            raise ValueError("must be en or ru")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @property
    def link_base(self) -> str:
        """The address the links in events and alerts start with."""
        if self.public_url is not None:
            return self.public_url
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def ari_enabled(self) -> bool:
        return self.ari_password is not None

    @property
    def ami_enabled(self) -> bool:
        return self.ami_host is not None

    @property
    def http_is_loopback(self) -> bool:
        """Only an address literal in 127.0.0.0/8 or ::1, or `localhost`: a name such as 127.example.com
        resolves to whatever its owner likes."""
        if self.http_host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.http_host).is_loopback
        except ValueError:
            return False


_SECRET_FIELDS = {
    "api_token",
    "metrics_token",
    "ari_password",
    "ami_secret",
    "database_url",
    "session_secret",
    "webhook_secret",
    "alert_webhook_secret",
    "telegram_bot_token",
}
MIN_SESSION_SECRET_LENGTH = 32


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        message = err["msg"].removeprefix("Value error, ")
        if field not in _SECRET_FIELDS and err.get("input") is not None and err["type"] != "value_error":
            message += f" (got {err['input']!r})"
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {message}") from None


def with_demo_defaults(settings: Settings) -> Settings:
    """The settings `ivr-survey demo` runs with: DEMO_DEFAULTS for what was not set explicitly."""
    return settings.model_copy(
        update={name: value for name, value in DEMO_DEFAULTS.items() if name not in settings.model_fields_set}
    )


def _why_not_writable(folder: Path) -> str | None:
    if folder.exists() and not folder.is_dir():
        return "it is a file"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            return "no write permission"
        # os.access says yes to root even where no file can be made (/sys, some mounts): make one to be sure
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        return (exc.strerror or exc.__class__.__name__).lower()
    return None


def check_serving(settings: Settings) -> None:
    """What `serve` and `demo` need beyond valid settings, checked before anything starts: tokens worth their
    names, no anonymous API off loopback, and a spool folder that takes files (made if missing)."""
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if token is not None and len(token) < MIN_API_TOKEN_LENGTH:
        raise ConfigError(
            f"{ENV_PREFIX}API_TOKEN: too short; use at least {MIN_API_TOKEN_LENGTH} characters "
            "(e.g. openssl rand -hex 24)"
        )
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if metrics_token is not None and len(metrics_token) < MIN_API_TOKEN_LENGTH:
        raise ConfigError(
            f"{ENV_PREFIX}METRICS_TOKEN: too short; use at least {MIN_API_TOKEN_LENGTH} characters "
            "(e.g. openssl rand -hex 24)"
        )
    if token is None and not settings.http_is_loopback:
        raise ConfigError(
            f"refusing to serve the API on {settings.http_host} without {ENV_PREFIX}API_TOKEN; "
            "set a token or bind to 127.0.0.1"
        )
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    if secret is not None and len(secret) < MIN_SESSION_SECRET_LENGTH:
        raise ConfigError(
            f"{ENV_PREFIX}SESSION_SECRET: too short; use at least {MIN_SESSION_SECRET_LENGTH} characters "
            "(e.g. openssl rand -hex 32)"
        )
    if secret is None and (reason := _why_not_writable(settings.data_dir.absolute())) is not None:
        raise ConfigError(
            f"{ENV_PREFIX}DATA_DIR: {settings.data_dir.absolute()} is not a writable folder ({reason}); "
            f"it keeps the generated session key (or set {ENV_PREFIX}SESSION_SECRET)"
        )
    if (settings.telegram_bot_token is None) != (settings.telegram_chat_id is None):
        raise ConfigError(
            f"{ENV_PREFIX}TELEGRAM_BOT_TOKEN and {ENV_PREFIX}TELEGRAM_CHAT_ID go together: set both, or neither"
        )
    spool = settings.spool_dir.absolute()
    if (reason := _why_not_writable(spool)) is not None:
        raise ConfigError(f"{ENV_PREFIX}SPOOL_DIR: {spool} is not a writable folder ({reason})")


def check_demo(settings: Settings) -> None:
    """What `demo` needs beyond check_serving: a recordings folder that takes the simulated calls' recordings
    (made if missing)."""
    if settings.recordings_dir is None:
        return
    folder = settings.recordings_dir.absolute()
    if (reason := _why_not_writable(folder)) is not None:
        raise ConfigError(f"{ENV_PREFIX}RECORDINGS_DIR: {folder} is not a writable folder ({reason})")
