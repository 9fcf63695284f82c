"""A campaign through the whole service, as a supervisor runs one: created, given a CSV and started over the API;
the service's own dialer calls the customers on the fake Asterisk, who answer the multi-question survey; the
progress, the results, the ratings with their campaign and /healthz say what happened."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient

from ivr_survey.db.repository import add_survey_version
from ivr_survey.keys import DIALER, SESSIONS
from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from tests.integration.test_dialer import Customers
from tests.support.api_client import AUTH, admin_client, get
from tests.support.dialing import Clock

CSV = (
    "phone,name,operator,segment\n"
    "8 (916) 123-45-67,Ivan Petrov,7001,vip\n"
    "+7 916 765-43-21,Anna Sidorova,7002,new\n"
    "not a number,Broken Row,7001,\n"
    "8 916 111 22 33,Oleg Busy,7001,\n"
)


async def post(client: TestClient, path: str, status: int, **kwargs: object) -> dict:
    resp = await client.post(path, headers={**AUTH, **kwargs.pop("headers", {})}, **kwargs)  # type: ignore[arg-type]
    body = await resp.json()
    assert resp.status == status, body
    return body


async def test_a_supervisor_runs_a_campaign_end_to_end(database_url: str, tmp_path: Path) -> None:
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=50.0) as fake:
        fake.script_endpoint("PJSIP/+79161112233@trunk", "busy")
        customers = Customers(fake, {})
        async with admin_client(
            database_url,
            tmp_path,
            ari_url=fake.base_url,
            ari_user="ivr-survey",
            ari_password="secret",
            no_input_timeout=0.1,
            inter_digit_timeout=0.1,
            default_country="RU",
        ) as client:
            app = client.server.app
            app[DIALER].clock = Clock()  # a Monday morning in Moscow, inside the calling hours
            async with app[SESSIONS].begin() as session:
                await add_survey_version(session, name="csat3", definition=EXAMPLE_CSAT_SOLVED_NPS.to_dict())
            created = await post(
                client,
                "/campaigns",
                201,
                json={
                    "name": "November NPS",
                    "survey": "csat3",
                    "endpoint": "PJSIP/{number}@trunk",
                    "caller_id": "Company <74950000000>",
                    "max_attempts": 1,
                    "opt_out_key": "*",
                },
            )
            campaign = created["id"]
            assert created["state"] == "draft"
            upload = await post(
                client,
                f"/campaigns/{campaign}/contacts",
                200,
                data=CSV.encode(),
                headers={"Content-Type": "text/csv"},
            )
            assert upload == {
                "added": 3,
                "duplicates": 0,
                "dnc": 0,
                "rejected": [{"line": 4, "reason": 'phone: "not a number" is not a phone number'}],
            }
            # Ivan answers all three questions (5, yes, 9 then #), Anna presses the opt-out key.
            customers.keys.update({"+79161234567": "519#", "+79167654321": "*"})
            assert (await post(client, f"/campaigns/{campaign}/start", 200))["state"] == "running"
            async with asyncio.timeout(20):
                while (detail := await get(client, f"/campaigns/{campaign}"))["state"] != "finished":
                    await asyncio.sleep(0.05)
            customers.close()
            assert detail["progress"] == {
                "total": 3,
                "pending": 0,
                "in_progress": 0,
                "completed": 1,
                "partial": 0,
                "no_input": 0,
                "opted_out": 1,
                "no_answer": 0,
                "busy": 1,
                "failed": 0,
                "dnc": 0,
            }
            assert detail["response_rate"] == 0.3333  # Ivan of the three ended
            results = (await get(client, f"/campaigns/{campaign}/results"))["items"]
            assert [
                (r["phone"], r["name"], r["operator"], r["outcome"], r["attempts"], r["score"]) for r in results
            ] == [
                ("+79161234567", "Ivan Petrov", "7001", "completed", 1, 5.0),
                ("+79167654321", "Anna Sidorova", "7002", "opted_out", 1, None),
                ("+79161112233", "Oleg Busy", "7001", "busy", 1, None),
            ]
            assert results[0]["answers"] == [
                {"question": "rating", "score": 5.0},
                {"question": "solved", "score": 1.0},
                {"question": "nps", "score": 9.0},
            ]
            assert results[2]["last_cause"] == 17
            ratings = (await get(client, f"/ratings?campaign={campaign}"))["items"]
            # both called at once: in either order
            assert sorted((r["campaign"], r["operator"], r["status"], r["score"] or 0) for r in ratings) == [
                (campaign, "7001", "completed", 5.0),
                (campaign, "7002", "abandoned", 0),
            ]
            assert (await get(client, "/ratings?campaign=none"))["items"] == []
            dnc = (await get(client, "/do-not-call"))["items"]
            assert [(d["phone"], d["source"], d["campaign"]) for d in dnc] == [("+79167654321", "opt_out", campaign)]
            health = await get(client, "/healthz")
            assert health["dialer"] == {"status": "idle", "campaigns_running": 0, "calls_in_progress": 0}
