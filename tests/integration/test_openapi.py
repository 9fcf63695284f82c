"""The live API matches /openapi.json: schemathesis generates requests from the spec (valid and invalid)
and checks every answer: no 5xx, documented status codes, content types and response schemas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from ivr_survey.api.spec import SPEC_KEY
from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.db import campaigns
from ivr_survey.web.routes import is_page
from tests.support.campaigns import make_campaign
from tests.support.live_server import LiveServer
from tests.support.seed import Rated, seed

TOKEN = "schema-admin-token"


async def add_dnc(sessions, phone: str) -> None:
    async with sessions() as s, s.begin():
        await campaigns.add_dnc(s, phone, source="api", at=datetime(2026, 11, 20, tzinfo=UTC))


@pytest.fixture(scope="module")
def live_api(databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    live = LiveServer(databases, tmp_path_factory.mktemp("spool"), api_token=TOKEN).start()
    try:
        t = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        rows = [Rated(f"S{n}", f"70{n % 3:02d}", t + timedelta(hours=n), float(n % 5 + 1)) for n in range(12)]
        live.run(seed(live.sessions, rows))
        # a campaign to find (id 1), with contacts, one of them on the do-not-call list
        live.run(make_campaign(live.sessions, ["+79161234567", "+79161234568"], at=t))
        live.run(add_dnc(live.sessions, "+79161234568"))
        yield live.url
    finally:
        live.stop()


# The spec as the app builds it: operations are known at collection time, no server needed for that.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None))[SPEC_KEY])
OPERATIONS = [(r.ok().path, r.ok().method.upper()) for r in SCHEMA.get_all_operations()]


@SCHEMA.auth()
class BearerToken:
    """The token is set by schemathesis' auth hook, so negative generation leaves it alone."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return TOKEN

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


CASES = [
    (path, method, mode)
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # an operation without parameters or body has no invalid request to generate
    if mode is GenerationMode.POSITIVE
    or SCHEMA[path][method].definition.raw.get("parameters")
    or SCHEMA[path][method].definition.raw.get("requestBody")
]


def test_served_spec_is_the_one_built(live_api: str) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{live_api}/openapi.json") as resp:
        assert json.load(resp) == SCHEMA.raw_schema


@pytest.mark.parametrize(("path", "method", "mode"), CASES, ids=[f"{m} {p} {g.value}" for p, m, g in CASES])
def test_api_matches_its_spec(live_api: str, path: str, method: str, mode: GenerationMode) -> None:
    operation = SCHEMA[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        # Positive-data acceptance is left out: cross-parameter rules (to before from) are not expressible in
        # the spec, and a clear 400 for them is what we want.
        case.call_and_validate(base_url=live_api, excluded_checks=[checks.positive_data_acceptance])

    check()


def test_every_route_is_in_the_spec() -> None:
    app = create_app(Settings(_env_file=None))
    served = {
        (r.resource.canonical, r.method.lower())
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None and not is_page(r.resource.canonical)
    }  # the workstation's pages are HTML for people, not the API: web/routes.py lists them
    documented = {(path, method) for path, ops in SCHEMA.raw_schema["paths"].items() for method in ops}
    assert served == documented


def test_the_campaign_routes_are_documented() -> None:
    paths = SCHEMA.raw_schema["paths"]
    assert sorted((p, sorted(ops)) for p, ops in paths.items() if p.startswith(("/campaigns", "/do-not-call"))) == [
        ("/campaigns", ["get", "post"]),
        ("/campaigns/{id}", ["get"]),
        ("/campaigns/{id}/cancel", ["post"]),
        ("/campaigns/{id}/contacts", ["post"]),
        ("/campaigns/{id}/pause", ["post"]),
        ("/campaigns/{id}/results", ["get"]),
        ("/campaigns/{id}/resume", ["post"]),
        ("/campaigns/{id}/start", ["post"]),
        ("/do-not-call", ["get", "post"]),
        ("/do-not-call/{phone}", ["delete"]),
    ]
    upload = paths["/campaigns/{id}/contacts"]["post"]
    assert list(upload["requestBody"]["content"]) == ["text/csv"]
    assert {"200", "400", "401", "403", "404", "409", "413", "415", "503"} == set(upload["responses"])
    assert list(paths["/campaigns"]["post"]["requestBody"]["content"]) == ["application/json"]
    assert set(paths["/do-not-call/{phone}"]["delete"]["responses"]) == {"204", "400", "401", "403", "404", "503"}
