"""The call tracker alone: AMI events in, finished calls out (traces of a real Asterisk 22, and tables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ivr_survey.ami.tracker import CallRecord, CallTracker
from ivr_survey.config import Settings
from ivr_survey.service.naming import OperatorNames
from tests.support.fake_ami import ami_event as _ev
from tests.support.reference import TRACES
from tests.support.transfers import T0, attended_transfer_call, blind_transfer, queue_call

RECEIVED = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def tracker() -> CallTracker:
    return CallTracker(OperatorNames.from_settings(Settings(_env_file=None)))


def events(name: str) -> list[dict[str, str]]:
    out = []
    for block in (TRACES / name).read_bytes().decode().split("\r\n\r\n"):
        headers: dict[str, str] = {}
        for line in block.split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                headers.setdefault(key, value)
        if "Event" in headers:
            out.append(headers)
    return out


def final(records: list[CallRecord]) -> dict[str, CallRecord]:
    """The last word on each call (a late Cdr re-issues a call, completed)."""
    return {r.linkedid: r for r in records}


def feed_all(t: CallTracker, evs: list[dict[str, Any]]) -> list[CallRecord]:
    return [r for e in evs for r in t.feed(e, RECEIVED)]


def at(hms: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-26T{hms}+00:00")


def test_queue_trace_answered_abandoned_and_campaign_outcomes() -> None:
    t = tracker()
    trace = events("ami-queue-and-originate.txt")
    calls = final(feed_all(t, trace))
    summary = {
        k: (r.direction, r.disposition, r.queue, r.operator, r.rung, r.ring_seconds, r.talk_seconds, r.hangup_side)
        for k, r in calls.items()
    }
    assert summary == {
        "1795720118.198": ("inbound", "answered", "sales", "7001", ["7001"], 0.0, 3.0, "operator"),
        "1795720125.202": ("inbound", "abandoned_in_queue", "nobody", None, ["7999"], 4.0, None, None),
        "1795720131.206": ("outbound", "answered", None, None, [], 0.0, None, None),
        "1795720138.208": ("outbound", "busy", None, None, [], None, None, None),
        "1795720145.210": ("outbound", "missed", None, None, [], None, None, None),
        "1795720157.212": ("outbound", "failed", None, None, [], None, None, None),
    }
    answered = calls["1795720118.198"]
    assert (answered.started_at, answered.answered_at, answered.ended_at, answered.caller_number) == (
        at("19:08:38"),
        at("19:08:38"),
        at("19:08:44"),
        "79991112233",
    )
    # where that Asterisk's MixMonitor wrote the file, as the trace says (it depends on the PBX's layout)
    [written] = [
        e["Value"] for e in trace if e.get("Variable") == "MIXMONITOR_FILENAME" and e["Uniqueid"] == "1795720118.199"
    ]
    assert written.endswith("/1795720118.199.wav")
    assert answered.recording == written
    assert t.in_progress == set()


def test_a_timestamped_outbound_callback_uses_event_times() -> None:
    """Operator 7001 dials 9 + the client's number; the client answers after 7 s and hangs up after 60 s."""
    t0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()
    op = {"Channel": "PJSIP/7001-00000001", "Uniqueid": "100.1", "Linkedid": "100.1", "CallerIDNum": "7001"}
    trunk = {
        "Channel": "PJSIP/client-trunk-00000002",
        "Uniqueid": "100.2",
        "Linkedid": "100.1",
        "CallerIDNum": "79990000001",
    }
    dial = {
        "Channel": op["Channel"],
        "Uniqueid": "100.1",
        "Linkedid": "100.1",
        "DestChannel": trunk["Channel"],
        "DestUniqueid": "100.2",
    }
    t = tracker()
    records = feed_all(
        t,
        [
            _ev("Newchannel", t0, **op, Context="operators", Exten="979990000001"),
            _ev("Newexten", t0 + 0.01, **op, Context="outbound", Exten="79990000001"),
            _ev("Newchannel", t0 + 0.02, **trunk, Context="outbound", Exten="s"),
            _ev("DialBegin", t0 + 0.02, **dial),
            _ev("DialEnd", t0 + 7.02, **dial, DialStatus="ANSWER"),
            _ev("Hangup", t0 + 67.02, **trunk, Context="outbound", Cause="16"),
            _ev("Hangup", t0 + 67.03, **op, Context="outbound", Cause="16"),
        ],
    )
    assert len(records) == 1
    r = records[0]
    start = datetime.fromtimestamp(t0, UTC)
    assert (r.direction, r.disposition, r.operator, r.rung, r.client_number, r.caller_number) == (
        "outbound",
        "answered",
        "7001",
        [],
        "79990000001",
        "7001",
    )
    assert (r.started_at, r.answered_at, r.ended_at) == (
        start,
        start + timedelta(seconds=7.02),
        start + timedelta(seconds=67.03),
    )
    assert (r.ring_seconds, r.talk_seconds, r.hangup_side) == (7.0, 60.0, "caller")  # talk ends at the hangup


