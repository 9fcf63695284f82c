"""Aggregates of survey results by operator, queue, survey or time bucket: counted by the database.

By default they count the first question of each response, on its own scale: survey_responses holds copies of
what they group and filter on (operator, queue, survey, first score and CSAT's verdict on it, decided by its
survey version when written), read through a covering index per grouping, counting (key, score, verdict)
triples in index order and then folding them into one row per key. Time buckets are made in two steps:
responses are first counted per UTC slot, then the slots are added up into the caller's hours, days, weeks or
months in their time zone. With no filter but the period, the counts per quarter hour are already there
(response_slot_tallies and response_slot_other_scores, kept by triggers); only the two slots the period's
bounds may cut are counted from the responses. So are operator, queue and survey summaries, from the counts
per UTC day and group (response_group_tallies and response_group_other_scores), the two days the bounds may
cut counted from the responses. With filters, the database counts responses per UTC hour (per quarter hour in
half-hour time zones); operator, queue and survey summaries of a period holding under a tenth of all
responses read that period's range of the hour index instead of all of their own index. The summary
of the whole period (group_by "all") is read as a time summary is, and added up into one row.

A summary of one question by its key counts that question's answers (survey_answers) in the same groups,
with the measures of its kind: NPS for a 0-10 question, the share of yes for a yes/no one.

CQR stands next to the operator, time and whole-period groups (cqr_summary); criterion_summary splits it by
criterion from the evaluations' stored scores, counted per (scorecard, criterion, score) and weighed with
exact fractions, as compute_cqr weighs them."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Boolean,
    Row,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ..cqr import CRITERIA, GOOD_THRESHOLD
from ..survey.definition import Question
from .engine import dialect_of
from .funnel import FUNNEL_GROUPINGS, Funnel, funnel_summary
from .models import (
    Call,
    CqrEvaluation,
    CqrScorecard,
    Operator,
    ResponseGroupOtherScore,
    ResponseGroupTally,
    ResponseSlotOtherScore,
    ResponseSlotTally,
    Survey,
    SurveyAnswer,
    SurveyResponse,
    SurveyVersion,
)
from .ratings import CampaignScope, RatingColumns, RatingFilter, rating_conditions
from .timebuckets import (
    DAY,
    HOUR,
    QUARTER_HOUR,
    UNITS,
    bucket_start,
    epoch_of,
    in_key_order,
    slot_seconds,
    utc_bounds,
)

# "all": one group over the whole period (key None), always there, of zeros when nothing was counted
GROUPINGS = ("operator", "queue", "survey", *UNITS, "all")
# CQR is about the operator's work in a period, so it stands next to these groupings only.
CQR_GROUPINGS = ("operator", *UNITS, "all")
# Scores the tallies count in columns: the whole numbers 0-10, which one- and two-key answers are usually scored.
# A summary reads the columns of its scales' scores only (each column adds some 6 % to a year's time summary);
# any other score comes back per group as text ("score:count,..."), so that one read of an index serves any
# scale.
WIDE_SCORES = tuple(range(11))
Z95 = 1.959963984540054


@functools.lru_cache(maxsize=1 << 16)  # a year of hourly groups repeats the same few thousand (k, n) pairs
def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; None without observations."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return round(max(0.0, center - half), 4), round(min(1.0, center + half), 4)


def _period(filters: RatingFilter) -> tuple[datetime, datetime]:
    """The bounds of a summary's period, which with_period has set."""
    assert filters.date_from is not None and filters.date_to is not None
    return filters.date_from, filters.date_to


def with_period(filters: RatingFilter) -> RatingFilter:
    """Summaries cover a period: the one asked for, else the last 30 days."""
    start, end = utc_bounds(filters.date_from, filters.date_to)
    return replace(filters, date_from=start, date_to=end)


class UnknownQuestion(ValueError):
    """A question no survey in the summary's scope asks, or one they ask as different kinds."""


@dataclass(frozen=True, slots=True)
class Nps:
    """A nps question's counts: % promoters (9-10) minus % detractors (0-6)."""

    nps: float | None
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True, slots=True)
class YesNo:
    """A yes/no question's counts: yes scored 1, no scored 0."""

    yes: int
    no: int
    yes_share: float | None
    yes_ci95: tuple[float, float] | None


