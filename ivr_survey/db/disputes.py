"""Operators' disputes of evaluations of their calls, evaluations' earlier versions and their acceptance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..cqr.bands import Band, band_of, stored_bands
from .models import Call, CqrDispute, CqrEvaluation, CqrEvaluationVersion, CqrScorecard, Operator


@dataclass(frozen=True, slots=True)
class DisputeRow:
    id: int
    evaluation_id: int
    call_id: str  # the linkedid
    operator: str
    evaluator: str  # the supervisor who made the evaluation
    version: int  # the evaluation's version disputed
    comment: str
    state: str
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    revised_version: int | None


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: int
    scores: dict[str, float]
    cqr: float
    comment: str | None
    supervisor: str  # who wrote this version
    created_at: datetime
    current: bool


@dataclass(frozen=True, slots=True)
class Evaluated:
    """What a dispute's rules need of an evaluation."""

    id: int
    call_id: str
    operator: str | None
    supervisor: str
    version: int
    scores: dict[str, float]
    cqr: float
    comment: str | None
    weights: dict[str, Any]  # its scorecard's
    created_at: datetime
    updated_at: datetime | None
    accepted_at: datetime | None
    band: Band  # of its scorecard's bands, the one its CQR falls in


async def evaluated(session: AsyncSession, *, evaluation_id: int) -> Evaluated | None:
    stmt = (
        select(CqrEvaluation, Call.linkedid, Operator.code, CqrScorecard.weights, CqrScorecard.bands)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .join(CqrScorecard, CqrScorecard.id == CqrEvaluation.scorecard_id)
        .where(CqrEvaluation.id == evaluation_id)
    )
    found = (await session.execute(stmt)).one_or_none()
    if found is None:
        return None
    ev, linkedid, code, weights, bands = found
    return Evaluated(
        ev.id,
        linkedid,
        code,
        ev.supervisor,
        ev.version,
        dict(ev.scores),
        ev.cqr,
        ev.comment,
        dict(weights),
        ev.created_at,
        ev.updated_at,
        ev.accepted_at,
        band_of(ev.cqr, stored_bands(bands)),
    )


def _disputes() -> Any:
    return (
        select(CqrDispute, Call.linkedid, CqrEvaluation.supervisor)
        .join(CqrEvaluation, CqrEvaluation.id == CqrDispute.evaluation_id)
        .join(Call, Call.id == CqrEvaluation.call_id)
    )


def _row(d: CqrDispute, linkedid: str, evaluator: str) -> DisputeRow:
    return DisputeRow(
        d.id,
        d.evaluation_id,
        linkedid,
        d.operator,
        evaluator,
        d.version,
        d.comment,
        d.state,
        d.opened_at,
        d.resolved_by,
        d.resolved_at,
        d.resolution,
        d.revised_version,
    )


