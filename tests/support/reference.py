"""Where the real Asterisk 22 reference (API description, traces, dialplan) is: ../shared/asterisk-ari
relative to the repository, or IVR_SURVEY_ARI_REFERENCE."""

from __future__ import annotations

import os
from pathlib import Path

_BESIDE_THE_REPOSITORY = Path(__file__).resolve().parents[3] / "shared" / "asterisk-ari"
REFERENCE = Path(os.environ.get("IVR_SURVEY_ARI_REFERENCE", _BESIDE_THE_REPOSITORY))
TRACES = REFERENCE / "traces"