@dataclass(slots=True)
class SummaryGroup:
    """One group of a summary: what callers said in it, on the question's own scale."""

    key: Any  # operator, queue, survey (None: unknown), or a time bucket (its local start, labelled at the end)
    offered: int
    responses: int
    response_rate: float | None
    average: float | None
    csat: float | None
    csat_ci95: tuple[float, float] | None
    csat_responses: int
    distribution: dict[str, int]
    nps: Nps | None = None  # a nps question's
    yes_no: YesNo | None = None  # a yes/no question's
    cqr_average: float | None = None
    cqr_evaluations: int | None = None  # None: a grouping without CQR (queue, survey)
    cqr_good: int | None = None  # evaluations with CQR >= GOOD_THRESHOLD; None as cqr_evaluations
    funnel: Funnel | None = None  # asked for (FUNNEL_GROUPINGS only)

    @property
    def cqr_good_share(self) -> float | None:
        """The share of good calls among the evaluated; None without evaluations (or without CQR)."""
        return round((self.cqr_good or 0) / self.cqr_evaluations, 4) if self.cqr_evaluations else None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a summary counts: the first question of every response (question None), or the question with this
    key. scale holds the question's scores in the stored versions of the surveys in scope: the distribution
    lists each of them. For a question key, rules maps each version asking it to its satisfied scores."""

    question: str | None = None
    kind: str | None = None
    scale: frozenset[float] = frozenset()
    rules: Mapping[int, frozenset[float] | None] = field(default_factory=dict)


async def summary_scope(session: AsyncSession, filters: RatingFilter, question: str | None = None) -> Scope:
    """The scope of a summary of the first question (question None) or of the question with that key, over the
    surveys the survey filter names (all without it). Raises UnknownQuestion."""
    stmt = select(SurveyVersion.id, SurveyVersion.definition)
    if filters.survey is not None:
        stmt = stmt.join(Survey, Survey.id == SurveyVersion.survey_id).where(Survey.name == filters.survey)
    asked: dict[int, Question] = {}
    for version_id, definition in (await session.execute(stmt)).all():
        for raw in definition["questions"] if question is not None else definition["questions"][:1]:
            if question is None or raw["key"] == question:
                asked[version_id] = Question.from_dict(raw)
    scale = frozenset(score for q in asked.values() for score in q.scores.values())
    if question is None:
        return Scope(scale=scale)
    kinds = sorted({q.summary_kind for q in asked.values()})
    if not kinds:
        surveys = f"survey {filters.survey!r}" if filters.survey is not None else "any survey"
        raise UnknownQuestion(f"no question {question!r} in {surveys}")
    if len(kinds) > 1:
        raise UnknownQuestion(f"question {question!r} is asked as {' and as '.join(kinds)}: choose a survey=")
    return Scope(question, kinds[0], scale, {v: q.satisfied_scores for v, q in asked.items()})


async def question_keys(session: AsyncSession, *, kind: str) -> list[str]:
    """The keys of the questions any stored survey version asks as `kind` (e.g. nps), sorted."""
    keys = set()
    for (definition,) in (await session.execute(select(SurveyVersion.definition))).all():
        for raw in definition["questions"]:
            if Question.from_dict(raw).summary_kind == kind:
                keys.add(raw["key"])
    return sorted(keys)


def _period_slots(filters: RatingFilter, size: int) -> tuple[int, int, int]:
    """The period's slots of `size` seconds: the one holding its start, the first it holds whole, and the one
    holding its end (the period holds whole every slot from the second number up to, not including, the
    third)."""
    start, end = (bound.timestamp() for bound in _period(filters))
    return math.floor(start / size), math.ceil(start / size), math.floor(end / size)


def _filtered(
    session: AsyncSession, stmt: Select[Any], filters: RatingFilter, slot: tuple[Any, int] | None = None
) -> Select[Any]:
    """`stmt` narrowed to the filters. Given (slot column, slot seconds), whole slots inside the period are
    taken by slot number; only a slot the period's bounds cut compares the timestamp itself.

    On SQLite only the operator filter may lead to an index (a seek to that operator's few entries in its
    covering index); every other condition is kept from the planner, which then reads the covering index in
    the grouping's order. Without statistics it would take any index a condition matches and look up every
    row found there: over a million responses, survey=default took 1.7 s that way, against 0.1 s."""
    r = SurveyResponse
    hidden = functools.partial(_unindexed, session)
    started = hidden(r.started_at)
    in_period = and_(started >= filters.date_from, started < filters.date_to)
    offered = hidden(r.status) != "not_offered"  # a call not offered the survey is no response (status is covered)
    conditions: list[Any] = [in_period, offered]
    if slot is not None:
        column, size = slot
        first, first_whole, end_whole = _period_slots(filters, size)
        conditions = [
            # the period's slots: a range of the time index, so that only the period's entries are read
            column >= first,
            column <= end_whole,
            or_(and_(hidden(column) >= first_whole, hidden(column) < end_whole), in_period),
            offered,
        ]
    copies = RatingColumns(
        operator_id=r.operator_id,
        queue=hidden(r.queue),
        survey_id=hidden(r.survey_id),
        status=hidden(r.status),
        reason=hidden(r.reason),
        score=hidden(r.score),
        # one campaign's few responses are best found by its index; "none" (most of them) is kept from it
        campaign_id=r.campaign_id if isinstance(filters.campaign, int) else hidden(r.campaign_id),
    )
    return stmt.where(*conditions, *rating_conditions(filters, copies))


def _unindexed(session: AsyncSession, column: Any) -> Any:
    """On SQLite, a column the planner will not use an index for (see _filtered; cqr_summary keeps a year's
    calls, or a queue's, off the calls' indexes so that its join starts from the small evaluations table).
    PostgreSQL, with statistics, plans well alone."""
    return func.coalesce(column, column) if dialect_of(session) == "sqlite" else column


def _pairs(
    session: AsyncSession, scope: Scope, key: Any, filters: RatingFilter, slot: tuple[Any, int] | None = None
) -> Subquery:
    """(key, score, satisfied, n): the responses in scope counted by key, score and CSAT's verdict. The first
    question's are read from one covering index; a question's answers are joined to their responses (one
    answer per response and question), a response without one counting as offered and unanswered."""
    r, n = SurveyResponse, func.count().label("n")
    if scope.question is None:
        stmt = select(key.label("key"), r.score, r.satisfied, n).group_by(key, r.score, r.satisfied)
        return _filtered(session, stmt, filters, slot).subquery()
    a = SurveyAnswer
    answers = (
        select(
            key.label("key"),
            a.score.label("score"),
            _verdict(scope.rules, r.survey_version_id, a.score).label("satisfied"),
        )
        .select_from(r)
        .outerjoin(a, and_(a.response_id == r.id, a.question == scope.question))
        .where(r.survey_version_id.in_(sorted(scope.rules)))
    )
    rows = _filtered(session, answers, filters, slot).subquery()
    return select(rows.c.key, rows.c.score, rows.c.satisfied, n).group_by(*rows.c).subquery()


def _verdict(rules: Mapping[int, frozenset[float] | None], version: Any, score: Any) -> Any:
    """CSAT's verdict on an answer by the satisfied scores of its survey version; NULL without a score or
    without satisfied scores."""
    versions: dict[frozenset[float], list[int]] = {}
    for version_id, scores in rules.items():
        if scores is not None:
            versions.setdefault(scores, []).append(version_id)
    unknown = cast(null(), Boolean)  # typed: PostgreSQL reads a bare NULL in a subquery as text
    if not versions:
        return unknown
    whens = [(version.in_(ids), score.in_(sorted(scores))) for scores, ids in versions.items()]
    return case((score.is_(None), unknown), *whens, else_=unknown)


def _others(score: Any, n: Any) -> Any:
    """A score off the columns and its count as text, "score:count"; a group's are joined with commas."""
    return cast(score, String) + ":" + cast(n, String)


