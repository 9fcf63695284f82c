"""The summary of a whole period (group_by=all) and CQR's good calls: the one group is the sum of the operator
groups, and both equal what the seeded rows say; over HTTP with hand-checked numbers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import repository as repo
from ivr_survey.db.models import Call, CqrEvaluation, CqrScorecard
from ivr_survey.db.ratings import RatingFilter
from ivr_survey.db.summary import SummaryGroup, ratings_summary, summary_scope, wilson_interval
from tests.support.api_client import admin_client, get
from tests.support.seed import Rated, add_survey, question, seed

T0 = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # Berlin leaves winter time the next night
# survey -> (first question's key, its scores, the satisfied ones)
SCALES = {
    "default": ("rating", [1, 2, 3, 4, 5], {4, 5}),
    "nps-first": ("nps", list(range(11)), set()),
    "percent": ("pct", [0, 50, 100], {100}),
}


async def evaluate(sessions: async_sessionmaker[AsyncSession], cqrs: dict[str, float]) -> None:
    """One evaluation per call of the given CQR, on a one-criterion scorecard (score = CQR / 100)."""
    async with sessions() as s, s.begin():
        card = CqrScorecard(call_type="qualification", version=99, weights={"greeting": 1.0})
        s.add(card)
        await s.flush()
        ids = dict((await s.execute(select(Call.linkedid, Call.id).where(Call.linkedid.in_(cqrs)))).all())
        s.add_all(
            CqrEvaluation(
                call_id=ids[linkedid],
                call_type="qualification",
                scorecard_id=card.id,
                supervisor="sv",
                scores={"greeting": cqr / 100},
                cqr=cqr,
            )
            for linkedid, cqr in cqrs.items()
        )


def _matches(row: Rated, fields: dict) -> bool:
    """Whether a seeded row passes a summary's filters."""
    for name, value in fields.items():
        if name == "score_min":
            if row.score is None or row.score < value:
                return False
        elif getattr(row, name) != value:
            return False
    return True


def _satisfied(group: SummaryGroup) -> int:
    """A group's satisfied responses, back from its csat (4 decimals: exact below 5,000 judged)."""
    return round((group.csat or 0) * group.csat_responses)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
