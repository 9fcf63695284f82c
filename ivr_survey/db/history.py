"""Writing the call history: one row per call keyed by linkedid, whoever writes first (the survey or the
history); the operators who answered and were rung. Writing the same call again changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, CallOperator, SurveyResponse
from .repository import operator_id, upsert_call
from .statements import upsert_insert


async def save_call(
    session: AsyncSession,
    *,
    linkedid: str,
    direction: str,
    disposition: str,
    source: str,
    caller_number: str | None = None,
    client_number: str | None = None,
    queue: str | None = None,
    operator: str | None = None,
    rung: list[str] | None = None,
    started_at: datetime | None = None,
    answered_at: datetime | None = None,
    ended_at: datetime | None = None,
    ring_seconds: float | None = None,
    talk_seconds: float | None = None,
    hangup_side: str | None = None,
    recording: str | None = None,
    incomplete: bool = False,
    channel_uniqueid: str | None = None,
    transferred_from: list[str] | None = None,
) -> int:
    """The call's history, over what an earlier write of the same history said; the survey's operator, queue
    and caller stay when the survey wrote first (they agree, being named by the same pattern), but after a
    transfer: the call and its survey belong to the last operator, whom the dialplan's operator= may not name
    (after an attended transfer it names the first)."""
    call_id = await upsert_call(
        session,
        linkedid=linkedid,
        channel_uniqueid=channel_uniqueid,
        caller_number=caller_number,
        operator=operator,
        queue=queue,
        started_at=started_at,
    )
    await session.execute(
        update(Call)
        .where(Call.id == call_id)
        .values(
            direction=direction,
            disposition=disposition,
            client_number=client_number,
            history_source=source,
            answered_at=answered_at,
            ended_at=ended_at,
            ring_seconds=ring_seconds,
            talk_seconds=talk_seconds,
            hangup_side=hangup_side,
            recording=recording,
            incomplete=incomplete,
            transferred_from=transferred_from or None,
            # the history's start is the call's start; a survey starts later, after the talk
            started_at=func.coalesce(started_at, Call.started_at),
        )
    )
    answered = [*(transferred_from or []), *([operator] if operator else [])]  # every operator who talked
    roles = [(code, "rung") for code in rung or []] + [(code, "answered") for code in answered]
    ids: dict[str, int | None] = {}  # the operator who answered was usually rung too: one lookup each
    for code, role in roles:
        if code not in ids:
            ids[code] = await operator_id(session, code=code)
        stmt = upsert_insert(session, CallOperator.__table__).values(call_id=call_id, operator_id=ids[code], role=role)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["call_id", "operator_id", "role"]))
    if transferred_from and operator:
        await session.execute(update(Call).where(Call.id == call_id).values(operator_id=ids[operator]))
        await session.execute(
            update(SurveyResponse).where(SurveyResponse.call_id == call_id).values(operator_id=ids[operator])
        )
    # a survey that started before the history knew the operator or queue gets them for its summaries
    call = (await session.execute(select(Call.operator_id, Call.queue).where(Call.id == call_id))).one()
    await session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.call_id == call_id)
        .values(
            operator_id=func.coalesce(SurveyResponse.operator_id, call.operator_id),
            queue=func.coalesce(SurveyResponse.queue, call.queue),
        )
    )
    return call_id


async def history_sources(session: AsyncSession, *, linkedids: list[str]) -> dict[str, str]:
    """Who wrote the history of those of the calls that have one: "ami" (the collector) or "cdr_import"."""
    found: dict[str, str] = {}
    for i in range(0, len(linkedids), 500):  # bound the IN list, whatever the file's size
        chunk = linkedids[i : i + 500]
        stmt = select(Call.linkedid, Call.history_source).where(
            Call.linkedid.in_(chunk), Call.history_source.is_not(None)
        )
        found.update((linkedid, cast(str, source)) for linkedid, source in await session.execute(stmt))
    return found