def _fold(pairs: Subquery, key: Any, columns: Sequence[int]) -> Select[Any]:
    """One row per key from (key, score, satisfied, n) pairs, in the shape of a tally row: offered, responses,
    the score total, satisfied, csat_responses (judged satisfied or not), the counts of the scores in columns
    and the other scores' text. Key None: one row of every pair (see _whole)."""

    def count_of(condition: Any) -> Any:  # a plain integer on both databases (PostgreSQL sums to numeric)
        return cast(func.coalesce(func.sum(case((condition, pairs.c.n), else_=0)), 0), BigInteger)

    score = pairs.c.score
    stmt = select(
        _key_column(key),
        cast(func.sum(pairs.c.n), BigInteger).label("offered"),
        count_of(score.is_not(None)).label("responses"),
        func.sum(score * pairs.c.n).label("score_total"),
        count_of(pairs.c.satisfied.is_(True)).label("satisfied"),
        count_of(pairs.c.satisfied.is_not(None)).label("csat_responses"),
        *(count_of(score == s).label(f"score_{s}") for s in columns),
        func.aggregate_strings(case((score.not_in(columns), _others(score, pairs.c.n))), ",").label("others"),
    )
    return _whole(key, stmt)


def _key_column(key: Any) -> Any:
    return (key if key is not None else null()).label("key")


def _whole(key: Any, stmt: Select[Any]) -> Select[Any]:
    """`stmt` grouped by `key`; key None: not grouped at all, one row of everything (a constant key cannot be
    grouped by on both databases: SQLite reads GROUP BY 1 as the first column, PostgreSQL refuses GROUP BY
    'all'). Over no rows that one row holds NULL sums: see _counted."""
    return stmt.group_by(key) if key is not None else stmt


