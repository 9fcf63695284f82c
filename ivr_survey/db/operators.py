"""Operators as people: their names and teams, listed, read, imported in bulk and set one at a time.

An operator row is also created on first sight of its code (repository.operator_id) with neither; an import or
an admin fills them in later, so everything here creates or updates by code and never duplicates one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .models import Operator, utcnow
from .statements import affected, upsert_insert

# The columns' lengths: what an import or the API must refuse rather than let PostgreSQL do it as an error.
MAX_CODE = 64
MAX_NAME = 200
MAX_TEAM = 100
_CHUNK = 500  # rows per statement: far below either database's limit of bound parameters


def label_problem(value: str, max_length: int) -> str | None:
    """What is wrong with a code, name or team to be stored (already stripped), or None: each is one line of
    text shown next to an operator, and must fit its column."""
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):  # NUL, which PostgreSQL cannot store, tabs, line breaks
        return "must not contain control characters"
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"), which neither database can bind
        return "must be valid Unicode text"
    return None


@dataclass(frozen=True, slots=True)
class OperatorRow:
    code: str  # what the dialplan passes as operator=, e.g. "7001"
    name: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class Upserted:
    created: int
    updated: int  # operators that existed and whose name or team changed; unchanged ones count in neither


class _Keep(Enum):
    KEEP = "keep"


KEEP: Literal[_Keep.KEEP] = _Keep.KEEP  # set_operator: leave this field as it is
Kept = str | None | Literal[_Keep.KEEP]

_COLUMNS = (Operator.code, Operator.name, Operator.team)


def in_team(team: str) -> Any:
    """The ids of the team's operators, as a subquery: what every team filter compares an operator id with. Of
    an alias, so that it is never correlated with the operators a query joins itself."""
    member = aliased(Operator)
    return select(member.id).where(member.team == team)


def _row(found: Any) -> OperatorRow:
    return OperatorRow(found.code, found.name, found.team)


async def list_operators(session: AsyncSession, *, team: str | None = None) -> list[OperatorRow]:
    """Every operator (or the team's), by code."""
    stmt = select(*_COLUMNS).order_by(Operator.code)
    if team is not None:
        stmt = stmt.where(Operator.team == team)
    return [_row(r) for r in (await session.execute(stmt)).all()]


async def team_names(session: AsyncSession) -> list[str]:
    """Every team an operator is in, by name."""
    stmt = select(Operator.team).where(Operator.team.is_not(None)).distinct().order_by(Operator.team)
    return [team for team in (await session.execute(stmt)).scalars() if team is not None]


async def get_operator(session: AsyncSession, *, code: str) -> OperatorRow | None:
    found = (await session.execute(select(*_COLUMNS).where(Operator.code == code))).one_or_none()
    return _row(found) if found is not None else None


async def upsert_operators(session: AsyncSession, rows: Sequence[OperatorRow]) -> Upserted:
    """Every row's name and team stored under its code: created when new, replaced when it exists (None clears
    a field). The codes must be distinct. Counts what was created and what changed."""
    created = updated = 0
    table = Operator.__table__
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        stmt = select(*_COLUMNS).where(Operator.code.in_([r.code for r in chunk]))
        stored = {r.code: _row(r) for r in (await session.execute(stmt)).all()}
        changed = [r for r in chunk if stored.get(r.code) != r]
        created += sum(r.code not in stored for r in changed)
        updated += sum(r.code in stored for r in changed)
        if not changed:
            continue
        now = utcnow()
        insert = upsert_insert(session, table).values(
            [{"code": r.code, "name": r.name, "team": r.team, "created_at": now} for r in changed]
        )
        # on a conflict (an operator first seen since the read above, too) the row's values win
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["code"], set_={"name": insert.excluded.name, "team": insert.excluded.team}
            )
        )
    return Upserted(created, updated)


async def set_operator(
    session: AsyncSession, *, code: str, name: Kept = KEEP, team: Kept = KEEP
) -> tuple[OperatorRow, bool]:
    """Set the operator's name and/or team (KEEP leaves one as it is, None clears it), creating the operator
    when it is new: (the operator as stored, whether it was created)."""
    changes = {column: value for column, value in (("name", name), ("team", team)) if value is not KEEP}
    insert = upsert_insert(session, Operator.__table__).values(code=code, created_at=utcnow(), **changes)
    created = bool(affected(await session.execute(insert.on_conflict_do_nothing(index_elements=["code"]))))
    if not created and changes:
        await session.execute(update(Operator).where(Operator.code == code).values(**changes))
    row = await get_operator(session, code=code)
    assert row is not None
    return row, created


async def operator_names(session: AsyncSession, *, codes: list[str]) -> dict[str, str]:
    """code -> name, of those of the operators that have a name."""
    if not codes:
        return {}
    stmt = select(Operator.code, Operator.name).where(Operator.code.in_(set(codes)), Operator.name.is_not(None))
    return {code: name for code, name in (await session.execute(stmt)).all() if name is not None}
