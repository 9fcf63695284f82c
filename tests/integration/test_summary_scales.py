"""GET /ratings/summary on any scale and for one question: hand-checked numbers for NPS, yes/no, a 0-10 first
question, a survey's own satisfied scores and a mix of surveys on different scales."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from tests.support.api_client import admin_client, get
from tests.support.seed import Rated, add_survey, question, seed

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DAY = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"
NO_CQR = {"cqr_average": None, "cqr_evaluations": 0, "cqr_good": 0, "cqr_good_share": None}


@pytest.fixture
async def client(database_url: str, tmp_path) -> AsyncIterator[TestClient]:
    async with admin_client(database_url, tmp_path) as c:
        yield c


def _zeros(*scores: int) -> dict[str, int]:
    return {str(s): 0 for s in scores}


# csat3: rating 1-5, solved (1 yes, 2 no: scored 1 and 0), nps 0-10. Ten callers answer the NPS question: five
# promoters (9-10), two passives (7-8), three detractors (0-6); an eleventh hangs up after the rating.
NPS = [10, 9, 9, 10, 9, 7, 8, 0, 5, 6]
SOLVED = [1, 1, 1, 1, 1, 0, 0, 0, None, None]  # 5 yes, 3 no, 2 unanswered
CSAT3 = [
    *(
        Rated(f"C{i}", "7001", T + timedelta(minutes=i), 4.0, survey="csat3", later=(("solved", s), ("nps", n)))
        for i, (s, n) in enumerate(zip(SOLVED, NPS, strict=True))
    ),
    Rated("C10", "7001", T + timedelta(minutes=10), 2.0, status="abandoned", survey="csat3"),
    Rated("D1", "7002", T + timedelta(minutes=11), 5.0),  # the default survey asks no NPS question
]


@pytest.fixture
async def csat3(sessions) -> None:
    await add_survey(sessions, "csat3", *EXAMPLE_CSAT_SOLVED_NPS.to_dict()["questions"])
    await seed(sessions, CSAT3)


async def test_an_nps_question(client: TestClient, csat3: None) -> None:
    body = await get(client, f"/ratings/summary?question=nps&{DAY}")
    assert (body["question"], body["kind"]) == ("nps", "nps")
    assert body["groups"] == [
        {
            "key": "7001",
            "offered": 11,
            "responses": 10,
            "response_rate": 0.9091,
            "average": 7.3,
            "csat": None,
            "csat_ci95": None,
            "csat_responses": 0,  # a 0-10 question naming no satisfied scores
            "distribution": {**_zeros(*range(11)), "0": 1, "5": 1, "6": 1, "7": 1, "8": 1, "9": 3, "10": 2},
            "nps": 20.0,
            "promoters": 5,
            "passives": 2,
            "detractors": 3,  # 50 % - 30 %
            **NO_CQR,
        }
    ]
    by_day = await get(client, f"/ratings/summary?question=nps&group_by=day&{DAY}")
    assert [(g["key"], g["offered"], g["nps"]) for g in by_day["groups"]] == [("2026-11-20T00:00:00+00:00", 11, 20.0)]


async def test_a_yes_no_question(client: TestClient, csat3: None) -> None:
    body = await get(client, f"/ratings/summary?question=solved&group_by=survey&{DAY}")
    assert (body["question"], body["kind"]) == ("solved", "yes_no")
    assert body["groups"] == [
        {
            "key": "csat3",
            "offered": 11,
            "responses": 8,
            "response_rate": 0.7273,
            "average": 0.625,
            "csat": None,
            "csat_ci95": None,
            "csat_responses": 0,
            "distribution": {"0": 3, "1": 5},
            "yes": 5,
            "no": 3,
            "yes_share": 0.625,
            "yes_ci95": [0.3057, 0.8632],
        }
    ]


async def test_the_first_question_by_its_key_is_the_default_summary(client: TestClient, csat3: None) -> None:
    default = await get(client, f"/ratings/summary?survey=csat3&{DAY}")
    by_key = await get(client, f"/ratings/summary?question=rating&survey=csat3&{DAY}")
    assert by_key["groups"] == default["groups"]
    assert default["groups"][0]["csat"] == 0.9091  # ten 4s and a 2: 4-5 of a 1-5 scale


async def test_a_0_to_10_first_question(client: TestClient, sessions) -> None:
    """The distribution is the question's own scale; CSAT is null, as the survey names no satisfied scores."""
    await add_survey(sessions, "nps-first", question("nps", range(11)))
    await seed(
        sessions,
        [
            *(
                Rated(f"N{i}", "7001", T + timedelta(minutes=i), score, survey="nps-first", first="nps")
                for i, score in enumerate([10.0, 9.0, 3.0, 0.0])
            ),
            Rated("N4", "7001", T + timedelta(minutes=4), None, status="no_input", survey="nps-first", first="nps"),
        ],
    )
    group = {
        "offered": 5,
        "responses": 4,
        "response_rate": 0.8,
        "average": 5.5,
        "csat": None,
        "csat_ci95": None,
        "csat_responses": 0,
        "distribution": {**_zeros(*range(11)), "0": 1, "3": 1, "9": 1, "10": 1},
    }
    body = await get(client, f"/ratings/summary?group_by=survey&survey=nps-first&{DAY}")
    assert body["groups"] == [{"key": "nps-first", **group}]
    # from the tallies (no filter but the period): the scales of every survey, 1-5 and 0-10
    by_day = await get(client, f"/ratings/summary?group_by=day&{DAY}")
    assert by_day["groups"] == [{"key": "2026-11-20T00:00:00+00:00", **group, **NO_CQR}]


