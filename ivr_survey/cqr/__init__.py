"""Call quality rate (CQR): call types, criteria, default scorecards and the arithmetic. Pure: no I/O.

A supervisor listens to a call, picks its call type and scores each criterion of that type's scorecard
0 (not done), 0.5 (tried, not finished) or 1 (done). CQR = 100 × Σ(score × weight) / Σ(weight); a call with
CQR >= GOOD_THRESHOLD is a good call. docs/cqr.md explains the default scorecards with worked examples."""

from .scoring import (
    CALL_TYPES,
    CRITERIA,
    DEFAULT_SCORECARDS,
    GOOD_THRESHOLD,
    SCORE_VALUES,
    CqrError,
    compute_cqr,
    is_good,
    validate_call_type,
    validate_scorecard,
    validate_scores,
)

__all__ = [
    "CALL_TYPES",
    "CRITERIA",
    "DEFAULT_SCORECARDS",
    "GOOD_THRESHOLD",
    "SCORE_VALUES",
    "CqrError",
    "compute_cqr",
    "is_good",
    "validate_call_type",
    "validate_scorecard",
    "validate_scores",
]
