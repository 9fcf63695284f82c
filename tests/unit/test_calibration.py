"""Calibration arithmetic on seeded scores: exact spreads, deviations and shares against the majority."""

from __future__ import annotations

from ivr_survey.cqr.calibration import Calibration, CriterionSpread, Scored, SupervisorCalibration, calibrate
from tests.support.scorecards import OBJECTION_82_5, QUALIFICATION_62_5

QUALIFICATION_70_83 = {**QUALIFICATION_62_5, "closing": 1}


def _scored(call: str, supervisor: str, cqr: float, scores: dict) -> Scored:
    return Scored(call, supervisor, cqr, {k: float(v) for k, v in scores.items()})


def test_three_supervisors_on_two_shared_calls() -> None:
    """C1: sue and max 62.5, sam 70.83 (he gave closing 1, they 0.5); C2: sue and sam 82.5; C3 sue alone."""
    result = calibrate(
        [
            _scored("C1", "sue", 62.5, QUALIFICATION_62_5),
            _scored("C1", "sam", 70.83, QUALIFICATION_70_83),
            _scored("C1", "max", 62.5, QUALIFICATION_62_5),
            _scored("C2", "sue", 82.5, OBJECTION_82_5),
            _scored("C2", "sam", 82.5, OBJECTION_82_5),
            _scored("C3", "sue", 100.0, OBJECTION_82_5),
        ]
    )
    both = ("greeting", "identifying_problem", "presenting_product", "initiative", "tone")
    assert result == Calibration(
        calls=2,
        criteria=sorted(
            [
                CriterionSpread("closing", 2, 0.25, 1),
                *(CriterionSpread(c, 2, 0.0, 0) for c in both),
                CriterionSpread("script", 1, 0.0, 0),
                CriterionSpread("handling_objections", 1, 0.0, 0),
                CriterionSpread("difficult_client", 1, 0.0, 0),
            ],
            key=lambda s: s.criterion,
        ),
        supervisors=[
            # max: 62.5 - (62.5 + 70.83) / 2 = -4.165 on C1 alone; the others split on closing: no majority there
            SupervisorCalibration("max", 1, -4.17, 4.17, 6, 0, 0.0),
            # sam: +8.33 on C1, 0 on C2; against sue and max on closing, the one of his 15 criteria with a majority
            SupervisorCalibration("sam", 2, 4.17, 4.17, 15, 1, 0.0667),
            # sue: -4.165 on C1, 0 on C2
            SupervisorCalibration("sue", 2, -2.08, 2.08, 14, 0, 0.0),
        ],
    )


def test_nothing_shared_is_nothing_to_calibrate() -> None:
    assert calibrate([_scored("C1", "sue", 62.5, QUALIFICATION_62_5)]) == Calibration(0, [], [])
