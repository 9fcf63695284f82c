"""The survey's writes, on the keypress path: synchronous functions over one Core connection, run by the store's
writer in one transaction each (see writer.py). Every write is idempotent, so that a replayed event or a
replayed spool record stores nothing twice.

A caller waits on each write, so each costs little: its statements are built once per dialect and run with
their parameters (building one anew costs SQLAlchemy about eight times as much as running it, about 0.45 ms
against 0.06 ms on the project's machine); a survey version's ids and CSAT rule are read once per engine (a
stored version never changes); a call's row is written and read back in one upsert (RETURNING); an
operator's id is read once; the end finds its response by the call's linkedid within the UPDATE that ends it.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RootTransaction

from ..survey.definition import Question
from .models import Call, CallConsent, Operator, Survey, SurveyAnswer, SurveyResponse, SurveyVersion
from .statements import affected
from .timebuckets import HOUR, QUARTER_HOUR


@dataclass(frozen=True, slots=True)
class _Version:
    id: int
    survey_id: int
    satisfied: frozenset[float] | None  # the first question's scores CSAT counts as satisfied; None: no CSAT


# engine -> (survey name, version) -> the stored version; only versions that exist are kept
_versions: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], _Version]] = weakref.WeakKeyDictionary()


# engine -> operator code -> id, for rows committed before (an operator's row is never deleted, so its id never
# changes); bounded, as the dialplan names the operators
_operators: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()
_OPERATORS_KEPT = 10_000
# transaction -> the operator codes it inserted: its own SELECT sees them, but they are not kept, as it may roll back
_inserted: weakref.WeakKeyDictionary[RootTransaction, set[str]] = weakref.WeakKeyDictionary()


def _version(conn: Connection, name: str, version: int) -> _Version | None:
    known = _versions.setdefault(conn.engine, {})
    found = known.get((name, version))
    if found is None:
        row = conn.execute(_sql(conn).version, {"name": name, "version": version}).one_or_none()
        if row is None:
            return None
        first = Question.from_dict(row.definition["questions"][0])
        found = known[(name, version)] = _Version(row.id, row.survey_id, first.satisfied_scores)
    return found


def _version_by_id(conn: Connection, version_id: int) -> _Version:
    for found in _versions.get(conn.engine, {}).values():
        if found.id == version_id:
            return found
    name, version = conn.execute(_sql(conn).version_by_id, {"version_id": version_id}).one()
    found_ = _version(conn, name, version)
    assert found_ is not None
    return found_


def _call_id() -> Any:
    return select(Call.id).where(Call.linkedid == bindparam("linkedid")).scalar_subquery()


@dataclass(frozen=True, slots=True)
class _Statements:
    """The keypress path's statements in one dialect, each run with its parameters."""

    version: Any
    version_by_id: Any
    operator: Any
    add_operator: Any
    call: Any
    response: Any
    response_of_call: Any
    answer: Any
    score: Any
    finish: Any
    survey_of_call: Any
    consent: Any


@functools.cache
def _statements(dialect: str) -> _Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    calls = Call.__table__.c
    call = insert(Call)
    filled = ("channel_uniqueid", "caller_number", "operator_id", "queue", "started_at")
    return _Statements(
        version=select(SurveyVersion.id, SurveyVersion.survey_id, SurveyVersion.definition)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(Survey.name == bindparam("name"), SurveyVersion.version == bindparam("version")),
        version_by_id=select(Survey.name, SurveyVersion.version)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(SurveyVersion.id == bindparam("version_id")),
        operator=select(Operator.id).where(Operator.code == bindparam("code")),
        add_operator=insert(Operator).on_conflict_do_nothing(),
        # whichever side writes first creates the row; later writers only fill its gaps
        call=call.on_conflict_do_update(
            index_elements=["linkedid"], set_={c: func.coalesce(calls[c], call.excluded[c]) for c in filled}
        ).returning(Call.id, Call.operator_id, Call.queue),
        response=insert(SurveyResponse).on_conflict_do_nothing(index_elements=["call_id"]),
        response_of_call=select(SurveyResponse.id, SurveyResponse.survey_version_id).where(
            SurveyResponse.call_id == _call_id()
        ),
        answer=insert(SurveyAnswer).on_conflict_do_nothing(index_elements=["response_id", "position"]),
        score=update(SurveyResponse)
        .where(SurveyResponse.id == bindparam("response_id"))
        .values(score=bindparam("new_score"), satisfied=bindparam("new_satisfied")),
        finish=update(SurveyResponse)
        .where(SurveyResponse.call_id == _call_id(), SurveyResponse.status == "in_progress")
        .values(status=bindparam("new_status"), ended_at=bindparam("new_ended_at")),
        survey_of_call=select(Survey.name)
        .join(SurveyResponse, SurveyResponse.survey_id == Survey.id)
        .where(SurveyResponse.call_id == _call_id()),
        # asked again (the caller came back to the consent entry): the last answer holds
        consent=(consent := insert(CallConsent)).on_conflict_do_update(
            index_elements=["call_id"],
            set_={c: consent.excluded[c] for c in ("agreed", "defaulted", "policy_id", "decided_at")},
        ),
    )


def _sql(conn: Connection) -> _Statements:
    return _statements(conn.dialect.name)


