"""Reading the call history: pages sorted by any column (keyset, NULLs last in both directions), one call with
its survey and evaluations, and the operator-load statistics, counted by the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, case, cast, exists, func, null, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .engine import dialect_of
from .models import Call, CallOperator, Operator, SurveyResponse
from .operators import in_team
from .timebuckets import bucket_label, bucket_start, epoch_of, key_order, local_hour, utc_bounds

MISSED = ("missed", "abandoned_in_queue")  # the caller was not served
# hour_of_day: the local hour (0-23) a call started in, only the hours with calls, in order; all: one group
# over the whole period (key None), there even when the period holds no call
STATS_GROUPINGS = ("operator", "queue", "hour", "day", "hour_of_day", "all")
AnsweredBy = aliased(Operator, name="answered_by")
Callback = aliased(Call, name="callback")

# sort name -> column; every sort ends with the id, so a page boundary is exact
SORTS: dict[str, Any] = {
    "started_at": Call.started_at,
    "answered_at": Call.answered_at,
    "ended_at": Call.ended_at,
    "call_id": Call.linkedid,
    "operator": AnsweredBy.code,
    "queue": Call.queue,
    "direction": Call.direction,
    "disposition": Call.disposition,
    "caller": Call.caller_number,
    "ring_seconds": Call.ring_seconds,
    "talk_seconds": Call.talk_seconds,
    "hangup_side": Call.hangup_side,
}
TIME_SORTS = ("started_at", "answered_at", "ended_at")


@dataclass(frozen=True)
class CallFilter:
    operator: str | None = None  # answered, or was rung for a call nobody answered
    team: str | None = None  # the same, for any operator in that team
    queue: str | None = None
    direction: str | None = None
    disposition: str | None = None
    caller: str | None = None  # digits of the client's number
    date_from: datetime | None = None
    date_to: datetime | None = None


def _conditions(filters: CallFilter) -> list[Any]:
    conditions: list[Any] = [Call.history_source.is_not(None)]
    if filters.operator is not None:
        # aliases: the stats by operator join operators and call_operators themselves
        named, link = aliased(Operator), aliased(CallOperator)
        mine = select(named.id).where(named.code == filters.operator).scalar_subquery()
        took_part = select(link.id).where(link.call_id == Call.id, link.operator_id == mine).correlate(Call)
        conditions.append(or_(Call.operator_id == mine, took_part.exists()))
    if filters.team is not None:
        link = aliased(CallOperator)
        team = in_team(filters.team)
        took_part = select(link.id).where(link.call_id == Call.id, link.operator_id.in_(team)).correlate(Call)
        conditions.append(or_(Call.operator_id.in_(team), took_part.exists()))
    for column, value in (
        (Call.queue, filters.queue),
        (Call.direction, filters.direction),
        (Call.disposition, filters.disposition),
        (Call.client_number, filters.caller),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.date_from is not None:
        conditions.append(Call.started_at >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(Call.started_at < filters.date_to)
    return conditions


def _callback_at() -> Any:
    """When a missed inbound call was called back: the first answered outbound call to the same number after
    it (NULL for other calls, or when nobody called back)."""
    first = (
        select(func.min(Callback.started_at))
        .where(
            Callback.direction == "outbound",
            Callback.disposition == "answered",
            Callback.client_number == Call.client_number,
            Callback.started_at > Call.started_at,
        )
        .scalar_subquery()
    )
    return case((and_(Call.direction == "inbound", Call.disposition.in_(MISSED)), first), else_=None)


@dataclass(frozen=True, slots=True)
class CallbackRow:
    """For a missed inbound call: the first answered outbound call to the same number after it."""

    call_id: str
    operator: str | None
    at: datetime
    after_seconds: float


@dataclass(frozen=True, slots=True)
class CallRow:
    call_id: str  # the linkedid
    direction: str | None
    disposition: str | None
    caller: str | None
    client_number: str | None
    queue: str | None
    operator: str | None  # who answered (the last, after a transfer)
    operator_name: str | None
    rung_operators: list[str]
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    ring_seconds: float | None
    talk_seconds: float | None
    hangup_side: str | None
    recording: str | None  # the URL of the recording
    incomplete: bool
    source: str | None
    surveyed: bool
    callback: CallbackRow | None
    transferred_from: list[str]  # the operators before `operator`, first first


@dataclass(frozen=True, slots=True)
class StatsRow:
    """The operator load of one group."""

    key: Any  # operator, queue, or the bucket's local start
    total: int
    answered: int
    missed: int
    missed_share: float | None
    called_back: int
    callback_median_seconds: float | None
    ring_average_seconds: float | None
    talk_average_seconds: float | None
    talk_total_seconds: float | None
    surveyed: int
    response_rate: float | None


@dataclass(frozen=True)
class CallsPage:
    items: list[CallRow]
    next_after: tuple[Any, int] | None  # (sort value, id) of the last item when the page is full


def _after(column: Any, descending: bool, value: Any, ident: int) -> Any:
    """Rows after (value, id) in the order (column IS NULL, column, id), both in the same direction."""
    if value is None:
        return and_(column.is_(None), Call.id < ident if descending else Call.id > ident)
    beyond = column < value if descending else column > value
    tie = Call.id < ident if descending else Call.id > ident
    return or_(beyond, and_(column == value, tie), column.is_(None))


async def list_calls(
    session: AsyncSession,
    *,
    filters: CallFilter = CallFilter(),
    sort: str = "started_at",
    descending: bool = True,
    limit: int = 100,
    after: tuple[Any, int] | None = None,
) -> CallsPage:
    column = SORTS[sort]
    stmt = _calls_query().where(*_conditions(filters))
    if after is not None:
        stmt = stmt.where(_after(column, descending, *after))
    order = column.desc() if descending else column.asc()
    ident = Call.id.desc() if descending else Call.id.asc()
    stmt = stmt.order_by(case((column.is_(None), 1), else_=0), order, ident).limit(limit)
    rows = (await session.execute(stmt)).all()
    items = await _items(session, list(rows))
    full = len(rows) == limit
    return CallsPage(items, (getattr(rows[-1], f"sort_{sort}"), rows[-1].Call.id) if full else None)


async def iter_calls(
    session: AsyncSession,
    *,
    filters: CallFilter = CallFilter(),
    sort: str = "started_at",
    descending: bool = True,
    batch: int = 1000,
) -> AsyncIterator[CallRow]:
    """Every matching call in the given order, a keyset page at a time, so that memory stays flat."""
    after = None
    while True:
        page = await list_calls(session, filters=filters, sort=sort, descending=descending, limit=batch, after=after)
        for item in page.items:
            yield item
        if page.next_after is None:
            return
        after = page.next_after


def _calls_query() -> Select[Any]:
    surveyed = exists().where(SurveyResponse.call_id == Call.id)
    return (
        select(
            Call,
            AnsweredBy.code.label("operator"),
            AnsweredBy.name.label("operator_name"),
            _callback_at().label("callback_at"),
            surveyed.label("surveyed"),
            *(col.label(f"sort_{name}") for name, col in SORTS.items()),
        )
        .select_from(Call)
        .outerjoin(AnsweredBy, AnsweredBy.id == Call.operator_id)
    )


async def _items(session: AsyncSession, rows: list[Any]) -> list[CallRow]:
    """The page's rows as calls: who was rung and who called back, fetched for the whole page at once."""
    rung: dict[int, list[str]] = defaultdict(list)
    if rows:
        found = await session.execute(
            select(CallOperator.call_id, Operator.code)
            .join(Operator, Operator.id == CallOperator.operator_id)
            .where(CallOperator.call_id.in_([r.Call.id for r in rows]), CallOperator.role == "rung")
            .order_by(CallOperator.id)
        )
        for call_id, code in found.all():
            rung[call_id].append(code)
    wanted = {(r.Call.client_number, r.callback_at) for r in rows if r.callback_at is not None}
    callbacks: dict[tuple[str, datetime], Any] = {}
    if wanted:
        found = await session.execute(
            select(Callback.client_number, Callback.started_at, Callback.linkedid, Operator.code)
            .outerjoin(Operator, Operator.id == Callback.operator_id)
            .where(
                Callback.direction == "outbound",
                Callback.disposition == "answered",
                tuple_(Callback.client_number, Callback.started_at).in_(list(wanted)),
            )
            .order_by(Callback.id.desc())  # of two callbacks at the same instant, the first stored wins
        )
        callbacks = {(row.client_number, row.started_at): row for row in found.all()}
    return [_item(row, rung[row.Call.id], callbacks.get((row.Call.client_number, row.callback_at))) for row in rows]


