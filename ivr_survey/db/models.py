"""The schema. Names of constraints and indexes come from one naming convention so that
migrations can refer to them on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A response is in_progress while the caller is in the survey, then takes one final status.
RESPONSE_STATUSES = ("in_progress", "completed", "partial", "no_input", "abandoned", "failed", "not_offered")
FINAL_STATUSES = RESPONSE_STATUSES[1:-1]
# Why a call was not offered its survey (a not_offered response): the policy's checks, in the order they are
# made, a call no operator answered, and a caller who hung up on the operator (from the call history).
NOT_OFFERED_REASONS = ("no_operator", "no_consent", "cooldown", "sampled_out", "caller_hung_up_first")
# Call history (AMI / Master.csv): how a call went, from the caller's side.
DIRECTIONS = ("inbound", "outbound", "internal")
DISPOSITIONS = ("answered", "missed", "busy", "failed", "abandoned_in_queue")
HANGUP_SIDES = ("caller", "operator")
CALL_SOURCES = ("ami", "cdr_import")
# An operator's part in a call: the one who answered, or one who was rung.
OPERATOR_ROLES = ("answered", "rung")
# Outbound campaigns: a campaign's state, a contact's progress, and how a contact (or one attempt) ended.
CAMPAIGN_STATES = ("draft", "running", "paused", "finished", "cancelled")
CONTACT_STATES = ("pending", "in_progress", "done")
# One final outcome per contact: the answered ones from the survey, the others from Asterisk's hang-up cause;
# "dnc": on the do-not-call list, never dialled.
CONTACT_OUTCOMES = ("completed", "partial", "no_input", "opted_out", "no_answer", "busy", "failed", "dnc")
# One attempt's outcome; "congestion" is retried like busy and ends a contact as "failed" once attempts run out.
ATTEMPT_OUTCOMES = ("completed", "partial", "no_input", "opted_out", "no_answer", "busy", "congestion", "failed")
DNC_SOURCES = ("api", "opt_out")
# The outbox: a delivery is pending (retried with backoff) until delivered, failed (the target refused it for
# good, or is no longer configured) or dropped (older than the outbox's maximum age).
DELIVERY_STATES = ("pending", "delivered", "failed", "dropped")
# A supervisor's live listen: listen (nobody hears them), whisper (the operator does), barge (both parties do).
LISTEN_MODES = ("listen", "whisper", "barge")
LISTEN_STATES = ("ringing", "listening", "ended")
# Why a listen ended: stopped (DELETE /listens/{id}), the call ended (the operator's channel went away), the
# supervisor hung up or did not answer, Asterisk refused the endpoint, the service stopped, or a request failed.
LISTEN_ENDS = ("stopped", "call_ended", "supervisor_hung_up", "not_answered", "refused", "shutdown", "failed")
# API roles, weakest first: an operator reads only their own results (the token names them), analysts read
# everything, supervisors also evaluate calls, admins also edit scorecards/surveys.
ROLES = ("operator", "analyst", "supervisor", "admin")
# An operator's dispute of an evaluation of their call: open until a supervisor (not its evaluator) upholds it
# or revises the scores (a new version of the evaluation).
DISPUTE_STATES = ("open", "upheld", "revised")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out: SQLite keeps no zone, PostgreSQL keeps timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The endpoint or extension, e.g. "7001" for PJSIP/7001-00000012; what the dialplan passes as operator=.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # The team the operator works in (a supervisor's view); set with the name by import or by the API.
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({', '.join(repr(v) for v in values)})", name=column)


class Call(Base):
    """One call, keyed by linkedid. The survey (ARI/AGI) and the call history (AMI, Master.csv) each fill in
    what they know, whichever writes first."""

    __tablename__ = "calls"
    __table_args__ = (
        _one_of("direction", DIRECTIONS),
        _one_of("disposition", DISPOSITIONS),
        _one_of("hangup_side", HANGUP_SIDES),
        _one_of("history_source", CALL_SOURCES),
        # callbacks: the first answered outbound call to the number of a missed inbound one
        Index(None, "client_number", "started_at"),
        Index(None, "caller_number"),  # a survey policy's cooldown: the caller's earlier calls
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Asterisk's linkedid: shared by every channel of one call.
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    channel_uniqueid: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    queue: Mapped[str | None] = mapped_column(String(128), index=True)
    started_at: Mapped[datetime | None] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # From the call history; NULL while only the survey has written the call.
    direction: Mapped[str | None] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(24), index=True)
    # The client's number, digits only: the caller of an inbound call, the number dialled by an outbound one.
    client_number: Mapped[str | None] = mapped_column(String(64))
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hangup_side: Mapped[str | None] = mapped_column(String(16))
    recording: Mapped[str | None] = mapped_column(String(512))  # MixMonitor's file name, as Asterisk gave it
    history_source: Mapped[str | None] = mapped_column(String(16))
    # True when the AMI connection dropped while the call went on and its end was not seen.
    incomplete: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The operators who talked to the caller before a transfer, first first; operator_id is the last. None: the
    # call was not transferred.
    transferred_from: Mapped[list[str] | None] = mapped_column(JSON)


class CallOperator(Base):
    """Who answered a call, and who was rung (several, for a missed queue call)."""

    __tablename__ = "call_operators"
    __table_args__ = (
        UniqueConstraint("call_id", "operator_id", "role"),
        CheckConstraint("role IN ({})".format(", ".join(f"'{r}'" for r in OPERATOR_ROLES)), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyVersion(Base):
    """An immutable snapshot of a survey; editing a survey adds a version, answers point at theirs."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyPolicy(Base):
    """One version of the survey policy of a queue (DEFAULT_POLICY_QUEUE: calls with no queue): who is offered
    the survey. Editing a policy adds a version; a response points at the one it was decided under."""

    __tablename__ = "survey_policies"
    __table_args__ = (UniqueConstraint("queue", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(128))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallConsent(Base):
    """The caller's answer to "will you rate the conversation afterwards?", asked before the queue."""

    __tablename__ = "call_consents"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    agreed: Mapped[bool]
    defaulted: Mapped[bool]  # no key pressed (or another key): the policy's consent_default was taken
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("survey_policies.id"))
    decided_at: Mapped[datetime]


