"""The CQR part of /openapi.json."""

from __future__ import annotations

from typing import Any

from ..cqr import CALL_TYPES, CRITERIA
from .openapi import NULLABLE_STRING, TIME, json_body, query, ref

SCORE = {"type": "number", "enum": [0, 0.5, 1]}
CALL_TYPE_PATH = {"name": "call_type", "in": "path", "required": True,
                  "schema": {"type": "string", "enum": list(CALL_TYPES)}}
REFUSALS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "409": {"$ref": "#/components/responses/Conflict"},
}

CQR_SCHEMAS: dict[str, Any] = {
    "CallType": {
        "type": "object",
        "required": ["id", "name", "description", "criteria"],
        "properties": {
            "id": {"type": "string", "enum": list(CALL_TYPES)},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "criteria": {
                "type": "array",
                "items": {"type": "object", "required": ["id", "name", "weight"],
                          "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                         "weight": {"type": "number"}}},
            },
        },
    },
    "Scorecard": {
        "type": "object",
        "required": ["call_type", "version", "weights", "created_at", "created_by"],
        "properties": {
            "call_type": {"type": "string"},
            "version": {"type": "integer"},
            "weights": {"type": "object", "additionalProperties": {"type": "number"}},
            "created_at": TIME,
            "created_by": NULLABLE_STRING,
        },
    },
    "ScorecardUpdate": {
        "type": "object",
        "required": ["weights"],
        "additionalProperties": False,
        "description": "the whole next version: a criterion of the current version that is neither weighted nor"
                       " removed is a 400 naming it in details.missing",
        "properties": {
            "weights": {
                "type": "object", "minProperties": 1,
                "propertyNames": {"enum": list(CRITERIA)},
                "additionalProperties": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1000},
                "description": "every criterion of the current version (but those removed) and any new one",
            },
            "remove": {
                "type": "array", "items": {"type": "string", "enum": list(CRITERIA)},
                "description": "criteria of the current version to drop from the next one",
            },
        },
    },
    "EvaluationRequest": {
        "type": "object",
        "required": ["call_id", "call_type", "scores"],
        "additionalProperties": False,
        "properties": {
            "call_id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "the call's linkedid"},
            "call_type": {"type": "string", "enum": list(CALL_TYPES)},
            "scores": {"type": "object", "propertyNames": {"enum": list(CRITERIA)}, "additionalProperties": SCORE,
                       "description": "every criterion of the call type's scorecard: 0, 0.5 or 1"},
            "comment": {"type": "string", "nullable": True, "maxLength": 10000},
            "replace": {"type": "boolean", "default": False,
                        "description": "replace this supervisor's earlier evaluation of the call"},
        },
    },
    "Evaluation": {
        "type": "object",
        "required": ["id", "call_id", "call_type", "scorecard_version", "scores", "cqr", "good", "comment",
                     "supervisor", "operator", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": "string"},
            "call_type": {"type": "string"},
            "scorecard_version": {"type": "integer"},
            "scores": {"type": "object", "additionalProperties": {"type": "number"}},
            "cqr": {"type": "number", "description": "100 x sum(score x weight) / sum(weight)"},
            "good": {"type": "boolean", "description": "cqr >= 80"},
            "comment": NULLABLE_STRING,
            "supervisor": {"type": "string"},
            "operator": NULLABLE_STRING,
            "created_at": TIME,
        },
    },
    "EvaluationsPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": ref("Evaluation")}, "next_cursor": NULLABLE_STRING},
    },
}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


CQR_PATHS: dict[str, Any] = {
    "/cqr/call-types": {
        "get": {
            "summary": "The five call types with their current criteria and weights",
            "responses": {"200": json_body({"type": "array", "items": ref("CallType")}),
                          "400": REFUSALS["400"], "401": REFUSALS["401"]},
        }
    },
    "/cqr/scorecards/{call_type}": {
        "get": {
            "summary": "A call type's current scorecard (or an older version)",
            "parameters": [CALL_TYPE_PATH, query("version", "an older version", {"type": "integer", "minimum": 1})],
            "responses": {"200": json_body(ref("Scorecard")), "400": REFUSALS["400"], "401": REFUSALS["401"],
                          "404": REFUSALS["404"]},
        },
        "put": {
            "summary": "Admin: store the whole scorecard as the next version: every current criterion weighted"
                       " again or listed in remove (past evaluations keep their CQR)",
            "parameters": [CALL_TYPE_PATH],
            "requestBody": _body("ScorecardUpdate"),
            "responses": {"200": json_body(ref("Scorecard")), **REFUSALS},
        },
    },
    "/cqr/evaluations": {
        "post": {
            "summary": "Supervisor: score a call; returns its CQR",
            "requestBody": _body("EvaluationRequest"),
            "responses": {"201": json_body(ref("Evaluation"), "evaluated"),
                          "200": json_body(ref("Evaluation"), "an earlier evaluation replaced"), **REFUSALS},
        },
        "get": {
            "summary": "Evaluations, newest first (from/to: when they were made)",
            "parameters": [
                query("call_id", "the call's linkedid"), query("operator", "operator id"),
                query("supervisor", "who evaluated"),
                query("call_type", "call type", {"type": "string", "enum": list(CALL_TYPES)}),
                query("good", "CQR >= 80", {"type": "boolean"}),
                query("from", "made at or after", TIME), query("to", "made before", TIME),
                query("limit", "items per page, 1-1000", {"type": "integer", "minimum": 1, "maximum": 1000}),
                query("cursor", "next_cursor of the previous page"),
            ],
            "responses": {"200": json_body(ref("EvaluationsPage")), "400": REFUSALS["400"],
                          "401": REFUSALS["401"]},
        },
    },
}