def _item(row: Any, rung: list[str], back: Any) -> CallRow:
    call: Call = row.Call
    callback = None
    if back is not None:
        after = round((row.callback_at - call.started_at).total_seconds(), 3)
        callback = CallbackRow(back.linkedid, back.code, row.callback_at, after)
    return CallRow(
        call_id=call.linkedid,
        direction=call.direction,
        disposition=call.disposition,
        caller=call.caller_number,
        client_number=call.client_number,
        queue=call.queue,
        operator=row.operator,
        operator_name=row.operator_name,
        rung_operators=rung,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        ring_seconds=call.ring_seconds,
        talk_seconds=call.talk_seconds,
        hangup_side=call.hangup_side,
        recording=f"/calls/{call.linkedid}/recording" if call.recording else None,
        incomplete=call.incomplete,
        source=call.history_source,
        surveyed=bool(row.surveyed),
        callback=callback,
        transferred_from=list(call.transferred_from or []),
    )


async def get_call(session: AsyncSession, *, linkedid: str) -> CallRow | None:
    """The call (history or not: a call only surveyed so far is found too)."""
    row = (await session.execute(_calls_query().where(Call.linkedid == linkedid))).one_or_none()
    return (await _items(session, [row]))[0] if row is not None else None


async def recording_of(session: AsyncSession, *, linkedid: str) -> tuple[bool, str | None]:
    """(whether the call exists, the recording's file name as Asterisk gave it)."""
    found = (await session.execute(select(Call.recording).where(Call.linkedid == linkedid))).one_or_none()
    return (found is not None, found.recording if found is not None else None)


