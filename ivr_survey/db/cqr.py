"""CQR scorecards (versioned) and supervisors' evaluations of calls.

A scorecard version never changes once stored: editing the weights adds a version. An evaluation stores
the CQR it was given and the scorecard version it was computed with, so changing the weights later never
changes a past evaluation's CQR."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..cqr import (
    GOOD_THRESHOLD,
    CqrError,
    compute_cqr,
    is_good,
    validate_call_type,
    validate_scorecard,
    validate_scores,
)
from ..cqr.bands import band_of, stored_bands, validate_bands
from ..cqr.calibration import Scored
from .models import Call, CqrEvaluation, CqrScorecard, Operator, utcnow
from .statements import affected, upsert_insert

_VERSION_ATTEMPTS = 5


class UnknownCallType(LookupError):
    def __init__(self, call_type: str) -> None:
        super().__init__(f"unknown call type {call_type!r}")
        self.call_type = call_type


class UnknownCall(LookupError):
    def __init__(self, linkedid: str) -> None:
        super().__init__(f"no call {linkedid!r} is stored")
        self.linkedid = linkedid


class DuplicateEvaluation(Exception):
    """The supervisor has already evaluated the call; replace=True replaces that evaluation."""

    def __init__(self, *, linkedid: str, supervisor: str, evaluation_id: int) -> None:
        super().__init__(
            f"{supervisor} has already evaluated call {linkedid}; send replace=true to replace that evaluation"
        )
        self.linkedid = linkedid
        self.supervisor = supervisor
        self.evaluation_id = evaluation_id


class ScorecardConflict(Exception):
    """Too many editors stored a version of the same scorecard at once; trying again will do."""


class MissingCriteria(CqrError):
    """New weights that leave out criteria of the version they follow without removing them: dropping them
    silently would make every evaluation that scores them fail."""

    def __init__(self, card: CqrScorecard, missing: list[str]) -> None:
        super().__init__(
            "weights",
            f"weights must name every criterion of the {card.call_type} scorecard (version {card.version}); "
            f"missing: {', '.join(missing)}; list a criterion in remove to drop it",
        )
        self.missing = missing


def _known_type(call_type: str) -> str:
    try:
        return validate_call_type(call_type)
    except ValueError:
        raise UnknownCallType(call_type) from None


# --- scorecards ---


async def current_scorecard(session: AsyncSession, *, call_type: str) -> CqrScorecard | None:
    """The newest version of the call type's scorecard; None for an unknown call type."""
    stmt = (
        select(CqrScorecard).where(CqrScorecard.call_type == call_type).order_by(CqrScorecard.version.desc()).limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_scorecards(session: AsyncSession) -> dict[str, CqrScorecard]:
    """The newest version of every call type's scorecard, by call type."""
    found: dict[str, CqrScorecard] = {}
    stmt = select(CqrScorecard).order_by(CqrScorecard.call_type, CqrScorecard.version.desc())
    for card in (await session.execute(stmt)).scalars():
        found.setdefault(card.call_type, card)
    return found


async def scorecard_by_id(session: AsyncSession, *, scorecard_id: int) -> CqrScorecard | None:
    return await session.get(CqrScorecard, scorecard_id)


async def scorecard_version(session: AsyncSession, *, call_type: str, version: int) -> CqrScorecard | None:
    stmt = select(CqrScorecard).where(CqrScorecard.call_type == call_type, CqrScorecard.version == version)
    return (await session.execute(stmt)).scalar_one_or_none()


def _check_coverage(current: CqrScorecard | None, weights: dict[str, float], remove: Collection[str]) -> None:
    """Every criterion of the current version is weighted again or removed; only those can be removed."""
    on_card = list(current.weights) if current is not None else []
    for criterion in remove:
        if criterion not in on_card:
            name = f"the {current.call_type} scorecard (version {current.version})" if current else "the scorecard"
            raise CqrError("remove", f"{criterion!r} is not on {name}; it has: {', '.join(on_card)}")
        if criterion in weights:
            raise CqrError("remove", f"{criterion} is both weighted and removed")
    missing = [c for c in on_card if c not in weights and c not in remove]
    if current is not None and missing:
        raise MissingCriteria(current, missing)


async def add_scorecard_version(
    session: AsyncSession,
    *,
    call_type: str,
    weights: Any,
    created_by: str | None,
    remove: Collection[str] = (),
    bands: Any = None,
) -> CqrScorecard:
    """Store `weights` as the call type's next scorecard version and return it. The weights replace the whole
    scorecard: they must name every criterion of the current version, but those listed in `remove`
    (MissingCriteria otherwise), and may add new ones. Weights equal to the current version's add nothing:
    that version is returned. `bands` (cqr/bands.py) replace the current version's; None keeps them.
    UnknownCallType / CqrError (field "weights...", "remove" or "bands...") on bad input. Two
    editors at once cannot both take the same version number: the loser takes the next one, checked against
    the winner's."""
    _known_type(call_type)
    weights = validate_scorecard(weights)
    asked = [b.to_dict() for b in validate_bands(bands)] if bands is not None else None
    table = CqrScorecard.__table__
    for _ in range(_VERSION_ATTEMPTS):
        current = await current_scorecard(session, call_type=call_type)
        _check_coverage(current, weights, remove)
        kept = current.bands if current is not None else None
        new_bands = asked if asked is not None else kept
        same_weights = current is not None and {k: float(v) for k, v in current.weights.items()} == weights
        if current is not None and same_weights and stored_bands(new_bands) == stored_bands(kept):
            return current
        version = current.version + 1 if current is not None else 1
        stmt = upsert_insert(session, table).values(
            call_type=call_type,
            version=version,
            weights=weights,
            bands=new_bands,
            created_at=utcnow(),
            created_by=created_by,
        )
        result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["call_type", "version"]))
        if affected(result):
            card = await scorecard_version(session, call_type=call_type, version=version)
            assert card is not None
            return card
    raise ScorecardConflict(f"the {call_type} scorecard is being edited by others; try again")


