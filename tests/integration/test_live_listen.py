"""Live calls and listening to them, end to end: the AMI history (a fake replaying Asterisk's events) names the
call in progress and its operator's channel, the fake ARI holds that channel, and a supervisor's listen goes
through the REST requests Asterisk documents, in order; the audit rows are exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr_survey.app import create_app
from ivr_survey.db.tokens import create_token
from ivr_survey.keys import AMI, LISTENING, SESSIONS, STASIS
from ivr_survey.simulator.ari import FakeAsterisk
from tests.integration.test_campaign_pages import plain, sign_in, text
from tests.integration.test_stasis import SPEED, settings_for
from tests.support.fake_ami import FakeAmi, ami_event
from tests.support.transfers import queue_call
from tests.support.waiting import wait_until

ADMIN = {"Authorization": "Bearer admin-token"}
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()
CALL, OPERATOR_CHANNEL = "L1", "L1.2"


def _talking(linkedid: str, t0: float = T0) -> list[dict[str, str]]:
    """A caller in queue sales talking to operator 7001 since t0 + 2 (no hangup yet)."""
    return queue_call(linkedid, t0, caller_number="79161234567")[2]


class Rig:
    def __init__(self, fake: FakeAsterisk, client: TestClient, analyst: dict[str, str]) -> None:
        self.fake, self.client, self.analyst = fake, client, analyst

    async def call(self, method: str, path: str, status: int, headers: dict[str, str] = ADMIN, **kw: Any) -> Any:
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json()
        assert resp.status == status, body
        return body

    def ari(self, *kinds: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The REST requests the service made of these kinds (snoop, bridges, channels), in order."""
        out = []
        for r in self.fake.requests:
            path = r.path.removeprefix("/ari")
            if any(k in path for k in kinds) and r.method in ("POST", "DELETE"):
                out.append((r.method, path, {k: v for k, v in r.params.items() if k != "api_key"}))
        return out

    async def listen_row(self, listen_id: int, state: str) -> dict[str, Any]:
        """The listen as GET /listens/{id} shows it, once it is in `state` (within 10 s)."""
        for _ in range(500):
            row = await self.call("GET", f"/listens/{listen_id}", 200)
            if row["state"] == state:
                return row
            await asyncio.sleep(0.02)
        raise AssertionError(f"listen {listen_id} never {state}")


