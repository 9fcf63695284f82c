"""The campaign dialer: claims due contacts of running campaigns, places their calls, and settles each attempt
once its call is over.

What it decides lives in the database, so that any number of instances on one PostgreSQL (each with its own
ARI app, so that a call's events reach the instance that placed it) share the work, and a restart goes on
exactly where the last run left off:
- a contact is claimed under its campaign's row lock, and its attempt is written in the same transaction,
  before the call is placed: the campaign's calls on the line are counted from those rows, whoever placed them;
- an attempt is settled (outcome, retry or final) once its channel is gone and, when it was answered, its
  survey is stored; closing it is idempotent, so nothing is counted twice;
- at start, and every RECHECK seconds, attempts whose end was not heard are looked up on the PBX.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import dialing
from ..db.campaigns import CampaignRow, get_campaign, list_campaigns
from ..db.outage import is_outage
from ..service.args import campaign_args
from ..service.calling_hours import CallingHours
from ..service.outbound import CallRefused, PlaceCall, Placer, PlacerUnavailable
from .outcomes import Fate, attempt_outcome, counts_as_failure, retry_at
from .schedule import next_dial_after

log = logging.getLogger(__name__)

FAILURE_LIMIT = 10  # failed attempts in a row that pause a campaign (a wrong trunk fails every call)
RECHECK = 30.0  # seconds between looks at attempts whose end was not heard
OTHER_HALF_WAIT = 2.0  # seconds to wait for a Local channel's ;2 half, whose cause is the real one
STALE_AFTER = timedelta(hours=2)  # an attempt open this long belongs to an instance that is gone
OVERDUE = timedelta(minutes=10)  # an unanswered call still there this long after it was placed is hung up
# Seconds between looks for a running campaign while none runs: steering here wakes the dialer at once, so this
# bounds only how late a campaign started on another instance (or straight in the database) begins here. A look
# costs a session and a query on the loop: once a second it was a tenth of the CPU of a surveyed call.
IDLE_TICK = 10.0
SURVEY_WAIT = 600.0  # seconds an answered call's settling waits for its survey's writes (spooled in an outage)
_DEFER_BATCH = 50  # contacts outside their calling hours moved on per claim


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, eq=False)  # one per call: known by identity
class _Call:
    """An attempt on the line, as this instance hears it."""

    channel_id: str
    other_channel_id: str
    label: str  # for the logs: campaign, contact and attempt
    answered: bool = False
    ended: bool = False
    cause: int | None = None
    other_cause: int | None = None
    waited_for_other: bool = False
    survey_done: bool = False
    survey_began: bool = True  # False: answered, but its survey never began (nothing of it is stored)
    refused: bool = False
    lost: bool = False
    interrupted: bool = False
    settling: bool = False
    ended_at: float | None = None  # the loop's time when its end was known


class Dialer:
    """One instance's dialer: `service.outbound.OutboundCalls` for the Stasis app, a loop for campaigns."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        placer: Placer,
        *,
        instance: str,
        clock: Callable[[], datetime] = _utcnow,
        tick: float = 1.0,
        idle_tick: float = IDLE_TICK,
        failure_limit: int = FAILURE_LIMIT,
        other_half_wait: float = OTHER_HALF_WAIT,
        recheck: float = RECHECK,
    ) -> None:
        self.sessions = sessions
        self.placer = placer
        self.instance = instance
        self.prefix = f"{instance}-dial-"
        self.clock = clock
        self.tick = tick
        self.idle_tick = idle_tick
        self.failure_limit = failure_limit
        self.other_half_wait = other_half_wait
        self.recheck = recheck
        self.campaigns_running = 0
        self.outcomes: Counter[str] = Counter()  # the attempts this instance settled, by outcome
        self._calls: dict[str, _Call] = {}  # by the channel id of either half
        self._unsettled: list[_Call] = []  # settling failed (the database away): tried again each tick
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()  # a placed channel is gone
        self._placing = False
        self._recheck = True  # look up the attempts whose end was not heard, at the next round
        self._loop: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what the Stasis app tells us -------------------------------------------------------------------------

    def owns(self, channel_id: str) -> bool:
        return channel_id.startswith(self.prefix)

    def answered(self, channel_id: str) -> None:
        call = self._calls.get(channel_id)
        if call is not None and channel_id == call.channel_id:
            call.answered = True

    def channel_ended(self, channel_id: str, cause: int) -> None:
        call = self._calls.get(channel_id)
        if call is None:
            return  # not placed by this run: the next recheck finds it gone
        if channel_id == call.channel_id:
            call.ended, call.cause = True, cause
            self._ended.set()
        else:
            call.other_cause = cause
        self._maybe_settle(call)

    def events_heard(self) -> None:
        self._recheck = True
        self._wake.set()

    def campaigns_changed(self) -> None:
        """A campaign was started, resumed, paused or cancelled here: a round now, not after the idle wait."""
        self._wake.set()

    def _idle(self) -> bool:
        """Nothing to dial or settle: no running campaign, no call of ours on the line, nothing unsettled."""
        return not (self.campaigns_running or self._calls or self._unsettled)

    def survey_ended(self, channel_id: str, *, began: bool) -> None:
        call = self._calls.get(channel_id)
        if call is not None:
            call.survey_done, call.survey_began = True, began
            self._maybe_settle(call)

    # -- the state of things ----------------------------------------------------------------------------------

    @property
    def calls_in_progress(self) -> int:
        return len({call.channel_id for call in self._calls.values()})

    def status(self) -> str:
        if not self._placing:
            return "stopped"
        if not self.placer.connected:
            return "waiting_for_ari"
        return "dialing" if self.campaigns_running else "idle"

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, *, rounds: bool = True) -> None:
        """Start placing calls: a round every `tick` seconds and whenever a line frees, or (rounds=False) only
        when run_once() is called."""
        self._placing = True
        if rounds:
            self._loop = asyncio.create_task(self._run(), name="dialer")

    async def stop_placing(self, *, wait: float = 3.0) -> None:
        """Place no more calls: the round under way gives back the contacts it claimed and has not dialled yet;
        calls still ringing are hung up (their contacts are called again at once after a restart) and their
        ends awaited up to `wait` seconds. Answered calls finish their surveys."""
        self._placing = False
        self._wake.set()
        if self._loop is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._loop), timeout=5.0)
            except TimeoutError:  # stuck on the database: nothing more it may place
                self._loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._loop
        ringing = [call for call in set(self._calls.values()) if not call.answered and not call.ended]
        for call in ringing:
            call.interrupted = True
        await asyncio.gather(*(self._hang_up(call.channel_id) for call in ringing))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                while any(not c.ended for c in ringing):
                    self._ended.clear()
                    await self._ended.wait()

    async def _hang_up(self, channel_id: str) -> None:
        try:
            await self.placer.hang_up(channel_id)
        except Exception as exc:
            log.warning("dialer: could not hang up %s (%s)", channel_id, exc)

    async def close(self, *, wait: float = 5.0) -> None:
        """After the surveys have drained: let the settling in flight finish."""
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=wait)
            for task in pending:
                task.cancel()

    # -- the loop ---------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time()
        while self._placing:
            try:
                # Looked up only while events are heard: a channel's end is then either heard or found gone.
                if (self._recheck or loop.time() >= next_check) and self.placer.connected:
                    self._recheck = False
                    next_check = loop.time() + self.recheck
                    await self.reconcile()
                await self.run_once()
            except Exception as exc:
                if is_outage(exc):
                    log.warning("dialer: the database is unavailable (%s); trying again", type(exc).__name__)
                else:
                    log.exception("dialer: a round failed; trying again")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle_tick if self._idle() else self.tick):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> int:
        """One round: settle what could not be settled, then place every call the running campaigns allow now.
        Returns how many calls were placed."""
        for call in self._unsettled[:]:
            self._unsettled.remove(call)
            await self._settle(call)
        async with self.sessions() as session:
            campaigns = await list_campaigns(session, state="running")
        self.campaigns_running = len(campaigns)
        if not self._placing or not self.placer.connected:
            return 0
        placed = 0
        for campaign in campaigns:
            try:
                placed += await self._dial(campaign.id)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.exception("campaign %d: this round failed; the others go on", campaign.id)
        return placed

    async def _dial(self, campaign_id: int) -> int:
        now = self.clock()
        claimed: list[tuple[CampaignRow, dialing.ContactRow, int, str]] = []
        async with self.sessions.begin() as session:
            campaign = await dialing.lock_campaign(session, campaign_id)
            if campaign is None:  # no longer running, or another instance is claiming its contacts now
                return 0
            await dialing.mark_blocked_contacts(session, campaign_id)
            free = campaign.concurrency - await dialing.open_attempts_of(session, campaign_id)
            paced = campaign.calls_per_minute is not None
            if paced and campaign.next_dial_at is not None and now < campaign.next_dial_at:
                free = 0
            elif paced:
                free = min(free, 1)
            if free <= 0:
                return 0
            hours = CallingHours.parse(campaign.calling_hours)
            for contact in await dialing.due_contacts(session, campaign_id, now=now, limit=free + _DEFER_BATCH):
                if not hours.allows(now, contact.timezone):
                    await dialing.defer_contact(session, contact.id, until=hours.next_opening(now, contact.timezone))
                elif len(claimed) < free and self._placing:
                    number = contact.attempts + 1
                    channel_id = f"{self.prefix}{contact.id}-{number}"
                    await dialing.begin_attempt(
                        session,
                        contact,
                        instance=self.instance,
                        channel_id=channel_id,
                        other_channel_id=f"{channel_id}-2",
                        at=now,
                    )
                    claimed.append((campaign, contact, number, channel_id))
            if claimed and paced:
                next_at = next_dial_after(now, campaign.next_dial_at, campaign.calls_per_minute)
                await dialing.set_next_dial(session, campaign_id, next_at)
            if not claimed and await dialing.finish_if_done(session, campaign_id, at=now):
                log.info("campaign %d: finished", campaign_id)
        placed = 0
        for campaign, contact, number, channel_id in claimed:
            if self._placing:
                await self._place(campaign, contact, number, channel_id)
                placed += 1
            else:  # stopping: claimed but not dialled, so not an attempt at all
                async with self.sessions.begin() as session:
                    await dialing.release_attempt(session, channel_id)
        return placed

    async def _place(self, campaign: CampaignRow, contact: dialing.ContactRow, number: int, channel_id: str) -> None:
        label = f"campaign {campaign.id} contact {contact.id} attempt {number}"
        call = _Call(channel_id=channel_id, other_channel_id=f"{channel_id}-2", label=label)
        args = {
            "campaign": campaign.id,
            "contact": contact.id,
            "attempt": number,
            "survey": campaign.survey,
            "optout": campaign.opt_out_key,
        }
        try:
            app_args = campaign_args(**args, operator=contact.operator)  # type: ignore[arg-type]
        except ValueError as exc:
            # An operator Stasis could not carry (stored before the import refused such names): call anyway.
            log.warning("%s: the contact's operator cannot be passed to the survey (%s)", label, exc)
            app_args = campaign_args(**args, operator=None)  # type: ignore[arg-type]
        request = PlaceCall(
            channel_id=call.channel_id,
            other_channel_id=call.other_channel_id,
            endpoint=campaign.endpoint.replace("{number}", contact.phone),
            caller_id=campaign.caller_id,
            timeout=campaign.ring_timeout,
            app_args=app_args,
        )
        # Known before the request goes out: its first events may come before the answer.
        self._calls[call.channel_id] = self._calls[call.other_channel_id] = call
        log.info("%s: dialling", label)
        try:
            await self.placer.place(request)
        except CallRefused as exc:
            log.warning("%s: the PBX refused the call (%s)", label, exc)
            call.refused = call.ended = True
            self._maybe_settle(call)
        except PlacerUnavailable as exc:
            # The call may exist all the same: we chose its id, so the PBX can be asked.
            log.warning("%s: the PBX did not answer the originate (%s); looking the call up", label, exc)
            self._spawn(self._look_up(call))

    async def _look_up(self, call: _Call) -> None:
        await asyncio.sleep(1.0)
        if call.ended or call.answered:
            return
        exists = await self.placer.channel_exists(call.channel_id)
        if exists is False and not call.ended and not call.answered:
            log.info("%s: the call was not placed; counted as a failed attempt", call.label)
            call.lost = call.ended = True
            self._maybe_settle(call)
        # exists: followed as placed; None: the PBX cannot be asked, and the next recheck looks again

    # -- settling ---------------------------------------------------------------------------------------------

    def _maybe_settle(self, call: _Call) -> None:
        if call.settling or not call.ended or (call.answered and not call.survey_done):
            return
        if call.cause == 0 and call.other_cause is None and not call.waited_for_other and not call.answered:
            # A Local channel's ;1 half ends with cause 0 and the ;2 half carries the real one: wait for it.
            call.waited_for_other = True
            asyncio.get_running_loop().call_later(self.other_half_wait, self._maybe_settle, call)
            return
        call.settling = True
        if call.ended_at is None:
            call.ended_at = asyncio.get_running_loop().time()
        self._spawn(self._settle(call))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, call: _Call) -> None:
        try:
            settled = await self._close(call)
        except Exception as exc:
            if not is_outage(exc):
                log.exception("%s: could not be settled", call.label)
            settled = False
        if not settled:
            self._unsettled.append(call)  # tried again next round
            return
        self._forget(call)
        self._wake.set()  # a line is free

    def _forget(self, call: _Call) -> None:
        for key in (call.channel_id, call.other_channel_id):
            if self._calls.get(key) is call:
                del self._calls[key]

    async def _close(self, call: _Call) -> bool:
        """Settle the attempt; False when it must wait: an answered call whose survey's writes are not in the
        database yet (spooled while it was away), up to SURVEY_WAIT, after which it counts as lost."""
        now = self.clock()
        async with self.sessions.begin() as session:
            attempt = await dialing.attempt_by_channel(session, call.channel_id)
            if attempt is None or attempt.ended_at is not None:
                return True
            answered = call.answered or attempt.linkedid is not None
            stored = attempt.response_status not in (None, "in_progress")
            if answered and not stored and not call.lost and call.survey_began:
                waited = asyncio.get_running_loop().time() - (call.ended_at or 0.0)
                if waited < SURVEY_WAIT:
                    return False
                log.warning("%s: its survey was never stored; counted as lost", call.label)
                call.lost = True
            campaign = await get_campaign(session, attempt.campaign_id)
            assert campaign is not None
            fate = Fate(
                answered=answered,
                opted_out=attempt.outcome == "opted_out",
                response_status=attempt.response_status,
                answered_questions=attempt.answered_questions,
                cause=call.cause,
                other_cause=call.other_cause,
                refused=call.refused,
                lost=call.lost,
                interrupted=call.interrupted,
            )
            outcome = attempt_outcome(fate)
            again = retry_at(
                fate,
                outcome,
                number=attempt.number,
                max_attempts=campaign.max_attempts,
                retry_delay=campaign.retry_delay,
                now=now,
            )
            cause = call.other_cause if call.cause == 0 and call.other_cause else call.cause
            if not await dialing.close_attempt(session, attempt, outcome=outcome, cause=cause, at=now, retry_at=again):
                return True
            failures = await dialing.count_failure(session, campaign.id, failed=counts_as_failure(fate, outcome))
            paused = False
            if failures >= self.failure_limit:
                reason = f"{failures} attempts in a row failed (the last: {outcome}, cause {cause}); check the endpoint"
                paused = await dialing.pause_itself(session, campaign.id, reason=reason)
            finished = await dialing.finish_if_done(session, campaign.id, at=now)
        self.outcomes[outcome] += 1
        log.info(
            "%s (call %s): %s, cause %s%s",
            call.label,
            attempt.linkedid or call.channel_id,
            outcome,
            cause,
            ", called again later" if again else "",
        )
        if paused:
            log.warning("campaign %d: paused: %s", campaign.id, reason)
        if finished:
            log.info("campaign %d: finished", campaign.id)
        return True

    # -- attempts whose end was not heard ---------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Look up the open attempts whose end may have gone unheard: this instance's that it does not follow
        (placed before a restart), those it follows that are overdue (their end lost with the websocket), and
        those of instances gone for good. A channel still there is followed (hung up when it was answered before
        a restart, as its survey died with the process that ran it, or when it is overdue unanswered); a gone
        one is settled."""
        now = self.clock()
        async with self.sessions() as session:
            attempts = await dialing.open_attempts(session)
        for attempt in attempts:
            tracked = self._calls.get(attempt.channel_id)
            age = now - attempt.placed_at
            if attempt.instance != self.instance:
                if age >= STALE_AFTER:
                    await self._gone(attempt, tracked)
                continue
            if tracked is not None and tracked.settling:
                continue
            if tracked is not None and not tracked.survey_done and (tracked.answered or age < OVERDUE):
                continue  # ringing within its time, or in its survey: its end will be heard
            exists = await self.placer.channel_exists(attempt.channel_id)
            if exists is None:
                return  # the PBX cannot be asked now
            if not exists:
                await self._gone(attempt, tracked)
                continue
            call = tracked or self._follow(attempt)
            call.answered = call.answered or attempt.linkedid is not None
            if tracked is None and call.answered:
                # Its survey died with the process that ran it: what that stored is all there will be.
                call.survey_done = call.lost = True
                await self._hang_up(call.channel_id)
            elif not call.answered and age >= OVERDUE:
                await self._hang_up(call.channel_id)  # rang far past its time: its end is heard once it is gone

    def _follow(self, attempt: dialing.AttemptRow) -> _Call:
        call = _Call(
            channel_id=attempt.channel_id,
            other_channel_id=attempt.other_channel_id or f"{attempt.channel_id}-2",
            label=f"campaign {attempt.campaign_id} contact {attempt.contact_id} attempt {attempt.number}",
        )
        self._calls[call.channel_id] = self._calls[call.other_channel_id] = call
        return call

    async def _gone(self, attempt: dialing.AttemptRow, tracked: _Call | None) -> None:
        call = tracked or self._follow(attempt)
        call.answered = call.answered or attempt.linkedid is not None
        call.lost = not call.ended  # a heard end keeps its cause
        call.ended = call.survey_done = True
        log.info("%s: its call is gone and its end was not heard", call.label)
        self._maybe_settle(call)
