"""The real-Asterisk reference is found from the repository, wherever it is cloned, and no source file names
a folder of the machine it was written on."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import tests.support.reference

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.skipif("IVR_SURVEY_ARI_REFERENCE" in os.environ, reason="the reference is named explicitly")
def test_reference_is_beside_the_repository() -> None:
    expected = REPOSITORY.parent / "shared" / "asterisk-ari"
    assert expected == tests.support.reference.REFERENCE


def test_no_source_names_an_absolute_workspace_path() -> None:
    pattern = re.compile(r"/(?:work|home|root)/[\w.-]+")
    found = [
        f"{path.relative_to(REPOSITORY)}: {match.group()}"
        for folder in ("ivr_survey", "tests", "bench")
        for path in sorted((REPOSITORY / folder).rglob("*.py"))
        if path != Path(__file__).resolve()
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
