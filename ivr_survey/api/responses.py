"""JSON bodies for every API answer: pydantic models dumped to plain data, serialised by orjson (a year of
hourly summary groups is 8,760 objects, and the standard library takes most of the time budget to write them)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

# Times as the API has always written them: isoformat's +00:00, not pydantic's Z.
Time = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def enum(values: Collection[str]) -> WithJsonSchema:
    """A text field's documented values (the storage's tuples of them are the source)."""
    return WithJsonSchema({"type": "string", "enum": list(values)})


class Model(BaseModel):
    """A response body (or a part of one), read from storage's typed rows by their attributes; every field is
    always written, null or not."""

    model_config = ConfigDict(
        frozen=True, populate_by_name=True, from_attributes=True, json_schema_serialization_defaults_required=True
    )


def json_response(body: Any, status: int = 200) -> web.Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True)
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