def test_resync_finishes_calls_gone_during_an_outage_and_keeps_live_ones() -> None:
    t = tracker()
    base = {"Context": "incoming", "Exten": "7001"}
    feed_all(
        t,
        [
            {"Event": "Newchannel", "Channel": "PJSIP/trunk-1", "Uniqueid": "1.1", "Linkedid": "1.1", **base},
            {"Event": "Newchannel", "Channel": "PJSIP/trunk-2", "Uniqueid": "2.1", "Linkedid": "2.1", **base},
        ],
    )
    finished = t.resync({"2.1"}, RECEIVED + timedelta(minutes=5))
    assert [(r.linkedid, r.disposition, r.incomplete, r.ended_at) for r in finished] == [
        ("1.1", "missed", True, RECEIVED)
    ]
    assert t.in_progress == {"2.1"}
    stale = t.expire(RECEIVED + timedelta(hours=13))
    assert [(r.linkedid, r.incomplete) for r in stale] == [("2.1", True)]
    assert t.in_progress == set()


def test_events_without_linkedid_and_junk_are_ignored() -> None:
    t = tracker()
    assert (
        feed_all(
            t, [{"Event": "FullyBooted"}, {"Event": "Hangup"}, {"Event": "Cdr", "UniqueID": "9.9"}, {"Linkedid": "x"}]
        )
        == []
    )
    assert t.in_progress == {"x"}


def test_the_banner_may_come_before_panoramisk_is_ready() -> None:
    """A real Asterisk sent its banner before panoramisk had set the protocol's encoding (seen against
    Asterisk 22): reading it must not fail."""
    import asyncio
    from unittest.mock import create_autospec

    from ivr_survey.ami.collector import _Protocol

    protocol = _Protocol()
    protocol.connection_made(create_autospec(asyncio.Transport, instance=True))
    assert not hasattr(protocol, "encoding")
    protocol.data_received(b"Asterisk Call Manager/11.0.0\r\n")
    assert protocol.version == "11.0.0"


def _brief(r: CallRecord) -> tuple[Any, ...]:
    return (r.disposition, r.queue, r.operator, r.transferred_from, r.rung, r.talk_seconds, r.hangup_side)


def test_a_blind_transfer_hands_the_call_to_the_operator_who_answers_the_caller_next() -> None:
    caller, agent, start = queue_call("200")
    target = {"Channel": "PJSIP/7002-200", "Uniqueid": "200.3", "Linkedid": "200"}
    dial = {"DestChannel": target["Channel"], "DestUniqueid": target["Uniqueid"]}
    records = feed_all(
        tracker(),
        [
            *start,
            blind_transfer(caller, agent, T0 + 20),
            _ev("Hangup", T0 + 20.1, **agent, Cause="16"),  # the transferer leaves: not the talk's end
            _ev("Newexten", T0 + 20.2, **caller, Context="survey-transfer", Exten="7002"),
            _ev("Newchannel", T0 + 20.3, **target, Context="operators", Exten="s"),
            _ev("DialBegin", T0 + 20.3, **caller, **dial),
            _ev("DialEnd", T0 + 25, **caller, **dial, DialStatus="ANSWER"),
            _ev("Hangup", T0 + 85, **target, Cause="16"),  # 7002 ends the talk; the caller goes on to the survey
            _ev("Hangup", T0 + 95, **caller, Cause="16"),
        ],
    )
    [record] = records
    assert _brief(record) == ("answered", "sales", "7002", ["7001"], ["7001", "7002"], 83.0, "operator")


