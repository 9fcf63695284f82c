"""What both ways into the survey (Stasis over ARI, FastAGI) share: choosing the survey and its language,
building the state machine, and storing its start, answers and end. Keeping this in one place is what
makes a stored call look the same whichever entry it came through, but for its `channel`.

A survey another instance began (it crashed, leaving the caller in the Stasis app) goes on from what that
instance stored: stored_response() reads it, SurveyRun.resume() continues it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

from ..db import adoption, writes
from ..db.adoption import StoredResponse
from ..db.catalog import SurveyCatalog
from ..db.store import SurveyStore
from ..survey.actions import Finish, OptOut, SaveAnswer, Status
from ..survey.session import SurveySession
from ..survey.timing import Timing
from .args import SurveyArgs, parse_args
from .naming import OperatorNames
from .policies import BUILT_IN, PolicyCatalog, PolicyInForce, decide_offer
from .policy import Decision, consent_choice

log = logging.getLogger(__name__)

Recorded = SaveAnswer | Finish | OptOut  # the actions that are results to store
A = TypeVar("A")  # a state machine's action (the survey's, the consent prompt's)

READ_TIMEOUT = 3.0  # seconds; a caller left in the app waits, in silence, on this read


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Caller:
    """What the PBX says about the caller's channel."""

    linkedid: str  # the call's id everywhere (ratings, CQR, call history)
    channel_uniqueid: str
    number: str | None
    language: str | None  # the channel's own language; the dialplan's lang= wins over it


@dataclass(frozen=True, slots=True)
class SurveySetup:
    """What every survey needs, whichever way the caller came in: where results go, which surveys exist, the
    state machine's timing, the language when neither the dialplan nor the channel names one, how an
    operator argument is named, and the survey policies (None: every call with an operator is offered)."""

    store: SurveyStore
    catalog: SurveyCatalog
    timing: Timing
    default_language: str = "en"
    names: OperatorNames | None = None
    policies: PolicyCatalog | None = None

    async def policy(self, queue: str | None) -> PolicyInForce:
        return await self.policies.for_queue(queue) if self.policies is not None else BUILT_IN


@dataclass(frozen=True, slots=True)
class NotSurveyed:
    """The call was not offered the survey (stored as not_offered): the caller goes on in the dialplan, or is
    hung up when the policy says so."""

    reason: str
    hang_up: bool


class SurveyRun:
    """One caller's survey: the state machine and where its results go."""

    def __init__(self, store: SurveyStore, caller: Caller, session: SurveySession) -> None:
        self.store = store
        self.caller = caller
        self.session = session

    @classmethod
    async def begin(
        cls,
        setup: SurveySetup,
        *,
        entry: Literal["ari", "agi"],
        args: SurveyArgs,
        caller: Caller,
        playback_prefix: str,
    ) -> SurveyRun | NotSurveyed:
        """Pick the survey, decide by the queue's policy whether the call is offered it, store its start
        (in_progress) and return the run, ready for Start(); or store the call as not_offered. An operator
        given as a channel or queue interface (operator=${MEMBERINTERFACE}) is named by the operator pattern,
        as the call history names it. A campaign's call is always offered: its list is its policy."""
        operator = args.operator
        if setup.names is not None and operator:
            operator = setup.names.operator(operator) or operator
        campaign = args.campaign is not None and args.contact is not None and args.attempt is not None
        in_force = BUILT_IN if campaign else await setup.policy(args.queue)
        definition = await setup.catalog.get(args.survey or in_force.policy.survey)
        language = in_force.policy.language(args.lang or caller.language or setup.default_language)
        started_at = _now()
        if not campaign:
            # operator= given empty (${MEMBERINTERFACE} after a Queue() no one answered) says no operator took the
            # call; no operator argument at all leaves it unknown (the call history may name one), and surveyed.
            no_operator = not operator and "operator" in args.raw
            decision = await _decide(setup, in_force, caller, has_operator=not no_operator, now=started_at)
            if not decision.offered:
                assert decision.reason is not None
                log.info("call %s: not offered survey %s (%s)", caller.linkedid, definition.name, decision.reason)
                await setup.store.write(
                    writes.NotOffered(
                        linkedid=caller.linkedid,
                        reason=decision.reason,
                        survey=definition.name,
                        survey_version=definition.version,
                        channel=entry,
                        language=language,
                        args=args.raw,
                        started_at=started_at,
                        channel_uniqueid=caller.channel_uniqueid,
                        caller_number=caller.number,
                        operator=operator,
                        queue=args.queue,
                        policy_id=in_force.id,
                    )
                )
                return NotSurveyed(decision.reason, hang_up=in_force.policy.not_offered == "hangup")
        session = SurveySession(
            definition,
            language=language,
            timing=setup.timing,
            playback_prefix=playback_prefix,
            # Only a campaign's customer can opt out: a caller who phoned us is not on any list.
            opt_out_key=args.optout if campaign else None,
        )
        log.info(
            "call %s: survey %s v%d for operator %s (%s channel %s)",
            caller.linkedid,
            definition.name,
            definition.version,
            operator or "unknown",
            entry,
            caller.channel_uniqueid,
        )
        await setup.store.write(
            writes.StartResponse(
                linkedid=caller.linkedid,
                survey=definition.name,
                survey_version=definition.version,
                channel=entry,
                language=session.language,
                args=args.raw,
                started_at=started_at,
                channel_uniqueid=caller.channel_uniqueid,
                caller_number=caller.number,
                operator=operator,
                queue=args.queue,
                policy_id=in_force.id,
                campaign_id=args.campaign if campaign else None,
                contact_id=args.contact if campaign else None,
                attempt=args.attempt if campaign else None,
            )
        )
        return cls(setup.store, caller, session)

    @classmethod
    def resume(cls, setup: SurveySetup, stored: StoredResponse, *, caller: Caller, playback_prefix: str) -> SurveyRun:
        """Go on with a stored survey: its version, language and answers as stored; ready for Start(). Raises
        ValueError when the stored answers do not fit the survey (a gap, another version's questions)."""
        args = parse_args([f"{key}={value}" for key, value in stored.args.items()])
        campaign = args.campaign is not None and args.contact is not None and args.attempt is not None
        session = SurveySession.resume(
            stored.definition,
            stored.answers,
            status=None if stored.status == "in_progress" else Status(stored.status),
            language=stored.language,
            timing=setup.timing,
            playback_prefix=playback_prefix,
            opt_out_key=args.optout if campaign else None,
        )
        return cls(setup.store, caller, session)

    async def record(self, *actions: Recorded) -> None:
        """Commit (or spool) answers, an opt-out, the end, in one transaction; adapters await it before anything
        else is played."""
        await self.store.write(*(self._write(action) for action in actions))

    def _write(self, action: Recorded) -> writes.Write:
        linkedid = self.caller.linkedid
        if isinstance(action, OptOut):
            log.info("call %s: the customer opted out at question %d", linkedid, action.position + 1)
            return writes.OptOut(linkedid=linkedid, at=_now())
        if isinstance(action, SaveAnswer):
            return writes.SaveAnswer(
                linkedid=linkedid,
                position=action.position,
                question=action.question,
                digits=action.digits,
                score=action.score,
                attempts=action.attempts,
                answered_at=_now(),
            )
        log.info("call %s: survey %s", linkedid, action.status)
        return writes.FinishResponse(linkedid=linkedid, status=action.status, ended_at=_now())


