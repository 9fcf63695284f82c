"""GET /review-queue: the calls a supervisor should listen to on a day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from ..db.review import review_queue
from ..keys import SESSIONS, SETTINGS
from . import params
from .errors import Invalid
from .params import Day, Param, Text, Zoned
from .responses import Model, Time, json_response


def _share(raw: str) -> float:
    share = params.number_value(raw)
    if not 0 < share <= 1:
        raise Invalid("share must be more than 0 and at most 1")
    return share


class ReviewQuery(Zoned):
    day: Day = Field(None, alias="date", description="the day (default today in tz)")
    share: Annotated[float | None, Param(_share, {"type": "number", "exclusiveMinimum": 0, "maximum": 1})] = Field(
        None, description="share of each operator's calls (default IVR_SURVEY_REVIEW_SHARE)"
    )
    team: Text = Field(None, description="the operators in this team only")


class OperatorLoad(Model):
    operator: str
    operator_name: str | None
    calls: int
    selected: int


class ReviewItem(Model):
    call_id: str
    operator: str
    operator_name: str | None
    queue: str | None
    started_at: Time
    score: float | None
    reason: Literal["low_score", "sample"]
    evaluated: bool


class ReviewQueue(Model):
    day: date = Field(alias="date")
    tz: str
    share: float
    operators: list[OperatorLoad]
    items: list[ReviewItem]


async def get_review_queue(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, ReviewQuery)
    day = query.day or datetime.now(query.tz).date()
    share = query.share if query.share is not None else request.app[SETTINGS].review_share
    async with request.app[SESSIONS]() as session:
        queue = await review_queue(session, day=day, tz=query.tz, share=share, team=query.team)
    return json_response(
        ReviewQueue(day=day, tz=query.tz.key, share=share, operators=queue.operators, items=queue.items)
    )
