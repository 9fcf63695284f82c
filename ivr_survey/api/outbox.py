"""GET /events/outbox and POST /events/outbox/{id}/retry (admin): the deliveries not made, and a second try."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from ..db import outbox
from ..db.models import DELIVERY_STATES
from ..keys import OUTBOX, SESSIONS
from . import params
from .errors import ApiError
from .params import Limit, Query, one_of
from .responses import Model, Time, enum, json_response

UNDELIVERED = tuple(s for s in DELIVERY_STATES if s != "delivered")


class OutboxQuery(Query):
    state: Annotated[str | None, one_of(UNDELIVERED)] = Field(
        None, description="one state only (default: pending, failed and dropped)"
    )
    limit: Limit = Field(100, description=f"newest first, 1-{params.MAX_LIMIT} (default 100)")


class OutboxDelivery(Model):
    id: int = Field(description="the delivery (one event for one target); retry it by this id")
    event_id: str = Field(description="sent as X-Event-Id")
    type: str = Field(examples=["survey.completed", "alert.low_score"])
    call_id: str | None
    target: str = Field(examples=["webhook", "alert_webhook", "telegram"])
    state: Annotated[str, enum(DELIVERY_STATES)]
    attempts: int
    created_at: Time
    next_attempt_at: Time
    last_attempt_at: Time | None
    last_error: str | None
    payload: dict[str, Any]


class OutboxList(Model):
    items: list[OutboxDelivery]


def _item(row: outbox.Delivery) -> OutboxDelivery:
    return OutboxDelivery(
        id=row.id,
        event_id=row.event_id,
        type=row.type,
        call_id=row.linkedid,
        target=row.target,
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        payload=row.payload,
    )


async def get_outbox(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, OutboxQuery)
    async with request.app[SESSIONS]() as session:
        rows = await outbox.undelivered(session, state=query.state, limit=query.limit)
    return json_response(OutboxList(items=[_item(r) for r in rows]))


def _no_delivery(raw: str) -> ApiError:
    return ApiError("not_found", f"no delivery {raw!r}", {"delivery": raw})


async def post_retry(request: web.Request) -> web.Response:
    delivery_id = params.path_id(request.match_info, "id", _no_delivery)
    params.parse_query(request.query, params.NoQuery)
    async with request.app[SESSIONS].begin() as session:
        row = await outbox.retry(session, delivery_id=delivery_id, at=datetime.now(UTC))
    if row is None:
        raise _no_delivery(str(delivery_id))
    if OUTBOX in request.app:
        request.app[OUTBOX].wake()
    return json_response(_item(row))
