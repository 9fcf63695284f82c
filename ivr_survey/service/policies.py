"""The survey policies in force, cached like the surveys, and deciding a call's offer from its facts as stored."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import policies
from ..db.catalog import CachedReads
from .policy import DEFAULT_POLICY_QUEUE, CallFacts, Decision, SurveyPolicy, cooldown_since, decide

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PolicyInForce:
    policy: SurveyPolicy
    id: int | None  # the stored version's id; None: no policy stored, the built-in default


BUILT_IN = PolicyInForce(SurveyPolicy(), None)  # every call offered, as before policies existed


async def _stored(session: AsyncSession, queue: str) -> PolicyInForce | None:
    row = await policies.latest_policy(session, queue=queue)
    return PolicyInForce(SurveyPolicy.from_dict(row.definition), row.id) if row is not None else None


class PolicyCatalog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl: float = 30.0) -> None:
        self._policies = CachedReads(sessions, _stored, ttl=ttl, what="survey policy")

    async def for_queue(self, queue: str | None) -> PolicyInForce:
        """The queue's policy, else the default one (_default), else the built-in default."""
        if queue and queue != DEFAULT_POLICY_QUEUE and (found := await self._policies.get(queue)) is not None:
            return found
        return await self._policies.get(DEFAULT_POLICY_QUEUE) or BUILT_IN

    def changed(self, queue: str) -> None:
        """A policy was saved here: the next call reads it at once (other instances within the ttl)."""
        self._policies.forget(queue)


async def decide_offer(
    sessions: async_sessionmaker[AsyncSession],
    policy: SurveyPolicy,
    *,
    linkedid: str,
    now: datetime,
    has_operator: bool,
    caller_number: str | None,
    read_seconds: float = 3.0,
) -> Decision:
    """Read what the policy's checks need (only those it makes) and decide. When the database does not answer
    within `read_seconds`, what was not read counts as never given: no consent (a caller is never surveyed
    without it), no earlier survey (a cooldown then lets the call through)."""
    consent: bool | None = None
    last: datetime | None = None
    since = cooldown_since(policy, now)
    if has_operator and (policy.consent == "ask" or (since is not None and caller_number)):
        try:
            async with asyncio.timeout(read_seconds), sessions() as session:
                if policy.consent == "ask":
                    consent = await policies.stored_consent(session, linkedid=linkedid)
                if since is not None and caller_number:
                    last = await policies.last_offered_at(session, caller_number=caller_number, since=since)
        except Exception as exc:
            log.warning("call %s: the policy's checks not read (%s)", linkedid, type(exc).__name__)
    facts = CallFacts(linkedid=linkedid, now=now, has_operator=has_operator, consent=consent, last_offered_at=last)
    return decide(policy, facts)
