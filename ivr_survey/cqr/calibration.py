"""Calibration: how supervisors who scored the same calls agree. Pure arithmetic over evaluations.

Only calls scored by two or more supervisors count. Per criterion (on the calls where two or more scored it):
the mean range of the scores given (max - min: 0 when all agree, 1 when one gave 0 and another 1) and the calls
where they differed. Per supervisor: the mean deviation of their CQR from the mean CQR of the others on the same
calls (signed: above 0 they score higher than their colleagues) and its mean absolute value; and of the
criteria they scored where the others have a majority (a score more than half of the others gave; with one other,
that one's), the share where they gave another score."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Scored:
    call_id: str
    supervisor: str
    cqr: float
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class CriterionSpread:
    criterion: str
    calls: int  # calls two or more scored it on
    mean_range: float
    differed: int  # of those, the calls where the scores were not all the same


@dataclass(frozen=True, slots=True)
class SupervisorCalibration:
    supervisor: str
    calls: int  # calls they scored that others scored too
    mean_deviation: float  # their CQR minus the others' mean, averaged over those calls
    mean_absolute_deviation: float
    criteria: int  # criteria they scored where the others have a majority
    against_majority: int
    against_majority_share: float | None


@dataclass(frozen=True, slots=True)
class Calibration:
    calls: int  # calls scored by two or more supervisors
    criteria: list[CriterionSpread]
    supervisors: list[SupervisorCalibration]


def _round(value: Fraction, digits: int) -> float:
    """Half away from zero, as a CQR is rounded (round() would take 4.165 to 4.16)."""
    scale = 10**digits
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return float(Fraction(magnitude if value >= 0 else -magnitude, scale))


def _exact(value: float) -> Fraction:
    """A stored score or CQR as the decimal it was written as (70.83, not the float nearest to it)."""
    return Fraction(str(value))


def _majority(scores: list[float]) -> float | None:
    if not scores:
        return None
    score, n = Counter(scores).most_common(1)[0]
    return score if 2 * n > len(scores) else None


def calibrate(evaluations: Iterable[Scored]) -> Calibration:
    by_call: dict[str, dict[str, Scored]] = defaultdict(dict)
    for ev in evaluations:
        by_call[ev.call_id][ev.supervisor] = ev  # one evaluation per supervisor and call
    shared = {call: evs for call, evs in by_call.items() if len(evs) >= 2}

    ranges: dict[str, list[Fraction]] = defaultdict(list)
    deviations: dict[str, list[Fraction]] = defaultdict(list)
    majority_counts: dict[str, list[bool]] = defaultdict(list)  # supervisor -> against the majority, per criterion
    for evs in shared.values():
        criteria = {c for ev in evs.values() for c in ev.scores}
        for criterion in criteria:
            given = [_exact(ev.scores[criterion]) for ev in evs.values() if criterion in ev.scores]
            if len(given) >= 2:
                ranges[criterion].append(max(given) - min(given))
        for name, ev in evs.items():
            others = [o for other, o in evs.items() if other != name]
            mean_others = sum((_exact(o.cqr) for o in others), Fraction(0)) / len(others)
            deviations[name].append(_exact(ev.cqr) - mean_others)
            for criterion, score in ev.scores.items():
                majority = _majority([o.scores[criterion] for o in others if criterion in o.scores])
                if majority is not None:
                    majority_counts[name].append(score != majority)

    spreads = [
        CriterionSpread(c, len(r), _round(sum(r, Fraction(0)) / len(r), 4), sum(1 for x in r if x))
        for c, r in sorted(ranges.items())
    ]
    supervisors = []
    for name in sorted(deviations):
        d, against = deviations[name], majority_counts[name]
        supervisors.append(
            SupervisorCalibration(
                supervisor=name,
                calls=len(d),
                mean_deviation=_round(sum(d, Fraction(0)) / len(d), 2),
                mean_absolute_deviation=_round(sum((abs(x) for x in d), Fraction(0)) / len(d), 2),
                criteria=len(against),
                against_majority=sum(against),
                against_majority_share=round(sum(against) / len(against), 4) if against else None,
            )
        )
    return Calibration(len(shared), spreads, supervisors)
