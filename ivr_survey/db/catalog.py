"""Survey definitions by name: the newest stored version, cached briefly, with the built-in default
survey as the fallback so that a caller is surveyed even while the database is away."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..survey.definition import DEFAULT_SURVEY, SurveyDefinition
from .repository import latest_survey_version

log = logging.getLogger(__name__)

V = TypeVar("V")


class CachedReads(Generic[V]):
    """What a read by key found (None: nothing stored), kept for `ttl` seconds. Callers arriving together share
    one read instead of each making their own; while the database is away the last value found is kept."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read: Callable[[AsyncSession, str], Awaitable[V | None]],
        *,
        ttl: float,
        what: str,
    ) -> None:
        self._sessions = sessions
        self._read_one = read
        self._ttl = ttl
        self._what = what  # for the log: "survey", "survey policy"
        self._cache: dict[str, tuple[float, V | None]] = {}
        self._loading: dict[str, asyncio.Future[V | None]] = {}  # key -> the read under way

    async def get(self, key: str) -> V | None:
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._read(key, cached))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        # shielded: a caller who hangs up mid-read does not cancel the others'
        return await asyncio.shield(loading)

    def forget(self, key: str) -> None:
        """Read the key afresh next time: this instance has just changed it."""
        self._cache.pop(key, None)

    async def _read(self, key: str, cached: tuple[float, V | None] | None) -> V | None:
        try:
            async with self._sessions() as session:
                value = await self._read_one(session, key)
        except Exception as exc:  # database away: go on with what we know
            log.warning("%s %r not loaded (%s); using the cached or built-in one", self._what, key, type(exc).__name__)
            return cached[1] if cached is not None else None
        self._cache[key] = (time.monotonic(), value)
        return value


async def stored_survey(session: AsyncSession, name: str) -> SurveyDefinition | None:
    """The newest stored version of the named survey; None when no survey of that name is stored."""
    row = await latest_survey_version(session, name=name)
    if row is None:
        return None
    return SurveyDefinition.from_dict({**row.definition, "name": name, "version": row.version})


class SurveyCatalog:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, default_survey: str = "default", ttl: float = 30.0
    ) -> None:
        self._default = default_survey
        self._surveys = CachedReads(sessions, stored_survey, ttl=ttl, what="survey")

    async def get(self, name: str | None) -> SurveyDefinition:
        """The named survey, else the configured default, else the built-in default."""
        wanted = name or self._default
        definition = await self._surveys.get(wanted)
        if definition is None and wanted != self._default:
            log.warning("unknown survey %r; using %r", wanted, self._default)
            definition = await self._surveys.get(self._default)
        return definition or DEFAULT_SURVEY
