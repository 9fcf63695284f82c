"""Blind calibration sessions: who is asked to score which calls, who has, and which evaluations a participant
may not see yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..cqr.calibration import Scored
from .cqr import scored_evaluations
from .models import CalibrationSession, Call, CqrEvaluation


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    name: str
    calls: list[str]
    supervisors: list[str]
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    scored: dict[str, list[str]]  # call -> the listed supervisors who scored it, in the list's order

    @property
    def complete(self) -> bool:
        return all(len(self.scored[c]) == len(self.supervisors) for c in self.calls)

    @property
    def revealed(self) -> bool:
        """Its scores may be shown: every listed supervisor scored every call, or it was closed."""
        return self.complete or self.closed_at is not None


async def _scored_by(session: AsyncSession, calls: list[str]) -> dict[str, set[str]]:
    stmt = (
        select(Call.linkedid, CqrEvaluation.supervisor)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .where(Call.linkedid.in_(calls))
    )
    found: dict[str, set[str]] = {c: set() for c in calls}
    for linkedid, supervisor in (await session.execute(stmt)).all():
        found[linkedid].add(supervisor)
    return found


async def _row(session: AsyncSession, s: CalibrationSession) -> SessionRow:
    by = await _scored_by(session, list(s.calls))
    scored = {c: [name for name in s.supervisors if name in by[c]] for c in s.calls}
    return SessionRow(s.id, s.name, list(s.calls), list(s.supervisors), s.created_by, s.created_at, s.closed_at, scored)


async def unknown_calls(session: AsyncSession, calls: list[str]) -> list[str]:
    stored = set((await session.execute(select(Call.linkedid).where(Call.linkedid.in_(calls)))).scalars())
    return [c for c in calls if c not in stored]


async def create_session(
    session: AsyncSession, *, name: str, calls: list[str], supervisors: list[str], created_by: str, at: datetime
) -> SessionRow:
    row = CalibrationSession(
        name=name, calls=calls, supervisors=supervisors, created_by=created_by, created_at=at, closed_at=None
    )
    session.add(row)
    await session.flush()
    return await _row(session, row)


async def get_session(session: AsyncSession, *, session_id: int) -> SessionRow | None:
    found = await session.get(CalibrationSession, session_id, populate_existing=True)
    return await _row(session, found) if found is not None else None


async def list_sessions(session: AsyncSession) -> list[SessionRow]:
    stmt = select(CalibrationSession).order_by(CalibrationSession.created_at.desc(), CalibrationSession.id.desc())
    return [await _row(session, s) for s in (await session.execute(stmt)).scalars()]


async def close_session(session: AsyncSession, *, session_id: int, at: datetime) -> None:
    await session.execute(
        update(CalibrationSession)
        .where(CalibrationSession.id == session_id, CalibrationSession.closed_at.is_(None))
        .values(closed_at=at)
    )


async def hidden_calls(session: AsyncSession, *, viewer: str | None = None) -> set[str]:
    """The calls of open sessions whose scores are not revealed yet: those some listed supervisor has not scored.
    With a viewer, only the sessions that list them (they still see their own evaluation)."""
    stmt = select(CalibrationSession).where(CalibrationSession.closed_at.is_(None))
    hidden: set[str] = set()
    for s in (await session.execute(stmt)).scalars():
        if viewer is not None and viewer not in s.supervisors:
            continue
        row = await _row(session, s)
        hidden.update(c for c in row.calls if len(row.scored[c]) < len(row.supervisors))
    return hidden


async def session_scores(session: AsyncSession, row: SessionRow) -> list[Scored]:
    """The listed supervisors' evaluations of the session's calls, for its calibration."""
    return await scored_evaluations(
        session, Call.linkedid.in_(row.calls), CqrEvaluation.supervisor.in_(row.supervisors)
    )