async def _rows(session: AsyncSession, stmt: Select[*tuple[Any, ...]]) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows of a Core select, run on the session's connection: the ORM's handling of result rows is
    a tenth of a year-by-hour summary's time, and these rows are no entities."""
    rows: Sequence[Row[*tuple[Any, ...]]] = (await (await session.connection()).execute(stmt)).all()
    return rows


def _tally_counts(t: type[ResponseSlotTally] | type[ResponseGroupTally], columns: Sequence[int]) -> list[Any]:
    """A tally table's counts, in the order of a tally row (see _fold), of the scores in `columns`."""
    return [
        t.offered,
        t.responses,
        t.score_total,
        t.satisfied,
        t.csat_responses,
        *(getattr(t, f"score_{s}") for s in columns),
    ]


def _cut(first: int, first_whole: int, end_whole: int) -> list[int]:
    """The (at most two) slots a period's bounds cut, of the numbers _period_slots gives."""
    return sorted({s for s in (first, end_whole) if not first_whole <= s < end_whole})


def _slot_rows(session: AsyncSession, filters: RatingFilter, columns: Sequence[int]) -> Subquery:
    """Rows in the shape of a tally row per quarter hour of the period: the stored tallies and other scores of
    the slots wholly inside it, and the responses of the (at most two) slots its bounds cut. A whole score
    not in `columns` is missed in the stored tallies: see _strays."""
    t, o, r = ResponseSlotTally, ResponseSlotOtherScore, SurveyResponse
    first, first_whole, end_whole = _period_slots(filters, QUARTER_HOUR)
    counts = _tally_counts(t, columns)
    whole = select(t.slot, *counts, cast(null(), String).label("others")).where(
        t.slot >= first_whole, t.slot < end_whole, t.offered != 0
    )
    # literal zeros, not parameters: PostgreSQL cannot type a parameter in a UNION
    others: Select[*tuple[Any, ...]] = select(
        o.slot, *(literal_column("0") for _ in counts), _others(o.score, o.responses)
    ).where(o.slot >= first_whole, o.slot < end_whole, o.responses != 0)
    started = _unindexed(session, r.started_at)
    edges = (
        select(r.started_slot.label("key"), r.score, r.satisfied, func.count().label("n"))
        .where(
            r.started_slot.in_(_cut(first, first_whole, end_whole)),
            started >= filters.date_from,
            started < filters.date_to,
        )
        .group_by(r.started_slot, r.score, r.satisfied)
        .subquery()
    )
    return union_all(whole, others, _fold(edges, edges.c.key, columns)).subquery()


SLOTS_PER_DAY = DAY // QUARTER_HOUR


def _group_key(grouping: str) -> Any:
    """A response's key in the group tallies of `grouping`: its column as text, '' for none (as migration 0014's
    triggers write it)."""
    r = SurveyResponse
    column = {"operator": r.operator_id, "queue": r.queue, "survey": r.survey_id}[grouping]
    return func.coalesce(column if grouping == "queue" else cast(column, String), "")


def _group_rows(session: AsyncSession, grouping: str, filters: RatingFilter, columns: Sequence[int]) -> Subquery:
    """Rows in the shape of a tally row per UTC day and key of the period, for an operator, queue or survey
    summary: the stored group tallies and other scores of the days wholly inside it, and the responses of the
    (at most two) days its bounds cut, read by quarter hour from the slot index."""
    t, o, r = ResponseGroupTally, ResponseGroupOtherScore, SurveyResponse
    first, first_whole, end_whole = _period_slots(filters, DAY)
    # added up per key as the primary key's order reads them, so that a few rows a key meet the edges' below
    whole = (
        select(
            t.group_key.label("key"),
            *(
                cast(func.sum(c), c.type if c is t.score_total else BigInteger).label(c.key)
                for c in _tally_counts(t, columns)
            ),
            cast(null(), String).label("others"),
        )
        # a key's rows may all be 0: what it counted moved to another (the history named the operator after a
        # transfer) or was deleted
        .where(t.grouped_by == grouping, t.day >= first_whole, t.day < end_whole, t.offered != 0)
        .group_by(t.group_key)
    )
    counts = _tally_counts(t, columns)
    others: Select[*tuple[Any, ...]] = select(
        o.group_key, *(literal_column("0") for _ in counts), _others(o.score, o.responses)
    ).where(o.grouped_by == grouping, o.day >= first_whole, o.day < end_whole, o.responses != 0)
    started = _unindexed(session, r.started_at)
    cut_days = [
        and_(r.started_slot >= day * SLOTS_PER_DAY, r.started_slot < (day + 1) * SLOTS_PER_DAY)
        for day in _cut(first, first_whole, end_whole)
    ]
    key = _group_key(grouping)
    edges = (
        select(key.label("key"), r.score, r.satisfied, func.count().label("n"))
        .where(or_(false(), *cut_days), started >= filters.date_from, started < filters.date_to)
        .group_by(key, r.score, r.satisfied)
        .subquery()
    )
    return union_all(whole, others, _fold(edges, edges.c.key, columns)).subquery()