async def _decide(
    setup: SurveySetup, in_force: PolicyInForce, caller: Caller, *, has_operator: bool, now: datetime
) -> Decision:
    """The policy's decision on the call, reading (within READ_TIMEOUT) only the facts its checks need."""
    return await decide_offer(
        setup.store.sessions,
        in_force.policy,
        linkedid=caller.linkedid,
        now=now,
        has_operator=has_operator,
        caller_number=caller.number,
        read_seconds=READ_TIMEOUT,
    )


async def record_not_reached(
    setup: SurveySetup,
    *,
    linkedid: str,
    caller_number: str | None,
    operator: str | None,
    queue: str | None,
    at: datetime,
) -> None:
    """A call the history saw answered and ended by the caller, who so never reached the survey: stored as
    not_offered (caller_hung_up_first) under its queue's policy and survey, at `at` (the talk's end). A call
    that has a response already keeps it."""
    in_force = await setup.policy(queue)
    definition = await setup.catalog.get(in_force.policy.survey)
    log.info("call %s: the caller hung up on operator %s; not offered survey %s", linkedid, operator, definition.name)
    await setup.store.write(
        writes.NotOffered(
            linkedid=linkedid,
            reason="caller_hung_up_first",
            survey=definition.name,
            survey_version=definition.version,
            channel="ami",
            language=in_force.policy.language(setup.default_language),
            args={},
            started_at=at,
            caller_number=caller_number,
            operator=operator,
            queue=queue,
            policy_id=in_force.id,
        )
    )


async def record_consent(setup: SurveySetup, *, args: SurveyArgs, caller: Caller, digit: str | None) -> bool:
    """Store the caller's answer at the consent prompt (a key, or None for none) as the queue's policy reads it:
    whether they agreed."""
    in_force = await setup.policy(args.queue)
    agreed, defaulted = consent_choice(in_force.policy, digit)
    log.info(
        "call %s: consent %s%s", caller.linkedid, "given" if agreed else "refused", " by default" if defaulted else ""
    )
    await setup.store.write(
        writes.Consent(
            linkedid=caller.linkedid,
            agreed=agreed,
            defaulted=defaulted,
            decided_at=_now(),
            policy_id=in_force.id,
            channel_uniqueid=caller.channel_uniqueid,
            caller_number=caller.number,
            queue=args.queue,
        )
    )
    return agreed


def in_steps(actions: Sequence[A]) -> Iterator[A | tuple[Recorded, ...]]:
    """The actions in order, each run of results to record made one step: an answer and the end it leads to are
    committed in one transaction (one wait for the caller, one for the database), before what follows them."""
    run: list[Recorded] = []
    for action in actions:
        if isinstance(action, Recorded):
            run.append(action)
            continue
        if run:
            yield tuple(run)
            run = []
        yield action
    if run:
        yield tuple(run)


async def stored_response(setup: SurveySetup, *, channel_id: str, linkedid: str) -> StoredResponse | None:
    """The survey response stored for the call on this channel, by whichever instance began it. Raises
    TimeoutError when the database does not answer within READ_TIMEOUT seconds."""
    async with asyncio.timeout(READ_TIMEOUT), setup.store.sessions() as session:
        return await adoption.stored_response(session, channel_id=channel_id, linkedid=linkedid)
