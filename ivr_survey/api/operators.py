"""GET /operators and GET /operators/{id}: what callers think (CSAT) next to what supervisors hear (CQR);
PUT /operators/{id}: an admin names an operator and puts them in a team."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from ..db import operators as repo
from ..db.ratings import RatingFilter
from ..db.summary import SummaryGroup, empty_group, ratings_summary
from ..db.timebuckets import utc_bounds
from ..keys import SESSIONS
from . import params
from .auth import keep_to_own
from .errors import ApiError, Invalid, invalid_parameter
from .params import Body, Param, Period, Text, Zoned
from .responses import Model, Time, json_response

TREND_DAYS = 84  # twelve weeks of trend unless a period is given


class OperatorQuery(Period, Zoned):
    team: Text = Field(None, description="the team's operators only (on /operators/{id}: 404 unless in it)")


def _label(max_length: int) -> Param:
    """A name or a team: text (stored without the blanks around it) or null, which clears it."""

    def parse(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise Invalid("{name} must be a string, or null to clear it")
        problem = repo.label_problem(value, max_length)  # the length as sent: what the spec's maxLength says
        if problem is not None:
            raise Invalid(f"{{name}} {problem}")
        if not value.strip():
            raise Invalid("{name} is blank; send null to clear it")
        return value.strip()

    return Param(parse, {"type": ["string", "null"], "minLength": 1, "maxLength": max_length, "pattern": r"\S"})


class OperatorUpdate(Body):
    """the fields to set; a field left out keeps its value"""

    name: Annotated[str | None, _label(repo.MAX_NAME)] = Field(None, description="e.g. Анна Смирнова; null clears")
    team: Annotated[str | None, _label(repo.MAX_TEAM)] = Field(None, description="e.g. Sales; null clears")


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


class Operator(Model):
    operator: str = Field(description="the operator's id, e.g. 7001")
    name: str | None
    team: str | None


class OperatorSummary(Operator):
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


class OperatorDetail(Operator):
    date_from: Time = Field(alias="from")
    date_to: Time = Field(alias="to")
    tz: str
    csat: Csat
    cqr: Cqr
    trend: list[Week]


def _period(query: OperatorQuery, default_days: int) -> RatingFilter:
    start, end = utc_bounds(query.date_from, query.date_to, default_days)
    return RatingFilter(team=query.team, date_from=start, date_to=end)


def _person(row: repo.OperatorRow) -> dict[str, Any]:
    return {"operator": row.code, "name": row.name, "team": row.team}


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
        operators = await repo.list_operators(session, team=query.team)
        groups = {g.key: g for g in await ratings_summary(session, group_by="operator", filters=filters, tz=tz)}
    items = [{**_person(o), **_sides(groups.get(o.code))} for o in operators]
    return json_response(
        OperatorList.model_validate({"from": filters.date_from, "to": filters.date_to, "items": items})
    )


def _no_operator(code: str, team: str | None = None) -> ApiError:
    where = f" in team {team!r}" if team is not None else ""
    return ApiError("not_found", f"no operator {code!r}{where}", {"operator": code})


async def get_operator(request: web.Request) -> web.Response:
    code = keep_to_own(request, params.path_key(request.match_info, "operator", _no_operator))
    assert code is not None
    query = params.parse_query(request.query, OperatorQuery)
    filters, tz = _period(query, TREND_DAYS), query.tz
    async with request.app[SESSIONS]() as session:
        operator = await repo.get_operator(session, code=code)
        if operator is None or (query.team is not None and operator.team != query.team):
            raise _no_operator(code, query.team)
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
                **_person(operator),
                "from": filters.date_from,
                "to": filters.date_to,
                "tz": tz.key,
                **_sides(total),
                "trend": trend,
            }
        )
    )


def _new_code(request: web.Request) -> str:
    """The path's operator id, as an operator it would create must have it."""
    code = request.match_info["operator"]
    problem = "is blank or has blanks around it" if not code.strip() or code != code.strip() else None
    problem = problem or repo.label_problem(code, repo.MAX_CODE)
    if problem is not None:
        raise invalid_parameter("operator", f"the operator id {problem}")
    return code


async def put_operator(request: web.Request) -> web.Response:
    code = _new_code(request)
    body = await params.parse_body(request, OperatorUpdate)
    given = {field: getattr(body, field) for field in body.model_fields_set}  # absent: kept as it is
    async with request.app[SESSIONS]() as session, session.begin():
        row, created = await repo.set_operator(session, code=code, **given)
    return json_response(Operator.model_validate(_person(row)), status=201 if created else 200)
