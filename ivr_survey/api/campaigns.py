"""Outbound campaigns over HTTP, and the do-not-call list every campaign honours.

POST /campaigns                       supervisor: a draft campaign
GET  /campaigns, /campaigns/{id}      each with its progress and response rate; one with its answers' summary
POST /campaigns/{id}/contacts         supervisor: a CSV of contacts (text/csv, up to 20 MB)
POST /campaigns/{id}/start|pause|resume|cancel    supervisor
GET  /campaigns/{id}/results          one row per contact: JSON pages or the whole CSV
GET  /do-not-call                     supervisor (the numbers are personal data)
POST /do-not-call                     supervisor: a number on the list
DELETE /do-not-call/{phone}           admin: a number off it"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from ..db import campaigns as db
from ..db.campaigns import (
    MAX_CALLER_ID,
    MAX_CAMPAIGN_NAME,
    MAX_ENDPOINT,
    PROGRESS_KEYS,
    DncRow,
    NewCampaign,
    ResultRow,
)
from ..db.models import CAMPAIGN_STATES, CONTACT_OUTCOMES, DNC_SOURCES
from ..db.summary import GROUPINGS
from ..keys import DIALER, SESSIONS, SETTINGS
from ..service import campaigns as service
from ..service.refusals import Refused
from . import params
from .auth import PRINCIPAL
from .csv_export import Format, stream_csv, wants_csv
from .errors import ApiError, Handler, Invalid
from .params import ABSENT, Body, Paged, Param, Period, Query, Zoned, one_of, text
from .ratings import Summary, summary_json
from .responses import Model, Time, enum, json_response

MAX_UPLOAD = 20 * 1024 * 1024  # bytes of one CSV of contacts
MAX_PHONE = 64  # characters of a number as written, before it is normalised
_CHUNK = 64 * 1024

# --- models ---


def _shown(message: str) -> str:
    """A message quoting the client's text, safe as an Invalid message (whose braces are formatted)."""
    return message.replace("{", "{{").replace("}", "}}")


