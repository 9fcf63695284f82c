"""The tallies the database keeps by triggers (per quarter hour, and per day and operator, queue or survey), and
the unfiltered summaries read from them."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import writes
from ivr_survey.db.models import (
    Call,
    Operator,
    ResponseGroupOtherScore,
    ResponseGroupTally,
    ResponseSlotOtherScore,
    ResponseSlotTally,
    Survey,
    SurveyResponse,
)
from ivr_survey.db.ratings import RatingFilter
from ivr_survey.db.summary import ratings_summary
from tests.support.seed import Rated, add_survey, question, seed
from tests.support.writing import write

T0 = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # Berlin leaves winter time the next night
SLOT = int(T0.timestamp()) // 900


async def _tallies(sessions: async_sessionmaker[AsyncSession]) -> list[tuple]:
    t = ResponseSlotTally
    async with sessions() as s:
        rows = await s.execute(
            select(
                t.slot - SLOT,
                t.offered,
                t.responses,
                t.score_total,
                t.score_1,
                t.score_2,
                t.score_3,
                t.score_4,
                t.score_5,
            ).order_by(t.slot)
        )
        return [tuple(row) for row in rows]


async def _verdicts_and_other_scores(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[tuple], list[tuple]]:
    """What migration 0010 added: per slot (satisfied, csat_responses, the counts of 0 and 6 .. 10), and the
    other scores' (slot, score, responses)."""
    t, o = ResponseSlotTally, ResponseSlotOtherScore
    async with sessions() as s:
        verdicts = await s.execute(
            select(
                t.slot - SLOT,
                t.satisfied,
                t.csat_responses,
                t.score_0,
                t.score_6,
                t.score_7,
                t.score_8,
                t.score_9,
                t.score_10,
            ).order_by(t.slot)
        )
        others = await s.execute(select(o.slot - SLOT, o.score, o.responses).order_by(o.slot, o.score))
        return [tuple(row) for row in verdicts], [tuple(row) for row in others]


async def test_every_write_is_counted_in_its_quarter_hour(sessions) -> None:
    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    await seed(
        sessions,
        [
            Rated("a", "7001", at(1), 5),
            Rated("b", "7001", at(13), 2),
            Rated("c", "7002", at(14), None, status="no_input"),
            Rated("d", "7002", at(15), 2.5),  # the next slot; not a 1-5 score
        ],
    )
    async with sessions() as s, s.begin():  # a caller still in the survey: offered, not yet a response
        await write(
            s,
            writes.StartResponse(
                linkedid="e",
                survey="default",
                survey_version=1,
                channel="agi",
                language="en",
                args={},
                started_at=at(40),
            ),
        )
    assert await _tallies(sessions) == [
        (0, 3, 2, 7.0, 0, 1, 0, 0, 1),
        (1, 1, 1, 2.5, 0, 0, 0, 0, 0),
        (2, 1, 0, 0.0, 0, 0, 0, 0, 0),
    ]
    # the default survey counts 4-5 as satisfied: a (5) is, b (2) and d (2.5) are not; 2.5 is an other score
    assert await _verdicts_and_other_scores(sessions) == (
        [(0, 1, 2, 0, 0, 0, 0, 0, 0), (1, 0, 1, 0, 0, 0, 0, 0, 0), (2, 0, 0, 0, 0, 0, 0, 0, 0)],
        [(1, 2.5, 1)],
    )

    async with sessions() as s, s.begin():
        # the same keypress replayed changes nothing; the caller in the survey answers 4
        assert not await write(
            s,
            writes.SaveAnswer(
                linkedid="a", position=0, question="rating", digits="5", score=5.0, attempts=1, answered_at=at(1)
            ),
        )
        assert await write(
            s,
            writes.SaveAnswer(
                linkedid="e", position=0, question="rating", digits="4", score=4.0, attempts=1, answered_at=at(41)
            ),
        )
        await write(s, writes.FinishResponse(linkedid="e", status="completed", ended_at=at(42)))
        # a score corrected in place moves between the counts
        await s.execute(update(SurveyResponse).where(SurveyResponse.score == 2.5).values(score=1.0))
        # deleting a call deletes its response (ON DELETE CASCADE), and its counts
        await s.execute(delete(Call).where(Call.linkedid == "b"))
    assert await _tallies(sessions) == [
        (0, 2, 1, 5.0, 0, 0, 0, 0, 1),
        (1, 1, 1, 1.0, 1, 0, 0, 0, 0),
        (2, 1, 1, 4.0, 0, 0, 0, 1, 0),
    ]
    assert await _verdicts_and_other_scores(sessions) == (
        [(0, 1, 1, 0, 0, 0, 0, 0, 0), (1, 0, 1, 0, 0, 0, 0, 0, 0), (2, 1, 1, 0, 0, 0, 0, 0, 0)],
        [(1, 2.5, 0)],  # corrected to 1: counted in score_1 instead
    )


