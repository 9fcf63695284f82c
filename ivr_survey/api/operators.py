"""GET /operators and GET /operators/{id}: what callers think (CSAT) next to what supervisors hear (CQR)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web
from sqlalchemy import select

from ..db.models import Operator
from ..db.ratings import RatingFilter
from ..db.summary import empty_group, ratings_summary
from ..db.timebuckets import utc_bounds
from ..keys import SESSIONS
from . import params
from .errors import ApiError, invalid_parameter
from .responses import json_response

TREND_DAYS = 84  # twelve weeks of trend unless a period is given


def _period(request: web.Request, default_days: int) -> RatingFilter:
    params.known_only(request.query, ("from", "to", "tz"))
    start, end = params.timestamp(request.query, "from"), params.timestamp(request.query, "to")
    if start and end and start > end:
        raise invalid_parameter("to", "to is before from")
    start, end = utc_bounds(start, end, default_days)
    return RatingFilter(date_from=start, date_to=end)


def _sides(group: dict[str, Any] | None) -> dict[str, Any]:
    """The two views of one operator, side by side."""
    g = group or {**empty_group(None), "cqr_average": None, "cqr_evaluations": 0}
    return {
        "csat": {k: g[k] for k in ("offered", "responses", "response_rate", "average", "csat", "csat_ci95")},
        "cqr": {"average": g["cqr_average"], "evaluations": g["cqr_evaluations"]},
    }


async def list_operators(request: web.Request) -> web.Response:
    filters = _period(request, 30)
    tz = params.time_zone(request.query)
    async with request.app[SESSIONS]() as session:
        operators = (await session.execute(select(Operator.code, Operator.name).order_by(Operator.code))).all()
        groups = {g["key"]: g for g in await ratings_summary(session, group_by="operator", filters=filters, tz=tz)}
    items = [{"operator": o.code, "name": o.name, **_sides(groups.get(o.code))} for o in operators]
    return json_response(
        {"from": filters.date_from.isoformat(), "to": filters.date_to.isoformat(), "items": items}
    )


def _no_operator(code: str) -> ApiError:
    return ApiError("not_found", f"no operator {code!r}", {"operator": code})


async def get_operator(request: web.Request) -> web.Response:
    code = params.path_key(request.match_info, "operator", _no_operator)
    filters = _period(request, TREND_DAYS)
    tz = params.time_zone(request.query)
    async with request.app[SESSIONS]() as session:
        operator = (await session.execute(select(Operator).where(Operator.code == code))).scalar_one_or_none()
        if operator is None:
            raise _no_operator(code)
        mine = replace(filters, operator=code)
        [total] = await ratings_summary(session, group_by="operator", filters=mine, tz=tz) or [None]
        weeks = await ratings_summary(session, group_by="week", filters=mine, tz=tz)
    trend = [
        {
            "week": w["key"], "offered": w["offered"], "responses": w["responses"], "average": w["average"],
            "csat": w["csat"], "cqr_average": w["cqr_average"], "cqr_evaluations": w["cqr_evaluations"],
        }
        for w in weeks
    ]
    return json_response(
        {
            "operator": code,
            "name": operator.name,
            "from": filters.date_from.isoformat(),
            "to": filters.date_to.isoformat(),
            "tz": tz.key,
            **_sides(total),
            "trend": trend,
        }
    )