async def test_a_survey_naming_its_satisfied_scores(client: TestClient, sessions) -> None:
    """top-box counts only 5 as satisfied, the default survey 4 and 5: each response by its own survey's rule."""
    await add_survey(sessions, "top-box", question("rating", [1, 2, 3, 4, 5], satisfied=[5]))
    await seed(
        sessions,
        [
            *(
                Rated(f"B{i}", "7001", T + timedelta(minutes=i), score, survey="top-box")
                for i, score in enumerate([5.0, 5.0, 4.0, 4.0, 3.0])
            ),
            *(Rated(f"D{i}", "7001", T + timedelta(minutes=10 + i), score) for i, score in enumerate([5.0, 4.0, 4.0])),
        ],
    )
    groups = (await get(client, f"/ratings/summary?group_by=survey&{DAY}"))["groups"]
    assert [(g["key"], g["responses"], g["csat"], g["csat_ci95"], g["csat_responses"]) for g in groups] == [
        ("default", 3, 1.0, [0.4385, 1.0], 3),
        ("top-box", 5, 0.4, [0.1176, 0.7693], 5),  # two 5s of five
    ]
    for path in (f"group_by=operator&{DAY}", f"group_by=month&{DAY}"):  # counted from the index, from the tallies
        [group] = (await get(client, f"/ratings/summary?{path}"))["groups"]
        assert (group["responses"], group["csat"], group["csat_responses"], group["distribution"]) == (
            8,
            0.625,
            8,
            {"1": 0, "2": 0, "3": 1, "4": 4, "5": 3},  # satisfied: top-box's two 5s, the default's three
        )


# Nine callers of one operator between 10:08 and 10:16, across a quarter hour: the default survey (1-5, 4-5
# satisfied), a 0-10 one without CSAT and a 0/50/100 one counting 100 as satisfied.
MIX = [
    Rated("M0", "7001", T, 5.0),
    Rated("M1", "7001", T, 4.0),
    Rated("M2", "7001", T, 2.0),
    Rated("M3", "7001", T, 10.0, survey="nps-first", first="nps"),
    Rated("M4", "7001", T, 0.0, survey="nps-first", first="nps"),
    Rated("M5", "7001", T, 100.0, survey="percent", first="pct"),
    Rated("M6", "7001", T, 50.0, survey="percent", first="pct"),
    Rated("M7", "7001", T, 100.0, survey="percent", first="pct"),
    Rated("M8", "7001", T, None, status="no_input"),
]