async def test_every_scale_and_verdict_is_counted(sessions) -> None:
    """Scores 0-10 in columns, any other in rows; each response judged by its own survey's satisfied scores,
    none without them; a verdict corrected in place moves between the counts."""
    await add_survey(sessions, "nps-first", question("nps", range(11)))  # no satisfied scores: no CSAT
    await add_survey(sessions, "percent", question("pct", [0, 50, 100], satisfied=[100]))
    await add_survey(sessions, "top-box", question("rating", [1, 2, 3, 4, 5], satisfied=[5]))
    at = T0 + timedelta(minutes=1)
    await seed(
        sessions,
        [
            Rated("n0", "7001", at, 0, survey="nps-first", first="nps"),
            Rated("n10", "7001", at, 10, survey="nps-first", first="nps"),
            Rated("p50", "7001", at, 50, survey="percent", first="pct"),
            Rated("p100", "7001", at, 100, survey="percent", first="pct"),
            Rated("t4", "7001", at, 4, survey="top-box"),
            Rated("t5", "7001", at, 5, survey="top-box"),
            Rated("d4", "7001", at, 4),
        ],
    )
    assert await _tallies(sessions) == [(0, 7, 7, 173.0, 0, 0, 0, 2, 1)]
    # satisfied: p100, t5, d4 of the five judged (p50, t4 are not; n0, n10 have no verdict)
    assert await _verdicts_and_other_scores(sessions) == ([(0, 3, 5, 1, 0, 0, 0, 0, 1)], [(0, 50.0, 1), (0, 100.0, 1)])
    async with sessions() as s, s.begin():
        await s.execute(update(SurveyResponse).where(SurveyResponse.score == 4.0).values(satisfied=True))
        await s.execute(delete(Call).where(Call.linkedid.in_(["p100", "n10"])))
    assert await _tallies(sessions) == [(0, 5, 5, 63.0, 0, 0, 0, 2, 1)]
    assert await _verdicts_and_other_scores(sessions) == ([(0, 3, 4, 1, 0, 0, 0, 0, 0)], [(0, 50.0, 1), (0, 100.0, 0)])


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"])
async def test_unfiltered_time_summaries_equal_counting_the_responses(sessions, tz: str) -> None:
    """From the tallies (only a period) and from the responses (a survey filter that every row matches), every
    unit gives the same groups, over periods whose bounds cut quarter hours, hours and days."""
    rng = random.Random(tz)
    rows = []
    for i in range(240):
        at = T0 - timedelta(days=3) + timedelta(seconds=rng.randrange(8 * 86400))
        score = rng.choice([None, 1, 2, 3, 4, 5, 5, 4, 0.5])
        status = "completed" if score is not None else rng.choice(["no_input", "abandoned", "partial"])
        rows.append(Rated(f"{i}.1", f"70{rng.randrange(3)}", at, score, status=status))
    # both sides of a quarter hour, and exactly on it
    rows += [Rated(f"edge.{i}", "7001", T0 + timedelta(minutes=15, seconds=s), 3) for i, s in enumerate((-1, 0, 1))]
    await seed(sessions, rows)

    periods = [(T0 - timedelta(days=3), T0 + timedelta(days=5))]  # every response, whole slots
    for _ in range(4):
        start = T0 - timedelta(days=2, seconds=rng.randrange(86400))
        periods.append((start, start + timedelta(seconds=rng.randrange(900, 5 * 86400))))
    periods.append((T0 + timedelta(minutes=15), T0 + timedelta(minutes=15, seconds=1)))  # within one slot
    periods.append((T0 + timedelta(minutes=3), T0 + timedelta(minutes=20)))  # cuts two neighbouring slots
    async with sessions() as s:
        for start, end in periods:
            for unit in ("hour", "day", "week", "month"):
                period = RatingFilter(date_from=start, date_to=end)
                tallied = await ratings_summary(s, group_by=unit, filters=period, tz=ZoneInfo(tz))
                counted = await ratings_summary(
                    s,
                    group_by=unit,
                    filters=RatingFilter(date_from=start, date_to=end, survey="default"),
                    tz=ZoneInfo(tz),
                )
                assert tallied == counted, (start, end, unit)
                expected = sum(start <= r.started_at < end for r in rows)
                assert sum(g.offered for g in tallied) == expected


