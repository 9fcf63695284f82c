"""CQR bands: what a CQR means, per scorecard. Each band starts at a CQR (from, inclusive) and runs up to the next
band's start; the lowest starts at 0. The default is the method's: 80-100 good, below that to work on."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .scoring import GOOD_THRESHOLD, CqrError

MAX_BANDS = 6
MAX_LABEL = 40
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True, slots=True)
class Band:
    start: float  # the CQR it starts at (the JSON's "from")
    label: str
    colour: str  # #rrggbb

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.start, "label": self.label, "colour": self.colour}


DEFAULT_BANDS = (Band(GOOD_THRESHOLD, "good", "#2e7d32"), Band(0.0, "to work on", "#c62828"))


def validate_bands(raw: Any) -> tuple[Band, ...]:
    """Bands from their JSON (a list of {"from", "label", "colour"}), highest first; one must start at 0, no two
    at the same CQR or with the same label. CqrError naming the field otherwise."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise CqrError("bands", "bands must be a list of {from, label, colour}, one starting at 0")
    if len(raw) > MAX_BANDS:
        raise CqrError("bands", f"at most {MAX_BANDS} bands")
    bands = []
    for n, item in enumerate(raw):
        where = f"bands.{n}"
        if not isinstance(item, dict) or set(item) != {"from", "label", "colour"}:
            raise CqrError(where, "a band is {from, label, colour}")
        start, label, colour = item["from"], item["label"], item["colour"]
        if isinstance(start, bool) or not isinstance(start, int | float) or not math.isfinite(start):
            raise CqrError(f"{where}.from", "from must be a CQR from 0 to 100")
        if not 0 <= start <= 100:
            raise CqrError(f"{where}.from", "from must be a CQR from 0 to 100")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            raise CqrError(f"{where}.label", f"label must be text of 1 to {MAX_LABEL} characters")
        if not isinstance(colour, str) or not _COLOUR.match(colour):
            raise CqrError(f"{where}.colour", "colour must be #rrggbb")
        bands.append(Band(float(start), label.strip(), colour.lower()))
    bands.sort(key=lambda b: b.start, reverse=True)
    if bands[-1].start != 0:
        raise CqrError("bands", "the lowest band must start at 0")
    if len({b.start for b in bands}) != len(bands) or len({b.label for b in bands}) != len(bands):
        raise CqrError("bands", "no two bands may start at the same CQR or share a label")
    return tuple(bands)


def stored_bands(raw: Any) -> tuple[Band, ...]:
    """A scorecard version's bands as stored (None: the default)."""
    return DEFAULT_BANDS if raw is None else validate_bands(raw)


def band_of(cqr: float, bands: Sequence[Band] = DEFAULT_BANDS) -> Band:
    return next(b for b in bands if cqr >= b.start)
