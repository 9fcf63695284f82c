"""The per-quarter-hour tallies the database keeps by triggers, and the unfiltered time summaries read from them."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import writes
from ivr_survey.db.models import Call, ResponseSlotOtherScore, ResponseSlotTally, SurveyResponse
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