@pytest.mark.parametrize("group_by", ["operator", "queue", "survey"])
async def test_a_short_period_of_a_long_history_is_counted_the_same(sessions, group_by: str) -> None:
    """A period holding under a tenth of the responses is read from the time index, a longer one from the
    grouping's own: both count exactly the responses started inside the period."""
    rng = random.Random(group_by)
    rows = [
        Rated(
            f"{i}.1",
            f"70{rng.randrange(4)}",
            T0 + timedelta(seconds=rng.randrange(60 * 86400)),
            rng.choice([None, 1, 2, 3, 4, 5]),
            queue=rng.choice(["sales", "support", None]),
        )
        for i in range(300)
    ]
    await seed(sessions, rows)
    short = (T0 + timedelta(days=20, minutes=7), T0 + timedelta(days=22, hours=5))  # cuts two hours
    periods = [short, (T0, T0 + timedelta(days=60))]
    assert sum(short[0] <= r.started_at < short[1] for r in rows) < 0.1 * len(rows)
    for start, end in periods:
        inside = [r for r in rows if start <= r.started_at < end]
        expected: dict[str | None, list[int]] = {}
        for r in inside:
            key = {"operator": r.operator, "queue": r.queue, "survey": r.survey}[group_by]
            counts = expected.setdefault(key, [0, 0, 0, 0, 0, 0, 0])  # offered, responses, 1s .. 5s
            counts[0] += 1
            if r.score is not None:
                counts[1] += 1
                counts[1 + int(r.score)] += 1
        async with sessions() as s:
            groups = await ratings_summary(
                s, group_by=group_by, filters=RatingFilter(date_from=start, date_to=end), tz=ZoneInfo("UTC")
            )
        assert {g.key: [g.offered, g.responses, *g.distribution.values()] for g in groups} == expected


# survey -> (first question's key, its scores, the satisfied ones); the seeds add off-scale scores too, as a bulk
# load might
SCALES = {
    "default": ("rating", [1, 2, 3, 4, 5], {4, 5}),
    "nps-first": ("nps", list(range(11)), set()),
    "percent": ("pct", [0, 50, 100], {100}),
    "top-box": ("rating", [1, 2, 3, 4, 5], {5}),
}
SCALE_LABELS = {f"{score:g}" for _, scores, _ in SCALES.values() for score in scores}


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
async def test_mixed_scales_from_the_tallies_equal_counting_the_responses(sessions, tz: str) -> None:
    """Surveys on different scales, each with its own satisfied scores: the tallies (only a period) and the
    responses (an operator filter every row matches) give the same groups, whose counts add up to the rows'."""
    await add_survey(sessions, "nps-first", question("nps", range(11)))
    await add_survey(sessions, "percent", question("pct", [0, 50, 100], satisfied=[100]))
    await add_survey(sessions, "top-box", question("rating", [1, 2, 3, 4, 5], satisfied=[5]))
    rng = random.Random(tz)
    rows = []
    for i in range(240):
        survey = rng.choice(list(SCALES))
        first, scores, _ = SCALES[survey]
        score = rng.choice([None, 2.5, *scores])
        rows.append(
            Rated(
                f"{i}.1",
                "7001",
                T0 + timedelta(seconds=rng.randrange(3 * 86400)),
                score,
                status="completed" if score is not None else "no_input",
                survey=survey,
                first=first,
            )
        )
    await seed(sessions, rows)
    periods = [(T0 - timedelta(days=1), T0 + timedelta(days=4))]
    for _ in range(3):
        start = T0 + timedelta(seconds=rng.randrange(86400))
        periods.append((start, start + timedelta(seconds=rng.randrange(900, 2 * 86400))))
    async with sessions() as s:
        for start, end in periods:
            for unit in ("hour", "day"):
                tallied = await ratings_summary(
                    s, group_by=unit, filters=RatingFilter(date_from=start, date_to=end), tz=ZoneInfo(tz)
                )
                counted = await ratings_summary(
                    s,
                    group_by=unit,
                    filters=RatingFilter(date_from=start, date_to=end, operator="7001"),
                    tz=ZoneInfo(tz),
                )
                assert tallied == counted, (start, end, unit)
                inside = [r for r in rows if start <= r.started_at < end]
                judged = [r for r in inside if r.score is not None and SCALES[r.survey][2]]
                assert sum(g.csat_responses for g in tallied) == len(judged)
                distribution: Counter[str] = Counter()
                for g in tallied:
                    distribution.update(g.distribution)
                # every score of the scales, and the off-scale 2.5 once counted
                assert set(distribution) == SCALE_LABELS | ({"2.5"} if distribution["2.5"] else set())
                assert +distribution == Counter(f"{r.score:g}" for r in inside if r.score is not None)