class Listen(Base):
    """A supervisor listening to a live call (or whispering, or barging in): the audit of who heard what, when."""

    __tablename__ = "listens"
    __table_args__ = (
        CheckConstraint("mode IN ({})".format(", ".join(f"'{m}'" for m in LISTEN_MODES)), name="mode"),
        CheckConstraint("state IN ({})".format(", ".join(f"'{s}'" for s in LISTEN_STATES)), name="state"),
        _one_of("end_reason", LISTEN_ENDS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    supervisor: Mapped[str] = mapped_column(String(100))  # the token's name
    endpoint: Mapped[str] = mapped_column(String(128))  # where the supervisor was called, e.g. PJSIP/7100
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(index=True)  # asked for
    answered_at: Mapped[datetime | None]  # the supervisor picked up and hears the call
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))  # Asterisk's word on a refused endpoint


class CalibrationSession(Base):
    """A blind calibration: an admin asks these supervisors to score these calls; while it is open, none of them
    sees another's evaluation of a call before all of them have scored it."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    calls: Mapped[list[str]] = mapped_column(JSON)  # linkedids
    supervisors: Mapped[list[str]] = mapped_column(JSON)  # token names
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


# The summaries' covering indexes, by what they lead with. Each holds every column a summary reads or
# filters on (an operator filter always reads the operator index, so the queue and survey indexes need no
# operator_id; the time indexes hold it, as a short period of any grouping reads them).
SUMMARY_INDEXES: dict[str, tuple[str, ...]] = {
    "operator": (
        "operator_id",
        "score",
        "satisfied",
        "status",
        "started_at",
        "queue",
        "survey_id",
        "started_hour",
        "started_slot",
    ),
    "queue": ("queue", "score", "satisfied", "status", "started_at", "survey_id"),
    "survey": ("survey_id", "score", "satisfied", "status", "started_at", "queue"),
    "slot": ("started_slot", "score", "satisfied", "status", "started_at", "queue", "survey_id", "operator_id"),
    "hour": ("started_hour", "score", "satisfied", "status", "started_at", "queue", "survey_id", "operator_id"),
}


def summary_index(lead: str) -> str:
    return f"ix_survey_responses_summary_by_{lead}"


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint("status IN ({})".format(", ".join(f"'{s}'" for s in RESPONSE_STATUSES)), name="status"),
        _one_of("reason", NOT_OFFERED_REASONS),
        # Covering indexes for the summaries: each grouping counts (key, score, satisfied) by reading one index in
        # its own order, without touching table rows, whatever the filters (their columns trail the key).
        *(Index(summary_index(lead), *columns) for lead, columns in SUMMARY_INDEXES.items()),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One response per surveyed call: a replayed StasisStart cannot start a second one.
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    survey_version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # "ari" or "agi": the way the caller came in
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    # Stasis/AGI arguments as given, unknown keys included.
    args: Mapped[dict[str, Any]]
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    # Copies kept for the summaries, so that they read one table (written with the response, never changed):
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    queue: Mapped[str | None] = mapped_column(String(128))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"))
    # The outbound campaign that called the customer; None for a post-call survey. (Campaigns are never deleted.)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    score: Mapped[float | None] = mapped_column(Float)  # the first question's score
    # Whether that score is one its survey version counts as satisfied (Question.satisfied_scores), decided when
    # it is written; None without a score or when the question names no satisfied scores (no CSAT).
    satisfied: Mapped[bool | None]
    # Summaries count responses per UTC slot first, then add the slots up into the caller's time buckets.
    # Every time zone's offset is a whole number of quarter hours; most are whole hours, and for those the
    # hour slot is used: four times fewer slots to add up.
    # None for a call not offered the survey: the tallies count only the surveys offered.
    started_slot: Mapped[int | None]  # UTC epoch seconds of started_at // QUARTER_HOUR
    started_hour: Mapped[int | None]  # UTC epoch seconds of started_at // HOUR
    # A not_offered response's reason (NOT_OFFERED_REASONS); None for a survey offered.
    reason: Mapped[str | None] = mapped_column(String(32))
    # The survey policy version the call was decided under; None for a campaign call or one stored before 0015.
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("survey_policies.id"))


class TallyCounts:
    """The counts of a tally row: what the summaries add up instead of counting responses."""

    offered: Mapped[int]  # responses started, any status
    responses: Mapped[int]  # of which have a first score
    score_total: Mapped[float] = mapped_column(Float)  # the sum of those scores
    satisfied: Mapped[int]  # of which are satisfied (SurveyResponse.satisfied)
    csat_responses: Mapped[int]  # of which were judged satisfied or not: CSAT's denominator
    # How many first scores were 0 .. 10, the whole numbers a one- or two-key answer is usually scored; any
    # other score is counted in rows of its own (ResponseSlotOtherScore, ResponseGroupOtherScore).
    score_0: Mapped[int]
    score_1: Mapped[int]
    score_2: Mapped[int]
    score_3: Mapped[int]
    score_4: Mapped[int]
    score_5: Mapped[int]
    score_6: Mapped[int]
    score_7: Mapped[int]
    score_8: Mapped[int]
    score_9: Mapped[int]
    score_10: Mapped[int]


class ResponseSlotTally(TallyCounts, Base):
    """survey_responses counted per UTC quarter hour (started_slot), kept by database triggers on every insert,
    score change and delete (migrations 0007, 0010), so that a year of unfiltered time summaries adds up 35,040
    rows instead of counting a million. A slot whose responses are all gone keeps a row of zeros."""

    __tablename__ = "response_slot_tallies"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ResponseSlotOtherScore(Base):
    """First scores other than the whole numbers 0-10 (e.g. a 0-100 scale, a half point), counted per UTC quarter
    hour and score by the same triggers. Rows, not columns, as such scores may be anything."""

    __tablename__ = "response_slot_other_scores"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    score: Mapped[float] = mapped_column(Float, primary_key=True)
    responses: Mapped[int]


# What a group tally groups by, and its key: the response's column as text, '' for none (a key is part of the
# primary key, so it cannot be NULL). Migration 0014's triggers spell the same keys in SQL.
TALLY_GROUPINGS = ("operator", "queue", "survey")


class ResponseGroupTally(TallyCounts, Base):
    """survey_responses counted per UTC day (started_slot // 96) and operator, queue or survey, kept by database
    triggers as the quarter-hour tallies are (migration 0014), so that a year's unfiltered operator summary adds
    up 73,000 rows (200 operators) instead of counting a million. A group whose responses are all gone keeps a
    row of zeros."""

    __tablename__ = "response_group_tallies"
    # in key order, clustered on SQLite: a period's groups are added up as they are read, without a sort
    __table_args__ = ({"sqlite_with_rowid": False},)

    grouped_by: Mapped[str] = mapped_column(String(8), primary_key=True)  # one of TALLY_GROUPINGS
    group_key: Mapped[str] = mapped_column(String(128), primary_key=True)  # operator or survey id, queue; '': none
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # UTC epoch days


class ResponseGroupOtherScore(Base):
    """First scores other than 0-10, counted per grouping, UTC day, key and score by the same triggers."""

    __tablename__ = "response_group_other_scores"

    grouped_by: Mapped[str] = mapped_column(String(8), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    score: Mapped[float] = mapped_column(Float, primary_key=True)
    responses: Mapped[int]


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    # One answer per question per response: a replayed keypress event stores nothing twice.
    __table_args__ = (UniqueConstraint("response_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"))
    position: Mapped[int]  # index of the question in the survey version
    question: Mapped[str] = mapped_column(String(64))
    digits: Mapped[str | None] = mapped_column(String(16))  # None: unanswered after every attempt
    score: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int]
    answered_at: Mapped[datetime]


class ApiToken(Base):
    """An API token; only its SHA-256 is stored (tokens are long random strings, so a fast hash suffices)."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("role IN ({})".format(", ".join(f"'{r}'" for r in ROLES)), name="role"),
        # A name names one live token; once revoked it may be given again, and the revoked row stays (audit).
        Index(
            "uq_api_tokens_live_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The operator (their code, e.g. 7001) an operator token reads the results of; None for the other roles.
    operator: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


# --- CQR (call quality rate): supervisors' scores of calls; ivr_survey/cqr holds the method. ---


class CqrScorecard(Base):
    """One version of a call type's criteria and weights; editing adds a version, old ones never change."""

    __tablename__ = "cqr_scorecards"
    __table_args__ = (UniqueConstraint("call_type", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_type: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    weights: Mapped[dict[str, Any]]  # criterion id -> weight
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))  # token name; None for the seeded defaults
    # What its CQRs mean: [{"from", "label", "colour"}], highest first (cqr/bands.py); None: the default bands.
    bands: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class CqrEvaluation(Base):
    """A supervisor's scores of one call; the CQR is computed once, with the scorecard version it points at."""

    __tablename__ = "cqr_evaluations"
    # A supervisor evaluates a call once (unless replacing that evaluation explicitly).
    __table_args__ = (UniqueConstraint("call_id", "supervisor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    call_type: Mapped[str] = mapped_column(String(32))
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("cqr_scorecards.id"))
    supervisor: Mapped[str] = mapped_column(String(100))  # the token's name
    scores: Mapped[dict[str, Any]]  # criterion id -> 0, 0.5 or 1
    cqr: Mapped[float] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime | None]
    # Each revision after a dispute is a new version; the earlier ones are kept in cqr_evaluation_versions.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    accepted_at: Mapped[datetime | None]  # the operator accepted the evaluation (its version then)


class CqrEvaluationVersion(Base):
    """An evaluation as it was before a revision: readable as it stood, never counted in the CQR figures."""

    __tablename__ = "cqr_evaluation_versions"
    __table_args__ = (UniqueConstraint("evaluation_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("cqr_evaluations.id", ondelete="CASCADE"))
    version: Mapped[int]
    scores: Mapped[dict[str, Any]]
    cqr: Mapped[float] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    supervisor: Mapped[str] = mapped_column(String(100))  # who wrote that version
    created_at: Mapped[datetime]  # when that version was written


class CqrDispute(Base):
    """An operator's dispute of an evaluation of their call, and a supervisor's decision on it."""

    __tablename__ = "cqr_disputes"
    __table_args__ = (_one_of("state", DISPUTE_STATES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("cqr_evaluations.id", ondelete="CASCADE"), index=True)
    operator: Mapped[str] = mapped_column(String(64))  # who disputed (their code)
    version: Mapped[int]  # the evaluation's version disputed
    comment: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)  # the supervisor's comment on the decision
    revised_version: Mapped[int | None]  # the version a revision made


# --- Outbound campaigns: the service calls a list of customers and asks them a survey. ---


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (_one_of("state", CAMPAIGN_STATES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    survey: Mapped[str] = mapped_column(String(64))  # a survey definition's name; its newest version is asked
    endpoint: Mapped[str] = mapped_column(String(256))  # e.g. PJSIP/{number}@trunk
    caller_id: Mapped[str | None] = mapped_column(String(200))
    concurrency: Mapped[int]
    calls_per_minute: Mapped[int | None]
    ring_timeout: Mapped[int]  # seconds
    max_attempts: Mapped[int]
    retry_delay: Mapped[int]  # seconds between two attempts of one contact
    calling_hours: Mapped[dict[str, Any]]  # {"from", "to", "timezone", "weekdays"}
    opt_out_key: Mapped[str | None] = mapped_column(String(1))
    state: Mapped[str] = mapped_column(String(16), index=True)
    # Why the campaign is paused or ended when the service did it (e.g. too many failed attempts in a row).
    state_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Pacing shared by every instance: no call of this campaign is placed before this moment.
    next_dial_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))  # the token's name
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class CampaignContact(Base):
    """A customer to call. Pending until claimed by a dialer, in progress while an attempt is on the line, done
    with one final outcome."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        _one_of("state", CONTACT_STATES),
        _one_of("outcome", CONTACT_OUTCOMES),
        # what a dialer claims: a campaign's pending contacts, due first
        Index(None, "campaign_id", "state", "next_attempt_at"),
        Index(None, "phone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    line: Mapped[int | None]  # the line of the uploaded CSV
    phone: Mapped[str] = mapped_column(String(32))  # normalised (E.164 when a default country is set)
    name: Mapped[str | None] = mapped_column(String(200))
    operator: Mapped[str | None] = mapped_column(String(64))  # the manager the customer belongs to
    timezone: Mapped[str | None] = mapped_column(String(64))  # the contact's own zone for calling hours
    tags: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_cause: Mapped[int | None]  # Asterisk's hang-up cause of the last attempt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignAttempt(Base):
    """One call placed to a contact. Written before the call is placed, so that a crash can never make an attempt
    twice or forget one: an attempt without ended_at is on the line (or its fate is still to be found out)."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (
        UniqueConstraint("contact_id", "number"),
        _one_of("outcome", ATTEMPT_OUTCOMES),
        Index(None, "campaign_id", "ended_at"),
        Index(None, "instance", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("campaign_contacts.id", ondelete="CASCADE"))
    number: Mapped[int]  # 1 for the first attempt of the contact
    instance: Mapped[str] = mapped_column(String(80))  # the ARI app of the service instance that placed it
    channel_id: Mapped[str] = mapped_column(String(150), unique=True)  # set by us in the originate
    other_channel_id: Mapped[str | None] = mapped_column(String(150))  # a Local channel's ;2 half
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)  # set when the survey starts
    placed_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    cause: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(16))


class DoNotCall(Base):
    """Numbers no campaign ever dials: added by an admin, or by the customer pressing the opt-out key."""

    __tablename__ = "do_not_call"
    __table_args__ = (_one_of("source", DNC_SOURCES),)

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str | None] = mapped_column(String(100))  # the token's name (source api)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    linkedid: Mapped[str | None] = mapped_column(String(64))  # the call in which the customer opted out


class OutboxEvent(Base):
    """An event to tell the outside (a survey's result, an alert), written in the transaction of the answer that
    caused it; its deliveries say how far each target got."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # X-Event-Id: receivers drop duplicates by it
    type: Mapped[str] = mapped_column(String(40))
    linkedid: Mapped[str | None] = mapped_column(String(64))  # the call's events go out in their order
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class OutboxDelivery(Base):
    """One event for one target (webhook, alert_webhook, telegram): each target goes at its own pace."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "target"),
        _one_of("state", DELIVERY_STATES),
        Index(None, "target", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # the age limit counts from here: the event's creation, or an admin's retry
    queued_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