def _text(max_length: int, *, nullable: bool = False, problem: Callable[[str], str | None] | None = None) -> Param:
    def parse(value: Any) -> str | None:
        if value is ABSENT:
            raise Invalid("{name} is required")
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise Invalid("{name} must be a non-empty string" + (", or null" if nullable else ""))
        if len(value) > max_length:
            raise Invalid(f"{{name}} is longer than {max_length} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise Invalid("{name} must not contain control characters (tabs, line breaks, NUL)")
        found = problem(value) if problem is not None else None
        if found is not None:
            raise Invalid("{name} " + _shown(found))
        return value

    kind: Any = ["string", "null"] if nullable else "string"
    return Param(parse, {"type": kind, "minLength": 1, "maxLength": max_length, "pattern": r"\S"})


def _whole(field: str, *, nullable: bool = False) -> Param:
    low, high = service.BOUNDS[field]

    def parse(value: Any) -> int | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            also = ", or null" if nullable else ""
            raise Invalid(f"{{name}} must be a whole number from {low} to {high}{also}")
        return value

    schema = {"type": "integer", "minimum": low, "maximum": high}
    return Param(parse, {"anyOf": [schema, {"type": "null"}]} if nullable else schema)


def _calling_hours(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid('{name} must be an object: {{"from": "09:00", "to": "20:00", "timezone": ..., "weekdays": ...}}')
    try:
        return service.calling_hours(value)
    except Refused as exc:
        raise Invalid(_shown(exc.message), parameter=exc.details["parameter"]) from None


def _opt_out_key(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or value not in service.OPT_OUT_KEYS):
        raise Invalid("{name} must be one key of 0-9, * or #, or null (no opt-out)")
    return value


# a key null or left out takes its default
HH_MM = {"type": ["string", "null"], "pattern": r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$", "example": "09:00"}
CALLING_HOURS_SCHEMA = {
    "type": "object",
    "properties": {
        "from": HH_MM,
        "to": HH_MM,
        "timezone": {"type": ["string", "null"], "minLength": 1, "example": "Europe/Moscow"},
        "weekdays": {
            "type": ["array", "null"],
            "items": {"type": "integer", "minimum": 1, "maximum": 7},
            "minItems": 1,
        },
    },
    "additionalProperties": False,
    "description": "local wall-clock hours in the time zone (a contact's own zone wins); from may be after to (a "
    "window across midnight); weekdays 1 = Monday .. 7 = Sunday; a key left out or null takes its default",
}
DEFAULT_CALLING_HOURS = {"from": "09:00", "to": "20:00", "timezone": "Europe/Moscow", "weekdays": [1, 2, 3, 4, 5]}
ENDPOINT = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ENDPOINT,
    "pattern": r"^[A-Za-z][A-Za-z0-9_]*/\S*\{number\}",
}


class CampaignRequest(Body):
    name: Annotated[str, _text(MAX_CAMPAIGN_NAME)] = Field(examples=["November NPS"])
    survey: Annotated[str, _text(service.MAX_SURVEY_NAME)] = Field(
        "default", description="a stored survey's name; its newest version is asked"
    )
    endpoint: Annotated[str, Param(_text(MAX_ENDPOINT, problem=service.endpoint_problem).parse, ENDPOINT)] = Field(
        description="what to dial, {number} standing for the contact's phone", examples=["PJSIP/{number}@trunk"]
    )
    caller_id: Annotated[str | None, _text(MAX_CALLER_ID, nullable=True)] = Field(
        None, description="shown to the customer; null: the endpoint's own", examples=["Company <74950000000>"]
    )
    concurrency: Annotated[int, _whole("concurrency")] = Field(5, description="calls at once, across instances")
    calls_per_minute: Annotated[int | None, _whole("calls_per_minute", nullable=True)] = Field(
        None, description="pacing; null: as fast as concurrency allows"
    )
    ring_timeout: Annotated[int, _whole("ring_timeout")] = Field(30, description="seconds a call rings")
    max_attempts: Annotated[int, _whole("max_attempts")] = Field(3, description="calls to one contact at most")
    retry_delay: Annotated[int, _whole("retry_delay")] = Field(
        1800, description="seconds between two attempts of one contact (busy, no answer, congestion)"
    )
    calling_hours: Annotated[dict[str, Any], Param(_calling_hours, CALLING_HOURS_SCHEMA)] = Field(
        default_factory=lambda: dict(DEFAULT_CALLING_HOURS)
    )
    opt_out_key: Annotated[str | None, Param(_opt_out_key, {"enum": [*service.OPT_OUT_KEYS, None], "default": "9"})] = (
        Field("9", description="pressed at any question: the number goes on the do-not-call list; null: none")
    )

    def new_campaign(self) -> NewCampaign:
        return NewCampaign(
            name=self.name,
            survey=self.survey,
            endpoint=self.endpoint,
            caller_id=self.caller_id,
            concurrency=self.concurrency,
            calls_per_minute=self.calls_per_minute,
            ring_timeout=self.ring_timeout,
            max_attempts=self.max_attempts,
            retry_delay=self.retry_delay,
            calling_hours=self.calling_hours,
            opt_out_key=self.opt_out_key,
        )


class CampaignsQuery(Query):
    state: Annotated[str | None, one_of(CAMPAIGN_STATES)] = Field(None, description="the campaigns in this state")


class CampaignQuery(Period, Zoned):
    """the summary's: its period (default from the campaign's creation to now), grouping, question"""

    group_by: Annotated[str, one_of(GROUPINGS)] = Field("all", description="the summary's grouping (default all)")
    question: Annotated[str | None, text(max_length=64)] = Field(
        None, description="a question's key: its answers are summarised instead of the first question's"
    )


class ResultsQuery(Format, Paged):
    pass


class DncQuery(Paged):
    pass


class DncRequest(Body):
    phone: Annotated[str, _text(MAX_PHONE)] = Field(
        description="normalised as contacts are (E.164 with IVR_SURVEY_DEFAULT_COUNTRY)", examples=["+79161234567"]
    )


class CallingHours(Model):
    start: str = Field(alias="from", examples=["09:00"])
    end: str = Field(alias="to", examples=["20:00"])
    timezone: str
    weekdays: list[int] = Field(description="1 = Monday .. 7 = Sunday")


class Progress(Model):
    """contacts by where they are: pending (to call, now or after a retry delay), in_progress (on the line), or
    their one final outcome"""

    total: int
    pending: int
    in_progress: int
    completed: int = Field(description="answered every question")
    partial: int = Field(description="answered some")
    no_input: int = Field(description="answered the call, pressed no key")
    opted_out: int = Field(description="pressed the opt-out key")
    no_answer: int
    busy: int
    failed: int = Field(description="no such number, refused by the PBX, or congested on every attempt")
    dnc: int = Field(description="on the do-not-call list: never dialled")


assert tuple(Progress.model_fields) == PROGRESS_KEYS


class Campaign(Model):
    id: int
    name: str
    survey: str
    endpoint: str
    caller_id: str | None
    concurrency: int
    calls_per_minute: int | None
    ring_timeout: int
    max_attempts: int
    retry_delay: int
    calling_hours: CallingHours
    opt_out_key: str | None
    state: Annotated[str, enum(CAMPAIGN_STATES)]
    state_reason: str | None = Field(description="why the service paused or ended it, e.g. failures in a row")
    created_at: Time
    created_by: str | None = Field(description="the token's name")
    started_at: Time | None
    ended_at: Time | None
    progress: Progress
    response_rate: float | None = Field(
        description="contacts that answered at least one question / contacts with a final outcome other than dnc "
        "(completed, partial, no_input, opted_out, no_answer, busy, failed); null before any has one"
    )


class CampaignDetail(Campaign):
    summary: Summary = Field(description="the campaign's answers, as /ratings/summary?campaign={id} gives them")


class CampaignList(Model):
    items: list[Campaign] = Field(description="newest first")


class Rejected(Model):
    line: int = Field(description="the file's line (the header is line 1)")
    reason: str


class UploadResult(Model):
    added: int
    duplicates: int = Field(description="rows whose number is repeated in the file or already in the campaign")
    dnc: int = Field(description="of the added, numbers on the do-not-call list: kept, never dialled")
    rejected: list[Rejected] = Field(description="the rows not added; the others were")


class ResultAnswer(Model):
    question: str
    score: float | None = Field(description="null: unanswered")


class Result(Model):
    phone: str = Field(description="normalised")
    name: str | None
    operator: str | None = Field(description="the manager the customer belongs to")
    tags: dict[str, Any] = Field(description="the file's other columns")
    outcome: Annotated[str, enum(CONTACT_OUTCOMES)] | None = Field(description="null until final")
    attempts: int
    last_attempt_at: Time | None
    last_cause: int | None = Field(description="Asterisk's hang-up cause of the last attempt")
    call_id: str | None = Field(description="the answered call's linkedid (its /ratings item)")
    score: float | None = Field(description="the first question's")
    answers: list[ResultAnswer]


class ResultsPage(Model):
    items: list[Result] = Field(description="in the order the contacts were added")
    next_cursor: str | None


class DncEntry(Model):
    phone: str
    source: Annotated[str, enum(DNC_SOURCES)] = Field(description="api, or opt_out: the customer pressed the key")
    added_at: Time
    added_by: str | None = Field(description="the token's name (source api)")
    campaign: int | None = Field(description="the campaign whose call the customer opted out in")
    call_id: str | None = Field(description="that call's linkedid")


class DncPage(Model):
    items: list[DncEntry] = Field(description="in the order of the numbers")
    next_cursor: str | None


# --- handlers ---


def _now() -> datetime:
    return datetime.now(UTC)


def _campaign_id(request: web.Request) -> int:
    return params.path_id(
        request.match_info, "id", lambda raw: ApiError("not_found", f"no campaign {raw!r}", {"campaign": raw})
    )


def _campaign_json(view: service.CampaignView) -> dict[str, Any]:
    return {**asdict(view.campaign), "progress": view.progress, "response_rate": view.response_rate}


async def post_campaign(request: web.Request) -> web.Response:
    body = await params.parse_body(request, CampaignRequest)
    async with request.app[SESSIONS]() as session, session.begin():
        row = await service.create_campaign(session, body.new_campaign(), created_by=request[PRINCIPAL].name, at=_now())
        view = await service.campaign_view(session, row)
    return json_response(Campaign.model_validate(_campaign_json(view)), status=201)


async def list_campaigns(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, CampaignsQuery)
    async with request.app[SESSIONS]() as session:
        rows = await db.list_campaigns(session, state=query.state)
        items = [_campaign_json(await service.campaign_view(session, row)) for row in rows]
    return json_response(CampaignList.model_validate({"items": items}))


async def get_campaign(request: web.Request) -> web.Response:
    campaign_id = _campaign_id(request)
    query = params.parse_query(request.query, CampaignQuery)
    async with request.app[SESSIONS]() as session:
        row = await service.get_campaign(session, campaign_id)
        view = await service.campaign_view(session, row)
        filters = service.summary_filter(row, date_from=query.date_from, date_to=query.date_to or _now())
        summary = await summary_json(
            session, group_by=query.group_by, filters=filters, tz=query.tz, question=query.question
        )
    # The summary is written as /ratings/summary writes it; the rest through the model.
    body = Campaign.model_validate(_campaign_json(view)).model_dump(mode="json", by_alias=True)
    return json_response({**body, "summary": summary})


def steer(command: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        campaign_id = _campaign_id(request)
        params.parse_query(request.query, params.NoQuery)
        async with request.app[SESSIONS]() as session, session.begin():
            row = await service.steer(session, campaign_id, command, at=_now())
            view = await service.campaign_view(session, row)
        if (dialer := request.app.get(DIALER)) is not None:  # committed: its next round sees the change
            dialer.campaigns_changed()
        return json_response(Campaign.model_validate(_campaign_json(view)))

    handler.__name__ = f"{command}_campaign"
    return handler


async def _csv_body(request: web.Request) -> bytes:
    """The uploaded file: text/csv, at most MAX_UPLOAD bytes (read here, not by aiohttp, whose limit is the
    other routes' 1 MB)."""
    if request.content_type != "text/csv":
        given = request.content_type or "none"
        raise ApiError(
            "unsupported_media_type",
            f"the body must be a CSV file sent as Content-Type: text/csv (got {given})",
            {"content_type": given},
        )
    too_large = ApiError(
        "payload_too_large",
        f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; split it in several uploads",
        {"max_bytes": MAX_UPLOAD},
    )
    if request.content_length is not None and request.content_length > MAX_UPLOAD:
        raise too_large
    data = bytearray()
    while chunk := await request.content.read(_CHUNK):
        data += chunk
        if len(data) > MAX_UPLOAD:
            raise too_large
    return bytes(data)


async def post_contacts(request: web.Request) -> web.Response:
    campaign_id = _campaign_id(request)
    params.parse_query(request.query, params.NoQuery)
    data = await _csv_body(request)
    country = request.app[SETTINGS].default_country
    async with request.app[SESSIONS]() as session, session.begin():
        upload = await service.upload_contacts(session, campaign_id, data, default_country=country, at=_now())
    return json_response(UploadResult.model_validate(upload))


RESULT_COLUMNS = (
    "phone",
    "name",
    "operator",
    "outcome",
    "attempts",
    "last_attempt_at",
    "last_cause",
    "call_id",
    "score",
)
_RESULTS_BATCH = 1000


async def get_results(request: web.Request) -> web.StreamResponse:
    campaign_id = _campaign_id(request)
    query = params.parse_query(request.query, ResultsQuery)
    after = params.cursor(query.cursor, (params.cursor_id,))
    full = service.sees_phones(request[PRINCIPAL].role)
    if wants_csv(request, query):
        return await _results_csv(request, campaign_id, full_phones=full)
    async with request.app[SESSIONS]() as session:
        rows = await service.results(
            session, campaign_id, after=after[0] if after else None, limit=query.limit, full_phones=full
        )
    next_cursor = params.encode_cursor(rows[-1].contact_id) if len(rows) == query.limit else None
    return json_response(ResultsPage.model_validate({"items": rows, "next_cursor": next_cursor}))


async def _results_csv(request: web.Request, campaign_id: int, *, full_phones: bool) -> web.StreamResponse:
    """The fixed columns, then one per question key of the campaign's survey (its score; empty when unanswered
    or not asked), then the file's other columns as one JSON object (tags)."""
    async with request.app[SESSIONS]() as session:
        campaign = await service.get_campaign(session, campaign_id)
        questions = await db.survey_questions(session, campaign.survey)

    def line(row: ResultRow) -> list[object]:
        scores = {answer.question: answer.score for answer in row.answers}
        tags = json.dumps(row.tags, ensure_ascii=False, separators=(",", ":")) if row.tags else None
        return [*(getattr(row, c) for c in RESULT_COLUMNS), *(scores.get(q) for q in questions), tags]

    async def lines() -> AsyncIterator[list[object]]:
        after = None
        async with request.app[SESSIONS]() as session:
            while True:
                rows = await service.results(
                    session, campaign_id, after=after, limit=_RESULTS_BATCH, full_phones=full_phones
                )
                for row in rows:
                    yield line(row)
                if len(rows) < _RESULTS_BATCH:
                    return
                after = rows[-1].contact_id

    columns = (*RESULT_COLUMNS, *questions, "tags")
    return await stream_csv(request, f"campaign-{campaign_id}.csv", columns, lines())


def _dnc_json(row: DncRow) -> dict[str, Any]:
    return {
        "phone": row.phone,
        "source": row.source,
        "added_at": row.added_at,
        "added_by": row.added_by,
        "campaign": row.campaign_id,
        "call_id": row.call_id,
    }


async def get_dnc(request: web.Request) -> web.Response:
    query = params.parse_query(request.query, DncQuery)
    after = params.cursor(query.cursor, (params.cursor_text,))
    async with request.app[SESSIONS]() as session:
        rows = await db.list_dnc(session, after=after[0] if after else None, limit=query.limit)
    next_cursor = params.encode_cursor(rows[-1].phone) if len(rows) == query.limit else None
    return json_response(DncPage.model_validate({"items": [_dnc_json(r) for r in rows], "next_cursor": next_cursor}))


async def post_dnc(request: web.Request) -> web.Response:
    body = await params.parse_body(request, DncRequest)
    country = request.app[SETTINGS].default_country
    async with request.app[SESSIONS]() as session, session.begin():
        row, created = await service.add_dnc(
            session, body.phone, default_country=country, by=request[PRINCIPAL].name, at=_now()
        )
    return json_response(DncEntry.model_validate(_dnc_json(row)), status=201 if created else 200)


async def delete_dnc(request: web.Request) -> web.Response:
    phone = params.path_key(request.match_info, "phone", _not_listed)
    params.parse_query(request.query, params.NoQuery)
    country = request.app[SETTINGS].default_country
    async with request.app[SESSIONS]() as session, session.begin():
        await service.remove_dnc(session, phone, default_country=country, by=request[PRINCIPAL].name)
    return web.Response(status=204)


def _not_listed(phone: str) -> ApiError:
    return ApiError("not_found", "the number is not on the do-not-call list", {"phone": phone})
