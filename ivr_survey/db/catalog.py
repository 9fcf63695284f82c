"""Survey definitions by name: the newest stored version, cached briefly, with the built-in default
survey as the fallback so that a caller is surveyed even while the database is away."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..survey.definition import DEFAULT_SURVEY, SurveyDefinition
from .repository import latest_survey_version

log = logging.getLogger(__name__)


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
        self._sessions = sessions
        self._default = default_survey
        self._ttl = ttl
        self._cache: dict[str, tuple[float, SurveyDefinition | None]] = {}
        # name -> the load under way: callers arriving together share one read instead of each making their own
        self._loading: dict[str, asyncio.Future[SurveyDefinition | None]] = {}

    async def _load(self, name: str) -> SurveyDefinition | None:
        cached = self._cache.get(name)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        loading = self._loading.get(name)
        if loading is None:
            loading = self._loading[name] = asyncio.ensure_future(self._read(name, cached))
            loading.add_done_callback(lambda _: self._loading.pop(name, None))
        # shielded: a caller who hangs up mid-load does not cancel the others' read
        return await asyncio.shield(loading)

    async def _read(self, name: str, cached: tuple[float, SurveyDefinition | None] | None) -> SurveyDefinition | None:
        try:
            async with self._sessions() as session:
                definition = await stored_survey(session, name)
        except Exception as exc:  # database away: keep surveying with what we know
            log.warning("survey %r not loaded (%s); using the cached or built-in one", name, exc.__class__.__name__)
            return cached[1] if cached is not None else None
        self._cache[name] = (time.monotonic(), definition)
        return definition

    async def get(self, name: str | None) -> SurveyDefinition:
        """The named survey, else the configured default, else the built-in default."""
        wanted = name or self._default
        definition = await self._load(wanted)
        if definition is None and wanted != self._default:
            log.warning("unknown survey %r; using %r", wanted, self._default)
            definition = await self._load(self._default)
        return definition or DEFAULT_SURVEY