def _sum_rows(rows: Subquery, key: Any, columns: Sequence[int]) -> Select[Any]:
    """One row per key from rows in the shape of a tally row, added up."""

    def total(column: Any) -> Any:  # a plain integer on both databases (PostgreSQL sums bigints to numeric)
        return cast(func.sum(column), BigInteger)

    stmt = select(
        _key_column(key),
        total(rows.c.offered),
        total(rows.c.responses),
        func.sum(rows.c.score_total),
        total(rows.c.satisfied),
        total(rows.c.csat_responses),
        *(total(rows.c[f"score_{s}"]) for s in columns),
        func.aggregate_strings(rows.c.others, ","),
    )
    return _whole(key, stmt)


# Below this share of all responses, a period is read from the time index (its entries only, grouped in a
# temporary b-tree) rather than from the grouping's index in order (every entry, grouped as read): grouping
# aside costs five to six times as much per entry (SQLite, a million responses).
SMALL_SHARE = 0.1


async def _holds_a_small_share(session: AsyncSession, filters: RatingFilter) -> bool:
    """Whether the period holds under SMALL_SHARE of the responses, by the per-quarter-hour tallies (a year of
    them is 35,040 rows: a few milliseconds)."""
    t = ResponseSlotTally
    first, _, last = _period_slots(filters, QUARTER_HOUR)
    in_period = func.sum(case((and_(t.slot >= first, t.slot <= last), t.offered), else_=0))
    inside, everything = (await _rows(session, select(in_period, func.sum(t.offered))))[0]
    return bool(everything) and inside < SMALL_SHARE * everything


Tallied = tuple[Sequence[int], list[tuple[Any, Any]]]


async def _tally_rows(
    session: AsyncSession, group_by: str, filters: RatingFilter, tz: ZoneInfo, scope: Scope, columns: Sequence[int]
) -> Tallied:
    """The scores in columns and (key, tally row) pairs: the database counts (key, score, satisfied) triples
    from a covering index (or the question's answers), then folds them into one row per key."""
    r = SurveyResponse
    dialect = dialect_of(session)
    only_a_period = replace(filters, date_from=None, date_to=None) == RatingFilter()
    # the whole period is read as the time groupings read it, and added up into one row (key None)
    timed = group_by in UNITS or group_by == "all"
    if scope.question is None and timed and only_a_period:
        slots = _slot_rows(session, filters, columns)
        epoch = cast(slots.c.slot, BigInteger) * QUARTER_HOUR
        key = bucket_start(dialect, epoch, group_by, tz, *_period(filters)) if group_by != "all" else None
        rows = _counted(await _rows(session, _sum_rows(slots, key, columns)))
        if columns != WIDE_SCORES and any(_strays(row) for row in rows):  # rare: read every column
            return await _tally_rows(session, group_by, filters, tz, scope, WIDE_SCORES)
        return columns, [(row[0], row[1:]) for row in rows]
    if timed:
        # any slot will do for the whole period: its bounds are compared exactly in the slots they cut
        size = slot_seconds(tz, *_period(filters)) if group_by != "all" else HOUR
        slot = r.started_hour if size == HOUR else r.started_slot
        pairs = _pairs(session, scope, slot, filters, (slot, size))
        epoch = cast(pairs.c.key, BigInteger) * size
        key = bucket_start(dialect, epoch, group_by, tz, *_period(filters)) if group_by != "all" else None
        rows = _counted(await _rows(session, _fold(pairs, key, columns)))
        return columns, [(row[0], row[1:]) for row in rows]
    if scope.question is None and only_a_period:
        groups = _group_rows(session, group_by, filters, columns)
        rows = await _rows(session, _sum_rows(groups, groups.c.key, columns))
        if columns != WIDE_SCORES and any(_strays(row) for row in rows):
            return await _tally_rows(session, group_by, filters, tz, scope, WIDE_SCORES)
        keyed = [(row[0] or None, row[1:]) for row in rows]  # '' is no operator, queue or survey
        if group_by == "queue":
            return columns, keyed
        return columns, await _named(session, group_by, [(int(k) if k else None, row) for k, row in keyed])
    column = {"operator": r.operator_id, "queue": r.queue, "survey": r.survey_id}[group_by]
    if filters.operator is None and await _holds_a_small_share(session, filters):
        # the period's entries of the hour index, grouped aside, rather than every entry of the grouping's
        pairs = _pairs(session, scope, column, filters, (r.started_hour, HOUR))
    else:
        pairs = _pairs(session, scope, column, filters)
    rows = await _rows(session, _fold(pairs, pairs.c.key, columns))
    if group_by == "queue":
        return columns, [(row[0], row[1:]) for row in rows]
    return columns, await _named(session, group_by, [(row[0], row[1:]) for row in rows])


