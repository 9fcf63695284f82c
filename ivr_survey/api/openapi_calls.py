"""The call-history part of /openapi.json."""

from __future__ import annotations

from typing import Any

from ..db.calls import SORTS, STATS_GROUPINGS
from ..db.models import DIRECTIONS, DISPOSITIONS, HANGUP_SIDES
from .openapi import ERRORS, NULLABLE_NUMBER, NULLABLE_STRING, PAGE, PERIOD, TIME, TZ, json_body, query, ref

NULLABLE_TIME = {**TIME, "nullable": True}
NOT_FOUND = {"$ref": "#/components/responses/NotFound"}
CALL_PATH = {"name": "call_id", "in": "path", "required": True, "description": "the call's linkedid",
             "schema": {"type": "string"}}
CALL_FILTERS = [
    query("operator", "operator id: calls they answered, or that rang them and nobody answered"),
    query("queue", "queue name"),
    query("direction", "direction", {"type": "string", "enum": list(DIRECTIONS)}),
    query("disposition", "disposition", {"type": "string", "enum": list(DISPOSITIONS)}),
    query("caller", "the client's number (digits compared)"),
    *PERIOD,
]

CALLS_SCHEMAS: dict[str, Any] = {
    "Call": {
        "type": "object",
        "required": ["call_id", "direction", "disposition", "operator", "rung_operators", "started_at",
                     "ring_seconds", "talk_seconds", "recording", "incomplete", "surveyed", "callback"],
        "properties": {
            "call_id": {"type": "string"},
            "direction": {"type": "string", "enum": list(DIRECTIONS), "nullable": True},
            "disposition": {"type": "string", "enum": list(DISPOSITIONS), "nullable": True},
            "caller": NULLABLE_STRING,
            "client_number": NULLABLE_STRING,
            "queue": NULLABLE_STRING,
            "operator": NULLABLE_STRING,
            "rung_operators": {"type": "array", "items": {"type": "string"}},
            "started_at": NULLABLE_TIME,
            "answered_at": NULLABLE_TIME,
            "ended_at": NULLABLE_TIME,
            "ring_seconds": NULLABLE_NUMBER,
            "talk_seconds": NULLABLE_NUMBER,
            "hangup_side": {"type": "string", "enum": list(HANGUP_SIDES), "nullable": True},
            "recording": {**NULLABLE_STRING, "description": "the URL of the recording"},
            "incomplete": {"type": "boolean"},
            "source": {"type": "string", "enum": ["ami", "cdr_import"], "nullable": True},
            "surveyed": {"type": "boolean"},
            "callback": {
                "type": "object", "nullable": True,
                "description": "for a missed inbound call: the first answered outbound call to the same number",
                "required": ["call_id", "operator", "at", "after_seconds"],
                "properties": {"call_id": {"type": "string"}, "operator": NULLABLE_STRING, "at": TIME,
                               "after_seconds": {"type": "number"}},
            },
        },
    },
    "CallsPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": ref("Call")}, "next_cursor": NULLABLE_STRING},
    },
    "CallDetail": {
        "allOf": [
            ref("Call"),
            {
                "type": "object",
                "required": ["survey", "cqr_evaluations"],
                "properties": {
                    "survey": {"allOf": [ref("Rating")], "nullable": True},
                    "cqr_evaluations": {"type": "array", "items": ref("Evaluation")},
                },
            },
        ]
    },
    "CallStats": {
        "type": "object",
        "required": ["group_by", "tz", "groups"],
        "properties": {
            "group_by": {"type": "string", "enum": list(STATS_GROUPINGS)},
            "tz": {"type": "string"},
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "total", "answered", "missed", "missed_share", "called_back",
                                 "callback_median_seconds", "ring_average_seconds", "talk_average_seconds",
                                 "talk_total_seconds", "surveyed", "response_rate"],
                    "properties": {
                        "key": NULLABLE_STRING,
                        "total": {"type": "integer"},
                        "answered": {"type": "integer"},
                        "missed": {"type": "integer", "description": "missed or abandoned in a queue"},
                        "missed_share": NULLABLE_NUMBER,
                        "called_back": {"type": "integer"},
                        "callback_median_seconds": NULLABLE_NUMBER,
                        "ring_average_seconds": NULLABLE_NUMBER,
                        "talk_average_seconds": NULLABLE_NUMBER,
                        "talk_total_seconds": NULLABLE_NUMBER,
                        "surveyed": {"type": "integer"},
                        "response_rate": {**NULLABLE_NUMBER, "description": "rated calls / answered calls"},
                    },
                },
            },
        },
    },
}

CALLS_PATHS: dict[str, Any] = {
    "/calls": {
        "get": {
            "summary": "The call history; sort by any column; CSV with format=csv or Accept: text/csv",
            "parameters": [
                *CALL_FILTERS, *PAGE,
                query("sort", "column to sort by (default started_at)", {"type": "string", "enum": list(SORTS)}),
                query("order", "desc (default) or asc; empty values come last", {"type": "string",
                                                                               "enum": ["asc", "desc"]}),
                query("format", "json (default) or csv", {"type": "string", "enum": ["json", "csv"]}),
            ],
            "responses": {
                "200": {"description": "a page, or the whole query as CSV",
                        "content": {"application/json": {"schema": ref("CallsPage")},
                                    "text/csv": {"schema": {"type": "string"}}}},
                **ERRORS,
            },
        }
    },
    "/calls/stats": {
        "get": {
            "summary": "Operator load per operator, queue, hour or day over a period (default the last 30 days)",
            "parameters": [
                query("group_by", "grouping (default operator)", {"type": "string", "enum": list(STATS_GROUPINGS)}),
                TZ, *CALL_FILTERS,
            ],
            "responses": {"200": json_body(ref("CallStats")), **ERRORS},
        }
    },
    "/calls/{call_id}": {
        "get": {
            "summary": "One call with its survey response and CQR evaluations",
            "parameters": [CALL_PATH],
            "responses": {"200": json_body(ref("CallDetail")), **ERRORS, "404": NOT_FOUND},
        }
    },
    "/calls/{call_id}/recording": {
        "get": {
            "summary": "Supervisor: the call's recording, with Range support",
            "parameters": [CALL_PATH, {"name": "Range", "in": "header", "required": False,
                                       "schema": {"type": "string", "example": "bytes=0-1023"}}],
            "responses": {
                "200": {"description": "the file", "content": {"audio/x-wav": {"schema": {"type": "string",
                                                                                        "format": "binary"}}}},
                "206": {"description": "the requested range"},
                "416": {"description": "the range is outside the file"},
                **ERRORS,
                "403": {"$ref": "#/components/responses/Forbidden"},
                "404": NOT_FOUND,
            },
        }
    },
}
