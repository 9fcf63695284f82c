"""The demo's simulated customers against the fake Asterisk and the real dialer: with a seed, the same
customers answer, are busy or hang up, and press the same keys, whatever order the calls come in."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr_survey.db import campaigns
from ivr_survey.db.repository import add_survey_version
from ivr_survey.simulator.customers import CustomerMix, ReachMix, SimulatedCustomers
from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from tests.support.dialing import Rig, dialing_rig

PHONES = [f"+7916555{n:04d}" for n in range(12)]
ENDPOINT = "Local/{number}@customers"


@pytest.fixture
async def rig(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> AsyncIterator[Rig]:
    async with dialing_rig(sessions, tmp_path) as found:
        async with sessions.begin() as session:
            await add_survey_version(
                session, name=EXAMPLE_CSAT_SOLVED_NPS.name, definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict()
            )
        yield found


async def test_seeded_customers_answer_the_campaign_the_same_way_every_time(rig: Rig) -> None:
    # more of everything that is not a plain answer than the demo's shares, so that twelve numbers show it all
    customers = SimulatedCustomers(
        rig.fake,
        rng=random.Random(33),
        reach=ReachMix(busy=0.15, noanswer=0.15, congestion=0.1, drops=0.1),
        mix=CustomerMix(opts_out=0.2, silent=0.2, hangs_up=0.2),
        opt_out_key="*",
    )
    customers.expect(ENDPOINT, PHONES)
    async with customers:
        instance = await rig.instance(rounds=False)
        campaign_id = await rig.campaign(
            PHONES, survey=EXAMPLE_CSAT_SOLVED_NPS.name, opt_out_key="*", concurrency=12, max_attempts=2
        )
        assert await instance.dialer.run_once() == 12
        await rig.settled(campaign_id, attempts=12)
        rig.clock.advance(seconds=1800)  # the retry delay: the unanswered are called once more
        retried = await instance.dialer.run_once()
        await rig.settled(campaign_id, attempts=12 + retried)

    # (number, the how-manieth call, what the far end did, what the customer did in the survey, answers' keys)
    assert sorted((c.phone, c.attempt, c.reach, c.behaviour, c.pressed) for c in customers.calls) == [
        ("+79165550000", 1, "answers", "silent", []),
        ("+79165550001", 1, "congestion", None, []),
        ("+79165550001", 2, "drops", None, []),
        ("+79165550002", 1, "busy", None, []),
        ("+79165550002", 2, "answers", "answers", ["5", "1", "7#"]),
        ("+79165550003", 1, "busy", None, []),
        ("+79165550003", 2, "answers", "answers", ["5", "1", "8#"]),
        ("+79165550004", 1, "busy", None, []),
        ("+79165550004", 2, "answers", "answers", ["4", "1", "10"]),
        ("+79165550005", 1, "drops", None, []),
        ("+79165550006", 1, "noanswer", None, []),
        ("+79165550006", 2, "noanswer", None, []),
        ("+79165550007", 1, "answers", "silent", []),
        ("+79165550008", 1, "answers", "answers", ["4", "2", "8#"]),
        ("+79165550009", 1, "answers", "silent", []),
        ("+79165550010", 1, "answers", "opts_out", ["*"]),
        ("+79165550011", 1, "answers", "hangs_up", ["5"]),
    ]
    assert customers.summary() == {
        "answers": 4,
        "busy": 3,
        "silent": 3,
        "noanswer": 2,
        "drops": 2,
        "congestion": 1,
        "hangs_up": 1,
        "opts_out": 1,
    }
    # what the dialer made of it: answered and silent, or hung up before a key, is no_input; hung up at the
    # second question is partial
    assert sorted(await rig.attempts(campaign_id)) == [
        ("+79165550000", 1, "no_input", 16),
        ("+79165550001", 1, "congestion", 34),
        ("+79165550001", 2, "no_input", 16),
        ("+79165550002", 1, "busy", 17),
        ("+79165550002", 2, "completed", 16),
        ("+79165550003", 1, "busy", 17),
        ("+79165550003", 2, "completed", 16),
        ("+79165550004", 1, "busy", 17),
        ("+79165550004", 2, "completed", 16),
        ("+79165550005", 1, "no_input", 16),
        ("+79165550006", 1, "no_answer", 19),
        ("+79165550006", 2, "no_answer", 19),
        ("+79165550007", 1, "no_input", 16),
        ("+79165550008", 1, "completed", 16),
        ("+79165550009", 1, "no_input", 16),
        ("+79165550010", 1, "opted_out", 16),
        ("+79165550011", 1, "partial", 16),
    ]
    async with rig.sessions() as session:
        results = await campaigns.campaign_results(session, campaign_id)
        dnc = await campaigns.list_dnc(session)
    silent = [("rating", None), ("solved", None), ("nps", None)]
    assert [(r.phone, [(a.question, a.score) for a in r.answers]) for r in results if r.answers] == [
        ("+79165550000", silent),
        ("+79165550002", [("rating", 5.0), ("solved", 1.0), ("nps", 7.0)]),
        ("+79165550003", [("rating", 5.0), ("solved", 1.0), ("nps", 8.0)]),
        ("+79165550004", [("rating", 4.0), ("solved", 1.0), ("nps", 10.0)]),
        ("+79165550007", silent),
        ("+79165550008", [("rating", 4.0), ("solved", 0.0), ("nps", 8.0)]),
        ("+79165550009", silent),
        ("+79165550011", [("rating", 5.0)]),
    ]
    assert [(row.phone, row.source, row.campaign_id) for row in dnc] == [("+79165550010", "opt_out", campaign_id)]