async def _named(session: AsyncSession, group_by: str, rows: list[tuple[int | None, Any]]) -> list[tuple[Any, Any]]:
    """(key, row) pairs with their operator or survey ids as the operators' codes, the surveys' names."""
    model, name = (Operator, Operator.code) if group_by == "operator" else (Survey, Survey.name)
    names: dict[int | None, str] = dict((await session.execute(select(model.id, name))).all())
    return [(names.get(key), row) for key, row in rows]


def _counted(rows: Sequence[Row[*tuple[Any, ...]]]) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows that counted something: an ungrouped select (_whole) over no rows gives one of NULLs."""
    return [row for row in rows if row[1] is not None]


def _other_counts(text: str | None) -> dict[float, int]:
    """score -> count from the text of _others (a score may appear more than once)."""
    counts: dict[float, int] = {}
    for item in text.split(",") if text else ():
        score, n = item.rsplit(":", 1)
        counts[float(score)] = counts.get(float(score), 0) + int(n)
    return counts


def _columns(scope: Scope) -> tuple[int, ...]:
    """The scores counted in columns: those of the scope's scales that the tallies count in columns."""
    return tuple(s for s in WIDE_SCORES if s in scope.scale)


def _strays(row: Any) -> bool:
    """Whether a row of (key, tally row) holds responses neither in its columns nor in its text: whole scores
    off every scale (a bulk load, a hand edit), which the stored tallies count in columns not read."""
    counted = sum(row[6:-1])
    if row[-1]:
        counted += sum(_other_counts(row[-1]).values())
    return bool(row[2] != counted)


def _label(score: float) -> str:
    """A distribution's key: "4" for 4.0, "2.5" for 2.5."""
    return str(int(score)) if float(score).is_integer() else repr(float(score))


class _Groups:
    """Summary groups from tally rows (offered, responses, score total, satisfied, csat_responses, the counts of
    the scores in columns, the other scores' text). The distribution lists every score of the scope's scales
    and every other score counted in any group, in the same order in each. Written out flat: a year by hour
    makes 8,760 groups per request."""

    def __init__(self, scope: Scope, columns: Sequence[int], rows: list[tuple[Any, Any]]) -> None:
        self._kind = scope.kind
        self._columns = columns
        self._empty = (0, 0, None, 0, 0, *(0 for _ in self._columns), None)
        others: set[float] = set()
        for _, row in rows:
            if row[-1]:
                others.update(score for score, n in _other_counts(row[-1]).items() if n)
        counted = {s for i, s in enumerate(self._columns) if any(row[5 + i] for _, row in rows)}
        shown = sorted({float(s) for s in scope.scale | counted} | others)
        self._labels = [_label(s) for s in shown]
        self._by_score = list(zip(self._labels, shown, strict=True))
        # the common case: the distribution is the columns, in order
        self._columns_only = shown == [float(s) for s in self._columns] and scope.kind is None

    def group(self, key: Any, row: Any = None) -> SummaryGroup:
        row = row or self._empty
        offered, responses, total, satisfied, judged = row[:5]
        by_score: dict[float, int] = {}
        if self._columns_only:
            distribution = dict(zip(self._labels, row[5:], strict=False))  # stops at the last column's label
        else:
            by_score = {**dict(zip(self._columns, row[5:-1], strict=True)), **_other_counts(row[-1])}
            distribution = {label: by_score.get(score, 0) for label, score in self._by_score}
        return SummaryGroup(
            key=key,
            offered=offered,
            responses=responses,
            response_rate=round(responses / offered, 4) if offered else None,
            average=round(float(total) / responses, 4) if responses else None,
            csat=round(satisfied / judged, 4) if judged else None,
            csat_ci95=wilson_interval(satisfied, judged),
            csat_responses=judged,
            distribution=distribution,
            nps=_nps(by_score) if self._kind == "nps" else None,
            yes_no=_yes_no(by_score) if self._kind == "yes_no" else None,
        )


