"""The advisory lock's key: fixed per ARI app name (old and new versions must compete for the same lock during
a rolling upgrade), a signed 64-bit integer as pg_try_advisory_lock(bigint) takes it."""

from __future__ import annotations

import pytest

from ivr_survey.db.leadership import lock_key


@pytest.mark.parametrize(
    ("app_name", "key"),
    [
        ("ivr-survey", 1965100173786985901),
        ("ivr-survey-2", 4745861139397583420),
        ("IVR-SURVEY", 1589914888579323390),  # app names are case-sensitive in Asterisk
        ("ivr-survey-a", -1459839286055851671),  # the top bit set: a negative bigint
        ("survey", -2474437958194963363),
        ("", 3698745130240276942),
    ],
)
def test_lock_key(app_name: str, key: int) -> None:
    assert lock_key(app_name) == key
