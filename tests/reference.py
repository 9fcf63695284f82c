"""Where the real Asterisk 22 reference (API description, traces, dialplan) is: ../shared/asterisk-ari beside
the workspace, or IVR_SURVEY_ARI_REFERENCE."""

from __future__ import annotations

import os
from pathlib import Path

REFERENCE = Path(os.environ.get("IVR_SURVEY_ARI_REFERENCE", "/work/shared/asterisk-ari"))
TRACES = REFERENCE / "traces"
