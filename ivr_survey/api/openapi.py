"""GET /openapi.json: the API as OpenAPI 3.0; tests check the live API against it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..db.models import RESPONSE_STATUSES
from ..db.summary import GROUPINGS
from ..survey.definition import QUESTION_KINDS
from .params import MAX_LIMIT
from .responses import json_response

NULLABLE_NUMBER = {"type": "number", "nullable": True}
NULLABLE_STRING = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"minLength": 1, **(schema or {"type": "string"})}}


def json_body(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
}
PERIOD = [
    query("from", "start of the period, ISO 8601 with a time zone (inclusive)", TIME),
    query("to", "end of the period, ISO 8601 with a time zone (exclusive)", TIME),
]
TZ = query("tz", "IANA time zone for time buckets (default UTC)", {"type": "string", "example": "Europe/Moscow"})
RATING_FILTERS = [
    query("operator", "operator id, e.g. 7001"),
    query("queue", "queue name"),
    query("survey", "survey name"),
    query("status", "response status", {"type": "string", "enum": list(RESPONSE_STATUSES)}),
    *PERIOD,
    query("score_min", "lowest first-question score", {"type": "number"}),
    query("score_max", "highest first-question score", {"type": "number"}),
]
PAGE = [
    query("limit", f"items per page, 1-{MAX_LIMIT} (default 100)",
           {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    query("cursor", "next_cursor of the previous page"),
]

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "example": "invalid_parameter"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            }
        },
    },
    "Answer": {
        "type": "object",
        "required": ["question", "key", "score", "attempts"],
        "properties": {
            "question": {"type": "string"},
            "key": {**NULLABLE_STRING, "description": "keys pressed; null when unanswered after every attempt"},
            "score": NULLABLE_NUMBER,
            "attempts": {"type": "integer"},
        },
    },
    "Rating": {
        "type": "object",
        "required": ["call_id", "operator", "queue", "survey", "survey_version", "status", "score", "answers",
                     "caller", "started_at", "ended_at", "channel", "language", "channel_uniqueid"],
        "properties": {
            "call_id": {"type": "string", "description": "Asterisk's linkedid"},
            "channel_uniqueid": NULLABLE_STRING,
            "operator": NULLABLE_STRING,
            "queue": NULLABLE_STRING,
            "survey": {"type": "string"},
            "survey_version": {"type": "integer"},
            "channel": {"type": "string", "enum": ["ari", "agi"]},
            "language": {"type": "string"},
            "status": {"type": "string", "enum": list(RESPONSE_STATUSES)},
            "score": {**NULLABLE_NUMBER, "description": "the first question's score"},
            "answers": {"type": "array", "items": ref("Answer")},
            "caller": NULLABLE_STRING,
            "started_at": TIME,
            "ended_at": {**TIME, "nullable": True},
        },
    },
    "RatingsPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": ref("Rating")}, "next_cursor": NULLABLE_STRING},
    },
    "SummaryGroup": {
        "type": "object",
        "required": ["key", "offered", "responses", "response_rate", "average", "csat", "csat_ci95",
                     "csat_responses", "distribution"],
        "properties": {
            "key": {**NULLABLE_STRING, "description": "operator, queue, survey, or the bucket's local start"},
            "offered": {"type": "integer", "description": "surveys started (with question=: those asking it)"},
            "responses": {"type": "integer",
                          "description": "surveys whose first question (with question=: that one) was answered"},
            "response_rate": {**NULLABLE_NUMBER, "description": "responses / offered"},
            "average": {**NULLABLE_NUMBER, "description": "the responses' average score"},
            "csat": {**NULLABLE_NUMBER,
                     "description": "share of satisfied among csat_responses, each judged by the satisfied scores "
                                    "of the survey version it answered (default: 4-5 of a 1-5 scale); null when "
                                    "none was judged"},
            "csat_ci95": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                          "nullable": True, "description": "95 % Wilson interval of csat"},
            "csat_responses": {"type": "integer",
                               "description": "responses whose survey names satisfied scores: csat's denominator"},
            "distribution": {"type": "object", "additionalProperties": {"type": "integer"},
                             "description": "score ('4', '2.5') -> responses: every score of the question in the "
                                            "surveys in scope, and any other score counted"},
            "nps": {**NULLABLE_NUMBER, "description": "kind nps: % promoters (9-10) minus % detractors (0-6)"},
            "promoters": {"type": "integer", "description": "kind nps: responses scored 9-10"},
            "passives": {"type": "integer", "description": "kind nps: responses scored 7-8"},
            "detractors": {"type": "integer", "description": "kind nps: responses scored 0-6"},
            "yes": {"type": "integer", "description": "kind yes_no: responses scored 1"},
            "no": {"type": "integer", "description": "kind yes_no: responses scored 0"},
            "yes_share": {**NULLABLE_NUMBER, "description": "kind yes_no: yes / (yes + no)"},
            "yes_ci95": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                         "nullable": True, "description": "kind yes_no: 95 % Wilson interval of yes_share"},
            "cqr_average": {**NULLABLE_NUMBER, "description": "operator and time groupings only"},
            "cqr_evaluations": {"type": "integer"},
        },
    },
    "Summary": {
        "type": "object",
        "required": ["group_by", "from", "to", "tz", "question", "kind", "groups"],
        "properties": {
            "group_by": {"type": "string", "enum": list(GROUPINGS)},
            "from": TIME,
            "to": TIME,
            "tz": {"type": "string"},
            "question": {**NULLABLE_STRING,
                         "description": "the question= summarised; null: the first question of every survey"},
            "kind": {"type": "string", "enum": list(QUESTION_KINDS), "nullable": True,
                     "description": "the question's kind (null without question=); nps and yes_no groups add "
                                    "their fields"},
            "groups": {"type": "array", "items": ref("SummaryGroup")},
        },
    },
    "Csat": {
        "type": "object",
        "required": ["offered", "responses", "response_rate", "average", "csat", "csat_ci95"],
        "properties": {
            "offered": {"type": "integer"},
            "responses": {"type": "integer"},
            "response_rate": NULLABLE_NUMBER,
            "average": NULLABLE_NUMBER,
            "csat": NULLABLE_NUMBER,
            "csat_ci95": {"type": "array", "items": {"type": "number"}, "nullable": True},
        },
    },
    "Cqr": {
        "type": "object",
        "required": ["average", "evaluations"],
        "properties": {"average": NULLABLE_NUMBER, "evaluations": {"type": "integer"}},
    },
    "OperatorSummary": {
        "type": "object",
        "required": ["operator", "name", "csat", "cqr"],
        "properties": {"operator": {"type": "string"}, "name": NULLABLE_STRING, "csat": ref("Csat"),
                       "cqr": ref("Cqr")},
    },
    "OperatorList": {
        "type": "object",
        "required": ["from", "to", "items"],
        "properties": {"from": TIME, "to": TIME, "items": {"type": "array", "items": ref("OperatorSummary")}},
    },
    "OperatorDetail": {
        "type": "object",
        "required": ["operator", "name", "from", "to", "tz", "csat", "cqr", "trend"],
        "properties": {
            "operator": {"type": "string"},
            "name": NULLABLE_STRING,
            "from": TIME,
            "to": TIME,
            "tz": {"type": "string"},
            "csat": ref("Csat"),
            "cqr": ref("Cqr"),
            "trend": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["week", "offered", "responses", "average", "csat", "cqr_average",
                                 "cqr_evaluations"],
                    "properties": {
                        "week": TIME, "offered": {"type": "integer"}, "responses": {"type": "integer"},
                        "average": NULLABLE_NUMBER, "csat": NULLABLE_NUMBER, "cqr_average": NULLABLE_NUMBER,
                        "cqr_evaluations": {"type": "integer"},
                    },
                },
            },
        },
    },
    "ReviewQueue": {
        "type": "object",
        "required": ["date", "tz", "share", "operators", "items"],
        "properties": {
            "date": {"type": "string", "format": "date"},
            "tz": {"type": "string"},
            "share": {"type": "number"},
            "operators": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["operator", "calls", "selected"],
                    "properties": {"operator": {"type": "string"}, "calls": {"type": "integer"},
                                   "selected": {"type": "integer"}},
                },
            },
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["call_id", "operator", "queue", "started_at", "score", "reason", "evaluated"],
                    "properties": {
                        "call_id": {"type": "string"}, "operator": {"type": "string"}, "queue": NULLABLE_STRING,
                        "started_at": TIME, "score": NULLABLE_NUMBER,
                        "reason": {"type": "string", "enum": ["low_score", "sample"]},
                        "evaluated": {"type": "boolean"},
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database", "ari", "ami", "agi", "pending_records"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "database": {"type": "string", "enum": ["ok", "unreachable"]},
            "ari": {"type": "string", "enum": ["disabled", "connecting", "connected"]},
            "ami": {"type": "string", "enum": ["disabled", "connecting", "connected"]},
            "agi": {"type": "string", "enum": ["disabled", "listening"]},
            "pending_records": {"type": "integer"},
        },
    },
}

PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Health probe (no token): 200 while the database answers",
            "security": [],
            "responses": {"200": json_body(ref("Health")), "503": json_body(ref("Health"), "database unreachable")},
        }
    },
    "/ratings": {
        "get": {
            "summary": "One item per surveyed call, newest first; CSV with format=csv or Accept: text/csv",
            "parameters": [*RATING_FILTERS, *PAGE,
                           query("format", "json (default) or csv", {"type": "string", "enum": ["json", "csv"]})],
            "responses": {
                "200": {
                    "description": "a page, or the whole query as CSV",
                    "content": {"application/json": {"schema": ref("RatingsPage")},
                                "text/csv": {"schema": {"type": "string"}}},
                },
                **ERRORS,
            },
        }
    },
    "/ratings/summary": {
        "get": {
            "summary": "Aggregates over a period (default the last 30 days), computed by the database",
            "parameters": [
                query("group_by", "grouping (default operator)", {"type": "string", "enum": list(GROUPINGS)}),
                query("question", "a question's key, e.g. nps: its answers are summarised instead of the first "
                                  "question's, in the surveys asking it; 400 when none in scope asks it, or they "
                                  "ask it as different kinds", {"type": "string", "maxLength": 64}),
                TZ, *RATING_FILTERS,
            ],
            "responses": {"200": json_body(ref("Summary")), **ERRORS},
        }
    },
    "/operators": {
        "get": {
            "summary": "Every operator: CSAT next to CQR over a period (default the last 30 days)",
            "parameters": [*PERIOD, TZ],
            "responses": {"200": json_body(ref("OperatorList")), **ERRORS},
        }
    },
    "/operators/{operator}": {
        "get": {
            "summary": "One operator: CSAT, CQR and the weekly trend (default the last 12 weeks)",
            "parameters": [
                {"name": "operator", "in": "path", "required": True, "schema": {"type": "string"}},
                *PERIOD, TZ,
            ],
            "responses": {"200": json_body(ref("OperatorDetail")), **ERRORS,
                          "404": {"$ref": "#/components/responses/NotFound"}},
        }
    },
    "/review-queue": {
        "get": {
            "summary": "The calls to listen to on a day: every call rated 1-2, then a reproducible sample",
            "parameters": [
                query("date", "the day (default today in tz)", {"type": "string", "format": "date"}),
                query("share", "share of each operator's calls (default IVR_SURVEY_REVIEW_SHARE)",
                       {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1}),
                TZ,
            ],
            "responses": {"200": json_body(ref("ReviewQueue")), **ERRORS},
        }
    },
}


UNAVAILABLE = {"$ref": "#/components/responses/Unavailable"}


def _with_outages(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation reads the database, so any may meet an outage: a 503 unless it documents its own."""
    return {
        path: {method: {**op, "responses": {**op["responses"], "503": op["responses"].get("503", UNAVAILABLE)}}
               for method, op in operations.items()}
        for path, operations in paths.items()
    }


def build_spec(extra_paths: dict[str, Any] | None = None, extra_schemas: dict[str, Any] | None = None) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ivr-survey",
            "version": "1",
            "description": "Post-call survey ratings (CSAT) next to supervisors' call-quality scores (CQR).",
        },
        "security": [{"bearer": []}],
        "paths": _with_outages({**PATHS, **(extra_paths or {})}),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**SCHEMAS, **(extra_schemas or {})},
            "responses": {
                "BadRequest": json_body(ref("Error"), "a bad parameter, named in details.parameter"),
                "Unauthorized": json_body(ref("Error"), "no valid bearer token"),
                "Forbidden": json_body(ref("Error"), "the token's role may not do this"),
                "NotFound": json_body(ref("Error"), "no such thing"),
                "Conflict": json_body(ref("Error"), "already exists"),
                "Unavailable": {
                    **json_body(ref("Error"), "the database is unavailable (code database_unavailable); try again"),
                    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
                },
            },
        },
    }


SPEC_KEY = web.AppKey("openapi", dict)


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(request.app[SPEC_KEY])
