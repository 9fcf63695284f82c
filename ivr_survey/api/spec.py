"""The route table and the OpenAPI 3.1 document generated from it: every route names its query model, body
model, response models, role and refusals once; the app registers its handlers from the same table."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from .auth import requires
from .errors import Handler
from .responses import json_response

REF = "#/components/schemas/{model}"
CSV = {"text/csv": {"schema": {"type": "string"}}}


@dataclass(frozen=True)
class Reply:
    """One documented answer: a JSON body of `model` (a pydantic model or any type pydantic knows), and/or
    other content types given as raw media-type objects."""

    description: str = "OK"
    model: Any = None
    content: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    replies: Mapping[int, Reply]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    # a body of another kind than a JSON model, as raw media-type objects (e.g. an uploaded CSV)
    body_content: Mapping[str, Any] = field(default_factory=dict)
    role: str | None = None  # below analyst: every authenticated caller may
    refusals: Sequence[int] = (400, 401)
    path_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # else a plain string
    public: bool = False  # no token needed
    headers: Sequence[Mapping[str, Any]] = ()  # header parameters, e.g. Range
    # An operator's token may call it (whatever `role` says): the handler keeps to that operator's own results.
    operators: bool = False


def add_routes(app: web.Application, routes: Sequence[Route]) -> None:
    for route in routes:
        handler = route.handler if route.public else requires(route.role, operators=route.operators)(route.handler)
        app.router.add_route(route.method, route.path, handler)


_REFUSALS = {
    400: ("BadRequest", "a bad parameter, named in details.parameter"),
    401: ("Unauthorized", "no valid bearer token"),
    403: ("Forbidden", "the token's role may not do this"),
    404: ("NotFound", "no such thing"),
    409: ("Conflict", "already exists, or not in a state that allows it (details say which)"),
    413: ("PayloadTooLarge", "the body is larger than the operation takes"),
    415: ("UnsupportedMediaType", "the body is not of the content type the operation takes"),
    503: ("Unavailable", "the database is unavailable (code database_unavailable); try again"),
}


class _Components:
    """The schemas collected while the paths are built, each model once under its name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def schema(self, kind: Any) -> dict[str, Any]:
        generated = TypeAdapter(kind).json_schema(ref_template=REF, mode="serialization")
        self.schemas.update(generated.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            self.schemas[kind.__name__] = generated
            return {"$ref": REF.format(model=kind.__name__)}
        return generated

    def parameters(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        properties = model.model_json_schema(ref_template=REF, by_alias=True)["properties"]
        found = []
        for name, schema in properties.items():
            schema = {k: v for k, v in schema.items() if k not in ("title", "default", "description")}
            description = properties[name].get("description")
            found.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": schema,
                    **({"description": description} if description else {}),
                }
            )
        return found


def _operation(route: Route, components: _Components) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": dict(route.path_schemas.get(name, {"type": "string"}))}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        parameters += components.parameters(route.query)
    parameters += [dict(h) for h in route.headers]
    responses: dict[str, Any] = {}
    for status, reply in route.replies.items():
        content = {
            **({"application/json": {"schema": components.schema(reply.model)}} if reply.model else {}),
            **reply.content,
        }
        responses[str(status)] = {
            "description": reply.description,
            **({"content": content} if content else {}),
            **({"headers": dict(reply.headers)} if reply.headers else {}),
        }
    # every operation reads the database, so any may meet an outage: a 503 unless it documents its own
    for status in (*route.refusals, *((403,) if not route.public else ()), 503):  # 403: a role, or an operator token
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{_REFUSALS[status][0]}"})
    operation: dict[str, Any] = {"summary": route.summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    body = {
        **({"application/json": {"schema": components.schema(route.body)}} if route.body is not None else {}),
        **route.body_content,
    }
    if body:
        operation["requestBody"] = {"required": True, "content": body}
    if route.public:
        operation["security"] = []
    return operation


def build_spec(routes: Sequence[Route], error_model: type[BaseModel]) -> dict[str, Any]:
    components = _Components()
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    error = {"application/json": {"schema": components.schema(error_model)}}
    responses: dict[str, Any] = {
        name: {"description": description, "content": error} for name, description in _REFUSALS.values()
    }
    responses["Unavailable"]["headers"] = {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ivr-survey",
            "version": "1",
            "description": "Post-call survey ratings (CSAT) next to supervisors' call-quality scores (CQR).",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(components.schemas.items())),
            "responses": responses,
        },
    }


SPEC_KEY = web.AppKey("openapi", dict)


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(request.app[SPEC_KEY])
