from typing import Any

import pytest

from ivr_survey.service.args import SurveyArgs, campaign_args, parse_args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["operator=7001"], SurveyArgs(operator="7001", raw={"operator": "7001"})),
        (
            ["lang=ru", "survey=csat3", "queue=sales", "operator=7002"],
            SurveyArgs(
                operator="7002",
                queue="sales",
                survey="csat3",
                lang="ru",
                raw={"lang": "ru", "survey": "csat3", "queue": "sales", "operator": "7002"},
            ),
        ),
        (
            ["queue=sales", "campaign=spring"],
            SurveyArgs(queue="sales", raw={"queue": "sales", "campaign": "spring"}),
        ),
        (["operator="], SurveyArgs(raw={"operator": ""})),
        ([], SurveyArgs()),
        # The traced dialplan's older form: Stasis(ivr-survey,post-call,7001)
        (["post-call", "7001"], SurveyArgs(operator="7001", raw={"arg1": "post-call", "arg2": "7001"})),
        ([" operator = 7003 ", "=x", ""], SurveyArgs(operator="7003", raw={"operator": "7003", "arg2": "=x"})),
        (["operator=7001", "note=a=b"], SurveyArgs(operator="7001", raw={"operator": "7001", "note": "a=b"})),
        # A campaign call's appArgs, as StasisStart carries them.
        (
            ["campaign=12", "contact=345", "attempt=2", "optout=9"],
            SurveyArgs(
                campaign=12,
                contact=345,
                attempt=2,
                optout="9",
                raw={"campaign": "12", "contact": "345", "attempt": "2", "optout": "9"},
            ),
        ),
        (["optout=#", "attempt=007"], SurveyArgs(attempt=7, optout="#", raw={"optout": "#", "attempt": "007"})),
        # Not whole numbers, or not one DTMF key: kept only in raw.
        (
            ["campaign=-1", "contact=3.5", "attempt=+2", "optout=99"],
            SurveyArgs(raw={"campaign": "-1", "contact": "3.5", "attempt": "+2", "optout": "99"}),
        ),
        (
            ["campaign=1_000", "contact=٣", "attempt=", "optout=x"],
            SurveyArgs(raw={"campaign": "1_000", "contact": "٣", "attempt": "", "optout": "x"}),
        ),
        (["optout="], SurveyArgs(raw={"optout": ""})),
    ],
)
def test_parse_args(args: list[str], expected: SurveyArgs) -> None:
    assert parse_args(args) == expected


CAMPAIGN = {"campaign": 12, "contact": 345, "attempt": 2, "survey": "csat3", "operator": None, "optout": "9"}


@pytest.mark.parametrize(
    ("given", "text"),
    [
        (CAMPAIGN, "campaign=12,contact=345,attempt=2,survey=csat3,optout=9"),
        (
            {**CAMPAIGN, "operator": "7001", "optout": None, "lang": "ru"},
            "campaign=12,contact=345,attempt=2,survey=csat3,operator=7001,lang=ru",
        ),
        (
            {**CAMPAIGN, "survey": "nps 2024", "optout": "*"},
            "campaign=12,contact=345,attempt=2,survey=nps 2024,optout=*",
        ),
    ],
)
def test_campaign_args_round_trip(given: dict[str, Any], text: str) -> None:
    assert campaign_args(**given) == text
    # Stasis hands appArgs over split at the commas.
    assert parse_args(text.split(",")) == SurveyArgs(
        operator=given["operator"],
        survey=given["survey"],
        lang=given.get("lang"),
        campaign=given["campaign"],
        contact=given["contact"],
        attempt=given["attempt"],
        optout=given["optout"],
        raw={key: str(value) for key, value in given.items() if value is not None},
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"campaign": 0}, "campaign must be a positive integer, got 0"),
        ({"contact": -5}, "contact must be a positive integer, got -5"),
        ({"attempt": True}, "attempt must be a positive integer, got True"),
        ({"attempt": "2"}, "attempt must be a positive integer, got '2'"),
        ({"optout": "99"}, "optout must be one of the keys 0-9, *, #, A-D, got '99'"),
        ({"survey": "a,b"}, "survey 'a,b' cannot be a Stasis argument"),
        ({"operator": "x=y"}, "operator 'x=y' cannot be a Stasis argument"),
        ({"operator": "Ivanov (sales)"}, "operator 'Ivanov (sales)' cannot be a Stasis argument"),
        ({"survey": 'say "hi"'}, "cannot be a Stasis argument"),
        ({"survey": "back\\slash"}, "cannot be a Stasis argument"),
        ({"lang": ""}, "lang '' cannot be a Stasis argument"),
        ({"lang": " ru"}, "lang ' ru' cannot be a Stasis argument"),
    ],
)
def test_campaign_args_refuses_what_would_not_come_back(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        campaign_args(**{**CAMPAIGN, **changes})
    assert message in str(raised.value)
