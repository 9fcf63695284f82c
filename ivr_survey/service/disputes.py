"""Fair scoring's rules: an operator accepts or disputes an evaluation of their own call (within the configured
days); a supervisor other than its evaluator upholds the evaluation or revises its scores, which makes a new
version of it (the CQR figures count the newest; the older stay readable)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..cqr import CqrError, compute_cqr, validate_scorecard, validate_scores
from ..db import disputes as repo
from ..db.disputes import DisputeRow, Evaluated
from .refusals import Refused, invalid

DECISIONS = ("uphold", "revise")


async def _evaluation(session: AsyncSession, evaluation_id: int) -> Evaluated:
    ev = await repo.evaluated(session, evaluation_id=evaluation_id)
    if ev is None:
        raise Refused("not_found", f"no evaluation {evaluation_id}", {"evaluation_id": evaluation_id})
    return ev


def _own(ev: Evaluated, operator: str) -> None:
    if ev.operator != operator:
        raise Refused(
            "forbidden", f"evaluation {ev.id} is not of a call of operator {operator}", {"evaluation_id": ev.id}
        )


async def _open_dispute_of(session: AsyncSession, ev: Evaluated) -> DisputeRow | None:
    return next(iter(await repo.list_disputes(session, evaluation_id=ev.id, state="open")), None)


async def dispute(
    session: AsyncSession, *, evaluation_id: int, operator: str, comment: str, window_days: int, at: datetime
) -> DisputeRow:
    """The operator disputes the evaluation (its current version). Refused: not_found, forbidden (not their
    call), dispute_closed (past the window, counted from the version's time), conflict (a dispute open, or the
    evaluation accepted)."""
    ev = await _evaluation(session, evaluation_id)
    _own(ev, operator)
    since = ev.updated_at or ev.created_at
    if at - since > timedelta(days=window_days):
        raise Refused(
            "dispute_closed",
            f"evaluation {ev.id} may be disputed within {window_days} days of {since.date().isoformat()}",
            {"evaluation_id": ev.id, "days": window_days},
        )
    if ev.accepted_at is not None:
        raise Refused("conflict", f"evaluation {ev.id} was accepted", {"evaluation_id": ev.id})
    open_one = await _open_dispute_of(session, ev)
    if open_one is not None:
        raise Refused("conflict", f"evaluation {ev.id} has dispute {open_one.id} open", {"dispute_id": open_one.id})
    return await repo.open_dispute(
        session, evaluation_id=ev.id, operator=operator, version=ev.version, comment=comment, at=at
    )


async def accept(session: AsyncSession, *, evaluation_id: int, operator: str, at: datetime) -> None:
    """The operator accepts the evaluation as it stands. Refused: not_found, forbidden, conflict (disputed)."""
    ev = await _evaluation(session, evaluation_id)
    _own(ev, operator)
    open_one = await _open_dispute_of(session, ev)
    if open_one is not None:
        raise Refused("conflict", f"evaluation {ev.id} has dispute {open_one.id} open", {"dispute_id": open_one.id})
    await repo.accept(session, evaluation_id=ev.id, at=at)


async def resolve(
    session: AsyncSession,
    *,
    evaluation_id: int,
    dispute_id: int,
    supervisor: str,
    decision: str,
    scores: Any,
    comment: str | None,
    at: datetime,
) -> DisputeRow:
    """A supervisor decides an open dispute: uphold, or revise with the whole new scores. Refused: not_found,
    own_evaluation (the evaluator may not judge their own), conflict (decided already), invalid_parameter."""
    ev = await _evaluation(session, evaluation_id)
    found = await repo.get_dispute(session, dispute_id=dispute_id)
    if found is None or found.evaluation_id != ev.id:
        raise Refused("not_found", f"no dispute {dispute_id} of evaluation {ev.id}", {"dispute_id": dispute_id})
    if supervisor == ev.supervisor:
        raise Refused(
            "own_evaluation",
            f"{supervisor} made evaluation {ev.id}: another supervisor decides its dispute",
            {"evaluation_id": ev.id},
        )
    if found.state != "open":
        raise Refused("conflict", f"dispute {dispute_id} was {found.state} already", {"state": found.state})
    if decision not in DECISIONS:
        raise invalid("decision", f"decision must be one of {', '.join(DECISIONS)}")
    if decision == "uphold":
        if scores is not None:
            raise invalid("scores", "an upheld evaluation keeps its scores: send scores only to revise")
        await repo.decide(
            session, dispute_id=dispute_id, state="upheld", supervisor=supervisor, resolution=comment, at=at
        )
    else:
        try:
            weights = validate_scorecard(ev.weights)
            new_scores = validate_scores(scores, weights)
        except CqrError as exc:
            raise invalid(exc.field, exc.message) from None
        author = await repo.current_author(session, ev)
        version = await repo.revise(
            session,
            ev,
            scores=new_scores,
            cqr=compute_cqr(new_scores, weights),
            comment=comment if comment is not None else ev.comment,
            author_of_current=author,
            at=at,
        )
        await repo.decide(
            session,
            dispute_id=dispute_id,
            state="revised",
            supervisor=supervisor,
            resolution=comment,
            at=at,
            revised_version=version,
        )
    decided = await repo.get_dispute(session, dispute_id=dispute_id)
    assert decided is not None
    return decided