# --- evaluations ---


_ITEM_COLUMNS = (
    CqrEvaluation,
    Call.linkedid,
    Operator.code.label("operator"),
    Operator.name.label("operator_name"),
    CqrScorecard.version,
    CqrScorecard.bands,
)


def _evaluations_query(*conditions: Any) -> Any:
    return (
        select(*_ITEM_COLUMNS)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .join(CqrScorecard, CqrScorecard.id == CqrEvaluation.scorecard_id)
        .where(*conditions)
        # A replaced evaluation must be read back as stored, not as the session first saw it.
        .execution_options(populate_existing=True)
    )


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    id: int
    call_id: str  # the call's linkedid
    call_type: str
    scorecard_version: int
    scores: dict[str, float]
    cqr: float
    good: bool  # cqr >= GOOD_THRESHOLD
    comment: str | None
    supervisor: str
    operator: str | None
    operator_name: str | None
    created_at: datetime
    version: int  # 1, and one more for each revision after a dispute
    accepted_at: datetime | None  # when the operator accepted it
    band: str  # the band of its scorecard version the CQR falls in
    band_colour: str


def _item(row: Any) -> EvaluationRow:
    ev: CqrEvaluation = row[0]
    band = band_of(ev.cqr, stored_bands(row.bands))
    return EvaluationRow(
        id=ev.id,
        call_id=row.linkedid,
        call_type=ev.call_type,
        scorecard_version=row.version,
        scores=ev.scores,
        cqr=ev.cqr,
        good=is_good(ev.cqr),
        comment=ev.comment,
        supervisor=ev.supervisor,
        operator=row.operator,
        operator_name=row.operator_name,
        created_at=ev.created_at,
        version=ev.version,
        accepted_at=ev.accepted_at,
        band=band.label,
        band_colour=band.colour,
    )


async def get_evaluation(session: AsyncSession, *, evaluation_id: int) -> EvaluationRow | None:
    row = (await session.execute(_evaluations_query(CqrEvaluation.id == evaluation_id))).one_or_none()
    return _item(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class SavedEvaluation:
    item: EvaluationRow
    created: bool  # False: an existing evaluation was replaced


async def create_evaluation(
    session: AsyncSession,
    *,
    linkedid: str,
    call_type: str,
    scores: Any,
    comment: str | None,
    supervisor: str,
    replace: bool = False,
) -> SavedEvaluation:
    """Evaluate the call with the call type's current scorecard: the CQR is computed and stored with that
    scorecard's id. A supervisor's second evaluation of the same call raises DuplicateEvaluation unless
    `replace`, which overwrites the call type, scores, CQR, comment and scorecard and sets updated_at.
    UnknownCallType, UnknownCall (no call with that linkedid) or CqrError (field "scores...") on bad input."""
    _known_type(call_type)
    card = await current_scorecard(session, call_type=call_type)
    if card is None:
        raise UnknownCallType(call_type)
    weights = validate_scorecard(card.weights)
    scores = validate_scores(scores, weights)
    cqr = compute_cqr(scores, weights)
    call_id = (await session.execute(select(Call.id).where(Call.linkedid == linkedid))).scalar_one_or_none()
    if call_id is None:
        raise UnknownCall(linkedid)

    def existing_id() -> Any:
        return select(CqrEvaluation.id).where(CqrEvaluation.call_id == call_id, CqrEvaluation.supervisor == supervisor)

    values = {"call_type": call_type, "scorecard_id": card.id, "scores": scores, "cqr": cqr, "comment": comment}
    created = False
    evaluation_id = (await session.execute(existing_id())).scalar_one_or_none()
    if evaluation_id is None:
        stmt = upsert_insert(session, CqrEvaluation.__table__).values(
            call_id=call_id, supervisor=supervisor, created_at=utcnow(), **values
        )
        result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["call_id", "supervisor"]))
        created = bool(affected(result))
        # Not created: the same supervisor's other request got there first.
        evaluation_id = (await session.execute(existing_id())).scalar_one()
    if not created:
        if not replace:
            raise DuplicateEvaluation(linkedid=linkedid, supervisor=supervisor, evaluation_id=evaluation_id)
        await session.execute(
            update(CqrEvaluation).where(CqrEvaluation.id == evaluation_id).values(updated_at=utcnow(), **values)
        )
    item = await get_evaluation(session, evaluation_id=evaluation_id)
    assert item is not None
    return SavedEvaluation(item, created)