async def test_the_whole_period_is_the_sum_of_the_operators(sessions, tz: str) -> None:
    """Over random rows on three scales (off-scale scores too), random periods and every kind of filter: the
    all group adds up the operator groups, CQR included, and equals counting the rows."""
    await add_survey(sessions, "nps-first", question("nps", range(11)))
    await add_survey(sessions, "percent", question("pct", [0, 50, 100], satisfied=[100]))
    rng = random.Random(tz)
    rows = []
    for i in range(300):
        survey = rng.choice(list(SCALES))
        first, scores, _ = SCALES[survey]
        score = rng.choice([None, 2.5, *scores])
        rows.append(
            Rated(
                f"{i}.1",
                rng.choice(["7001", "7002", "7003", None]),
                T0 + timedelta(seconds=rng.randrange(4 * 86400)),
                score,
                status="completed" if score is not None else rng.choice(["no_input", "abandoned"]),
                queue=rng.choice(["sales", "support", None]),
                survey=survey,
                first=first,
            )
        )
    await seed(sessions, rows)
    cqrs = {r.linkedid: float(rng.randrange(40, 101)) for r in rows if rng.random() < 0.3}
    async with sessions() as s, s.begin():  # evaluated calls nobody surveyed
        for n in range(5):
            await repo.upsert_call(s, linkedid=f"E{n}", operator="7004", started_at=T0 + timedelta(hours=5 * n))
    cqrs |= {f"E{n}": 80.0 + n for n in range(5)}
    await evaluate(sessions, cqrs)
    starts = {r.linkedid: (r.started_at, r.operator, r.queue) for r in rows}
    starts |= {f"E{n}": (T0 + timedelta(hours=5 * n), "7004", None) for n in range(5)}

    periods = [(T0 - timedelta(days=1), T0 + timedelta(days=5))]
    for _ in range(3):
        start = T0 + timedelta(seconds=rng.randrange(2 * 86400))
        periods.append((start, start + timedelta(seconds=rng.randrange(900, 2 * 86400))))
    filters: list[dict] = [{}, {"queue": "sales"}, {"operator": "7002"}, {"survey": "default"}, {"score_min": 4.0}]
    filters += [{"status": "completed", "queue": "support"}]
    checked = 0
    async with sessions() as s:
        for start, end in periods:
            for fields in filters:
                period = RatingFilter(date_from=start, date_to=end, **fields)
                [whole] = await ratings_summary(s, group_by="all", filters=period, tz=ZoneInfo(tz))
                parts = await ratings_summary(s, group_by="operator", filters=period, tz=ZoneInfo(tz))
                assert whole.key is None
                # the sum of the operator groups
                assert (whole.offered, whole.responses, whole.csat_responses) == (
                    sum(g.offered for g in parts),
                    sum(g.responses for g in parts),
                    sum(g.csat_responses for g in parts),
                )
                total: Counter[str] = Counter()
                for g in parts:
                    total.update(g.distribution)
                assert whole.distribution == {label: total[label] for label in whole.distribution}
                for g in parts:  # the same labels in every group
                    assert list(g.distribution) == list(whole.distribution)
                satisfied = sum(_satisfied(g) for g in parts)
                judged = whole.csat_responses
                assert whole.csat == (round(satisfied / judged, 4) if judged else None)
                assert whole.csat_ci95 == wilson_interval(satisfied, judged)
                assert (whole.cqr_evaluations, whole.cqr_good) == (
                    sum(g.cqr_evaluations or 0 for g in parts),
                    sum(g.cqr_good or 0 for g in parts),
                )
                # and what the rows say
                inside = [r for r in rows if start <= r.started_at < end and _matches(r, fields)]
                answered = [r for r in inside if r.score is not None]
                judged_rows = [r for r in answered if SCALES[r.survey][2]]
                assert (whole.offered, whole.responses, judged, satisfied) == (
                    len(inside),
                    len(answered),
                    len(judged_rows),
                    sum(r.score in SCALES[r.survey][2] for r in judged_rows),
                )
                assert whole.average == (round(sum(r.score for r in answered) / len(answered), 4) if answered else None)
                assert +Counter(whole.distribution) == Counter(f"{r.score:g}" for r in answered)
                # CQR: the evaluated calls started in the period, of the operator and queue filters only
                evaluated = [
                    cqr
                    for linkedid, cqr in cqrs.items()
                    if start <= starts[linkedid][0] < end
                    and fields.get("operator", starts[linkedid][1]) == starts[linkedid][1]
                    and fields.get("queue", starts[linkedid][2]) == starts[linkedid][2]
                ]
                assert (whole.cqr_evaluations, whole.cqr_good) == (len(evaluated), sum(c >= 80 for c in evaluated))
                assert whole.cqr_average == (round(sum(evaluated) / len(evaluated), 2) if evaluated else None)
                assert whole.cqr_good_share == (
                    round(sum(c >= 80 for c in evaluated) / len(evaluated), 4) if evaluated else None
                )
                checked += bool(inside) and bool(evaluated)
    assert checked >= 10  # most combinations hold both responses and evaluations


async def test_a_question_over_the_whole_period_is_the_sum_of_the_operators(sessions) -> None:
    rows = [
        Rated(
            f"Q{i}",
            ["7001", "7002", None][i % 3],
            T0 + timedelta(minutes=7 * i),
            4.0,
            survey="two",
            later=(("nps", n),),
        )
        for i, n in enumerate([10, 9, 0, 7, 5, None, 9, 10, 8])
    ]
    await add_survey(sessions, "two", question("rating", [1, 2, 3, 4, 5]), question("nps", range(11)))
    await seed(sessions, rows)
    period = RatingFilter(date_from=T0, date_to=T0 + timedelta(days=1))
    async with sessions() as s:
        scope = await summary_scope(s, period, "nps")
        [whole] = await ratings_summary(s, group_by="all", filters=period, tz=ZoneInfo("UTC"), scope=scope)
        parts = await ratings_summary(s, group_by="operator", filters=period, tz=ZoneInfo("UTC"), scope=scope)
    assert (
        (whole.offered, whole.responses) == (9, 8) == (sum(g.offered for g in parts), sum(g.responses for g in parts))
    )
    assert whole.nps is not None
    # promoters 10, 9, 9, 10; passives 7, 8; detractors 0, 5: 100 x (4 - 2) / 8
    assert (whole.nps.nps, whole.nps.promoters, whole.nps.passives, whole.nps.detractors) == (25.0, 4, 2, 2)
    assert whole.nps.promoters == sum(g.nps.promoters for g in parts if g.nps)


