"""Typed keys for what the app factory puts on the aiohttp application."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .agi.server import AgiServer
from .ami.collector import AmiCollector
from .ari.stasis import StasisApp
from .config import Settings
from .db.sqlite_file import SqliteFile
from .db.store import SurveyStore

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
SQLITE_FILE = web.AppKey("sqlite_file", SqliteFile)  # absent on PostgreSQL
STORE = web.AppKey("store", SurveyStore)
STASIS = web.AppKey("stasis", StasisApp)
AMI = web.AppKey("ami", AmiCollector)
AGI = web.AppKey("agi", AgiServer)
