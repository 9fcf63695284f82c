"""Calls with transfers, in the events Asterisk 22's main/stasis_bridges.c documents (BlindTransfer,
AttendedTransfer) around the queue events of the traces: caller C waits in queue sales and operator 7001
answers 2 s after T0."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.fake_ami import ami_event as _ev

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()


def queue_call(
    linkedid: str, t0: float = T0, *, caller_number: str = "79990001122"
) -> tuple[dict[str, str], dict[str, str], list[dict[str, str]]]:
    """A caller in queue sales whom operator 7001 answers 2 s after t0, talking still: (caller channel, operator
    channel, events), as the traces' queue events run."""
    caller = {"Channel": f"PJSIP/trunk-{linkedid}", "Uniqueid": f"{linkedid}.1", "Linkedid": linkedid}
    agent = {"Channel": f"PJSIP/7001-{linkedid}", "Uniqueid": f"{linkedid}.2", "Linkedid": linkedid}
    member = {"DestChannel": agent["Channel"], "DestUniqueid": agent["Uniqueid"], "Interface": "PJSIP/7001"}
    start = [
        _ev("Newchannel", t0, **caller, Context="incoming", Exten="100", CallerIDNum=caller_number),
        _ev("QueueCallerJoin", t0 + 0.1, **caller, Queue="sales"),
        _ev("Newchannel", t0 + 0.2, **agent, Context="operators", Exten="s"),
        _ev("AgentCalled", t0 + 0.2, **caller, **member, Queue="sales"),
        _ev("AgentConnect", t0 + 2, **caller, **member, Queue="sales", HoldTime="2"),
    ]
    return caller, agent, start


def blind_transfer(caller: dict[str, str], agent: dict[str, str], ts: float, result: str = "Success") -> dict[str, str]:
    return _ev(
        "BlindTransfer",
        ts,
        Result=result,
        TransfererChannel=agent["Channel"],
        TransfererUniqueid=agent["Uniqueid"],
        TransfererLinkedid=agent["Linkedid"],
        TransfereeChannel=caller["Channel"],
        TransfereeUniqueid=caller["Uniqueid"],
        TransfereeLinkedid=caller["Linkedid"],
        IsExternal="Yes",
        Context="survey-transfer",
        Extension="7002",
    )


def attended_transfer_call(linkedid: str) -> list[dict[str, str]]:
    """7001 answers the caller, calls 7002 (a call of its own, linkedid <linkedid>.4), joins the caller with
    7002 and leaves; 7002 talks until T0 + 100 and hangs up, and the caller (on to the survey) at T0 + 110."""
    caller, agent, start = queue_call(linkedid)
    consult = {"Channel": f"PJSIP/7001-{linkedid}b", "Uniqueid": f"{linkedid}.4", "Linkedid": f"{linkedid}.4"}
    target = {"Channel": f"PJSIP/7002-{linkedid}", "Uniqueid": f"{linkedid}.5", "Linkedid": f"{linkedid}.4"}
    dial = {"DestChannel": target["Channel"], "DestUniqueid": target["Uniqueid"]}
    transfer = _ev(
        "AttendedTransfer",
        T0 + 40,
        Result="Success",
        OrigTransfererChannel=agent["Channel"],
        OrigTransfererUniqueid=agent["Uniqueid"],
        OrigTransfererLinkedid=linkedid,
        SecondTransfererChannel=consult["Channel"],
        SecondTransfererUniqueid=consult["Uniqueid"],
        SecondTransfererLinkedid=f"{linkedid}.4",
        DestType="Bridge",
        DestBridgeUniqueid=f"b-{linkedid}",
        TransfereeChannel=caller["Channel"],
        TransfereeUniqueid=caller["Uniqueid"],
        TransfereeLinkedid=linkedid,
        TransferTargetChannel=target["Channel"],
        TransferTargetUniqueid=target["Uniqueid"],
        TransferTargetLinkedid=f"{linkedid}.4",
        IsExternal="No",
    )
    return [
        *start,
        _ev("Newchannel", T0 + 10, **consult, Context="operators", Exten="7002", CallerIDNum="7001"),
        _ev("Newchannel", T0 + 10.1, **target, Context="operators", Exten="s"),
        _ev("DialBegin", T0 + 10.1, **consult, **dial),
        _ev("DialEnd", T0 + 15, **consult, **dial, DialStatus="ANSWER"),
        transfer,
        _ev("Hangup", T0 + 40.1, **agent, Cause="16"),
        _ev("Hangup", T0 + 40.2, **consult, Cause="16"),
        # the bridge gave 7002's channel the caller's (older) linkedid
        _ev("Hangup", T0 + 100, **{**target, "Linkedid": linkedid}, Cause="16"),
        _ev("Hangup", T0 + 110, **caller, Cause="16"),
    ]