async def call_stats(session: AsyncSession, *, group_by: str, filters: CallFilter, tz: ZoneInfo) -> list[StatsRow]:
    """The operator-load view per group: totals, answered and missed, callbacks, ring and talk time, surveys.
    Groups by STATS_GROUPINGS: operator, queue, hour and day (keys: the bucket's local start, labelled),
    hour_of_day (the local hour 0-23 of the call's start in `tz`, by the offset at that instant, so a period
    across a DST change puts each call in the hour its clock showed; hours without calls are left out) and all
    (one group, key None, of zeros for a period without calls)."""
    start, end = utc_bounds(filters.date_from, filters.date_to)
    filters = replace(filters, date_from=start, date_to=end)
    dialect = dialect_of(session)
    if group_by == "operator":
        # an operator's calls: those they answered, and those that rang them and nobody answered
        key: Any = Operator.code
        base = (
            select(Call.id)
            .join(CallOperator, CallOperator.call_id == Call.id)
            .join(Operator, Operator.id == CallOperator.operator_id)
            .where(
                or_(CallOperator.role == "answered", and_(CallOperator.role == "rung", Call.disposition != "answered"))
            )
        )
    elif group_by == "queue":
        key, base = Call.queue, select(Call.id)
    elif group_by == "hour_of_day":
        key, base = local_hour(dialect, epoch_of(dialect, Call.started_at), tz, start, end), select(Call.id)
    elif group_by == "all":
        key, base = cast(null(), String), select(Call.id)  # every call in one group; a typed NULL for PostgreSQL
    else:
        key = bucket_start(dialect, epoch_of(dialect, Call.started_at), group_by, tz, start, end)
        base = select(Call.id)
    if group_by == "operator" and filters.team is not None:  # a team's calls, grouped by the team's operators
        base = base.where(Operator.team == filters.team)
    callback_at = _callback_at()
    responded = exists().where(SurveyResponse.call_id == Call.id, SurveyResponse.score.is_not(None))
    surveyed = exists().where(SurveyResponse.call_id == Call.id)
    facts = (
        base.add_columns(
            key.label("key"),
            Call.disposition,
            Call.ring_seconds,
            Call.talk_seconds,
            case(
                (callback_at.is_not(None), epoch_of(dialect, callback_at) - epoch_of(dialect, Call.started_at)),
                else_=None,
            ).label("callback_delay"),
            case((surveyed, 1), else_=0).label("surveyed"),
            case((responded, 1), else_=0).label("responded"),
        )
        .where(*_conditions(filters))
        .subquery()
    )
    answered = facts.c.disposition == "answered"
    missed = facts.c.disposition.in_(MISSED)
    totals = select(
        facts.c.key,
        func.count().label("total"),
        func.sum(case((answered, 1), else_=0)).label("answered"),
        func.sum(case((missed, 1), else_=0)).label("missed"),
        func.count(facts.c.callback_delay).label("called_back"),
        func.avg(facts.c.ring_seconds).label("ring_average"),
        func.avg(case((answered, facts.c.talk_seconds), else_=None)).label("talk_average"),
        func.sum(case((answered, facts.c.talk_seconds), else_=None)).label("talk_total"),
        func.sum(facts.c.surveyed).label("surveyed"),
        func.sum(case((answered, facts.c.responded), else_=0)).label("responded"),
    ).group_by(facts.c.key)
    # the median callback delay per group: the middle one or two of the delays in order
    ranked = (
        select(
            facts.c.key,
            facts.c.callback_delay.label("delay"),
            func.row_number().over(partition_by=facts.c.key, order_by=facts.c.callback_delay).label("rn"),
            func.count().over(partition_by=facts.c.key).label("cnt"),
        )
        .where(facts.c.callback_delay.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.rn == (ranked.c.cnt + 1) // 2, ranked.c.rn == (ranked.c.cnt + 2) // 2)
    medians_stmt = select(ranked.c.key, func.avg(ranked.c.delay)).where(middle).group_by(ranked.c.key)
    medians = dict((await session.execute(medians_stmt)).all())
    groups = []
    labels = tz if group_by in ("hour", "day") else None  # time buckets' keys are labelled in the time zone
    for row in sorted((await session.execute(totals)).all(), key=lambda r: key_order(r.key)):
        answered_n, missed_n = int(row.answered or 0), int(row.missed or 0)
        median = medians.get(row.key)
        groups.append(
            StatsRow(
                key=bucket_label(int(row.key), labels) if labels is not None else row.key,
                total=row.total,
                answered=answered_n,
                missed=missed_n,
                missed_share=round(missed_n / row.total, 4) if row.total else None,
                called_back=row.called_back,
                callback_median_seconds=round(float(median), 1) if median is not None else None,
                ring_average_seconds=_round(row.ring_average),
                talk_average_seconds=_round(row.talk_average),
                talk_total_seconds=_round(row.talk_total),
                surveyed=int(row.surveyed or 0),
                response_rate=round(int(row.responded or 0) / answered_n, 4) if answered_n else None,
            )
        )
    if group_by == "all" and not groups:  # the one group, of no calls
        groups.append(StatsRow(None, 0, 0, 0, None, 0, None, None, None, None, 0, None))
    return groups


def _round(value: Any) -> float | None:
    return round(float(value), 2) if value is not None else None


async def queue_names(session: AsyncSession) -> list[str]:
    """Every queue a stored call went through, by name."""
    stmt = select(Call.queue).where(Call.queue.is_not(None)).distinct().order_by(Call.queue)
    return [queue for queue in (await session.execute(stmt)).scalars() if queue is not None]
