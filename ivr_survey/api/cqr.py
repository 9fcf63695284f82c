"""CQR over HTTP: call types, versioned scorecards (admins edit) and supervisors' evaluations of calls.

GET  /cqr/call-types                  every call type with its current criteria and weights
GET  /cqr/scorecards/{call_type}      the current scorecard (?version=N: an older one)
PUT  /cqr/scorecards/{call_type}      admin: store new weights as the next version (every current criterion
                                      weighted again or listed in "remove")
POST /cqr/evaluations                 supervisor: score a call
GET  /cqr/evaluations                 evaluations, newest first, filtered, keyset-paginated"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..cqr import CALL_TYPES, CRITERIA, CqrError
from ..db import cqr as repo
from ..db.models import CqrScorecard
from ..keys import SESSIONS
from . import params
from .auth import PRINCIPAL, requires
from .errors import ApiError, invalid_parameter
from .responses import json_response

MAX_LINKEDID = 64  # calls.linkedid
MAX_NAME = 100  # token names, i.e. supervisors
MAX_COMMENT = 10_000


# --- parsing ---


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, whatever the Content-Type says; 400 invalid_json otherwise."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError covers bad JSON, bad UTF-8 and absurdly long numbers
        raise ApiError("invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_json", "the body must be a JSON object")
    return body


def _no_unknown_fields(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for field in body:
        if field not in allowed:
            raise invalid_parameter(field, f"unknown field {field!r}; the fields are: {', '.join(allowed)}")


def _text(value: Any, name: str, *, max_length: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid_parameter(name, f"{name} must be a non-empty string")
    if len(value) > max_length:
        raise invalid_parameter(name, f"{name} is longer than {max_length} characters")
    if "\x00" in value:
        raise invalid_parameter(name, f"{name} must not contain NUL characters")
    return value


def _criteria(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise invalid_parameter(name, f"{name} must be a list of criteria")
    return value


def _call_type(request: web.Request) -> str:
    call_type = request.match_info["call_type"]
    if call_type not in CALL_TYPES:
        raise ApiError("not_found", f"unknown call type {call_type!r}; the call types are: {', '.join(CALL_TYPES)}",
            {"call_type": call_type},
        )
    return call_type


def _scorecard_json(card: CqrScorecard) -> dict[str, Any]:
    return {
        "call_type": card.call_type,
        "version": card.version,
        "weights": {c: float(w) for c, w in card.weights.items()},
        "created_at": card.created_at.isoformat(),
        "created_by": card.created_by,
    }


# --- handlers ---


async def get_call_types(request: web.Request) -> web.Response:
    params.known_only(request.query, ())
    async with request.app[SESSIONS]() as session:
        cards = await repo.current_scorecards(session)
    return json_response(
        [
            {
                "id": call_type,
                "name": info["name"],
                "description": info["description"],
                "criteria": [
                    {"id": c, "name": CRITERIA[c]["name"], "weight": float(w)}
                    for c, w in cards[call_type].weights.items()
                ],
            }
            for call_type, info in CALL_TYPES.items()
            if call_type in cards
        ]
    )


async def get_scorecard(request: web.Request) -> web.Response:
    params.known_only(request.query, ("version",))
    call_type = _call_type(request)
    raw_version = request.query.get("version")
    if raw_version is not None and (not raw_version.isdigit() or not 1 <= int(raw_version) <= params.MAX_ID):
        raise invalid_parameter("version", "version must be a whole number from 1")
    async with request.app[SESSIONS]() as session:
        if raw_version is None:
            card = await repo.current_scorecard(session, call_type=call_type)
        else:
            card = await repo.scorecard_version(session, call_type=call_type, version=int(raw_version))
    if card is None:
        raise ApiError("not_found", f"the {call_type} scorecard has no version {raw_version}",
                       {"call_type": call_type, "version": raw_version})
    return json_response(_scorecard_json(card))


@requires("admin")
async def put_scorecard(request: web.Request) -> web.Response:
    call_type = _call_type(request)
    body = await _json_object(request)
    _no_unknown_fields(body, ("weights", "remove"))
    if "weights" not in body:
        raise invalid_parameter("weights", "weights is required: an object of criterion: weight")
    remove = _criteria(body.get("remove", []), "remove")
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            card = await repo.add_scorecard_version(
                session, call_type=call_type, weights=body["weights"], remove=remove,
                created_by=request[PRINCIPAL].name,
            )
            result = _scorecard_json(card)
    except repo.MissingCriteria as exc:
        details = {"parameter": exc.field, "missing": exc.missing}
        raise ApiError("invalid_parameter", exc.message, details) from None
    except CqrError as exc:
        raise invalid_parameter(exc.field, exc.message) from None
    except repo.ScorecardConflict as exc:
        raise ApiError("conflict", str(exc)) from None
    return json_response(result)


@requires("supervisor")
async def post_evaluation(request: web.Request) -> web.Response:
    body = await _json_object(request)
    _no_unknown_fields(body, ("call_id", "call_type", "scores", "comment", "replace"))
    linkedid = _text(body.get("call_id"), "call_id", max_length=MAX_LINKEDID)
    call_type = body.get("call_type")
    if not isinstance(call_type, str) or call_type not in CALL_TYPES:
        raise invalid_parameter("call_type", f"call_type must be one of: {', '.join(CALL_TYPES)}")
    if not isinstance(body.get("scores"), dict):
        raise invalid_parameter("scores", "scores must be an object of criterion: 0, 0.5 or 1")
    comment = _text(body.get("comment"), "comment", max_length=MAX_COMMENT, required=False)
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise invalid_parameter("replace", "replace must be true or false")
    assert linkedid is not None
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            saved = await repo.create_evaluation(
                session, linkedid=linkedid, call_type=call_type, scores=body["scores"], comment=comment,
                supervisor=request[PRINCIPAL].name, replace=replace,
            )
    except CqrError as exc:
        raise invalid_parameter(exc.field, exc.message) from None
    except repo.UnknownCall:
        raise ApiError("not_found", f"no call {linkedid!r} is stored", {"call_id": linkedid}) from None
    except repo.DuplicateEvaluation as exc:
        raise ApiError("conflict", str(exc), {"evaluation_id": exc.evaluation_id}) from None
    return json_response(saved.item, status=201 if saved.created else 200)


async def get_evaluations(request: web.Request) -> web.Response:
    q = request.query
    params.known_only(q, ("call_id", "operator", "supervisor", "call_type", "good", "from", "to", "limit", "cursor"))
    date_from, date_to = params.timestamp(q, "from"), params.timestamp(q, "to")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise invalid_parameter("to", "to is before from")
    filters = {
        "call_id": params.text(q, "call_id", max_length=MAX_LINKEDID),
        "operator": params.text(q, "operator", max_length=MAX_LINKEDID),
        "supervisor": params.text(q, "supervisor", max_length=MAX_NAME),
        "call_type": params.choice(q, "call_type", CALL_TYPES),
        "good": params.boolean(q, "good"),
    }
    limit = params.limit(q)
    cursor = params.cursor(q, params.TIME_AND_ID)
    async with request.app[SESSIONS]() as session:
        page = await repo.list_evaluations(
            session, **filters, date_from=date_from, date_to=date_to, limit=limit, cursor=cursor
        )
    next_cursor = params.encode_cursor(*page.next_after) if page.next_after is not None else None
    return json_response({"items": page.items, "next_cursor": next_cursor})


def add_cqr_routes(app: web.Application) -> None:
    app.router.add_get("/cqr/call-types", get_call_types)
    app.router.add_get("/cqr/scorecards/{call_type}", get_scorecard)
    app.router.add_put("/cqr/scorecards/{call_type}", put_scorecard)
    app.router.add_post("/cqr/evaluations", post_evaluation)
    app.router.add_get("/cqr/evaluations", get_evaluations)