@dataclass(frozen=True, slots=True)
class EvaluationsPage:
    items: list[EvaluationRow]
    # (created_at, id) of the last item when more items follow: where the next page starts.
    next_after: tuple[datetime, int] | None


async def list_evaluations(
    session: AsyncSession,
    *,
    call_id: str | None = None,
    operator: str | None = None,
    team: str | None = None,
    supervisor: str | None = None,
    call_type: str | None = None,
    good: bool | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    limit: int = 100,
    cursor: tuple[datetime, int] | None = None,
    blind: Collection[str] = (),
    viewer: str | None = None,
) -> EvaluationsPage:
    """One page of evaluations, newest first (created_at desc, id desc). `call_id` is the call's linkedid,
    `operator` its operator code, `team` that operator's team; `date_from` (inclusive) and `date_to` (exclusive)
    bound the evaluation's created_at; `cursor` is the previous page's next_after."""
    conditions = []
    if blind:  # calls of a blind calibration not revealed yet: the viewer's own evaluation only
        conditions.append(or_(Call.linkedid.not_in(list(blind)), CqrEvaluation.supervisor == (viewer or "")))
    if call_id is not None:
        conditions.append(Call.linkedid == call_id)
    if operator is not None:
        conditions.append(Operator.code == operator)
    if team is not None:
        conditions.append(Operator.team == team)
    if supervisor is not None:
        conditions.append(CqrEvaluation.supervisor == supervisor)
    if call_type is not None:
        conditions.append(CqrEvaluation.call_type == call_type)
    if good is not None:
        conditions.append(CqrEvaluation.cqr >= GOOD_THRESHOLD if good else CqrEvaluation.cqr < GOOD_THRESHOLD)
    if date_from is not None:
        conditions.append(CqrEvaluation.created_at >= date_from)
    if date_to is not None:
        conditions.append(CqrEvaluation.created_at < date_to)
    if cursor is not None:
        created, ident = cursor
        conditions.append(
            or_(CqrEvaluation.created_at < created, and_(CqrEvaluation.created_at == created, CqrEvaluation.id < ident))
        )
    stmt = (
        _evaluations_query(*conditions)
        .order_by(CqrEvaluation.created_at.desc(), CqrEvaluation.id.desc())
        .limit(limit + 1)
    )
    rows = (await session.execute(stmt)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if rows else None
    return EvaluationsPage([_item(r) for r in rows], (last.created_at, last.id) if more and last is not None else None)


async def scored_evaluations(session: AsyncSession, *conditions: Any) -> list[Scored]:
    """The evaluations (their current versions) that meet the conditions, as calibration reads them."""
    stmt = (
        select(Call.linkedid, CqrEvaluation.supervisor, CqrEvaluation.cqr, CqrEvaluation.scores)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .where(*conditions)
        .order_by(Call.linkedid, CqrEvaluation.supervisor)
    )
    return [
        Scored(linkedid, supervisor, cqr, {k: float(v) for k, v in scores.items()})
        for linkedid, supervisor, cqr, scores in (await session.execute(stmt)).all()
    ]


async def scored_calls(
    session: AsyncSession,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    operator: str | None = None,
    leave_out: Collection[str] = (),
) -> list[Scored]:
    """The evaluations made in the period of the calls two or more supervisors evaluated, for calibration."""
    shared = (
        select(CqrEvaluation.call_id)
        .group_by(CqrEvaluation.call_id)
        .having(func.count(func.distinct(CqrEvaluation.supervisor)) >= 2)
    )
    conditions: list[Any] = [CqrEvaluation.call_id.in_(shared)]
    if date_from is not None:
        conditions.append(CqrEvaluation.created_at >= date_from)
    if date_to is not None:
        conditions.append(CqrEvaluation.created_at < date_to)
    if operator is not None:
        conditions.append(Call.operator_id == select(Operator.id).where(Operator.code == operator).scalar_subquery())
    if leave_out:  # a blind calibration's calls, until revealed
        conditions.append(Call.linkedid.not_in(list(leave_out)))
    return await scored_evaluations(session, *conditions)
