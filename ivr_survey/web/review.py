"""The review queue page: the day's calls to listen to, the chosen call with its survey answers and recording, and
the CQR form of the chosen call type (this supervisor's evaluation filled in, when there is one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from multidict import MultiMapping
from sqlalchemy.ext.asyncio import AsyncSession

from ..api.auth import Principal
from ..cqr import CALL_TYPES, SCORE_VALUES, CqrError, compute_cqr
from ..cqr.bands import DEFAULT_BANDS, Band, stored_bands
from ..db.calibration_sessions import hidden_calls
from ..db.calls import CallRow, get_call
from ..db.cqr import EvaluationRow, current_scorecards, get_evaluation, list_evaluations
from ..db.ratings import RatingFilter, RatingRow, list_ratings
from ..db.repository import question_texts
from ..db.review import ReviewQueue, review_queue
from .i18n import Translator
from .period import parse_day

MAX_COMMENT = 10_000
DEFAULT_CALL_TYPE = "qualification"


@dataclass(frozen=True, slots=True)
class Submitted:
    """The CQR form as posted."""

    call_id: str
    call_type: str
    scores: dict[str, Any]
    comment: str | None
    next_call: str | None
    back: dict[str, str]  # the queue's own query (date, team) to return to


def _score(raw: str) -> Any:
    try:
        return float(raw)
    except ValueError:
        return raw  # refused by the CQR arithmetic, which names the criterion


def submitted(form: Mapping[str, Any]) -> Submitted:
    scores = {k.removeprefix("score."): _score(str(v)) for k, v in form.items() if k.startswith("score.")}
    comment = str(form.get("comment", "")).strip()[:MAX_COMMENT] or None
    back = {k: str(form[k]) for k in ("date", "team", "tz") if form.get(k)}
    return Submitted(
        call_id=str(form.get("call_id", "")),
        call_type=str(form.get("call_type", "")),
        scores=scores,
        comment=comment,
        next_call=str(form.get("next_call", "")) or None,
        back=back,
    )


def form_problem(exc: Exception, form: Submitted, tr: Translator) -> str:
    """Why the CQR arithmetic refused a posted form, in the viewer's words: the criterion left unscored or
    scored with something else than 0, 0.5 or 1, else the call type."""
    criterion = getattr(exc, "criterion", None)
    if isinstance(exc, CqrError) and criterion is not None:
        key = "error.not_scored" if criterion not in form.scores else "error.bad_score"
        return tr.t(key, criterion=tr.criterion(criterion))
    return tr.t("error.cqr_invalid", call_type=form.call_type)


@dataclass(frozen=True, slots=True)
class CriterionField:
    key: str
    weight: float
    score: float | None  # what the form shows chosen


@dataclass(slots=True)
class ReviewView:
    day: date
    team: str | None
    queue: ReviewQueue
    call_id: str | None
    call: CallRow | None
    rating: RatingRow | None
    call_type: str
    criteria: list[CriterionField]
    mine: EvaluationRow | None
    evaluations: list[EvaluationRow]
    questions: dict[str, str]  # an answered question's key -> its wording in the viewer's language
    next_call: str | None
    can_score: bool
    can_listen: bool
    live_cqr: float | None
    bands: tuple[Band, ...]  # the call type's current scorecard's: the live CQR is shown in its band
    saved: EvaluationRow | None
    comment: str | None
    call_types: tuple[str, ...] = tuple(CALL_TYPES)
    score_values: tuple[float, ...] = SCORE_VALUES
    back: dict[str, str] = field(default_factory=dict)


def _day(raw: str | None, tr: Translator) -> date:
    return parse_day(raw, "error.bad_date") or datetime.now(UTC).astimezone(tr.tz).date()


async def review(
    session: AsyncSession,
    query: MultiMapping[str],
    *,
    tr: Translator,
    principal: Principal,
    share: float,
    recordings: bool,
    draft: Submitted | None = None,
) -> ReviewView:
    day = _day(query.get("date"), tr)
    team = query.get("team") or None
    queue = await review_queue(session, day=day, tz=tr.tz, share=share, team=team)
    ids = [item.call_id for item in queue.items]
    call_id = query.get("call") or next((i.call_id for i in queue.items if not i.evaluated), ids[0] if ids else None)
    call = await get_call(session, linkedid=call_id) if call_id else None
    rating = None
    mine = None
    evaluations: list[EvaluationRow] = []
    questions: dict[str, str] = {}
    if call_id:
        rated = await list_ratings(session, filters=RatingFilter(call_id=call_id), limit=1)
        rating = rated.items[0] if rated.items else None
        if rating is not None:
            texts = await question_texts(session, name=rating.survey, version=rating.survey_version)
            questions = {key: text.get(tr.lang) or text.get("en") or key for key, text in texts.items()}
        # a blind calibration's call: the others' evaluations are not shown before all have scored it
        blind = await hidden_calls(session, viewer=principal.name)
        evaluations = (
            await list_evaluations(session, call_id=call_id, limit=50, blind=blind, viewer=principal.name)
        ).items
        mine = next((e for e in evaluations if e.supervisor == principal.name), None)
    call_type = query.get("call_type") or (mine.call_type if mine else DEFAULT_CALL_TYPE)
    if call_type not in CALL_TYPES:
        call_type = DEFAULT_CALL_TYPE
    cards = await current_scorecards(session)
    weights: dict[str, float] = dict(cards[call_type].weights) if call_type in cards else {}
    bands = stored_bands(cards[call_type].bands) if call_type in cards else DEFAULT_BANDS
    chosen: dict[str, Any] = {}
    if draft is not None:
        chosen = draft.scores
    elif mine is not None and mine.call_type == call_type:
        chosen = mine.scores
    criteria = [CriterionField(k, w, chosen[k] if chosen.get(k) in SCORE_VALUES else None) for k, w in weights.items()]
    complete = {c.key: c.score for c in criteria if c.score is not None}
    live = compute_cqr(complete, weights) if criteria and len(complete) == len(criteria) else None
    # on to the next call nobody has evaluated yet, after this one, else from the top
    position = ids.index(call_id) if call_id in ids else -1
    waiting = [i.call_id for i in queue.items[position + 1 :] + queue.items[: max(position, 0)] if not i.evaluated]
    next_call = next((c for c in waiting if c != call_id), None)
    saved_id = query.get("saved")
    # the evaluation just saved: of the call before this one when the form went on to the next
    known = saved_id is not None and saved_id.isdigit() and len(saved_id) < 10  # an id, not a number for a 500
    saved = await get_evaluation(session, evaluation_id=int(saved_id)) if saved_id and known else None
    back = {k: v for k, v in (("date", query.get("date")), ("team", team), ("tz", tr.tz.key)) if v}
    return ReviewView(
        day=day,
        team=team,
        queue=queue,
        call_id=call_id,
        call=call,
        rating=rating,
        call_type=call_type,
        criteria=criteria,
        mine=mine,
        evaluations=evaluations,
        questions=questions,
        next_call=next_call,
        can_score=principal.may("supervisor"),
        can_listen=principal.may("supervisor") and recordings and bool(call and call.recording),
        live_cqr=live,
        bands=bands,
        saved=saved,
        comment=draft.comment if draft is not None else (mine.comment if mine else None),
        back=back,
    )
