"""AMI events in, finished calls out: a fold with no I/O, keyed by linkedid.

A call is finished when the last of its channels hangs up. Channel, dial and queue events say who was rung and
who answered, when, and who hung up first; the call's `Cdr` events (they carry only the channel's uniqueid,
mapped back to the linkedid here) give second-exact times and ring/talk time when the events carry no
`Timestamp` header. A `Cdr` that comes after the call was finished re-issues it, completed.

Transfers (BlindTransfer, AttendedTransfer, as Asterisk 22's main/stasis_bridges.c documents them): the
operator who takes the caller over becomes the call's operator, the earlier ones are kept in order
(transferred_from). After a blind transfer the caller runs the dialplan at the transfer's extension, and the next
operator it is connected to takes over; an attended transfer names its target's channel, which belongs to the
operator's consulting call until then and to this call from then on (a channel joining a bridge takes the
oldest linkedid in it)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..service.live import LISTEN_VARIABLE, LiveCall
from ..service.naming import OperatorNames
from .cdr import Cdr, digits, from_cdrs

log = logging.getLogger(__name__)

# A call with no event for this long lost its end (an AMI outage we could not resync): finish it, incomplete.
STALE_AFTER = timedelta(hours=12)
# Finished calls remembered for late Cdr events.
FINISHED_MEMORY = 2000
_UNKNOWN = ("", "<unknown>")
UTC_ZONE = ZoneInfo("UTC")
_DIAL_FAILURES = {"BUSY": "busy", "CHANUNAVAIL": "failed", "CONGESTION": "failed"}


@dataclass
class CallRecord:
    linkedid: str
    direction: str
    disposition: str
    caller_number: str | None = None
    client_number: str | None = None
    queue: str | None = None
    operator: str | None = None
    rung: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ring_seconds: float | None = None
    talk_seconds: float | None = None
    hangup_side: str | None = None
    recording: str | None = None
    incomplete: bool = False
    source: str = "ami"
    channel_uniqueid: str | None = None
    transferred_from: list[str] = field(default_factory=list)  # operators before `operator`, first first


def _base(channel: str) -> str:
    """A Local channel's two halves (;1 and ;2) are one party."""
    return channel.rsplit(";", 1)[0]


@dataclass
class _Call:
    linkedid: str
    first_seen: datetime
    last_seen: datetime
    uniqueids: set[str] = field(default_factory=set)  # every channel of the call
    alive: set[str] = field(default_factory=set)  # uniqueids of channels not yet hung up
    first_channel: str | None = None
    first_exten: str | None = None
    dialled: str | None = None
    caller_number: str | None = None
    contexts: set[str] = field(default_factory=set)
    queue: str | None = None
    rung: list[str] = field(default_factory=list)
    dial_started: dict[str, datetime] = field(default_factory=dict)  # dest uniqueid -> DialBegin time
    ring_seconds: float | None = None
    answered_at: datetime | None = None
    operator: str | None = None
    caller_side: str | None = None  # base names of the two parties once connected
    operator_side: str | None = None
    hangup_side: str | None = None
    talk_ended_at: datetime | None = None
    failure: str | None = None
    abandoned: bool = False
    recording: str | None = None
    ended_at: datetime | None = None
    timed: bool = False  # events carried Timestamp headers
    cdrs: list[Cdr] = field(default_factory=list)
    incomplete: bool = False
    transferred_from: list[str] = field(default_factory=list)
    transferers: set[str] = field(default_factory=set)  # base names of the operators' channels that transferred
    transfer_pending: bool = False  # blind: the next operator the caller is connected to takes the call over
    channel_ids: dict[str, str] = field(default_factory=dict)  # base name -> uniqueid of its first channel
    talk_since: datetime | None = None  # when the current operator took the caller (answer, or a transfer)
    listen_leg: bool = False  # a supervisor's leg of a live listen


