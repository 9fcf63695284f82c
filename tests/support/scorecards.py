"""Scores with known CQRs on the default scorecards, shared by the CQR tests."""

from __future__ import annotations

from ivr_survey.cqr import DEFAULT_SCORECARDS

# qualification (Σw = 12): 1·1 + 0.5·3 + 1·2 + 0·2 + 0.5·2 + 1·1 + 1·1 = 7.5 -> 100 · 7.5 / 12 = 62.5; it loses
# 100·0.5·3/12 = 12.5 on identifying_problem, 100·2/12 = 16.67 on initiative, 100·0.5·2/12 = 8.33 on closing
QUALIFICATION_62_5 = {
    "greeting": 1,
    "identifying_problem": 0.5,
    "presenting_product": 1,
    "initiative": 0,
    "closing": 0.5,
    "tone": 1,
    "script": 1,
}
# objection (Σw = 20): 1 + 2 + 3 + 0.5·4 + 3 + 0.5·3 + 2 + 2 = 16.5 -> 100 · 16.5 / 20 = 82.5; it loses
# 100·0.5·4/20 = 10 on handling_objections, 100·0.5·3/20 = 7.5 on closing
OBJECTION_82_5 = {
    "greeting": 1,
    "identifying_problem": 1,
    "presenting_product": 1,
    "handling_objections": 0.5,
    "initiative": 1,
    "closing": 0.5,
    "tone": 1,
    "difficult_client": 1,
}
SPAM_ALL = dict.fromkeys(DEFAULT_SCORECARDS["spam"], 1)
