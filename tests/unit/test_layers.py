"""The API reads through the database layer and the service layer: importing it loads no adapter (ARI client,
FastAGI server, AMI collector and panoramisk) and no simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_importing_the_api_loads_no_adapter() -> None:
    code = (
        "import pkgutil, sys, ivr_survey.api as api\n"
        "for m in pkgutil.iter_modules(api.__path__): __import__(f'ivr_survey.api.{m.name}')\n"
        "print(sorted(n for n in sys.modules if n.startswith(('ivr_survey.ari', 'ivr_survey.agi', 'ivr_survey.ami',"
        " 'ivr_survey.simulator', 'panoramisk'))))\n"
        "print(len([n for n in sys.modules if n.startswith('ivr_survey.api.')]))"
    )
    repository = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repository)
    out = run.stdout.split("\n")
    assert out[0] == "[]"
    assert int(out[1]) >= 10  # every API module was imported