class CallTracker:
    def __init__(self, names: OperatorNames, pbx_tz: ZoneInfo = UTC_ZONE) -> None:
        self.names = names
        self.pbx_tz = pbx_tz
        self._calls: dict[str, _Call] = {}
        self._linkedid_of: dict[str, str] = {}  # channel uniqueid -> linkedid, while the call lasts
        self._finished: OrderedDict[str, _Call] = OrderedDict()  # by linkedid, for late Cdr events
        self._finished_uniqueids: dict[str, str] = {}
        self._emptied: list[_Call] = []  # calls whose last channel a transfer took over

    @property
    def in_progress(self) -> set[str]:
        return set(self._calls)

    def live(self) -> list[LiveCall]:
        """The calls in progress, oldest first: ringing, talking (to whom, on which channel), or after the talk
        (the caller on the line, maybe in the survey: the survey tells). Listen legs are none of them."""
        out = []
        for call in sorted(self._calls.values(), key=lambda c: c.first_seen):
            if call.listen_leg:
                continue
            if call.answered_at is None:
                state, since = "ringing", call.first_seen
            elif call.hangup_side is None:
                state, since = "talking", call.talk_since or call.answered_at
            else:
                state, since = "ending", call.talk_ended_at or call.last_seen
            operator_channel = call.channel_ids.get(call.operator_side or "") if state == "talking" else None
            out.append(
                LiveCall(
                    call_id=call.linkedid,
                    direction=self.names.direction(call.contexts),
                    caller_number=call.caller_number,
                    queue=call.queue,
                    operator=call.operator,
                    state=state,
                    since=since,
                    started_at=call.first_seen,
                    operator_channel=operator_channel,
                )
            )
        return out

    def feed(self, event: dict[str, Any], received_at: datetime) -> list[CallRecord]:
        """One AMI event; the calls it finished (or completed, for a late Cdr)."""
        name = str(event.get("Event", ""))
        if name == "Cdr":
            return self._cdr(event)
        if str(event.get("Channel", "")).startswith("Snoop/"):
            return []  # a live listen's spy on a channel: no party to any call
        # A channel stays in the call it was first seen in (or a transfer moved it to), whatever linkedid a bridge
        # gives it later; an originate's dial events carry Dest* only; a transfer's transferee is the caller.
        known = self._linkedid_of.get(str(event.get("Uniqueid")))
        linkedid = known or event.get("Linkedid") or event.get("DestLinkedid") or event.get("TransfereeLinkedid")
        if not linkedid or not isinstance(linkedid, str):
            return []
        at = _timestamp(event) or received_at
        call = self._calls.get(linkedid)
        if call is None:
            if linkedid in self._finished:
                return []  # a straggler (e.g. VarSet after the last Hangup) of a call already written
            call = self._calls[linkedid] = _Call(linkedid, first_seen=at, last_seen=at)
        call.last_seen = at
        call.timed = call.timed or "Timestamp" in event
        handler = getattr(self, f"_on_{name.lower()}", None)
        self._channel(call, event)
        if handler is not None:
            handler(call, event, at)
        ended = [*self._emptied, *([call] if name == "Hangup" and not call.alive else [])]
        self._emptied.clear()
        return self._records(self._finish(c, at) for c in ended)

    def resync(self, alive_linkedids: set[str], now: datetime) -> list[CallRecord]:
        """After a reconnect: calls whose channels are all gone ended during the outage. They are finished from
        their Cdr events when those were seen, else marked incomplete."""
        ended = [call for linkedid, call in self._calls.items() if linkedid not in alive_linkedids]
        return self._records(self._finish(call, call.last_seen, lost_end=True) for call in ended)

    def expire(self, now: datetime) -> list[CallRecord]:
        stale = [call for call in self._calls.values() if now - call.last_seen > STALE_AFTER]
        return self._records(self._finish(call, call.last_seen, lost_end=True) for call in stale)

    @staticmethod
    def _records(finished: Iterable[CallRecord | None]) -> list[CallRecord]:
        return [record for record in finished if record is not None]

    # -- events

    def _channel(self, call: _Call, event: dict[str, Any]) -> None:
        uniqueid, channel = event.get("Uniqueid"), event.get("Channel")
        if not isinstance(uniqueid, str) or not isinstance(channel, str):
            return
        if uniqueid not in self._linkedid_of and event.get("Event") != "Hangup":
            self._linkedid_of[uniqueid] = call.linkedid
            call.uniqueids.add(uniqueid)
            call.alive.add(uniqueid)
            call.channel_ids.setdefault(_base(channel), uniqueid)
            if call.first_channel is None:
                call.first_channel = channel
        context = event.get("Context")
        if isinstance(context, str) and context:
            call.contexts.add(context)
        if channel == call.first_channel:
            number = event.get("CallerIDNum")
            if isinstance(number, str) and number not in _UNKNOWN:
                call.caller_number = number
            exten = event.get("Exten")
            if call.first_exten is None and isinstance(exten, str) and exten not in ("", "s"):
                call.first_exten = exten
        # the number an outbound call dials, as the outbound context sees it (no line prefix)
        exten = event.get("Exten")
        if call.dialled is None and context in self.names.outbound and isinstance(exten, str) and exten:
            call.dialled = exten

    def _rang(self, call: _Call, operator: str | None) -> None:
        if operator and operator not in call.rung:
            call.rung.append(operator)

    def _connected(
        self, call: _Call, caller: str, operator_channel: str, operator: str | None, at: datetime, *, rung: bool = True
    ) -> None:
        """The client and the operator are talking; `rung`: the operator was called (not calling out)."""
        if call.answered_at is None:
            call.answered_at = call.talk_since = at
            call.caller_side, call.operator_side = _base(caller), _base(operator_channel)
            call.operator = operator
            if rung:
                self._rang(call, operator)
        elif call.transfer_pending and operator is not None and _base(caller) == call.caller_side:
            self._hand_over(call, operator_channel, operator, at)

    def _hand_over(self, call: _Call, channel: str, operator: str, at: datetime) -> None:
        """A transfer's target talks to the caller now: the call is theirs, and its talk ends with them."""
        if call.operator is not None and call.operator != operator:
            call.transferred_from.append(call.operator)
        call.operator, call.operator_side, call.talk_since = operator, _base(channel), at
        call.hangup_side = call.talk_ended_at = None
        call.transfer_pending = False
        self._rang(call, operator)

    def _transferer(self, call: _Call, *channels: Any) -> str | None:
        """Of the channels a transfer names as the transferer's, the one that talked to the caller as the
        call's operator; None for a transfer that is not an operator's of this call."""
        bases = {_base(str(c)) for c in channels if c}
        return call.operator_side if call.operator_side in bases else None

    def _on_blindtransfer(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        transferer = self._transferer(call, event.get("TransfererChannel"))
        if event.get("Result") != "Success" or transferer is None:
            return
        call.transferers.add(transferer)
        # the operator's part of the talk ends here; it goes on if another operator answers the caller
        call.transfer_pending = True
        call.hangup_side, call.talk_ended_at = "operator", at

    def _on_attendedtransfer(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        first, second = event.get("OrigTransfererChannel"), event.get("SecondTransfererChannel")
        transferer = self._transferer(call, first, second)
        target, target_id = event.get("TransferTargetChannel"), event.get("TransferTargetUniqueid")
        operator = self.names.operator(target) if isinstance(target, str) else None
        if event.get("Result") != "Success" or transferer is None or operator is None or not target_id:
            return
        call.transferers.update(_base(str(c)) for c in (first, second) if c)
        self._adopt(call, str(target_id))
        call.channel_ids[_base(str(target))] = str(target_id)
        self._hand_over(call, str(target), operator, at)

    def _adopt(self, call: _Call, uniqueid: str) -> None:
        """The channel is this call's from now on (it was another's: the transferer's consulting call)."""
        other = self._calls.get(self._linkedid_of.get(uniqueid, call.linkedid))
        if other is not None and other is not call and uniqueid in other.alive:
            other.alive.discard(uniqueid)
            other.uniqueids.discard(uniqueid)
            if not other.alive:
                self._emptied.append(other)
        self._linkedid_of[uniqueid] = call.linkedid
        call.uniqueids.add(uniqueid)
        call.alive.add(uniqueid)

    def _on_dialbegin(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        call.dial_started[str(event.get("DestUniqueid", ""))] = at
        # An originate has no calling channel: it rings a customer (outbound), not an operator.
        if "Channel" in event and self.names.direction(call.contexts) != "outbound":
            self._rang(call, self.names.operator(event.get("DestChannel")))

    def _on_dialend(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        originate = "Channel" not in event
        if originate and self.names.direction(call.contexts) != "outbound":
            return  # the originate that brought a test or callback channel in, not a call's outcome
        status = event.get("DialStatus", "")
        began = call.dial_started.get(str(event.get("DestUniqueid", "")))
        if status == "ANSWER":
            if began is not None:
                call.ring_seconds = (at - began).total_seconds()
            if originate:  # a campaign's customer answered; no operator, no sides to tell apart
                call.answered_at = call.answered_at or at
                return
            dialling, dialled = str(event["Channel"]), str(event.get("DestChannel", ""))
            if self.names.direction(call.contexts) == "outbound":  # the operator dialled the client
                self._connected(call, dialled, dialling, self.names.operator(call.first_channel), at, rung=False)
            else:
                self._connected(call, dialling, dialled, self.names.operator(dialled), at)
        elif status in _DIAL_FAILURES and call.failure is None:
            call.failure = _DIAL_FAILURES[status]
        elif began is not None and call.answered_at is None:
            call.ring_seconds = max(call.ring_seconds or 0.0, (at - began).total_seconds())

    def _on_queuecallerjoin(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        call.queue = call.queue or event.get("Queue")

    def _on_agentcalled(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        call.queue = call.queue or event.get("Queue")
        self._rang(call, self.names.operator(event.get("Interface") or event.get("DestChannel")))

    def _on_agentconnect(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        call.queue = call.queue or event.get("Queue")
        call.ring_seconds = float(_number(event.get("HoldTime")))
        operator = self.names.operator(event.get("Interface") or event.get("DestChannel"))
        self._connected(call, str(event.get("Channel", "")), str(event.get("DestChannel", "")), operator, at)

    def _on_queuecallerabandon(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        call.queue = call.queue or event.get("Queue")
        call.abandoned = True
        call.ring_seconds = float(_number(event.get("HoldTime")))

    def _on_varset(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        if event.get("Variable") == "MIXMONITOR_FILENAME" and event.get("Value"):
            call.recording = str(event["Value"])
        elif event.get("Variable") == LISTEN_VARIABLE:
            call.listen_leg = True

    def _on_hangup(self, call: _Call, event: dict[str, Any], at: datetime) -> None:
        uniqueid = event.get("Uniqueid")
        call.alive.discard(str(uniqueid))
        channel = _base(str(event.get("Channel", "")))
        # the talk ends when either party hangs up (the caller may stay on for the survey); an operator who
        # transferred the caller leaving is not its end
        if call.answered_at is not None and call.hangup_side is None and channel not in call.transferers:
            if channel == call.operator_side:
                call.hangup_side, call.talk_ended_at = "operator", at
            elif channel == call.caller_side:
                call.hangup_side, call.talk_ended_at = "caller", at
        call.ended_at = at

    def _cdr(self, event: dict[str, Any]) -> list[CallRecord]:
        cdr = Cdr.from_event({k: str(v) for k, v in event.items()}, self.pbx_tz)
        uniqueid = cdr.uniqueid or ""
        linkedid = self._linkedid_of.get(uniqueid)
        if linkedid is not None:
            self._calls[linkedid].cdrs.append(cdr)
            return []
        linkedid = self._finished_uniqueids.get(uniqueid)
        if linkedid is not None and linkedid in self._finished:
            call = self._finished[linkedid]
            call.cdrs.append(cdr)
            return [] if call.listen_leg else [self._record(call)]
        log.debug("Cdr for unknown channel %s skipped", uniqueid)
        return []

    # -- results

    def _finish(self, call: _Call, at: datetime, *, lost_end: bool = False) -> CallRecord | None:
        """The call is over: its record (None for a listen leg, which the history does not keep)."""
        del self._calls[call.linkedid]
        for uniqueid in call.uniqueids:
            del self._linkedid_of[uniqueid]
            self._finished_uniqueids[uniqueid] = call.linkedid
        if lost_end:
            call.incomplete = not any(c.dialling for c in call.cdrs) and call.ended_at is None
            call.ended_at = call.ended_at or at
        self._finished[call.linkedid] = call
        while len(self._finished) > FINISHED_MEMORY:
            _, old = self._finished.popitem(last=False)
            for uniqueid in old.uniqueids:
                self._finished_uniqueids.pop(uniqueid, None)
        return None if call.listen_leg else self._record(call)

    def _record(self, call: _Call) -> CallRecord:
        from_cdr = from_cdrs(call.cdrs, self.names) if call.cdrs else {}
        direction = self.names.direction(call.contexts | from_cdr.get("contexts", set()))
        answered = call.answered_at is not None or from_cdr.get("disposition") == "answered"
        if answered:
            disposition = "answered"
        elif call.abandoned:
            disposition = "abandoned_in_queue"
        elif call.failure:
            disposition = call.failure
        else:
            disposition = from_cdr.get("disposition", "missed")
        caller = call.caller_number or from_cdr.get("caller_number")
        client = (call.dialled or call.first_exten) if direction == "outbound" else caller
        record = CallRecord(
            linkedid=call.linkedid,
            direction=direction,
            disposition=disposition,
            caller_number=caller,
            client_number=digits(client),
            queue=call.queue,
            operator=call.operator or from_cdr.get("operator"),
            rung=list(dict.fromkeys([*call.rung, *from_cdr.get("rung", [])])),
            hangup_side=call.hangup_side,
            recording=call.recording,
            incomplete=call.incomplete,
            channel_uniqueid=call.linkedid,
            transferred_from=list(call.transferred_from),
        )
        if call.timed or not from_cdr:
            # event times: exact when Asterisk stamps its events, else as received
            record.started_at, record.answered_at, record.ended_at = call.first_seen, call.answered_at, call.ended_at
            record.ring_seconds = call.ring_seconds
            talk_end = call.talk_ended_at or call.ended_at
            if call.answered_at is not None and talk_end is not None:
                record.talk_seconds = round((talk_end - call.answered_at).total_seconds(), 3)
        else:
            record.started_at = from_cdr.get("started_at") or call.first_seen
            record.ended_at = from_cdr.get("ended_at") or call.ended_at
            record.answered_at = from_cdr.get("answered_at") or (call.answered_at if answered else None)
            record.ring_seconds = from_cdr.get("ring_seconds", call.ring_seconds)
            record.talk_seconds = from_cdr.get("talk_seconds")
        if not answered:
            record.talk_seconds = None
        return record


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _timestamp(event: dict[str, Any]) -> datetime | None:
    """Asterisk's `Timestamp: 1795715876.123456` header (manager.conf timestampevents = yes)."""
    try:
        return datetime.fromtimestamp(float(event["Timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