def _nps(counts: Mapping[float, int]) -> Nps:
    """Net promoter score from the counts by score: % promoters (9-10) minus % detractors (0-6)."""
    promoters = sum(counts.get(s, 0) for s in (9, 10))
    passives = sum(counts.get(s, 0) for s in (7, 8))
    detractors = sum(counts.get(s, 0) for s in range(7))
    answered = promoters + passives + detractors
    nps = round(100 * (promoters - detractors) / answered, 1) if answered else None
    return Nps(nps=nps, promoters=promoters, passives=passives, detractors=detractors)


def _yes_no(counts: Mapping[float, int]) -> YesNo:
    """The share of yes (scored 1) among yes and no (scored 0)."""
    yes, no = counts.get(1, 0), counts.get(0, 0)
    answered = yes + no
    return YesNo(
        yes=yes,
        no=no,
        yes_share=round(yes / answered, 4) if answered else None,
        yes_ci95=wilson_interval(yes, answered),
    )


def empty_group(key: Any) -> SummaryGroup:
    """A group of no responses (with no distribution)."""
    return _Groups(Scope(), (), []).group(key)


async def ratings_summary(
    session: AsyncSession,
    *,
    group_by: str,
    filters: RatingFilter,
    tz: ZoneInfo,
    scope: Scope | None = None,
    funnel: bool = False,
) -> list[SummaryGroup]:
    """One group per key (None: unknown operator / no queue), keys in order, unknown last; of the first question
    unless the scope names one. group_by "all": exactly one group (key None), of zeros for an empty period, so
    that a total is always there; its counts are the sums of the operator groups' (CQR's too). With funnel
    (group_by in FUNNEL_GROUPINGS), each group has its funnel, and a key only calls not offered have is a group."""
    scope = scope or await summary_scope(session, filters)
    columns, rows = await _tally_rows(session, group_by, filters, tz, scope, _columns(scope))
    make = _Groups(scope, columns, rows)
    groups = {key: make.group(key, row) for key, row in rows}
    if group_by == "all" and not groups:  # the one group is there, of zeros, however empty the period
        groups[None] = make.group(None)
    funnels: dict[Any, Funnel] = {}
    if funnel:
        assert group_by in FUNNEL_GROUPINGS
        funnels = await funnel_summary(session, group_by=group_by, filters=filters)
        for k in funnels.keys() - groups.keys():
            groups[k] = make.group(k)
    if group_by in CQR_GROUPINGS:
        cqr = await cqr_summary(session, group_by=group_by, filters=filters, tz=tz)
        for k in cqr.keys() - groups.keys():
            groups[k] = make.group(k)
        for k, group in groups.items():
            group.cqr_average, group.cqr_evaluations, group.cqr_good = cqr.get(k, NO_CQR)
    if funnel:
        for k, group in groups.items():
            group.funnel = funnels.get(k, Funnel())
    return in_key_order(groups.values(), tz if group_by in UNITS else None)


Cqr = tuple[float | None, int, int]  # average CQR, evaluations, good evaluations (CQR >= GOOD_THRESHOLD)
NO_CQR: Cqr = (None, 0, 0)


async def cqr_summary(session: AsyncSession, *, group_by: str, filters: RatingFilter, tz: ZoneInfo) -> dict[Any, Cqr]:
    """key -> (average CQR, evaluations, good ones) of the calls in the period (by the call's start), per operator
    or time bucket, or of all of them (key None); honours the operator, team, queue and campaign filters."""
    dialect = dialect_of(session)
    key: Any
    if group_by == "operator":
        key = Operator.code.label("key")
    elif group_by == "all":
        key = null().label("key")  # not grouped by (see _whole)
    else:
        key = bucket_start(dialect, epoch_of(dialect, Call.started_at), group_by, tz, *_period(filters)).label("key")
    good = func.count(case((CqrEvaluation.cqr >= GOOD_THRESHOLD, 1))).label("good")
    stmt = (
        select(key, func.avg(CqrEvaluation.cqr).label("average"), func.count(CqrEvaluation.id).label("n"), good)
        .select_from(CqrEvaluation)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .where(
            _unindexed(session, Call.started_at) >= filters.date_from,
            _unindexed(session, Call.started_at) < filters.date_to,
        )
        .group_by(*(key,) if group_by != "all" else ())
    )
    if filters.operator is not None:
        stmt = stmt.where(Operator.code == filters.operator)
    if filters.team is not None:
        stmt = stmt.where(Operator.team == filters.team)
    if filters.queue is not None:
        stmt = stmt.where(_unindexed(session, Call.queue) == filters.queue)
    if filters.campaign is not None:
        stmt = stmt.where(_of_campaign(Call.id, filters.campaign))
    return {
        row.key: (round(float(row.average), 2) if row.average is not None else None, row.n, row.good)
        for row in (await session.execute(stmt)).all()
        if row.n  # all of them, ungrouped, over no evaluations: one row of 0
    }


