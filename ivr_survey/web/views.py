"""What each page shows, read through the storage functions the API handlers read (one computation): typed view
models for the templates, and the small arithmetic of presentation (order, thin samples, chart series)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from ..cqr import GOOD_THRESHOLD
from ..db.calls import CallFilter, StatsRow, call_stats, queue_names
from ..db.operators import OperatorRow, get_operator, list_operators, team_names
from ..db.ratings import RatingFilter, RatingRow, list_ratings
from ..db.review import LOW_SCORE
from ..db.summary import (
    CriterionRow,
    SummaryGroup,
    UnknownQuestion,
    criterion_summary,
    empty_group,
    question_keys,
    ratings_summary,
    summary_scope,
)
from . import charts
from .i18n import Translator
from .period import PagePeriod

THIN_SAMPLE = 30  # below this many responses a figure is shown, marked: a thin sample is not a verdict


@dataclass(frozen=True, slots=True)
class Scope:
    """The filters every overview figure shares."""

    period: PagePeriod
    queue: str | None = None
    team: str | None = None

    def ratings(self, operator: str | None = None) -> RatingFilter:
        start, end = self.period.start, self.period.end
        return RatingFilter(operator=operator, queue=self.queue, team=self.team, date_from=start, date_to=end)

    def calls(self, operator: str | None = None) -> CallFilter:
        start, end = self.period.start, self.period.end
        return CallFilter(operator=operator, queue=self.queue, team=self.team, date_from=start, date_to=end)


@dataclass(frozen=True, slots=True)
class Calls:
    answered: int
    missed: int


@dataclass(frozen=True, slots=True)
class NpsTile:
    key: str
    value: float | None
    responses: int


@dataclass(frozen=True, slots=True)
class CqrTile:
    average: float | None
    evaluations: int
    good: int
    good_share: float | None


@dataclass(frozen=True, slots=True)
class OperatorLine:
    code: str
    name: str | None
    team: str | None
    responses: int
    csat: float | None
    csat_responses: int
    csat_ci95: tuple[float, float] | None
    average: float | None
    cqr_average: float | None
    cqr_evaluations: int
    answered: int
    missed: int

    @property
    def label(self) -> str:
        return self.name or self.code


@dataclass(slots=True)
class Overview:
    period: PagePeriod
    calls: Calls
    surveys: SummaryGroup
    nps: NpsTile | None
    cqr: CqrTile
    operators: list[OperatorLine]
    trend: list[SummaryGroup]
    hours: list[StatsRow]
    charts: dict[str, Markup] = field(default_factory=dict)
    unit_links: dict[str, str] = field(default_factory=dict)


def _one(groups: Sequence[SummaryGroup]) -> SummaryGroup:
    return groups[0] if groups else empty_group(None)


def cqr_tile(group: SummaryGroup) -> CqrTile:
    return CqrTile(group.cqr_average, group.cqr_evaluations or 0, group.cqr_good or 0, group.cqr_good_share)


def worst_first(lines: list[OperatorLine]) -> list[OperatorLine]:
    """Lowest CSAT first (the operators to look at), those without a CSAT last, then by code."""
    return sorted(lines, key=lambda o: (o.csat is None, o.csat if o.csat is not None else 0.0, o.code))


def operator_lines(
    people: Sequence[OperatorRow], summary: Sequence[SummaryGroup], load: Sequence[StatsRow]
) -> list[OperatorLine]:
    """One line per operator with a survey, an evaluation or a call in the period, worst CSAT first."""
    by_code = {g.key: g for g in summary if g.key is not None}
    calls = {row.key: row for row in load if row.key is not None}
    named = {p.code: p for p in people}
    lines = []
    for code in sorted((by_code.keys() | calls.keys()) & named.keys()):
        g, c, person = by_code.get(code) or empty_group(code), calls.get(code), named[code]
        lines.append(
            OperatorLine(
                code=code,
                name=person.name,
                team=person.team,
                responses=g.responses,
                csat=g.csat,
                csat_responses=g.csat_responses,
                csat_ci95=g.csat_ci95,
                average=g.average,
                cqr_average=g.cqr_average,
                cqr_evaluations=g.cqr_evaluations or 0,
                answered=c.answered if c else 0,
                missed=c.missed if c else 0,
            )
        )
    return worst_first(lines)


async def nps_tile(session: AsyncSession, filters: RatingFilter, tz: Translator) -> NpsTile | None:
    """NPS of the first nps question the surveys in scope ask; None when none asks one."""
    for key in await question_keys(session, kind="nps"):
        try:
            scope = await summary_scope(session, filters, key)
        except UnknownQuestion:
            continue
        group = _one(await ratings_summary(session, group_by="all", filters=filters, tz=tz.tz, scope=scope))
        return NpsTile(key, group.nps.nps if group.nps else None, group.responses)
    return None


async def overview(session: AsyncSession, scope: Scope, unit: str, tr: Translator) -> Overview:
    tz = tr.tz
    ratings, calls = scope.ratings(), scope.calls()
    total = _one(await ratings_summary(session, group_by="all", filters=ratings, tz=tz))
    by_operator = await ratings_summary(session, group_by="operator", filters=ratings, tz=tz)
    trend = await ratings_summary(session, group_by=unit, filters=ratings, tz=tz)
    load = _load(await call_stats(session, group_by="all", filters=calls, tz=tz))
    hours = await call_stats(session, group_by="hour_of_day", filters=calls, tz=tz)
    per_operator = await call_stats(session, group_by="operator", filters=calls, tz=tz)
    people = await list_operators(session, team=scope.team)
    view = Overview(
        period=scope.period,
        calls=load,
        surveys=total,
        nps=await nps_tile(session, ratings, tr),
        cqr=cqr_tile(total),
        operators=operator_lines(people, by_operator, per_operator),
        trend=trend,
        hours=hours,
    )
    view.charts = {
        "trend": trend_chart(trend, unit, tr),
        "distribution": distribution_chart(total, tr),
        "load": load_chart(hours, tr),
        "scatter": scatter_chart(view.operators, tr),
    }
    return view


def _load(rows: Sequence[StatsRow]) -> Calls:
    return Calls(sum(r.answered for r in rows), sum(r.missed for r in rows))


def bucket_day(key: str) -> datetime:
    return datetime.fromisoformat(key)


def trend_chart(groups: Sequence[SummaryGroup], unit: str, tr: Translator) -> Markup:
    # a week's point is labelled as the week it stands for, whose Monday may be before the period
    days = [tr.short_date(bucket_day(g.key).date()) for g in groups]
    labels = [tr.t("chart.week_of", day=d) for d in days] if unit == "week" else days
    series = [
        charts.Series(tr.t("chart.csat_pct"), [g.csat * 100 if g.csat is not None else None for g in groups], "s1"),
        charts.Series(tr.t("chart.cqr"), [g.cqr_average for g in groups], "s2"),
    ]
    return charts.line_chart(labels, series, top=100, fmt=lambda v: tr.num(v, 0), empty=tr.t("empty.chart"))


def _score_order(label: str) -> float:
    try:
        return float(label)
    except ValueError:
        return math.inf


def distribution_chart(group: SummaryGroup, tr: Translator, empty: str = "empty.chart") -> Markup:
    labels = sorted(group.distribution, key=_score_order)
    series = [charts.Series(tr.t("chart.responses"), [group.distribution[k] for k in labels], "s1")]
    return charts.bar_chart(labels, series, fmt=lambda v: tr.num(v, 0), empty=tr.t(empty))


def load_chart(hours: Sequence[StatsRow], tr: Translator) -> Markup:
    by_hour = {int(row.key): row for row in hours if row.key is not None}
    labels = [f"{h:02d}" for h in range(24)]
    answered = [float(by_hour[h].answered) if h in by_hour else 0.0 for h in range(24)]
    missed = [float(by_hour[h].missed) if h in by_hour else 0.0 for h in range(24)]
    series = [charts.Series(tr.t("tile.answered"), answered, "s1"), charts.Series(tr.t("tile.missed"), missed, "s3")]
    return charts.bar_chart(labels, series, fmt=lambda v: tr.num(v, 0), empty=tr.t("empty.chart"))


def scatter_chart(lines: Sequence[OperatorLine], tr: Translator) -> Markup:
    points = [
        charts.Point(o.label, o.csat * 100, o.cqr_average, o.csat_responses < THIN_SAMPLE)
        for o in lines
        if o.csat is not None and o.cqr_average is not None
    ]
    return charts.scatter(
        points,
        x_name=tr.t("chart.csat_pct"),
        y_name=tr.t("chart.cqr"),
        good=GOOD_THRESHOLD,
        fmt=lambda v: tr.num(v, 0),
        empty=tr.t("empty.scatter"),
    )


async def filter_choices(session: AsyncSession) -> tuple[list[str], list[str]]:
    """The queues and teams the filters offer."""
    return await queue_names(session), await team_names(session)


@dataclass(slots=True)
class OperatorView:
    person: OperatorRow
    period: PagePeriod
    total: SummaryGroup
    cqr: CqrTile
    weeks: list[SummaryGroup]
    lowest: list[RatingRow]
    criteria: list[CriterionRow]
    calls: Calls
    charts: dict[str, Markup] = field(default_factory=dict)


LOWEST_CALLS = 10


async def operator_view(session: AsyncSession, code: str, scope: Scope, tr: Translator) -> OperatorView | None:
    person = await get_operator(session, code=code)
    if person is None:
        return None
    ratings, calls = scope.ratings(operator=code), scope.calls(operator=code)
    total = _one(await ratings_summary(session, group_by="operator", filters=ratings, tz=tr.tz))
    weeks = await ratings_summary(session, group_by="week", filters=ratings, tz=tr.tz)
    low = await list_ratings(session, filters=replace(ratings, score_max=LOW_SCORE), limit=100)
    lowest = sorted(low.items, key=lambda r: (r.score if r.score is not None else math.inf, -r.started_at.timestamp()))
    hours = await call_stats(session, group_by="hour_of_day", filters=calls, tz=tr.tz)
    criteria = (
        await criterion_summary(
            session, operator=code, queue=scope.queue, date_from=scope.period.start, date_to=scope.period.end
        )
    ).criteria
    view = OperatorView(
        person=person,
        period=scope.period,
        total=total,
        cqr=cqr_tile(total),
        weeks=weeks,
        lowest=lowest[:LOWEST_CALLS],
        criteria=criteria,
        calls=_load(await call_stats(session, group_by="all", filters=calls, tz=tr.tz)),
    )
    view.charts = {"trend": trend_chart(weeks, "week", tr), "load": load_chart(hours, tr)}
    return view