@pytest.fixture
async def client(database_url: str, tmp_path) -> AsyncIterator[TestClient]:
    async with admin_client(database_url, tmp_path) as c:
        yield c


DAY = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"
T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


async def test_all_over_http(client: TestClient, sessions) -> None:
    await seed(
        sessions,
        [
            Rated("A", "7001", T, 5.0, queue="sales"),
            Rated("B", "7001", T + timedelta(minutes=20), 2.0, queue="sales"),
            Rated("C", "7002", T + timedelta(hours=3), 4.0),
            Rated("D", None, T + timedelta(hours=4), None, status="no_input"),
            Rated("X", "7002", T + timedelta(days=1), 1.0),  # the next day: outside
        ],
    )
    await evaluate(sessions, {"A": 80.0, "B": 62.5, "C": 91.0, "X": 100.0})
    body = await get(client, f"/ratings/summary?group_by=all&{DAY}")
    assert body == {
        "group_by": "all",
        "from": "2026-11-20T00:00:00+00:00",
        "to": "2026-11-21T00:00:00+00:00",
        "tz": "UTC",
        "question": None,
        "kind": None,
        "groups": [
            {
                "key": None,
                "offered": 4,
                "responses": 3,
                "response_rate": 0.75,
                "average": 3.6667,
                "csat": 0.6667,  # 5 and 4 of 5, 2, 4
                "csat_ci95": list(wilson_interval(2, 3) or ()),
                "csat_responses": 3,
                "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1},
                "cqr_average": 77.83,  # (80 + 62.5 + 91) / 3
                "cqr_evaluations": 3,
                "cqr_good": 2,  # 80 is good: CQR >= 80
                "cqr_good_share": 0.6667,
            }
        ],
    }
    by_operator = await get(client, f"/ratings/summary?group_by=operator&{DAY}")
    assert [(g["key"], g["cqr_evaluations"], g["cqr_good"], g["cqr_good_share"]) for g in by_operator["groups"]] == [
        ("7001", 2, 1, 0.5),
        ("7002", 1, 1, 1.0),
        (None, 0, 0, None),
    ]
    sales = await get(client, f"/ratings/summary?group_by=all&{DAY}&queue=sales&tz=Europe/Moscow")
    assert [(g["key"], g["offered"], g["average"], g["cqr_average"], g["cqr_good"]) for g in sales["groups"]] == [
        (None, 2, 3.5, 71.25, 1)
    ]
    # a grouping without CQR has no CQR fields at all
    by_queue = await get(client, f"/ratings/summary?group_by=queue&{DAY}")
    assert not {"cqr_good", "cqr_good_share"} & set(by_queue["groups"][0])


async def test_an_empty_period_is_one_group_of_zeros(client: TestClient, sessions) -> None:
    await seed(sessions, [Rated("A", "7001", T, 5.0)])
    for query in ("from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", f"{DAY}&operator=7002", f"{DAY}&status=failed"):
        body = await get(client, f"/ratings/summary?group_by=all&{query}")
        assert body["groups"] == [
            {
                "key": None,
                "offered": 0,
                "responses": 0,
                "response_rate": None,
                "average": None,
                "csat": None,
                "csat_ci95": None,
                "csat_responses": 0,
                "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
                "cqr_average": None,
                "cqr_evaluations": 0,
                "cqr_good": 0,
                "cqr_good_share": None,
            }
        ], query
    # while the operators' summary of the same period has no group at all
    empty = "from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
    assert (await get(client, f"/ratings/summary?group_by=operator&{empty}"))["groups"] == []
