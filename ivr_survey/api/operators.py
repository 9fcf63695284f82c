"""GET /operators and GET /operators/{id}: what callers think (CSAT) next to what supervisors hear (CQR)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from ..db.models import Operator
from ..db.ratings import RatingFilter
from ..db.summary import SummaryGroup, empty_group, ratings_summary
from ..db.timebuckets import utc_bounds
from ..keys import SESSIONS
from . import params
from .errors import ApiError
from .params import Period, Zoned
from .responses import Model, Time, json_response

TREND_DAYS = 84  # twelve weeks of trend unless a period is given


class OperatorQuery(Period, Zoned):
    pass


class Csat(Model):
    offered: int
    responses: int
    response_rate: float | None
    average: float | None
    csat: float | None
    csat_ci95: tuple[float, float] | None


class Cqr(Model):
    average: float | None
    evaluations: int


class OperatorSummary(Model):
    operator: str
    name: str | None
    csat: Csat
    cqr: Cqr


class OperatorList(Model):
    date_from: Time = Field(alias="from")
    date_to: Time = Field(alias="to")
    items: list[OperatorSummary]


class Week(Model):
    week: str = Field(description="the week's local start", json_schema_extra={"format": "date-time"})
    offered: int
    responses: int
    average: float | None
    csat: float | None
    cqr_average: float | None
    cqr_evaluations: int


class OperatorDetail(Model):
    operator: str
    name: str | None
    date_from: Time = Field(alias="from")
    date_to: Time = Field(alias="to")
    tz: str
    csat: Csat
    cqr: Cqr
    trend: list[Week]


def _period(query: OperatorQuery, default_days: int) -> RatingFilter:
    start, end = utc_bounds(query.date_from, query.date_to, default_days)
    return RatingFilter(date_from=start, date_to=end)


def _sides(group: SummaryGroup | None) -> dict[str, Any]:
    """The two views of one operator, side by side."""
    g = group or empty_group(None)
    return {
        "csat": {
            "offered": g.offered,
            "responses": g.responses,
            "response_rate": g.response_rate,
            "average": g.average,
            "csat": g.csat,
            "csat_ci95": g.csat_ci95,
        },
        "cqr": {"average": g.cqr_average, "evaluations": g.cqr_evaluations or 0},
    }


async def list_operators(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, OperatorQuery)
    filters, tz = _period(query, 30), query.tz
    async with request.app[SESSIONS]() as session:
        operators = (await session.execute(select(Operator.code, Operator.name).order_by(Operator.code))).all()
        groups = {g.key: g for g in await ratings_summary(session, group_by="operator", filters=filters, tz=tz)}
    items = [{"operator": o.code, "name": o.name, **_sides(groups.get(o.code))} for o in operators]
    return json_response(
        OperatorList.model_validate({"from": filters.date_from, "to": filters.date_to, "items": items})
    )


def _no_operator(code: str) -> ApiError:
    return ApiError("not_found", f"no operator {code!r}", {"operator": code})


async def get_operator(request: web.Request) -> web.Response:
    code = params.path_key(request.match_info, "operator", _no_operator)
    query = params.parse_query(request.query, OperatorQuery)
    filters, tz = _period(query, TREND_DAYS), query.tz
    async with request.app[SESSIONS]() as session:
        operator = (await session.execute(select(Operator).where(Operator.code == code))).scalar_one_or_none()
        if operator is None:
            raise _no_operator(code)
        mine = replace(filters, operator=code)
        total = next(iter(await ratings_summary(session, group_by="operator", filters=mine, tz=tz)), None)
        weeks = await ratings_summary(session, group_by="week", filters=mine, tz=tz)
    trend = [
        {
            "week": w.key,
            "offered": w.offered,
            "responses": w.responses,
            "average": w.average,
            "csat": w.csat,
            "cqr_average": w.cqr_average,
            "cqr_evaluations": w.cqr_evaluations,
        }
        for w in weeks
    ]
    return json_response(
        OperatorDetail.model_validate(
            {
                "operator": code,
                "name": operator.name,
                "from": filters.date_from,
                "to": filters.date_to,
                "tz": tz.key,
                **_sides(total),
                "trend": trend,
            }
        )
    )