DAY0 = int(T0.timestamp()) // 86400


async def _group_tallies(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[tuple], list[tuple]]:
    """(grouping, day from T0's, key, offered, responses, score_total, satisfied, csat_responses, score_1,
    score_2, score_5) per group tally, and (grouping, day, key, score, responses) per other score; keys as read:
    the operator's code, the queue, the survey's name, None for none."""
    t, o = ResponseGroupTally, ResponseGroupOtherScore
    async with sessions() as s:
        names = {
            "operator": {str(i): c for i, c in (await s.execute(select(Operator.id, Operator.code))).all()},
            "survey": {str(i): n for i, n in (await s.execute(select(Survey.id, Survey.name))).all()},
        }

        def key(grouping: str, stored: str) -> str | None:
            return names.get(grouping, {}).get(stored, stored) or None

        tallies = await s.execute(
            select(
                t.grouped_by,
                t.day - DAY0,
                t.group_key,
                t.offered,
                t.responses,
                t.score_total,
                t.satisfied,
                t.csat_responses,
                t.score_1,
                t.score_2,
                t.score_5,
            )
        )
        others = await s.execute(select(o.grouped_by, o.day - DAY0, o.group_key, o.score, o.responses))
        counted = [(g, d, key(g, k), *rest) for g, d, k, *rest in tallies]
        other = [(g, d, key(g, k), *rest) for g, d, k, *rest in others]
    order = lambda row: (row[0], row[1], row[2] or "")  # noqa: E731
    return sorted(counted, key=order), sorted(other, key=order)


