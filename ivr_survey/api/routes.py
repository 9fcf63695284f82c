"""Every route of the API, once: the app registers its handlers from this table and /openapi.json is built
from it."""

from __future__ import annotations

from ..cqr import CALL_TYPES
from ..db.operators import MAX_CODE
from ..metrics.http import get_metrics
from . import calibration, calls, campaigns, cqr, disputes, live, operators, outbox, params, policies, ratings, review
from .auth import METRICS_PATH
from .errors import ErrorBody
from .health import Health, healthz
from .params import MAX_ID
from .spec import CSV, Reply, Route, build_spec, get_openapi

CALL_ID = {"type": "string", "description": "the call's linkedid"}
CALL_TYPE = {"type": "string", "enum": list(CALL_TYPES)}
OPERATOR_ID = {"type": "string", "minLength": 1, "maxLength": MAX_CODE, "description": "e.g. 7001"}
REFUSED = (400, 401, 404, 409)
CAMPAIGN_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
LISTEN_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
EVALUATION_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
PHONE = {"type": "string", "minLength": 1, "description": "as stored, URL-encoded: %2B79161234567"}
METRICS_EXAMPLE = (
    "# HELP ivr_survey_surveys_total Surveys ended, by final status\n# TYPE ivr_survey_surveys_total counter\n"
    'ivr_survey_surveys_total{status="completed",survey="default"} 42.0\n'
)
CONTACTS_CSV = {
    "text/csv": {
        "schema": {"type": "string"},
        "example": "phone,name,operator,timezone,segment\r\n8 (916) 123-45-67,Анна,7001,Europe/Moscow,vip\r\n",
        "description": "UTF-8 (a BOM is fine), commas or semicolons; a header naming phone (required) and any of"
        " name, operator (the manager the customer belongs to), timezone (the contact's own for calling hours);"
        " any other column is kept as a tag",
    }
}


def _steering(command: str, summary: str) -> Route:
    return Route(
        "POST",
        f"/campaigns/{{id}}/{command}",
        campaigns.steer(command),
        summary,
        role="supervisor",
        refusals=REFUSED,
        path_schemas={"id": CAMPAIGN_ID},
        replies={
            200: Reply(model=campaigns.Campaign),
            409: Reply("not from the state it is in (code campaign_state, details: state, wanted)", ErrorBody),
        },
    )


