"""What a campaign's dial pattern may be: a table of endpoints."""

from __future__ import annotations

import pytest

from ivr_survey.service.campaigns import endpoint_problem

REFUSED = "must look like Tech/resource with {number} once, e.g. PJSIP/{number}@trunk or Local/{number}@customers"


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("PJSIP/{number}@trunk", None),
        ("Local/{number}@customers", None),
        ("SIP/trunk/{number}", None),
        ("PJSIP/8{number}@trunk", None),
        ("IAX2/user:secret@host/{number}", None),
        ("DAHDI/g1/{number}", None),
        ("", REFUSED),
        ("PJSIP", REFUSED),
        ("PJSIP/", REFUSED),
        ("PJSIP/trunk", REFUSED),  # no {number}
        ("/{number}", REFUSED),  # no technology
        ("1PJSIP/{number}", REFUSED),
        ("PJSIP/{number}@{number}", REFUSED),  # twice
        ("PJSIP/{number},30", REFUSED),  # Dial()'s options are not the endpoint's
        ("PJSIP/{number} @trunk", REFUSED),
        ("PJSIP/{NUMBER}@trunk", REFUSED),
        ("PJSIP/{number}@" + "t" * 241, None),  # 256 characters
        ("PJSIP/{number}@" + "t" * 242, "is longer than 256 characters"),
    ],
)
def test_endpoint(endpoint: str, problem: str | None) -> None:
    assert endpoint_problem(endpoint) == problem