async def test_every_write_is_counted_in_its_day_and_group(sessions) -> None:
    """Per UTC day, each response counts once in its operator's, its queue's and its survey's group ('' none);
    an operator filled in later, a corrected score and a deleted call move the counts."""
    await seed(
        sessions,
        [
            Rated("a", "7001", T0 + timedelta(minutes=1), 5, queue="sales"),
            Rated("b", "7001", T0 + timedelta(hours=1, minutes=30), 2),  # 23:30, the same day
            Rated("c", "7002", T0 + timedelta(hours=2, minutes=10), None, status="no_input", queue="sales"),
            Rated("d", None, T0 + timedelta(hours=3), 2.5, queue="support"),  # the next day; off the scale
        ],
    )
    assert await _group_tallies(sessions) == (
        [
            ("operator", 0, "7001", 2, 2, 7.0, 1, 2, 0, 1, 1),
            ("operator", 1, None, 1, 1, 2.5, 0, 1, 0, 0, 0),
            ("operator", 1, "7002", 1, 0, 0.0, 0, 0, 0, 0, 0),
            ("queue", 0, None, 1, 1, 2.0, 0, 1, 0, 1, 0),
            ("queue", 0, "sales", 1, 1, 5.0, 1, 1, 0, 0, 1),
            ("queue", 1, "sales", 1, 0, 0.0, 0, 0, 0, 0, 0),
            ("queue", 1, "support", 1, 1, 2.5, 0, 1, 0, 0, 0),
            ("survey", 0, "default", 2, 2, 7.0, 1, 2, 0, 1, 1),
            ("survey", 1, "default", 2, 1, 2.5, 0, 1, 0, 0, 0),
        ],
        [("operator", 1, None, 2.5, 1), ("queue", 1, "support", 2.5, 1), ("survey", 1, "default", 2.5, 1)],
    )
    async with sessions() as s, s.begin():
        r = SurveyResponse
        # the call history names the operator of a survey that started without one (db/history.py)
        operator = (await s.execute(select(Operator.id).where(Operator.code == "7002"))).scalar_one()
        await s.execute(update(r).where(r.score == 2.5).values(operator_id=operator))
        await s.execute(update(r).where(r.score == 2.5).values(score=1.0))
        await s.execute(delete(Call).where(Call.linkedid == "b"))
    assert await _group_tallies(sessions) == (
        [
            ("operator", 0, "7001", 1, 1, 5.0, 1, 1, 0, 0, 1),
            ("operator", 1, None, 0, 0, 0.0, 0, 0, 0, 0, 0),
            ("operator", 1, "7002", 2, 1, 1.0, 0, 1, 1, 0, 0),
            ("queue", 0, None, 0, 0, 0.0, 0, 0, 0, 0, 0),
            ("queue", 0, "sales", 1, 1, 5.0, 1, 1, 0, 0, 1),
            ("queue", 1, "sales", 1, 0, 0.0, 0, 0, 0, 0, 0),
            ("queue", 1, "support", 1, 1, 1.0, 0, 1, 1, 0, 0),
            ("survey", 0, "default", 1, 1, 5.0, 1, 1, 0, 0, 1),
            ("survey", 1, "default", 2, 1, 1.0, 0, 1, 1, 0, 0),
        ],
        [
            ("operator", 1, None, 2.5, 0),
            ("operator", 1, "7002", 2.5, 0),
            ("queue", 1, "support", 2.5, 0),
            ("survey", 1, "default", 2.5, 0),
        ],
    )


@pytest.mark.parametrize("group_by", ["operator", "queue", "survey"])
async def test_unfiltered_group_summaries_equal_counting_the_responses(sessions, group_by: str) -> None:
    """From the group tallies (only a period) and from the responses (a campaign filter that every row
    matches), operator, queue and survey summaries are the same, over periods whose bounds cut days, inside
    one day, across one midnight, and over two scales with off-scale scores."""
    await add_survey(sessions, "percent", question("pct", [0, 50, 100], satisfied=[100]))
    rng = random.Random(group_by)
    rows = []
    for i in range(240):
        survey = rng.choice(["default", "percent"])
        score = rng.choice([None, 2.5, *([1, 2, 3, 4, 5] if survey == "default" else [0, 50, 100])])
        rows.append(
            Rated(
                f"{i}.1",
                rng.choice(["7001", "7002", "7003", None]),
                T0 - timedelta(days=3) + timedelta(seconds=rng.randrange(8 * 86400)),
                score,
                status="completed" if score is not None else "no_input",
                queue=rng.choice(["sales", "support", None]),
                survey=survey,
                first="rating" if survey == "default" else "pct",
            )
        )
    await seed(sessions, rows)
    midnight = T0 + timedelta(hours=2)
    periods = [
        (T0 - timedelta(days=3), T0 + timedelta(days=5)),  # every response
        (midnight - timedelta(hours=1), midnight + timedelta(hours=1)),
        (midnight + timedelta(hours=3), midnight + timedelta(hours=9)),
    ]
    for _ in range(4):
        start = T0 - timedelta(days=2, seconds=rng.randrange(86400))
        periods.append((start, start + timedelta(seconds=rng.randrange(900, 5 * 86400))))
    async with sessions() as s:
        for start, end in periods:
            tallied = await ratings_summary(
                s, group_by=group_by, filters=RatingFilter(date_from=start, date_to=end), tz=ZoneInfo("UTC")
            )
            counted = await ratings_summary(
                s,
                group_by=group_by,
                filters=RatingFilter(date_from=start, date_to=end, campaign="none"),
                tz=ZoneInfo("UTC"),
            )
            assert tallied == counted, (start, end)
            inside = [r for r in rows if start <= r.started_at < end]
            assert sum(g.offered for g in tallied) == len(inside)
            key = {"operator": "operator", "queue": "queue", "survey": "survey"}[group_by]
            assert {g.key: g.offered for g in tallied} == Counter(getattr(r, key) for r in inside)
