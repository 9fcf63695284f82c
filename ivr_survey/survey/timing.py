"""How patiently the survey waits; the definition says what is asked, this says for how long."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timing:
    no_input_timeout: float = 5.0  # silence after the prompt finished, before asking again
    inter_digit_timeout: float = 3.0  # between the keys of a multi-key answer
    max_retries: int = 2  # re-asks after the first attempt; attempts allowed = 1 + max_retries
    playback_guard: float = 60.0  # if Asterisk never reports the end of a playback, behave as if it ended

    def __post_init__(self) -> None:
        for name in ("no_input_timeout", "inter_digit_timeout", "playback_guard"):
            value = getattr(self, name)
            # A zero or negative timeout would re-ask in a tight loop; NaN would never fire.
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if not is_number or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        retries = self.max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {retries!r}")

    @property
    def max_attempts(self) -> int:
        return 1 + self.max_retries


DEFAULT_TIMING = Timing()
