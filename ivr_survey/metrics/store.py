"""The survey counters, from the store's writes: a WriteListener counts what was stored anew (never a replay)
once it is committed, and times every write."""

from __future__ import annotations

from sqlalchemy import Connection

from ..db.responses import response_survey
from ..db.writes import FinishResponse, NotOffered, SaveAnswer, StartResponse, Write
from .registry import Metrics

UNKNOWN_SURVEY = "unknown"  # a finish whose response names no survey (not written by this service)


def score_label(score: float | None) -> str:
    """5.0 -> "5", 0.5 -> "0.5"; a question given up on -> "none"."""
    return "none" if score is None else f"{score:g}"


class SurveyCounters:
    """A FinishResponse names no survey: stored() reads it in the write's transaction and keeps it until
    committed() counts it (or a failed transaction leaves it to be overwritten by the replay)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._survey_of: dict[FinishResponse, str] = {}

    def stored(self, conn: Connection, record: Write) -> None:
        if isinstance(record, FinishResponse):
            survey = response_survey(conn, linkedid=record.linkedid)
            self._survey_of[record] = survey or UNKNOWN_SURVEY

    def committed(self, record: Write, *, new: bool, seconds: float) -> None:
        m = self._metrics
        m.db_write.labels(op=record.op).observe(seconds)
        if not new:
            return
        if isinstance(record, StartResponse):
            m.surveys_started.labels(survey=record.survey).inc()
        elif isinstance(record, NotOffered):
            m.not_offered.labels(reason=record.reason).inc()
        elif isinstance(record, SaveAnswer):
            m.answers.labels(question=record.question, score=score_label(record.score)).inc()
        elif isinstance(record, FinishResponse):
            survey = self._survey_of.pop(record, UNKNOWN_SURVEY)
            m.surveys_ended.labels(status=record.status, survey=survey).inc()