ROUTES = (
    Route(
        "GET",
        "/healthz",
        healthz,
        "Health probe (no token): 200 while answers are safe, 503 naming what is wrong",
        public=True,
        refusals=(),
        replies={200: Reply(model=Health), 503: Reply("the database unreachable or lost, or no safe spool", Health)},
    ),
    Route(
        "GET",
        "/ratings",
        ratings.get_ratings,
        "One item per surveyed call, newest first; CSV with format=csv or Accept: text/csv",
        query=ratings.RatingsQuery,
        replies={200: Reply("a page, or the whole query as CSV", ratings.RatingsPage, CSV)},
        operators=True,
    ),
    Route(
        "GET",
        "/ratings/summary",
        ratings.get_summary,
        "Aggregates over a period (default the last 30 days), computed by the database",
        query=ratings.SummaryQuery,
        replies={200: Reply(model=ratings.Summary)},
        operators=True,
    ),
    Route(
        "GET",
        "/operators",
        operators.list_operators,
        "Every operator: CSAT next to CQR over a period (default the last 30 days)",
        query=operators.OperatorQuery,
        replies={200: Reply(model=operators.OperatorList)},
    ),
    Route(
        "GET",
        "/operators/{operator}",
        operators.get_operator,
        "One operator: CSAT, CQR and the weekly trend (default the last 12 weeks)",
        query=operators.OperatorQuery,
        refusals=(400, 401, 404),
        replies={200: Reply(model=operators.OperatorDetail)},
        operators=True,
    ),
    Route(
        "PUT",
        "/operators/{operator}",
        operators.put_operator,
        "Admin: set an operator's name and team (a field left out keeps its value, null clears it)",
        body=operators.OperatorUpdate,
        role="admin",
        path_schemas={"operator": OPERATOR_ID},
        replies={201: Reply("a new operator", operators.Operator), 200: Reply("updated", operators.Operator)},
    ),
    Route(
        "GET",
        "/survey-policies",
        policies.list_policies,
        "Admin: every queue's survey policy (who is offered the survey), its newest version",
        role="admin",
        replies={200: Reply(model=policies.PolicyList)},
    ),
    Route(
        "PUT",
        "/survey-policies/{queue}",
        policies.put_policy,
        "Admin: set a queue's survey policy (_default: calls with no queue); a change adds a version",
        body=policies.PolicyUpdate,
        role="admin",
        path_schemas={"queue": {"type": "string", "minLength": 1, "maxLength": 128, "description": "e.g. sales"}},
        replies={201: Reply("a new version", policies.Policy), 200: Reply("unchanged", policies.Policy)},
    ),
    Route(
        "GET",
        "/review-queue",
        review.get_review_queue,
        "The calls to listen to on a day: every call rated 1-2, then a reproducible sample",
        query=review.ReviewQuery,
        replies={200: Reply(model=review.ReviewQueue)},
    ),
    Route(
        "GET",
        "/cqr/call-types",
        cqr.get_call_types,
        "The five call types with their current criteria and weights",
        query=None,
        replies={200: Reply(model=list[cqr.CallType])},
        operators=True,
    ),
    Route(
        "GET",
        "/cqr/scorecards/{call_type}",
        cqr.get_scorecard,
        "A call type's current scorecard (or an older version)",
        query=cqr.ScorecardQuery,
        refusals=(400, 401, 404),
        path_schemas={"call_type": CALL_TYPE},
        replies={200: Reply(model=cqr.Scorecard)},
        operators=True,
    ),
    Route(
        "PUT",
        "/cqr/scorecards/{call_type}",
        cqr.put_scorecard,
        "Admin: store the whole scorecard as the next version: every current criterion weighted again or"
        " listed in remove (past evaluations keep their CQR)",
        body=cqr.ScorecardUpdate,
        role="admin",
        refusals=REFUSED,
        path_schemas={"call_type": CALL_TYPE},
        replies={200: Reply(model=cqr.Scorecard)},
    ),
    Route(
        "POST",
        "/cqr/evaluations",
        cqr.post_evaluation,
        "Supervisor: score a call; returns its CQR",
        body=cqr.EvaluationRequest,
        role="supervisor",
        refusals=REFUSED,
        replies={201: Reply("evaluated", cqr.Evaluation), 200: Reply("an earlier evaluation replaced", cqr.Evaluation)},
    ),
    Route(
        "GET",
        "/cqr/evaluations",
        cqr.get_evaluations,
        "Evaluations, newest first (from/to: when they were made)",
        query=cqr.EvaluationsQuery,
        replies={200: Reply(model=cqr.EvaluationsPage)},
        operators=True,
    ),
    Route(
        "POST",
        "/cqr/evaluations/{id}/disputes",
        disputes.post_dispute,
        "Operator: dispute an evaluation of your call (within IVR_SURVEY_DISPUTE_DAYS of it), with a comment",
        body=disputes.DisputeRequest,
        operators=True,
        refusals=REFUSED,
        path_schemas={"id": EVALUATION_ID},
        replies={
            201: Reply("opened", disputes.Dispute),
            403: Reply("not an operator's token, or not your call", ErrorBody),
            409: Reply("a dispute is open, the evaluation was accepted, or the days to dispute it are over", ErrorBody),
        },
    ),
    Route(
        "POST",
        "/cqr/evaluations/{id}/accept",
        disputes.post_accept,
        "Operator: accept an evaluation of your call as it stands",
        query=None,
        operators=True,
        refusals=REFUSED,
        path_schemas={"id": EVALUATION_ID},
        replies={200: Reply(model=disputes.Accepted)},
    ),
    Route(
        "POST",
        "/cqr/evaluations/{id}/disputes/{dispute_id}/resolve",
        disputes.post_resolve,
        "Supervisor (not the evaluator): uphold the evaluation, or revise its scores (a new version)",
        body=disputes.ResolveRequest,
        role="supervisor",
        refusals=REFUSED,
        path_schemas={"id": EVALUATION_ID, "dispute_id": EVALUATION_ID},
        replies={
            200: Reply(model=disputes.Dispute),
            403: Reply("the evaluator's own evaluation (code own_evaluation), or the role may not", ErrorBody),
            409: Reply("decided already", ErrorBody),
        },
    ),
    Route(
        "GET",
        "/cqr/evaluations/{id}/versions",
        disputes.get_versions,
        "An evaluation's versions, first first: the current one is what the CQR figures count",
        query=None,
        operators=True,
        refusals=(400, 401, 404),
        path_schemas={"id": EVALUATION_ID},
        replies={200: Reply(model=disputes.Versions)},
    ),
    Route(
        "GET",
        "/cqr/disputes",
        disputes.get_disputes,
        "Disputes, newest first (an operator's token: its own)",
        query=disputes.DisputesQuery,
        operators=True,
        replies={200: Reply(model=disputes.DisputeList)},
    ),
    Route(
        "GET",
        "/cqr/disputes/report",
        disputes.get_report,
        "Supervisor: per evaluator, the disputes of their evaluations opened in the period, open, upheld, revised",
        query=params.Period,
        role="supervisor",
        replies={200: Reply(model=disputes.DisputeReport)},
    ),
    Route(
        "GET",
        "/cqr/calibration",
        cqr.get_calibration,
        "Supervisor: how supervisors who scored the same calls agree: per criterion the spread, per supervisor the"
        " deviation from the others' CQR and the share of criteria scored against their majority",
        query=cqr.CalibrationQuery,
        role="supervisor",
        replies={200: Reply(model=cqr.Calibration)},
    ),
    Route(
        "POST",
        "/cqr/calibration/sessions",
        calibration.post_session,
        "Admin: a blind calibration: these supervisors score these calls, none seeing another's scores of a call"
        " before all have scored it",
        body=calibration.SessionRequest,
        role="admin",
        replies={201: Reply("created", calibration.Session)},
    ),
    Route(
        "GET",
        "/cqr/calibration/sessions",
        calibration.get_sessions,
        "Supervisor: the calibration sessions, newest first, with who scored which call",
        query=None,
        role="supervisor",
        replies={200: Reply(model=calibration.SessionList)},
    ),
    Route(
        "GET",
        "/cqr/calibration/sessions/{id}",
        calibration.get_session,
        "Supervisor: a calibration session; its calibration once every listed supervisor scored every call (or it"
        " was closed)",
        query=None,
        role="supervisor",
        refusals=(400, 401, 404),
        path_schemas={"id": EVALUATION_ID},
        replies={200: Reply(model=calibration.Session)},
    ),
    Route(
        "POST",
        "/cqr/calibration/sessions/{id}/close",
        calibration.post_close,
        "Admin: close a calibration session: its scores are revealed as they are",
        query=None,
        role="admin",
        refusals=(400, 401, 404),
        path_schemas={"id": EVALUATION_ID},
        replies={200: Reply(model=calibration.Session)},
    ),
    Route(
        "GET",
        "/cqr/criteria",
        cqr.get_criteria,
        "Per criterion, where the evaluated calls of a period (default the last 30 days) lose their CQR points",
        query=cqr.CriteriaQuery,
        replies={200: Reply(model=cqr.CriteriaSummary)},
    ),
    Route(
        "GET",
        "/calls",
        calls.get_calls,
        "The call history; sort by any column; CSV with format=csv or Accept: text/csv",
        query=calls.CallsQuery,
        replies={200: Reply("a page, or the whole query as CSV", calls.CallsPage, CSV)},
    ),
    Route(
        "GET",
        "/calls/stats",
        calls.get_call_stats,
        "Operator load per operator, queue, hour, day or hour of the day, or in total, over a period (default the last"
        " 30 days)",
        query=calls.StatsQuery,
        replies={200: Reply(model=calls.CallStats)},
    ),
    Route(
        "GET",
        "/calls/live",
        live.get_live_calls,
        "The calls in progress now, from the AMI call history (callers' numbers masked for analysts)",
        query=None,
        refusals=(400, 401),
        replies={
            200: Reply(model=live.LiveCalls),
            409: Reply("no AMI call history here (code live_unavailable)", ErrorBody),
        },
    ),
    Route(
        "POST",
        "/calls/{call_id}/listen",
        live.post_listen,
        "Supervisor: call your endpoint and, when you answer, let you hear the call (listen), speak to the operator"
        " (whisper) or to both (barge); audited",
        body=live.ListenRequest,
        role="supervisor",
        refusals=(400, 401, 403, 404, 409),
        path_schemas={"call_id": CALL_ID},
        replies={
            201: Reply("the listen, ringing your endpoint", live.Listen),
            403: Reply("listening is off here (code listening_off), or the role may not", ErrorBody),
            409: Reply(
                "no operator talks on the call now (code no_operator_channel), or no AMI call history here", ErrorBody
            ),
            422: Reply("Asterisk refused the endpoint (code endpoint_refused)", ErrorBody),
            503: Reply("Asterisk cannot be reached, no ARI here, or this instance is the standby", ErrorBody),
        },
    ),
    Route(
        "GET",
        "/listens/{id}",
        live.get_listen,
        "Supervisor: a listen, its state and how it ended",
        query=None,
        role="supervisor",
        refusals=(400, 401, 403, 404),
        path_schemas={"id": LISTEN_ID},
        replies={200: Reply(model=live.Listen)},
    ),
    Route(
        "DELETE",
        "/listens/{id}",
        live.delete_listen,
        "Supervisor: end a listen (one ended already is answered as it is)",
        query=None,
        role="supervisor",
        refusals=(400, 401, 403, 404),
        path_schemas={"id": LISTEN_ID},
        replies={200: Reply(model=live.Listen)},
    ),
    Route(
        "GET",
        "/audit/listens",
        live.get_audit,
        "Admin: every listen to a live call, newest first: who, which call and operator, mode, start and end",
        query=live.AuditQuery,
        role="admin",
        refusals=(400, 401, 403),
        replies={200: Reply(model=live.ListenList)},
    ),
    Route(
        "GET",
        "/calls/{call_id}",
        calls.get_one_call,
        "One call with its survey response and CQR evaluations",
        query=None,
        refusals=(400, 401, 404),
        path_schemas={"call_id": CALL_ID},
        replies={200: Reply(model=calls.CallDetail)},
    ),
    Route(
        "GET",
        "/calls/{call_id}/recording",
        calls.get_recording,
        "Supervisor: the call's recording, with Range support",
        role="supervisor",
        refusals=(400, 401, 404),
        path_schemas={"call_id": CALL_ID},
        headers=[
            {
                "name": "Range",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "example": "bytes=0-1023"},
            }
        ],
        replies={
            200: Reply("the file", content={"audio/x-wav": {"schema": {"type": "string", "format": "binary"}}}),
            206: Reply("the requested range"),
            416: Reply("the range is outside the file"),
        },
        operators=True,
    ),
    Route(
        "POST",
        "/campaigns",
        campaigns.post_campaign,
        "Supervisor: a draft campaign calling a list of customers to ask them a survey",
        body=campaigns.CampaignRequest,
        role="supervisor",
        replies={201: Reply("created, as draft", campaigns.Campaign)},
    ),
    Route(
        "GET",
        "/campaigns",
        campaigns.list_campaigns,
        "Every campaign, newest first, with its progress",
        query=campaigns.CampaignsQuery,
        replies={200: Reply(model=campaigns.CampaignList)},
    ),
    Route(
        "GET",
        "/campaigns/{id}",
        campaigns.get_campaign,
        "One campaign: its progress, response rate and the summary of its answers",
        query=campaigns.CampaignQuery,
        refusals=(400, 401, 404),
        path_schemas={"id": CAMPAIGN_ID},
        replies={200: Reply(model=campaigns.CampaignDetail)},
    ),
    Route(
        "POST",
        "/campaigns/{id}/contacts",
        campaigns.post_contacts,
        "Supervisor: add a CSV of contacts (Content-Type: text/csv, up to 20 MB); bad rows are named by line, the"
        " others kept",
        body_content=CONTACTS_CSV,
        role="supervisor",
        refusals=(*REFUSED, 413, 415),
        path_schemas={"id": CAMPAIGN_ID},
        replies={
            200: Reply("the rows added, and those refused", campaigns.UploadResult),
            409: Reply("the campaign is finished or cancelled (code campaign_state)", ErrorBody),
        },
    ),
    _steering("start", "Supervisor: start dialling a draft campaign (409 no_contacts without contacts)"),
    _steering("pause", "Supervisor: pause a running campaign (calls on the line finish)"),
    _steering("resume", "Supervisor: resume a paused campaign"),
    _steering("cancel", "Supervisor: cancel a campaign for good"),
    Route(
        "GET",
        "/campaigns/{id}/results",
        campaigns.get_results,
        "One row per contact with its outcome and answers; CSV (a column per question) with format=csv or Accept:"
        " text/csv",
        query=campaigns.ResultsQuery,
        refusals=(400, 401, 404),
        path_schemas={"id": CAMPAIGN_ID},
        replies={200: Reply("a page, or every contact as CSV", campaigns.ResultsPage, CSV)},
    ),
    Route(
        "GET",
        "/do-not-call",
        campaigns.get_dnc,
        "Supervisor: the numbers no campaign dials",
        query=campaigns.DncQuery,
        role="supervisor",
        replies={200: Reply(model=campaigns.DncPage)},
    ),
    Route(
        "POST",
        "/do-not-call",
        campaigns.post_dnc,
        "Supervisor: put a number on the do-not-call list",
        body=campaigns.DncRequest,
        role="supervisor",
        replies={201: Reply("added", campaigns.DncEntry), 200: Reply("already there", campaigns.DncEntry)},
    ),
    Route(
        "DELETE",
        "/do-not-call/{phone}",
        campaigns.delete_dnc,
        "Admin: take a number off the do-not-call list",
        role="admin",
        refusals=(400, 401, 404),
        path_schemas={"phone": PHONE},
        replies={204: Reply("taken off")},
    ),
    Route(
        "GET",
        "/events/outbox",
        outbox.get_outbox,
        "Admin: the events not delivered yet (pending, with their last error), and those given up on (failed:"
        " refused by the target; dropped: older than IVR_SURVEY_OUTBOX_MAX_AGE)",
        query=outbox.OutboxQuery,
        role="admin",
        replies={200: Reply(model=outbox.OutboxList)},
    ),
    Route(
        "POST",
        "/events/outbox/{id}/retry",
        outbox.post_retry,
        "Admin: send a failed or dropped delivery again (a pending one at once); a delivered one is left as it is",
        role="admin",
        refusals=(400, 401, 404),
        path_schemas={"id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
        replies={200: Reply(model=outbox.OutboxDelivery)},
    ),
    Route(
        "GET",
        METRICS_PATH,
        get_metrics,
        "Prometheus metrics (text format, or OpenMetrics when asked for). No token on loopback with no API token"
        " configured; else any API token or IVR_SURVEY_METRICS_TOKEN",
        refusals=(401,),
        replies={
            200: Reply(
                "the exposition; README, Operations, lists the metrics",
                content={"text/plain": {"schema": {"type": "string"}, "example": METRICS_EXAMPLE}},
            )
        },
    ),
    Route(
        "GET",
        "/openapi.json",
        get_openapi,
        "This document",
        public=True,
        refusals=(),
        replies={200: Reply(content={"application/json": {"schema": {"type": "object"}}})},
    ),
)

SPEC = build_spec(ROUTES, ErrorBody)