async def list_disputes(
    session: AsyncSession,
    *,
    evaluation_id: int | None = None,
    operator: str | None = None,
    evaluator: str | None = None,
    state: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    limit: int = 1000,
) -> list[DisputeRow]:
    """Newest first; the period bounds when they were opened."""
    stmt = _disputes()
    if evaluation_id is not None:
        stmt = stmt.where(CqrDispute.evaluation_id == evaluation_id)
    if operator is not None:
        stmt = stmt.where(CqrDispute.operator == operator)
    if evaluator is not None:
        stmt = stmt.where(CqrEvaluation.supervisor == evaluator)
    if state is not None:
        stmt = stmt.where(CqrDispute.state == state)
    if date_from is not None:
        stmt = stmt.where(CqrDispute.opened_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(CqrDispute.opened_at < date_to)
    stmt = stmt.order_by(CqrDispute.opened_at.desc(), CqrDispute.id.desc()).limit(limit)
    return [_row(d, linkedid, evaluator) for d, linkedid, evaluator in (await session.execute(stmt)).all()]


async def get_dispute(session: AsyncSession, *, dispute_id: int) -> DisputeRow | None:
    found = (await session.execute(_disputes().where(CqrDispute.id == dispute_id))).one_or_none()
    return _row(*found) if found is not None else None


async def open_dispute(
    session: AsyncSession, *, evaluation_id: int, operator: str, version: int, comment: str, at: datetime
) -> DisputeRow:
    dispute = CqrDispute(
        evaluation_id=evaluation_id, operator=operator, version=version, comment=comment, state="open", opened_at=at
    )
    session.add(dispute)
    await session.flush()
    row = await get_dispute(session, dispute_id=dispute.id)
    assert row is not None
    return row


async def accept(session: AsyncSession, *, evaluation_id: int, at: datetime) -> None:
    await session.execute(update(CqrEvaluation).where(CqrEvaluation.id == evaluation_id).values(accepted_at=at))


async def decide(
    session: AsyncSession,
    *,
    dispute_id: int,
    state: str,
    supervisor: str,
    resolution: str | None,
    at: datetime,
    revised_version: int | None = None,
) -> None:
    await session.execute(
        update(CqrDispute)
        .where(CqrDispute.id == dispute_id)
        .values(
            state=state, resolved_by=supervisor, resolved_at=at, resolution=resolution, revised_version=revised_version
        )
    )


async def revise(
    session: AsyncSession,
    ev: Evaluated,
    *,
    scores: dict[str, float],
    cqr: float,
    comment: str | None,
    author_of_current: str,
    at: datetime,
) -> int:
    """Keep the evaluation as it stands as a version of its own, and make the new scores the current version
    (the one the CQR figures count). Returns the new version's number."""
    session.add(
        CqrEvaluationVersion(
            evaluation_id=ev.id,
            version=ev.version,
            scores=ev.scores,
            cqr=ev.cqr,
            comment=ev.comment,
            supervisor=author_of_current,
            created_at=ev.updated_at or ev.created_at,
        )
    )
    await session.execute(
        update(CqrEvaluation)
        .where(CqrEvaluation.id == ev.id)
        .values(scores=scores, cqr=cqr, comment=comment, version=ev.version + 1, updated_at=at, accepted_at=None)
    )
    return ev.version + 1


async def versions(session: AsyncSession, *, evaluation_id: int) -> list[VersionRow]:
    """Every version of the evaluation, first first, the current one last."""
    ev = await evaluated(session, evaluation_id=evaluation_id)
    if ev is None:
        return []
    stmt = (
        select(CqrEvaluationVersion)
        .where(CqrEvaluationVersion.evaluation_id == evaluation_id)
        .order_by(CqrEvaluationVersion.version)
    )
    older = [
        VersionRow(v.version, dict(v.scores), v.cqr, v.comment, v.supervisor, v.created_at, False)
        for v in (await session.execute(stmt)).scalars()
    ]
    author = await current_author(session, ev)
    current = VersionRow(ev.version, ev.scores, ev.cqr, ev.comment, author, ev.updated_at or ev.created_at, True)
    return [*older, current]


async def current_author(session: AsyncSession, ev: Evaluated) -> str:
    """Who wrote the evaluation's current version: who revised it last (the dispute that made it), else its
    evaluator."""
    stmt = select(CqrDispute.resolved_by).where(
        CqrDispute.evaluation_id == ev.id, CqrDispute.revised_version == ev.version
    )
    return (await session.execute(stmt)).scalar_one_or_none() or ev.supervisor


async def dispute_counts(
    session: AsyncSession, *, date_from: datetime | None, date_to: datetime | None
) -> dict[str, dict[str, int]]:
    """evaluator -> state -> disputes opened in the period against their evaluations."""
    d = CqrDispute
    stmt = (
        select(CqrEvaluation.supervisor, d.state, func.count())
        .join(CqrEvaluation, CqrEvaluation.id == d.evaluation_id)
        .group_by(CqrEvaluation.supervisor, d.state)
    )
    if date_from is not None:
        stmt = stmt.where(d.opened_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(d.opened_at < date_to)
    counts: dict[str, dict[str, int]] = {}
    for supervisor, state, n in (await session.execute(stmt)).all():
        counts.setdefault(supervisor, {})[state] = n
    return counts
