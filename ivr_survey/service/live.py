"""Live calls and supervisors listening to them: what the call history follows now, what the survey has, and the
rules of a listen (which call, which operator channel, who may, the audit). The adapters carry them out: the AMI
tracker lists the calls (LiveSource), the ARI app places and bridges the listen legs (ListenLegs)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import listens
from ..db.listens import ListenRow
from ..db.operators import operator_names
from .phones import mask_phone_for_people
from .refusals import Refused

log = logging.getLogger(__name__)

LIVE_STATES = ("ringing", "talking", "in_survey", "ending")
# Set on the supervisor's leg of a listen (its originate's variables), so that the call history knows it for
# what it is: no call of a customer's.
LISTEN_VARIABLE = "IVR_SURVEY_LISTEN"


@dataclass(frozen=True, slots=True)
class LiveCall:
    call_id: str  # the linkedid
    direction: str
    caller_number: str | None
    queue: str | None
    operator: str | None
    state: str  # LIVE_STATES
    since: datetime  # when it entered that state
    started_at: datetime
    operator_channel: str | None  # the ARI id (uniqueid) of the operator's channel, while they talk

    @property
    def listenable(self) -> bool:
        """An operator talks to the caller on a channel a supervisor can listen to."""
        return self.state == "talking" and self.operator_channel is not None


LiveSource = Callable[[], list[LiveCall]]


@dataclass(frozen=True, slots=True)
class ShownCall:
    """A live call as a viewer sees it."""

    call: LiveCall
    caller: str | None  # in full, or masked for a viewer who may not see callers' numbers
    operator_name: str | None


async def shown_calls(
    sessions: async_sessionmaker[AsyncSession], calls: list[LiveCall], *, full_numbers: bool, country: str | None
) -> list[ShownCall]:
    async with sessions() as session:
        names = await operator_names(session, codes=[c.operator for c in calls if c.operator])
    return [
        ShownCall(
            c,
            c.caller_number if full_numbers or not c.caller_number else mask_phone_for_people(c.caller_number, country),
            names.get(c.operator) if c.operator else None,
        )
        for c in calls
    ]


def with_surveys(calls: list[LiveCall], surveying: set[str]) -> list[LiveCall]:
    """The calls, those whose caller is in the survey now (their linkedids) marked so."""
    return [replace(c, state="in_survey") if c.call_id in surveying and c.state != "talking" else c for c in calls]


class ListenRefused(Exception):
    """Asterisk would not call the supervisor's endpoint (its own words)."""


class ListenUnavailable(Exception):
    """Asterisk could not be reached to call the supervisor."""


class ListenLegs(Protocol):
    """The ARI side of listening: call the supervisor and, once answered, snoop the operator's channel into a
    bridge with them; end it all on request."""

    @property
    def ready(self) -> bool:
        """False on a standby instance, which does not hear the app's events."""

    async def start(self, listen: ListenRow, *, operator_channel: str, caller_id: str) -> None:
        """Raises ListenRefused when Asterisk refuses the endpoint, ListenUnavailable when it is away."""

    async def stop(self, listen_id: int, reason: str) -> bool:
        """End the listen's legs; False when none of ours runs it."""


async def begin_listen(
    sessions: async_sessionmaker[AsyncSession],
    live: LiveSource,
    legs: ListenLegs,
    *,
    call_id: str,
    endpoint: str,
    mode: str,
    supervisor: str,
    now: datetime,
) -> ListenRow:
    """Store the listen (ringing) and ring the supervisor. Refused: not_found (no such call in progress),
    no_operator_channel (nobody talks to the caller now), endpoint_refused (the listen is stored ended, refused,
    with Asterisk's words), listen_unavailable (Asterisk away, or this instance the standby)."""
    if not legs.ready:
        raise Refused("listen_unavailable", "this instance is the standby: the active one places listens")
    call = next((c for c in live() if c.call_id == call_id), None)
    if call is None:
        raise Refused("not_found", f"call {call_id} is not in progress", {"call_id": call_id})
    if not call.listenable:
        raise Refused("no_operator_channel", f"call {call_id} has no operator talking on it now", {"call_id": call_id})
    assert call.operator_channel is not None  # listenable
    async with sessions() as session, session.begin():
        listen = await listens.open_listen(
            session,
            linkedid=call_id,
            operator=call.operator,
            supervisor=supervisor,
            endpoint=endpoint,
            mode=mode,
            at=now,
        )
    log.info("call %s: %s %s listens (%s) on %s", call_id, supervisor, listen.id, mode, endpoint)
    try:
        await legs.start(listen, operator_channel=call.operator_channel, caller_id=_caller_id(call))
    except (ListenRefused, ListenUnavailable) as exc:
        refused = isinstance(exc, ListenRefused)
        async with sessions() as session, session.begin():
            await listens.end_listen(
                session, listen_id=listen.id, reason="refused" if refused else "failed", at=now, detail=str(exc)[:200]
            )
        if refused:
            raise Refused(
                "endpoint_refused", f"Asterisk refused to call {endpoint}: {exc}", {"endpoint": endpoint}
            ) from None
        raise Refused("listen_unavailable", f"the supervisor cannot be called now: {exc}") from None
    return listen


def _caller_id(call: LiveCall) -> str:
    """What the supervisor's phone shows: which operator and which call."""
    return f'"Listen {call.operator or "?"} {call.call_id}" <{call.operator or "0"}>'


async def stop_listen(
    sessions: async_sessionmaker[AsyncSession], legs: ListenLegs | None, *, listen_id: int, now: datetime
) -> ListenRow | None:
    """End a listen (stopped) and return it as it is then; one ended already stays as it was. None: no such
    listen. One no legs of ours run any more (the service restarted) is ended in the audit alone."""
    async with sessions() as session:
        row = await listens.get_listen(session, listen_id=listen_id)
    if row is None or row.state == "ended":
        return row
    if legs is None or not await legs.stop(listen_id, "stopped"):
        async with sessions() as session, session.begin():
            await listens.end_listen(session, listen_id=listen_id, reason="stopped", at=now)
    async with sessions() as session:
        return await listens.get_listen(session, listen_id=listen_id)