async def _rig(database_url: str, tmp_path: Path, *, listen: bool = True) -> AsyncIterator[Rig]:
    ami = FakeAmi.from_events(_talking(CALL))
    await ami.start()
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=SPEED) as fake:
        fake.add_channel(name=f"PJSIP/7001-{CALL}", linkedid=CALL, channel_id=OPERATOR_CHANNEL)
        settings = settings_for(
            database_url,
            fake,
            tmp_path,
            api_token="admin-token",
            ami_host="127.0.0.1",
            ami_port=ami.port,
            live_listen=listen,
            default_country="RU",
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            await fake.wait_for_app()
            app = client.server.app
            await wait_until(lambda: CALL in app[AMI].tracker.in_progress, "the call to be followed", 10)
            async with app[SESSIONS]() as session, session.begin():
                token = await create_token(session, name="ann", role="analyst")
            yield Rig(fake, client, {"Authorization": f"Bearer {token}"})
    await ami.close()


@pytest.fixture
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(database_url, tmp_path):
        yield r


async def test_the_live_call_is_listed_and_its_caller_masked_for_analysts(rig: Rig) -> None:
    full = await rig.call("GET", "/calls/live", 200)
    [item] = full["items"]
    assert (item["call_id"], item["queue"], item["operator"], item["state"], item["caller"]) == (
        CALL,
        "sales",
        "7001",
        "talking",
        "79161234567",
    )
    assert item["since"] == "2026-12-01T10:00:02+00:00"
    assert full["listening"] is True
    [masked] = (await rig.call("GET", "/calls/live", 200, headers=rig.analyst))["items"]
    assert masked["caller"] == "+7 916 ***-**-67"
    refused = await rig.call("POST", f"/calls/{CALL}/listen", 403, headers=rig.analyst, json={"endpoint": "PJSIP/7100"})
    assert refused["error"]["details"] == {"required_role": "supervisor"}


@pytest.mark.parametrize(("mode", "whisper"), [("listen", "none"), ("whisper", "out"), ("barge", "both")])
async def test_a_listen_snoops_the_operator_into_a_bridge_with_the_supervisor(
    rig: Rig, mode: str, whisper: str
) -> None:
    listen = await rig.call("POST", f"/calls/{CALL}/listen", 201, json={"endpoint": "PJSIP/7100", "mode": mode})
    assert (listen["state"], listen["operator"], listen["supervisor"], listen["mode"]) == (
        "ringing",
        "7001",
        "bootstrap",
        mode,
    )
    row = await rig.listen_row(listen["id"], "listening")
    await wait_until(lambda: any(len(ids) == 2 for ids in rig.fake.bridges().values()), "both in the bridge", 10)
    [(bridge, members)] = rig.fake.bridges().items()
    supervisor = next(m for m in members if not m.endswith("-snoop"))
    originate, create, add_supervisor, snoop, add_snoop = rig.ari("/channels", "/bridges")
    assert originate[:2] == ("POST", "/channels")
    assert create == ("POST", "/bridges", {"type": "mixing", "bridgeId": bridge, "name": f"listen-{listen['id']}"})
    assert add_supervisor == ("POST", f"/bridges/{bridge}/addChannel", {"channel": supervisor})
    assert snoop == (
        "POST",
        f"/channels/{OPERATOR_CHANNEL}/snoop",
        {
            "spy": "both",
            "whisper": whisper,
            "app": "ivr-survey",
            "appArgs": f"snoop={listen['id']}",
            "snoopId": f"{supervisor}-snoop",
        },
    )
    assert add_snoop == ("POST", f"/bridges/{bridge}/addChannel", {"channel": f"{supervisor}-snoop"})
    assert row["answered_at"] is not None and row["end_reason"] is None
    # the call ends: the snoop goes, and with it the listen
    rig.fake.end_channel(OPERATOR_CHANNEL)
    ended = await rig.listen_row(listen["id"], "ended")
    assert ended["end_reason"] == "call_ended"
    await wait_until(lambda: rig.fake.bridges() == {}, "the bridge to be destroyed", 10)
    assert rig.ari("/channels/", "/bridges/")[-3:] == [
        ("DELETE", f"/channels/{supervisor}", {}),
        ("DELETE", f"/channels/{supervisor}-snoop", {}),
        ("DELETE", f"/bridges/{bridge}", {}),
    ]
    assert rig.client.server.app[LISTENING].active == []  # type: ignore[attr-defined]  # the ARI adapter's


async def test_the_supervisor_hanging_up_ends_the_listen_and_the_audit_has_it(rig: Rig) -> None:
    listen = await rig.call("POST", f"/calls/{CALL}/listen", 201, json={"endpoint": "PJSIP/7100"})
    await rig.listen_row(listen["id"], "listening")
    supervisor = next(c for c in rig.fake.bridges().popitem()[1] if not c.endswith("-snoop"))
    await rig.fake.caller_hangup(supervisor)
    ended = await rig.listen_row(listen["id"], "ended")
    assert ended["end_reason"] == "supervisor_hung_up"
    audit = await rig.call("GET", "/audit/listens", 200)
    assert [
        (a["id"], a["call_id"], a["operator"], a["mode"], a["endpoint"], a["end_reason"]) for a in audit["items"]
    ] == [(listen["id"], CALL, "7001", "listen", "PJSIP/7100", "supervisor_hung_up")]
    detail = await rig.call("GET", f"/calls/{CALL}", 200)
    assert [(h["id"], h["supervisor"], h["state"]) for h in detail["listens"]] == [(listen["id"], "bootstrap", "ended")]
    assert (await rig.call("GET", "/audit/listens", 403, headers=rig.analyst))["error"]["code"] == "forbidden"


async def test_a_listen_stopped_by_delete_ends_its_legs(rig: Rig) -> None:
    listen = await rig.call("POST", f"/calls/{CALL}/listen", 201, json={"endpoint": "PJSIP/7100", "mode": "barge"})
    await rig.listen_row(listen["id"], "listening")
    stopped = await rig.call("DELETE", f"/listens/{listen['id']}", 200)
    assert (stopped["state"], stopped["end_reason"]) == ("ended", "stopped")
    await wait_until(lambda: rig.fake.bridges() == {}, "the bridge to be destroyed", 10)
    again = await rig.call("DELETE", f"/listens/{listen['id']}", 200)
    assert (again["state"], again["end_reason"]) == ("ended", "stopped")
    assert (await rig.call("GET", "/calls/live", 200))["items"][0]["state"] == "talking"  # the call goes on


async def test_a_supervisor_who_does_not_answer_and_an_endpoint_asterisk_refuses(rig: Rig) -> None:
    rig.fake.script_endpoint("PJSIP/7200", "noanswer")
    unanswered = await rig.call("POST", f"/calls/{CALL}/listen", 201, json={"endpoint": "PJSIP/7200"})
    ended = await rig.listen_row(unanswered["id"], "ended")
    assert (ended["end_reason"], ended["answered_at"]) == ("not_answered", None)
    assert not any("/snoop" in path for _, path, _ in rig.ari("/snoop"))
    refused = await rig.call("POST", f"/calls/{CALL}/listen", 422, json={"endpoint": "Bogus/7100"})
    assert refused["error"]["code"] == "endpoint_refused"
    assert refused["error"]["message"] == "Asterisk refused to call Bogus/7100: Allocation failed"
    [last] = (await rig.call("GET", "/audit/listens", 200))["items"][:1]
    assert (last["endpoint"], last["state"], last["end_reason"], last["detail"]) == (
        "Bogus/7100",
        "ended",
        "refused",
        "Allocation failed",
    )


async def test_calls_that_are_not_live_or_have_no_operator_and_bad_bodies(rig: Rig) -> None:
    missing = await rig.call("POST", "/calls/nope/listen", 404, json={"endpoint": "PJSIP/7100"})
    assert missing["error"]["details"] == {"call_id": "nope"}
    bad = await rig.call("POST", f"/calls/{CALL}/listen", 400, json={"endpoint": "7100"})
    assert bad["error"]["details"]["parameter"] == "endpoint"
    bad_mode = await rig.call("POST", f"/calls/{CALL}/listen", 400, json={"endpoint": "PJSIP/7100", "mode": "spy"})
    assert bad_mode["error"]["details"]["parameter"] == "mode"
    assert await rig.call("GET", "/listens/99", 404)
    assert (await rig.call("GET", "/audit/listens", 200))["items"] == []


async def test_listening_is_off_unless_switched_on(database_url: str, tmp_path: Path) -> None:
    async for rig in _rig(database_url, tmp_path, listen=False):
        assert (await rig.call("GET", "/calls/live", 200))["listening"] is False
        off = await rig.call("POST", f"/calls/{CALL}/listen", 403, json={"endpoint": "PJSIP/7100"})
        assert off["error"]["code"] == "listening_off"
        assert rig.ari("/channels", "/bridges") == []


async def test_the_operator_gone_before_the_supervisor_answers_ends_the_listen_unsnooped(rig: Rig) -> None:
    rig.fake.script_endpoint("PJSIP/7300", "answer", ring=2.0)
    listen = await rig.call("POST", f"/calls/{CALL}/listen", 201, json={"endpoint": "PJSIP/7300"})
    rig.fake.end_channel(OPERATOR_CHANNEL)  # the call ends while the supervisor's phone rings
    ended = await rig.listen_row(listen["id"], "ended")
    assert ended["end_reason"] == "call_ended"
    snooped = [r for r in rig.fake.requests if r.path.endswith("/snoop")]
    assert [(r.path, r.status) for r in snooped] == [(f"/ari/channels/{OPERATOR_CHANNEL}/snoop", 404)]
    await wait_until(lambda: rig.fake.bridges() == {}, "the bridge to be destroyed", 10)


async def test_a_caller_in_the_survey_is_listed_so_and_never_snooped(database_url: str, tmp_path: Path) -> None:
    """The operator hung up (AMI), the caller rates the call (in the app): the list says in_survey, and a listen
    is refused, with nothing asked of Asterisk."""
    events = [
        *_talking(CALL),
        ami_event("Hangup", T0 + 30, Channel=f"PJSIP/7001-{CALL}", Uniqueid=f"{CALL}.2", Linkedid=CALL),
    ]
    ami = FakeAmi.from_events(events)
    await ami.start()
    async with FakeAsterisk(user="ivr-survey", password="secret", speed=SPEED) as fake:
        settings = settings_for(
            database_url,
            fake,
            tmp_path,
            api_token="admin-token",
            ami_host="127.0.0.1",
            ami_port=ami.port,
            live_listen=True,
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            await fake.wait_for_app()
            app = client.server.app
            await wait_until(lambda: CALL in app[AMI].tracker.in_progress, "the call to be followed", 10)
            rig = Rig(fake, client, ADMIN)
            caller = await fake.place_call(args=["operator=7001", "queue=sales"], linkedid=CALL)
            await wait_until(lambda: caller in app[STASIS].calls, "the caller to be in the survey", 10)
            [item] = (await rig.call("GET", "/calls/live", 200))["items"]
            assert (item["state"], item["since"]) == ("in_survey", "2026-12-01T10:00:30+00:00")
            refused = await rig.call("POST", f"/calls/{CALL}/listen", 409, json={"endpoint": "PJSIP/7100"})
            assert refused["error"]["code"] == "no_operator_channel"
            assert not [r for r in fake.requests if "/snoop" in r.path or r.path == "/ari/bridges"]
            assert not [r for r in fake.requests if r.method == "POST" and r.path == "/ari/channels"]
    await ami.close()


async def test_the_live_page_lists_the_call_and_a_supervisor_listens_and_ends_it_there(rig: Rig) -> None:
    client = rig.client
    csrf = await sign_in(client, "supervisor")
    page = await text(client, "/ui/live")
    assert 'data-call="L1" data-state="talking"' in page
    row = page[page.index('data-call="L1"') :].split("</tr>")[0]
    assert plain(row[row.index(">") + 1 :]) == "Talking 12/1/26, 10:00 AM 7001 sales 79161234567 L1 Listen"
    assert "79161234567" in page  # a supervisor sees the number in full
    answer = await client.post(
        "/ui/live/listen",
        data={"csrf": csrf, "call_id": CALL, "endpoint": "PJSIP/7100", "mode": "whisper"},
        allow_redirects=False,
    )
    assert answer.status == 303
    listen_id = int(answer.headers["Location"].rsplit("=", 1)[1])
    assert answer.headers["Location"] == f"/ui/live?listen={listen_id}"
    row = await rig.listen_row(listen_id, "listening")
    assert (row["mode"], row["supervisor"], row["endpoint"]) == ("whisper", "sup-supervisor", "PJSIP/7100")
    shown = await text(client, answer.headers["Location"])
    assert f'data-listen="{listen_id}"' in shown and "Your phone rings" in shown
    stop = await client.post(f"/ui/listens/{listen_id}/stop", data={"csrf": csrf}, allow_redirects=False)
    assert (stop.status, stop.headers["Location"]) == (303, f"/ui/live?stopped={listen_id}")
    assert (await rig.listen_row(listen_id, "ended"))["end_reason"] == "stopped"
    refused = await client.post(
        "/ui/live/listen", data={"csrf": csrf, "call_id": "gone", "endpoint": "PJSIP/7100", "mode": "listen"}
    )
    assert refused.status == 404
    assert "Call gone is over." in plain(await refused.text())
    bad = await client.post(
        "/ui/live/listen", data={"csrf": csrf, "call_id": CALL, "endpoint": "7100", "mode": "listen"}
    )
    assert bad.status == 400
    assert "Your phone as Asterisk dials it" in plain(await bad.text())
    fragment = await text(client, "/ui/live/rows")
    assert fragment.lstrip().startswith("<section data-live-calls")


async def test_an_analyst_sees_the_live_page_masked_and_without_listening(rig: Rig) -> None:
    csrf = await sign_in(rig.client, "analyst")
    page = await text(rig.client, "/ui/live")
    assert "+7 916 ***-**-67" in page and "79161234567" not in page
    assert 'id="listen-form"' not in page and 'data-testid="listen-L1"' not in page
    refused = await rig.client.post(
        "/ui/live/listen", data={"csrf": csrf, "call_id": CALL, "endpoint": "PJSIP/7100", "mode": "listen"}
    )
    assert refused.status == 403
    assert rig.ari("/snoop", "/bridges") == []
