import pytest

from ivr_survey.service.args import SurveyArgs, parse_args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["operator=7001"], SurveyArgs("7001", None, None, None, {"operator": "7001"})),
        (
            ["lang=ru", "survey=csat3", "queue=sales", "operator=7002"],
            SurveyArgs(
                "7002", "sales", "csat3", "ru", {"lang": "ru", "survey": "csat3", "queue": "sales", "operator": "7002"}
            ),
        ),
        (
            ["queue=sales", "campaign=spring"],
            SurveyArgs(None, "sales", None, None, {"queue": "sales", "campaign": "spring"}),
        ),
        (["operator="], SurveyArgs(None, None, None, None, {"operator": ""})),
        ([], SurveyArgs()),
        # The traced dialplan's older form: Stasis(ivr-survey,post-call,7001)
        (["post-call", "7001"], SurveyArgs("7001", None, None, None, {"arg1": "post-call", "arg2": "7001"})),
        ([" operator = 7003 ", "=x", ""], SurveyArgs("7003", None, None, None, {"operator": "7003", "arg2": "=x"})),
        (["operator=7001", "note=a=b"], SurveyArgs("7001", None, None, None, {"operator": "7001", "note": "a=b"})),
    ],
)
def test_parse_args(args: list[str], expected: SurveyArgs) -> None:
    assert parse_args(args) == expected