def operator_id(conn: Connection, *, code: str | None) -> int | None:
    """The operator's id, created on first sight; None for an unknown operator."""
    if not code:
        return None
    known = _operators.setdefault(conn.engine, {})
    found = known.get(code)
    if found is not None:
        return found
    sql = _sql(conn)
    stored: int | None = conn.execute(sql.operator, {"code": code}).scalar_one_or_none()
    transaction = conn.get_transaction()
    assert transaction is not None  # the SELECT began one
    inserted = _inserted.setdefault(transaction, set())
    if stored is None:  # first sight: insert, unless another writer just did
        conn.execute(sql.add_operator, {"code": code})
        inserted.add(code)
        new_id: int = conn.execute(sql.operator, {"code": code}).scalar_one()
        return new_id
    if code not in inserted:  # committed before this transaction began: kept
        if len(known) >= _OPERATORS_KEPT:
            known.clear()
        known[code] = stored
    return stored


def upsert_call(
    conn: Connection,
    *,
    linkedid: str,
    channel_uniqueid: str | None = None,
    caller_number: str | None = None,
    operator: str | None = None,
    queue: str | None = None,
    started_at: datetime | None = None,
) -> tuple[int, int | None, str | None]:
    """The call row keyed by linkedid; whichever side writes first creates it, later writers only fill gaps.
    Returns the row's (id, operator id, queue) as stored now."""
    values = {
        "linkedid": linkedid,
        "channel_uniqueid": channel_uniqueid,
        "caller_number": caller_number,
        "operator_id": operator_id(conn, code=operator),
        "queue": queue,
        "started_at": started_at,
    }
    call_id, operator_id_, queue_ = conn.execute(_sql(conn).call, values).one()
    return call_id, operator_id_, queue_


def start_response(
    conn: Connection,
    *,
    linkedid: str,
    survey: str,
    survey_version: int,
    channel: str,
    language: str,
    args: dict[str, Any],
    started_at: datetime,
    channel_uniqueid: str | None = None,
    caller_number: str | None = None,
    operator: str | None = None,
    queue: str | None = None,
    campaign_id: int | None = None,
    policy_id: int | None = None,
    reason: str | None = None,
) -> bool:
    """Record that the caller entered the survey (status in_progress), or with a reason that the call was not
    offered it (status not_offered, ended as it began, and without the slots the tallies count by); False when
    the call already had a response (a second start is ignored)."""
    version = _version(conn, survey, survey_version)
    if version is None:
        raise LookupError(f"survey {survey!r} version {survey_version} is not stored")
    call_id, call_operator, call_queue = upsert_call(
        conn,
        linkedid=linkedid,
        channel_uniqueid=channel_uniqueid,
        caller_number=caller_number,
        operator=operator,
        queue=queue,
        started_at=started_at,
    )
    values = {
        "call_id": call_id,
        "survey_version_id": version.id,
        "survey_id": version.survey_id,
        "operator_id": call_operator,
        "queue": call_queue,
        "started_slot": None if reason else int(started_at.timestamp()) // QUARTER_HOUR,
        "started_hour": None if reason else int(started_at.timestamp()) // HOUR,
        "channel": channel,
        "language": language,
        "status": "not_offered" if reason else "in_progress",
        "reason": reason,
        "args": args,
        "started_at": started_at,
        "ended_at": started_at if reason else None,
        "campaign_id": campaign_id,
        "policy_id": policy_id,
    }
    return bool(affected(conn.execute(_sql(conn).response, values)))


def save_consent(
    conn: Connection,
    *,
    linkedid: str,
    agreed: bool,
    defaulted: bool,
    decided_at: datetime,
    policy_id: int | None = None,
    channel_uniqueid: str | None = None,
    caller_number: str | None = None,
    queue: str | None = None,
) -> bool:
    """The caller's answer to the consent prompt, against the call; asked again, the last answer holds."""
    call_id, _, _ = upsert_call(
        conn, linkedid=linkedid, channel_uniqueid=channel_uniqueid, caller_number=caller_number, queue=queue
    )
    values = {"call_id": call_id, "agreed": agreed, "defaulted": defaulted, "policy_id": policy_id}
    conn.execute(_sql(conn).consent, {**values, "decided_at": decided_at})
    return True


def _missing(linkedid: str) -> LookupError:
    return LookupError(f"no survey response for call {linkedid}")


def save_answer(
    conn: Connection,
    *,
    linkedid: str,
    position: int,
    question: str,
    digits: str | None,
    score: float | None,
    attempts: int,
    answered_at: datetime,
) -> bool:
    """Store one answer; False when the same question of the call was already answered."""
    sql = _sql(conn)
    response = conn.execute(sql.response_of_call, {"linkedid": linkedid}).one_or_none()
    if response is None:
        raise _missing(linkedid)
    values = {
        "response_id": response.id,
        "position": position,
        "question": question,
        "digits": digits,
        "score": score,
        "attempts": attempts,
        "answered_at": answered_at,
    }
    stored = bool(affected(conn.execute(sql.answer, values)))
    if stored and position == 0:  # the response's score and CSAT's verdict on it, copied for the summaries
        satisfied = None
        if score is not None and (scores := _version_by_id(conn, response.survey_version_id).satisfied) is not None:
            satisfied = score in scores
        conn.execute(sql.score, {"response_id": response.id, "new_score": score, "new_satisfied": satisfied})
    return stored


def finish_response(conn: Connection, *, linkedid: str, status: str, ended_at: datetime) -> bool:
    """Give the response its final status once; False for a replay, which does not move ended_at."""
    values = {"linkedid": linkedid, "new_status": status, "new_ended_at": ended_at}
    if affected(conn.execute(_sql(conn).finish, values)):
        return True
    if response_survey(conn, linkedid=linkedid) is None:
        raise _missing(linkedid)
    return False


def response_survey(conn: Connection, *, linkedid: str) -> str | None:
    """The name of the survey the call's response answers; None when the call has no response."""
    name: str | None = conn.execute(_sql(conn).survey_of_call, {"linkedid": linkedid}).scalar_one_or_none()
    return name