def test_a_blind_transfer_no_one_answers_stays_the_first_operators_and_ends_its_talk() -> None:
    caller, agent, start = queue_call("201")
    target = {"Channel": "PJSIP/7002-201", "Uniqueid": "201.3", "Linkedid": "201"}
    dial = {"DestChannel": target["Channel"], "DestUniqueid": target["Uniqueid"]}
    [record] = feed_all(
        tracker(),
        [
            *start,
            blind_transfer(caller, agent, T0 + 20),
            _ev("Hangup", T0 + 20.1, **agent, Cause="16"),
            _ev("Newchannel", T0 + 20.3, **target, Context="operators", Exten="s"),
            _ev("DialBegin", T0 + 20.3, **caller, **dial),
            _ev("DialEnd", T0 + 50.3, **caller, **dial, DialStatus="NOANSWER"),
            _ev("Hangup", T0 + 50.4, **target, Cause="19"),
            _ev("Hangup", T0 + 51, **caller, Cause="16"),  # not "the caller hung up on the operator"
        ],
    )
    assert _brief(record) == ("answered", "sales", "7001", [], ["7001", "7002"], 18.0, "operator")  # 7002 was rung


def test_a_failed_or_foreign_blind_transfer_changes_nothing() -> None:
    caller, agent, start = queue_call("202")
    [record] = feed_all(
        tracker(),
        [
            *start,
            blind_transfer(caller, agent, T0 + 20, result="Not Permitted"),
            blind_transfer(
                agent, caller, T0 + 21
            ),  # the caller "transferring" the operator: not an operator's transfer
            _ev("Hangup", T0 + 30, **caller, Cause="16"),
            _ev("Hangup", T0 + 30.1, **agent, Cause="16"),
        ],
    )
    assert _brief(record) == ("answered", "sales", "7001", [], ["7001"], 28.0, "caller")


def test_an_attended_transfer_takes_the_target_over_from_the_operators_consulting_call() -> None:
    """7001 calls 7002 (a call of its own, linkedid 300.4), then joins the caller with 7002; 7002's channel is the
    caller's call's from then on, and the consulting call ends with 7001's second channel."""
    records = feed_all(tracker(), attended_transfer_call("300"))
    calls = final(records)
    assert [r.linkedid for r in records] == ["300.4", "300"]
    assert _brief(calls["300"]) == ("answered", "sales", "7002", ["7001"], ["7001", "7002"], 98.0, "operator")
    consulting = calls["300.4"]
    assert (consulting.direction, consulting.operator, consulting.transferred_from) == ("internal", "7002", [])


def test_the_calls_in_progress_say_who_talks_on_which_channel_since_when() -> None:
    t = tracker()
    _, agent, start = queue_call("400")
    ringing = {"Channel": "PJSIP/trunk-401", "Uniqueid": "401.1", "Linkedid": "401"}
    feed_all(t, [*start, _ev("Newchannel", T0 + 5, **ringing, Context="incoming", Exten="100", CallerIDNum="222")])
    assert [(c.call_id, c.state, c.operator, c.operator_channel, c.queue, c.caller_number) for c in t.live()] == [
        ("400", "talking", "7001", "400.2", "sales", "79990001122"),
        ("401", "ringing", None, None, None, "222"),
    ]
    assert [c.since for c in t.live()] == [datetime.fromtimestamp(T0 + 2, UTC), datetime.fromtimestamp(T0 + 5, UTC)]
    feed_all(t, [_ev("Hangup", T0 + 30, **agent, Cause="16")])  # the operator hangs up: the caller stays on
    talk_over = t.live()[0]
    assert (talk_over.state, talk_over.operator_channel, talk_over.since) == (
        "ending",
        None,
        datetime.fromtimestamp(T0 + 30, UTC),
    )


def test_a_listen_s_snoop_and_supervisor_leg_are_no_calls_of_the_history() -> None:
    t = tracker()
    caller, agent, start = queue_call("500")
    snoop = {"Channel": "Snoop/500.2-00000001", "Uniqueid": "500.9", "Linkedid": "500.9"}
    leg = {"Channel": "PJSIP/7100-00000009", "Uniqueid": "501.1", "Linkedid": "501.1"}
    records = feed_all(
        t,
        [
            *start,
            _ev("Newchannel", T0 + 5, **leg, Context="default", Exten="s"),
            _ev("VarSet", T0 + 5, **leg, Variable="IVR_SURVEY_LISTEN", Value="3"),
            _ev("Newchannel", T0 + 6, **snoop, Context="default", Exten="s"),
            _ev("Hangup", T0 + 20, **snoop, Cause="16"),
            _ev("Hangup", T0 + 20.1, **leg, Cause="16"),
        ],
    )
    assert records == []
    assert [c.call_id for c in t.live()] == ["500"]
    done = feed_all(t, [_ev("Hangup", T0 + 30, **agent, Cause="16"), _ev("Hangup", T0 + 31, **caller, Cause="16")])
    assert [r.linkedid for r in done] == ["500"]
    assert t.in_progress == set()