async def test_a_mix_of_surveys_on_different_scales(client: TestClient, sessions) -> None:
    await add_survey(sessions, "nps-first", question("nps", range(11)))
    await add_survey(sessions, "percent", question("pct", [0, 50, 100], satisfied=[100]))
    await seed(
        sessions,
        [
            Rated(
                r.linkedid,
                r.operator,
                T + timedelta(minutes=8 + i),
                r.score,
                status=r.status,
                survey=r.survey,
                first=r.first,
            )
            for i, r in enumerate(MIX)
        ],
    )
    mixed = {
        "offered": 9,
        "responses": 8,
        "response_rate": 0.8889,
        "average": 33.875,  # 271 / 8
        # judged: the default's three (5 and 4 satisfied) and percent's three (the two 100s); not the 0-10 ones
        "csat": 0.6667,
        "csat_ci95": [0.3, 0.9032],
        "csat_responses": 6,
        # every score of the three scales, and the counts of each
        "distribution": {**_zeros(*range(11), 50, 100), "0": 1, "2": 1, "4": 1, "5": 1, "10": 1, "50": 1, "100": 2},
    }
    period = "from=2026-11-20T10:07:00Z&to=2026-11-21T00:00:00Z"  # cuts the first quarter hour
    by_operator = await get(client, f"/ratings/summary?group_by=operator&{period}")
    assert by_operator["groups"] == [{"key": "7001", **mixed, **NO_CQR}]
    tallied = await get(client, f"/ratings/summary?group_by=day&{period}")
    counted = await get(client, f"/ratings/summary?group_by=day&operator=7001&{period}")
    assert tallied["groups"] == counted["groups"] == [{"key": "2026-11-20T00:00:00+00:00", **mixed, **NO_CQR}]
    by_survey = {g["key"]: g for g in (await get(client, f"/ratings/summary?group_by=survey&{period}"))["groups"]}
    assert {k: (g["responses"], g["csat"], g["csat_responses"]) for k, g in by_survey.items()} == {
        "default": (3, 0.6667, 3),
        "nps-first": (2, None, 0),
        "percent": (3, 0.6667, 3),
    }
    only_default = await get(client, f"/ratings/summary?group_by=survey&survey=default&{period}")
    assert only_default["groups"][0]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}


async def test_a_question_must_be_asked_as_one_kind(client: TestClient, sessions) -> None:
    await add_survey(sessions, "a", question("rating", [1, 2, 3]), question("q", range(11)))
    await add_survey(sessions, "b", question("rating", [1, 2, 3]), question("q", [1, 2, 3]))
    for query, message in (
        ("question=nope", "no question 'nope' in any survey"),
        ("question=q&survey=default", "no question 'q' in survey 'default'"),
        ("question=q", "question 'q' is asked as nps and as scale: choose a survey="),
    ):
        body = await get(client, f"/ratings/summary?{query}", status=400)
        assert (body["error"]["message"], body["error"]["details"]) == (message, {"parameter": "question"})
    assert (await get(client, "/ratings/summary?question=q&survey=a"))["kind"] == "nps"
    assert (await get(client, "/ratings/summary?question=q&survey=b"))["kind"] == "scale"


async def test_a_score_off_every_scale_is_counted_too(client: TestClient, sessions) -> None:
    """Scores no scale has (a bulk load, a hand edit: 7 and 2.5 in the 1-5 default survey) are listed with their
    counts, from the tallies as from the responses."""
    await seed(sessions, [Rated("O1", "7001", T, 7.0), Rated("O2", "7001", T, 2.5), Rated("O3", "7001", T, 4.0)])
    for path in (f"group_by=day&{DAY}", f"group_by=day&operator=7001&{DAY}", f"group_by=operator&{DAY}"):
        [group] = (await get(client, f"/ratings/summary?{path}"))["groups"]
        assert group["distribution"] == {"1": 0, "2": 0, "2.5": 1, "3": 0, "4": 1, "5": 0, "7": 1}, path
        assert (group["responses"], group["average"], group["csat"], group["csat_responses"]) == (3, 4.5, 0.3333, 3)
