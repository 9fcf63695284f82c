"""One JSON error shape for every failure:
{"error": {"code": "invalid_parameter", "message": "...", "details": {"parameter": "from"}}}"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import Field, ValidationError

from ..db.outage import first_line, is_outage
from ..db.timebuckets import PeriodTooLong
from ..service.refusals import Refused
from .responses import Model, json_response

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5  # about what a database restart or failover takes

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


# A domain error's stable code -> its HTTP status: handlers name what went wrong, only this says how it is sent.
STATUSES = {
    "invalid_parameter": 400,
    "invalid_json": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "campaign_state": 409,  # details: the campaign's state and the one it was asked to take
    "no_contacts": 409,  # a campaign started with nobody to call
    "dispute_closed": 409,  # past the days an evaluation may be disputed in
    "own_evaluation": 403,  # the evaluator may not decide a dispute of their own evaluation
    "listening_off": 403,  # IVR_SURVEY_LIVE_LISTEN is off
    "no_operator_channel": 409,  # a live call with no operator on the line to listen to
    "endpoint_refused": 422,  # Asterisk would not call the supervisor's endpoint
    "live_unavailable": 409,  # no AMI call history here to tell the live calls (a setting, not an outage)
    "listen_unavailable": 503,  # no ARI, or this instance is the standby
    "payload_too_large": 413,
    "unsupported_media_type": 415,
}


class ErrorDetail(Model):
    code: str = Field(examples=["invalid_parameter"])
    message: str
    details: dict[str, Any]


class ErrorBody(Model):
    error: ErrorDetail


class ApiError(Refused):
    """A refusal of the API's own (a parameter, a token, a role); the services raise Refused."""


class Invalid(ValueError):
    """A parameter's (or body field's) value refused by its parser inside a pydantic model. `{name}` in the
    message stands for the field as the client spelt it, which only the model's error knows."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter  # a model-wide check (to is before from) names its parameter itself


def invalid_input(exc: ValidationError) -> ApiError:
    """A request model's first error as a 400 naming the parameter, in the message its parser wrote."""
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"])
    refused = error.get("ctx", {}).get("error")
    if isinstance(refused, Invalid):
        name = refused.parameter or name
        return invalid_parameter(name, refused.message.format(name=name))
    return invalid_parameter(name, f"{name}: {error['msg']}")


def invalid_parameter(parameter: str, message: str) -> ApiError:
    return ApiError("invalid_parameter", message, {"parameter": parameter})


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return json_response(body, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Refused as exc:  # ApiError too
        return _error(exc)
    except ValidationError as exc:  # only request models are validated: responses are built from typed rows
        return _error(invalid_input(exc))
    except PeriodTooLong as exc:  # summaries and stats over from..to (or their defaults)
        return error_response(400, "invalid_parameter", f"from..to is too long: {exc}", {"parameter": "to"})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception as exc:
        if is_outage(exc):
            return _outage(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; see the service log")


def _error(exc: Refused) -> web.Response:
    return error_response(STATUSES[exc.code], exc.code, exc.message, exc.details)


def _outage(request: web.Request, exc: Exception) -> web.Response:
    # One line, no traceback: the first line of a database error names it, the SQL and its parameters follow.
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.path,
        first_line(exc) or type(exc).__name__,
    )
    response = error_response(503, "database_unavailable", "the database is unavailable; try again in a few seconds")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
