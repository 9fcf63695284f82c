"""The audit of supervisors' live listens: one row per listen, from the request to its end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Call, Listen, Operator
from .repository import operator_id, upsert_call


@dataclass(frozen=True, slots=True)
class ListenRow:
    id: int
    call_id: str  # the linkedid
    operator: str | None
    supervisor: str
    endpoint: str
    mode: str
    state: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    detail: str | None


def _query() -> Select[*tuple[Any, ...]]:
    return (
        select(Listen, Call.linkedid, Operator.code)
        .join(Call, Call.id == Listen.call_id)
        .outerjoin(Operator, Operator.id == Listen.operator_id)
    )


def _row(listen: Listen, linkedid: str, operator: str | None) -> ListenRow:
    return ListenRow(
        listen.id,
        linkedid,
        operator,
        listen.supervisor,
        listen.endpoint,
        listen.mode,
        listen.state,
        listen.started_at,
        listen.answered_at,
        listen.ended_at,
        listen.end_reason,
        listen.detail,
    )


async def open_listen(
    session: AsyncSession,
    *,
    linkedid: str,
    operator: str | None,
    supervisor: str,
    endpoint: str,
    mode: str,
    at: datetime,
) -> ListenRow:
    """Store a listen asked for (ringing); its call is stored too if the history has not written it yet."""
    call_id = await upsert_call(session, linkedid=linkedid)
    listen = Listen(
        call_id=call_id,
        operator_id=await operator_id(session, code=operator) if operator else None,
        supervisor=supervisor,
        endpoint=endpoint,
        mode=mode,
        state="ringing",
        started_at=at,
    )
    session.add(listen)
    await session.flush()
    return _row(listen, linkedid, operator)


async def listen_answered(session: AsyncSession, *, listen_id: int, at: datetime) -> None:
    await session.execute(
        update(Listen)
        .where(Listen.id == listen_id, Listen.state == "ringing")
        .values(state="listening", answered_at=at)
    )


async def end_listen(
    session: AsyncSession, *, listen_id: int, reason: str, at: datetime, detail: str | None = None
) -> bool:
    """End the listen (once: the first reason stays); False when it had ended already or does not exist."""
    result = await session.execute(
        update(Listen)
        .where(Listen.id == listen_id, Listen.state != "ended")
        .values(state="ended", ended_at=at, end_reason=reason, detail=detail)
    )
    return bool(getattr(result, "rowcount", 0))


async def get_listen(session: AsyncSession, *, listen_id: int) -> ListenRow | None:
    found = (await session.execute(_query().where(Listen.id == listen_id))).one_or_none()
    return _row(found[0], found[1], found[2]) if found is not None else None


async def list_listens(
    session: AsyncSession,
    *,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    linkedid: str | None = None,
    supervisor: str | None = None,
    limit: int = 1000,
) -> list[ListenRow]:
    """Newest first."""
    stmt = _query()
    if date_from is not None:
        stmt = stmt.where(Listen.started_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Listen.started_at < date_to)
    if linkedid is not None:
        stmt = stmt.where(Call.linkedid == linkedid)
    if supervisor is not None:
        stmt = stmt.where(Listen.supervisor == supervisor)
    stmt = stmt.order_by(Listen.started_at.desc(), Listen.id.desc()).limit(limit)
    return [_row(listen, linkedid, code) for listen, linkedid, code in (await session.execute(stmt)).all()]
