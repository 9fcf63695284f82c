"""CQR over HTTP: call types, versioned scorecards (admins edit) and supervisors' evaluations of calls.

GET  /cqr/call-types                  every call type with its current criteria and weights
GET  /cqr/scorecards/{call_type}      the current scorecard (?version=N: an older one)
PUT  /cqr/scorecards/{call_type}      admin: store new weights as the next version (every current criterion
                                      weighted again or listed in "remove")
POST /cqr/evaluations                 supervisor: score a call
GET  /cqr/evaluations                 evaluations, newest first, filtered, keyset-paginated
GET  /cqr/criteria                    per criterion, the CQR points the calls of a period lose on it"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from ..cqr import CALL_TYPES, CRITERIA, CqrError
from ..cqr.bands import stored_bands
from ..cqr.calibration import calibrate
from ..db import cqr as repo
from ..db.calibration_sessions import hidden_calls
from ..db.models import CqrScorecard
from ..db.summary import criterion_summary
from ..db.timebuckets import utc_bounds
from ..keys import SESSIONS
from . import params
from .auth import PRINCIPAL, keep_to_own, own_operator
from .errors import ApiError, Invalid, invalid_parameter
from .params import ABSENT, Body, Boolean, Paged, Param, Period, Query, Text, one_of, text
from .responses import Model, Time, enum, json_response

MAX_LINKEDID = 64  # calls.linkedid
MAX_NAME = 100  # token names, i.e. supervisors
MAX_COMMENT = 10_000


# --- models ---


def _required_text(max_length: int) -> Param:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise Invalid("{name} must be a non-empty string")
        return _short(value, max_length)

    return Param(parse, {"type": "string", "minLength": 1, "maxLength": max_length})


def _optional_text(max_length: int) -> Param:
    def parse(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise Invalid("{name} must be a non-empty string")
        return _short(value, max_length)

    return Param(parse, {"type": ["string", "null"], "maxLength": max_length})


def _short(value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise Invalid(f"{{name}} is longer than {max_length} characters")
    if "\x00" in value:
        raise Invalid("{name} must not contain NUL characters")
    return value


def _call_type_field(value: Any) -> str:
    if not isinstance(value, str) or value not in CALL_TYPES:
        raise Invalid(f"call_type must be one of: {', '.join(CALL_TYPES)}")
    return value


def _scores(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid("scores must be an object of criterion: 0, 0.5 or 1")
    return value  # checked against the scorecard by the CQR arithmetic


def _replace(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("replace must be true or false")
    return value


def _weights(value: Any) -> Any:
    if value is ABSENT:
        raise Invalid("weights is required: an object of criterion: weight")
    return value  # checked by the CQR arithmetic, which names the criterion at fault


def _criteria(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise Invalid("{name} must be a list of criteria")
    return value


def _version(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= params.MAX_ID:
        raise Invalid("version must be a whole number from 1")
    return int(raw)


SCORE = {"type": "number", "enum": [0, 0.5, 1]}
CRITERION = {"enum": list(CRITERIA)}


class BandIn(Model):
    start: float = Field(alias="from", ge=0, le=100, description="the CQR the band starts at (inclusive)")
    label: str = Field(min_length=1, max_length=40)
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb, as the pages show the band")


class ScorecardUpdate(Body):
    """the whole next version: a criterion of the current version that is neither weighted nor removed is a 400
    naming it in details.missing"""

    weights: Annotated[
        dict[str, float],
        Param(
            _weights,
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": CRITERION,
                "additionalProperties": {"type": "number", "exclusiveMinimum": 0},  # any finite weight above 0
            },
        ),
    ] = Field(description="every criterion of the current version (but those removed) and any new one")
    remove: Annotated[list[str], Param(_criteria, {"type": "array", "items": {"type": "string", **CRITERION}})] = Field(
        default_factory=list, description="criteria of the current version to drop from the next one"
    )
    bands: list[BandIn] | None = Field(
        None,
        description="what the CQRs mean: bands from a CQR up, one from 0, highest first (default 80: good, 0: to "
        "work on); left out, the current version's are kept",
    )


class EvaluationRequest(Body):
    call_id: Annotated[str, _required_text(MAX_LINKEDID)] = Field(description="the call's linkedid")
    call_type: Annotated[str, Param(_call_type_field, {"type": "string", "enum": list(CALL_TYPES)})]
    scores: Annotated[
        dict[str, float],
        Param(
            _scores,
            {
                "type": "object",
                "propertyNames": CRITERION,
                "additionalProperties": SCORE,
            },
        ),
    ] = Field(description="every criterion of the call type's scorecard: 0, 0.5 or 1")
    comment: Annotated[str | None, _optional_text(MAX_COMMENT)] = None
    replace: Annotated[bool, Param(_replace, {"type": "boolean", "default": False})] = Field(
        False, description="replace this supervisor's earlier evaluation of the call"
    )


class ScorecardQuery(Query):
    version: Annotated[int | None, Param(_version, {"type": "integer", "minimum": 1})] = Field(
        None, description="an older version"
    )


class EvaluationsQuery(Paged, Period):
    call_id: Annotated[str | None, text(MAX_LINKEDID)] = Field(None, description="the call's linkedid")
    operator: Annotated[str | None, text(MAX_LINKEDID)] = Field(None, description="operator id")
    team: Annotated[str | None, text(MAX_NAME)] = Field(None, description="the operators in this team")
    supervisor: Annotated[str | None, text(MAX_NAME)] = Field(None, description="who evaluated")
    call_type: Annotated[str | None, one_of(CALL_TYPES)] = Field(None, description="call type")
    good: Boolean = Field(None, description="CQR >= 80")


class CriteriaQuery(Period):
    operator: Text = Field(None, description="operator id: the evaluations of their calls")
    queue: Text = Field(None, description="queue name")


class Criterion(Model):
    id: str
    name: str
    name_ru: str
    description: str
    description_ru: str
    weight: float


class CriterionStats(Model):
    criterion: Annotated[str, enum(CRITERIA)]
    name: str
    evaluations: int = Field(description="evaluations that scored the criterion")
    average_score: float = Field(description="its average score over those, 0-1")
    points_lost: float = Field(
        description="CQR points it costs an evaluation in scope on average: 100 x (1 - score) x weight / sum of the "
        "scorecard's weights, 0 where the scorecard lacks it; the criteria's add up to 100 - the average CQR"
    )


class CriteriaSummary(Model):
    date_from: Time = Field(alias="from")
    date_to: Time = Field(alias="to")
    operator: str | None
    queue: str | None
    evaluations: int = Field(description="evaluations of the calls started in the period (and filters)")
    criteria: list[CriterionStats] = Field(description="the criteria scored, most points lost first")


class CallType(Model):
    id: Annotated[str, enum(CALL_TYPES)]
    name: str
    name_ru: str
    description: str
    description_ru: str
    criteria: list[Criterion]


class Scorecard(Model):
    call_type: str
    version: int
    weights: dict[str, float]
    bands: list[BandIn] = Field(description="highest first; the CQR of an evaluation falls in the first it reaches")
    created_at: Time
    created_by: str | None


class Evaluation(Model):
    id: int
    call_id: str
    call_type: str
    scorecard_version: int
    scores: dict[str, float]
    cqr: float = Field(description="100 x sum(score x weight) / sum(weight)")
    good: bool = Field(description="cqr >= 80")
    comment: str | None
    supervisor: str
    operator: str | None
    operator_name: str | None
    created_at: Time
    version: int = Field(description="1, and one more for each revision after a dispute; the CQR is the newest's")
    accepted_at: Time | None = Field(description="when the operator accepted the evaluation")
    band: str = Field(description="the label of its scorecard's band the CQR falls in, e.g. good")
    band_colour: str = Field(description="that band's colour, #rrggbb")


class EvaluationsPage(Model):
    items: list[Evaluation]
    next_cursor: str | None


def _call_type(request: web.Request) -> str:
    call_type = request.match_info["call_type"]
    if call_type not in CALL_TYPES:
        raise ApiError(
            "not_found",
            f"unknown call type {call_type!r}; the call types are: {', '.join(CALL_TYPES)}",
            {"call_type": call_type},
        )
    return call_type


def _scorecard(card: CqrScorecard) -> Scorecard:
    return Scorecard(
        call_type=card.call_type,
        version=card.version,
        weights={c: float(w) for c, w in card.weights.items()},
        bands=[BandIn.model_validate(b.to_dict()) for b in stored_bands(card.bands)],
        created_at=card.created_at,
        created_by=card.created_by,
    )


# --- handlers ---


async def get_call_types(request: web.Request) -> web.Response:
    params.parse_query(request.query, params.NoQuery)
    async with request.app[SESSIONS]() as session:
        cards = await repo.current_scorecards(session)
    call_types = [
        CallType(
            id=call_type,
            **info,  # name, description and their Russian
            criteria=[Criterion(id=c, **CRITERIA[c], weight=float(w)) for c, w in cards[call_type].weights.items()],
        )
        for call_type, info in CALL_TYPES.items()
        if call_type in cards
    ]
    return json_response([c.model_dump(mode="json") for c in call_types])


async def get_scorecard(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, ScorecardQuery)
    call_type = _call_type(request)
    async with request.app[SESSIONS]() as session:
        if query.version is None:
            card = await repo.current_scorecard(session, call_type=call_type)
        else:
            card = await repo.scorecard_version(session, call_type=call_type, version=query.version)
    if card is None:
        raise ApiError(
            "not_found",
            f"the {call_type} scorecard has no version {query.version}",
            {"call_type": call_type, "version": str(query.version)},
        )
    return json_response(_scorecard(card))


async def put_scorecard(request: web.Request) -> web.Response:
    call_type = _call_type(request)
    body = await params.parse_body(request, ScorecardUpdate)
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            card = await repo.add_scorecard_version(
                session,
                call_type=call_type,
                weights=body.weights,
                remove=body.remove,
                created_by=request[PRINCIPAL].name,
                bands=[b.model_dump(by_alias=True) for b in body.bands] if body.bands is not None else None,
            )
            result = _scorecard(card)
    except repo.MissingCriteria as exc:
        details = {"parameter": exc.field, "missing": exc.missing}
        raise ApiError("invalid_parameter", exc.message, details) from None
    except CqrError as exc:
        raise invalid_parameter(exc.field, exc.message) from None
    except repo.ScorecardConflict as exc:
        raise ApiError("conflict", str(exc)) from None
    return json_response(result)


async def post_evaluation(request: web.Request) -> web.Response:
    body = await params.parse_body(request, EvaluationRequest)
    linkedid = body.call_id
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            saved = await repo.create_evaluation(
                session,
                linkedid=linkedid,
                call_type=body.call_type,
                scores=body.scores,
                comment=body.comment,
                supervisor=request[PRINCIPAL].name,
                replace=body.replace,
            )
    except CqrError as exc:
        raise invalid_parameter(exc.field, exc.message) from None
    except repo.UnknownCall:
        raise ApiError("not_found", f"no call {linkedid!r} is stored", {"call_id": linkedid}) from None
    except repo.DuplicateEvaluation as exc:
        raise ApiError("conflict", str(exc), {"evaluation_id": exc.evaluation_id}) from None
    return json_response(Evaluation.model_validate(saved.item), status=201 if saved.created else 200)


async def blind_for(request: web.Request) -> tuple[set[str], str | None]:
    """The calls whose evaluations the caller may not see yet (a blind session's, not revealed), and whose own
    evaluation of them they still see: a listed supervisor sees their own; an operator, nothing of them yet."""
    async with request.app[SESSIONS]() as session:
        if own_operator(request) is not None:
            return await hidden_calls(session), None
        name = request[PRINCIPAL].name
        return await hidden_calls(session, viewer=name), name


async def get_evaluations(request: web.Request) -> web.Response:
    q = params.parse_query(request.query, EvaluationsQuery)
    cursor = params.cursor(q.cursor, params.TIME_AND_ID)
    blind, viewer = await blind_for(request)
    async with request.app[SESSIONS]() as session:
        page = await repo.list_evaluations(
            session,
            call_id=q.call_id,
            operator=keep_to_own(request, q.operator),
            team=q.team if own_operator(request) is None else None,
            supervisor=q.supervisor,
            call_type=q.call_type,
            good=q.good,
            date_from=q.date_from,
            date_to=q.date_to,
            limit=q.limit,
            cursor=cursor,
            blind=blind,
            viewer=viewer,
        )
    next_cursor = params.encode_cursor(*page.next_after) if page.next_after is not None else None
    return json_response(EvaluationsPage.model_validate({"items": page.items, "next_cursor": next_cursor}))


async def get_criteria(request: web.Request) -> web.Response:
    q = params.parse_query(request.query, CriteriaQuery)
    start, end = utc_bounds(q.date_from, q.date_to)  # the summaries' period: by default the last 30 days
    async with request.app[SESSIONS]() as session:
        found = await criterion_summary(session, operator=q.operator, queue=q.queue, date_from=start, date_to=end)
    criteria = [{**asdict(row), "name": CRITERIA[row.criterion]["name"]} for row in found.criteria]
    body = {
        "from": start,
        "to": end,
        "operator": q.operator,
        "queue": q.queue,
        "evaluations": found.evaluations,
        "criteria": criteria,
    }
    return json_response(CriteriaSummary.model_validate(body))


class CalibrationQuery(Period):
    operator: Text = Field(None, description="the calls of this operator only")


class CriterionSpread(Model):
    criterion: Annotated[str, enum(CRITERIA)]
    calls: int = Field(description="calls two or more supervisors scored the criterion on")
    mean_range: float = Field(description="the mean of (highest - lowest score) on those calls: 0 all agree, 1 apart")
    differed: int = Field(description="those of the calls where the scores were not all the same")


class SupervisorCalibration(Model):
    supervisor: str
    calls: int = Field(description="calls they scored that other supervisors scored too")
    mean_deviation: float = Field(description="their CQR minus the others' mean CQR on the same call, averaged")
    mean_absolute_deviation: float
    criteria: int = Field(description="criteria they scored where the others have a majority score")
    against_majority: int
    against_majority_share: float | None = Field(description="against_majority / criteria")


class Calibration(Model):
    date_from: Time | None = Field(alias="from")
    date_to: Time | None = Field(alias="to")
    calls: int = Field(description="calls scored by two or more supervisors in the period")
    criteria: list[CriterionSpread]
    supervisors: list[SupervisorCalibration]


async def get_calibration(request: web.Request) -> web.Response:
    q = params.parse_query(request.query, CalibrationQuery)
    async with request.app[SESSIONS]() as session:
        unrevealed = await hidden_calls(session)  # a blind session's calls count once it is revealed
        scored = await repo.scored_calls(
            session, date_from=q.date_from, date_to=q.date_to, operator=q.operator, leave_out=unrevealed
        )
    result = calibrate(scored)
    body = {"from": q.date_from, "to": q.date_to, **asdict(result)}
    return json_response(Calibration.model_validate(body))
