"""Capped exponential backoff with full jitter.

The n-th delay (counting from 0 after construction or :meth:`Backoff.reset`) is drawn
uniformly from ``[0, min(cap, initial * factor**n)]`` ("full jitter", see the AWS
architecture blog post "Exponential Backoff And Jitter"). Full jitter spreads the
reconnect attempts of many clients that lost the same server at the same moment, and the
exponential ceiling keeps a client that keeps failing from hammering the server.

Pure: no clock, no sleeping; the caller sleeps for the returned delay.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Capped exponential backoff with full jitter.

    >>> b = Backoff(initial=0.5, cap=30.0, rng=random.Random(1))
    >>> 0.0 <= b.next_delay() <= 0.5
    True
    """

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
        *,
        attempt: int = 0,
    ) -> None:
        """`attempt`: how many delays were handed out already (a retry whose count is stored, e.g. the outbox's)."""
        if initial <= 0:
            raise ValueError("initial must be > 0")
        if cap < initial:
            raise ValueError("cap must be >= initial")
        if factor < 1:
            raise ValueError("factor must be >= 1")
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self._rng = rng if rng is not None else random.Random()
        self._attempt = attempt

    @property
    def attempt(self) -> int:
        """How many delays were handed out since construction or the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay (before jitter)."""
        # Compare exponents instead of computing factor**attempt, which overflows
        # after a few hundred failures.
        ceiling = self.initial
        for _ in range(self._attempt):
            ceiling *= self.factor
            if ceiling >= self.cap:
                return self.cap
        return min(ceiling, self.cap)

    def next_delay(self) -> float:
        """Return the next delay in seconds, in ``[0, min(cap, initial * factor**n)]``."""
        ceiling = self.ceiling()
        self._attempt += 1
        return self._rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        """Start again from ``initial`` (after a connection that stayed up)."""
        self._attempt = 0

    def __repr__(self) -> str:
        return f"Backoff(initial={self.initial!r}, cap={self.cap!r}, factor={self.factor!r}, attempt={self._attempt})"
