"""Typed keys for what the app factory puts on the aiohttp application.

The adapters' types (and the metrics') are named for the type checker only: importing the API (which reads these
keys) must not load the ARI client, the dialer, the FastAGI server or panoramisk, nor the pages prometheus_client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .config import Settings
from .db.leadership import Leadership
from .db.sqlite_file import SqliteFile
from .db.store import SurveyStore
from .service.live import ListenLegs, LiveSource
from .service.policies import PolicyCatalog

if TYPE_CHECKING:
    from .agi.server import AgiServer
    from .ami.collector import AmiCollector
    from .ari.stasis import StasisApp
    from .dialer.runner import Dialer
    from .metrics.registry import Metrics
    from .notify.listener import OutboxListener
    from .notify.sender import OutboxSender

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
SQLITE_FILE = web.AppKey("sqlite_file", SqliteFile)  # absent on PostgreSQL
STORE = web.AppKey("store", SurveyStore)
POLICIES = web.AppKey("policies", PolicyCatalog)  # the survey policies in force, shared by ARI and FastAGI
STASIS: web.AppKey[StasisApp] = web.AppKey("stasis")
AMI: web.AppKey[AmiCollector] = web.AppKey("ami")
LIVE: web.AppKey[LiveSource] = web.AppKey("live")  # with AMI: the calls in progress
LISTENING: web.AppKey[ListenLegs] = web.AppKey("listening")  # with ARI: supervisors' live listens
AGI: web.AppKey[AgiServer] = web.AppKey("agi")
DIALER: web.AppKey[Dialer] = web.AppKey("dialer")  # with ARI
LEADERSHIP = web.AppKey("leadership", Leadership)  # with ARI: is this instance the active one
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
OUTBOX: web.AppKey[OutboxSender] = web.AppKey("outbox")  # when any event target is configured
OUTBOX_LISTENER: web.AppKey[OutboxListener] = web.AppKey("outbox_listener")