def _of_campaign(call_id: Any, campaign: CampaignScope) -> Any:
    """Whether the call is one the campaign placed (any campaign's, for "none": it is not)."""
    r = SurveyResponse
    if campaign == "none":
        return ~exists().where(r.call_id == call_id, r.campaign_id.is_not(None))
    return exists().where(r.call_id == call_id, r.campaign_id == campaign)


# --- CQR per criterion: where the evaluated calls lose their points ---
# A criterion of weight w, scored s on a scorecard of total weight W, costs its call 100 x (1 - s) x w / W CQR
# points. Its points lost are that cost averaged over every evaluation in scope, 0 for an evaluation whose
# scorecard lacks it: so the criteria's points lost add up to 100 minus the average CQR (up to rounding),
# whatever mix of call types and scorecard versions was evaluated.


@dataclass(frozen=True, slots=True)
class CriterionRow:
    criterion: str
    evaluations: int  # the evaluations that scored it
    average_score: float  # 0..1 over those
    points_lost: float  # CQR points it costs an evaluation in scope, on average


@dataclass(frozen=True, slots=True)
class CriteriaSummary:
    evaluations: int  # in scope: what points_lost is averaged over
    criteria: list[CriterionRow]  # by points lost, most first, then in the order of CRITERIA


def _half_up(value: Fraction, digits: int) -> float:
    """Rounded half up, as compute_cqr rounds: the same scores always give the same figures."""
    scale = 10**digits
    return float(math.floor(value * scale + Fraction(1, 2)) / scale)


def _exact(value: float) -> Fraction:
    return Fraction(repr(float(value)))  # as compute_cqr reads a weight: 0.1 is exactly 1/10


async def criterion_summary(
    session: AsyncSession,
    *,
    operator: str | None,
    queue: str | None,
    date_from: datetime,
    date_to: datetime,
) -> CriteriaSummary:
    """Per criterion, the evaluations of the calls started in [date_from, date_to) (by the call's start, as
    cqr_summary counts), of the operator's calls (their code) and of the queue when given."""
    started = _unindexed(session, Call.started_at)  # from the evaluations, as cqr_summary reads them
    stmt = (
        select(CqrEvaluation.scorecard_id, CqrEvaluation.scores)
        .join(Call, Call.id == CqrEvaluation.call_id)
        .where(started >= date_from, started < date_to)
    )
    if operator is not None:
        stmt = stmt.join(Operator, Operator.id == Call.operator_id).where(Operator.code == operator)
    if queue is not None:
        stmt = stmt.where(_unindexed(session, Call.queue) == queue)
    # (scorecard, criterion, score) -> evaluations: a few cells per scorecard, however many evaluations
    cells: Counter[tuple[int, str, float]] = Counter()
    evaluations = 0
    for card_id, scores in await _rows(session, stmt):
        evaluations += 1
        cells.update((card_id, criterion, float(score)) for criterion, score in scores.items())
    cards = sorted({card for card, _, _ in cells})
    found = await _rows(session, select(CqrScorecard.id, CqrScorecard.weights).where(CqrScorecard.id.in_(cards)))
    weights = {card_id: {c: _exact(w) for c, w in stored.items()} for card_id, stored in found}
    scored: Counter[str] = Counter()
    score_total: dict[str, Fraction] = {}
    lost: dict[str, Fraction] = {}
    for (card_id, criterion, score), n in cells.items():
        card = weights[card_id]
        if criterion not in card:  # scores are checked against their scorecard when stored: never so
            continue
        s = _exact(score)
        scored[criterion] += n
        score_total[criterion] = score_total.get(criterion, Fraction(0)) + n * s
        cost = 100 * (1 - s) * card[criterion] / sum(card.values())
        lost[criterion] = lost.get(criterion, Fraction(0)) + n * cost
    rows = [
        CriterionRow(
            criterion=criterion,
            evaluations=n,
            average_score=_half_up(score_total[criterion] / n, 4),
            points_lost=_half_up(lost[criterion] / evaluations, 2),
        )
        for criterion, n in scored.items()
    ]
    order = {c: i for i, c in enumerate(CRITERIA)}
    rows.sort(key=lambda r: (-r.points_lost, order.get(r.criterion, len(order)), r.criterion))
    return CriteriaSummary(evaluations, rows)
