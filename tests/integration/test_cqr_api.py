"""The CQR endpoints over HTTP: exact bodies, roles, conflicts, versioning, filters and keyset pages."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from ivr_survey.app import create_app
from ivr_survey.config import Settings
from ivr_survey.cqr import CALL_TYPES, CRITERIA, DEFAULT_SCORECARDS
from ivr_survey.db.models import CqrEvaluation
from ivr_survey.db.repository import upsert_call
from ivr_survey.db.tokens import create_token
from tests.support.scorecards import OBJECTION_82_5, QUALIFICATION_62_5, SPAM_ALL

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ADMIN = "admin-token"


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    async def call(self, method: str, path: str, who: str | None = "admin", status: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        headers.update(kwargs.pop("headers", {}))
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        body = await resp.json()
        assert resp.status == status, body
        return body

    async def evaluate(
        self, who: str, call_id: str, call_type: str, scores: dict, status: int = 201, **extra: Any
    ) -> Any:
        return await self.call(
            "POST",
            "/cqr/evaluations",
            who,
            status,
            json={"call_id": call_id, "call_type": call_type, "scores": scores, **extra},
        )


@pytest.fixture
async def api(database_url: str, sessions, tmp_path) -> AsyncIterator[Api]:
    async with sessions() as s, s.begin():
        tokens = {
            "admin": ADMIN,
            "ann": await create_token(s, name="ann", role="analyst"),
            "sue": await create_token(s, name="sue", role="supervisor"),
            "sam": await create_token(s, name="sam", role="supervisor"),
        }
        await upsert_call(s, linkedid="L1", operator="7001", started_at=T)
        await upsert_call(s, linkedid="L2", operator="7002", started_at=T + timedelta(minutes=1))
        await upsert_call(s, linkedid="L3", operator=None, started_at=T + timedelta(minutes=2))
    settings = Settings(_env_file=None, database_url=database_url, spool_dir=tmp_path / "spool", api_token=ADMIN)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Api(client, tokens)


def error(code: str, message: str, **details: Any) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def bad(parameter: str, message: str) -> dict:
    return error("invalid_parameter", message, parameter=parameter)


def without_time(item: dict) -> dict:
    assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
    return {k: v for k, v in item.items() if k != "created_at"}


# --- call types and scorecards ---


async def test_call_types(api: Api) -> None:
    body = await api.call("GET", "/cqr/call-types", "ann")
    assert [t["id"] for t in body] == ["qualification", "objection", "spam", "transactional", "reanimation"]
    assert body[2] == {
        "id": "spam",
        "name": "Spam",
        "name_ru": "Спам",
        "description": "A wrong number, or a request for services the company does not offer.",
        "description_ru": "Ошибочный звонок или запрос услуг, которых компания не оказывает.",
        "criteria": [
            {
                "id": "greeting",
                "name": "Greeting",
                "name_ru": "Приветствие",
                "description": "Greets the client, introduces self and the company.",
                "description_ru": "Здоровается, представляется и называет компанию.",
                "weight": 1.0,
            },
            {
                "id": "identifying_problem",
                "name": "Identifying the problem",
                "name_ru": "Выявление потребности",
                "description": "Asks questions until the client's need or problem is clear.",
                "description_ru": "Задаёт вопросы, пока потребность или проблема клиента не станет ясна.",
                "weight": 2.0,
            },
            {
                "id": "related_offer",
                "name": "Related offer",
                "name_ru": "Допродажа",
                "description": "Offers related products or services.",
                "description_ru": "Предлагает сопутствующие товары или услуги.",
                "weight": 1.0,
            },
            {
                "id": "tone",
                "name": "Tone and politeness",
                "name_ru": "Тон и вежливость",
                "description": "Friendly, polite and calm throughout.",
                "description_ru": "Доброжелателен, вежлив и спокоен на протяжении всего разговора.",
                "weight": 2.0,
            },
            {
                "id": "script",
                "name": "Following the script",
                "name_ru": "Следование скрипту",
                "description": "Follows the company's script for this kind of call.",
                "description_ru": "Придерживается скрипта компании для звонков этого типа.",
                "weight": 1.0,
            },
        ],
    }
    for item in body:
        assert {c["id"]: c["weight"] for c in item["criteria"]} == DEFAULT_SCORECARDS[item["id"]]
        assert all({**c, "weight": 0} == {"id": c["id"], **CRITERIA[c["id"]], "weight": 0} for c in item["criteria"])
        assert {k: item[k] for k in ("name", "name_ru", "description", "description_ru")} == CALL_TYPES[item["id"]]


async def test_get_scorecard(api: Api) -> None:
    body = await api.call("GET", "/cqr/scorecards/objection", "ann")
    assert datetime.fromisoformat(body.pop("created_at")).tzinfo is not None
    assert body == {
        "call_type": "objection",
        "version": 1,
        "created_by": None,
        "weights": {
            "greeting": 1.0,
            "identifying_problem": 2.0,
            "presenting_product": 3.0,
            "handling_objections": 4.0,
            "initiative": 3.0,
            "closing": 3.0,
            "tone": 2.0,
            "difficult_client": 2.0,
        },
        "bands": [
            {"from": 80.0, "label": "good", "colour": "#2e7d32"},
            {"from": 0.0, "label": "to work on", "colour": "#c62828"},
        ],
    }
    assert await api.call("GET", "/cqr/scorecards/sales", "ann", 404) == error(
        "not_found",
        "unknown call type 'sales'; the call types are: qualification, objection, spam, transactional, reanimation",
        call_type="sales",
    )
    assert await api.call("GET", "/cqr/scorecards/spam?version=2", "ann", 404) == error(
        "not_found", "the spam scorecard has no version 2", call_type="spam", version="2"
    )
    assert await api.call("GET", "/cqr/scorecards/spam?version=x", "ann", 400) == bad(
        "version", "version must be a whole number from 1"
    )


async def test_put_scorecard_adds_versions(api: Api) -> None:
    first = await api.call(
        "PUT",
        "/cqr/scorecards/spam",
        json={
            "weights": {"tone": 3, "greeting": 1},
            "remove": ["identifying_problem", "related_offer", "script"],
        },
    )
    created_at = first.pop("created_at")
    assert first == {
        "call_type": "spam",
        "version": 2,
        "weights": {"greeting": 1.0, "tone": 3.0},
        "created_by": "bootstrap",
        "bands": [
            {"from": 80.0, "label": "good", "colour": "#2e7d32"},
            {"from": 0.0, "label": "to work on", "colour": "#c62828"},
        ],
    }
    # The same weights again: no new version.
    again = await api.call("PUT", "/cqr/scorecards/spam", json={"weights": {"greeting": 1.0, "tone": 3}})
    assert (again["version"], again["created_at"]) == (2, created_at)
    # Any content type, as long as the body is JSON.
    third = await api.call(
        "PUT",
        "/cqr/scorecards/spam",
        headers={"Content-Type": "text/plain"},
        data=json.dumps({"weights": {"tone": 0.5}, "remove": ["greeting"]}),
    )
    assert (third["version"], third["weights"]) == (3, {"tone": 0.5})
    assert (await api.call("GET", "/cqr/scorecards/spam", "ann"))["version"] == 3
    old = await api.call("GET", "/cqr/scorecards/spam?version=1", "ann")
    assert (old["version"], old["weights"]) == (1, DEFAULT_SCORECARDS["spam"])
    spam = (await api.call("GET", "/cqr/call-types", "ann"))[2]
    assert [(c["id"], c["name"], c["weight"]) for c in spam["criteria"]] == [("tone", "Tone and politeness", 0.5)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, bad("weights", "weights is required: an object of criterion: weight")),
        ({"weights": {}}, bad("weights", "weights must name at least one criterion")),
        ({"weights": [1, 2]}, bad("weights", "weights must be an object of criterion: weight")),
        ({"weights": {"greeting": 0}}, bad("weights.greeting", "the weight of greeting must be a number above 0")),
        ({"weights": {"greeting": -1.5}}, bad("weights.greeting", "the weight of greeting must be a number above 0")),
        ({"weights": {"tone": "2"}}, bad("weights.tone", "the weight of tone must be a number above 0")),
        ({"weights": {"tone": True}}, bad("weights.tone", "the weight of tone must be a number above 0")),
        ({"weights": {"tone": None}}, bad("weights.tone", "the weight of tone must be a number above 0")),
        (
            {"weights": {"smile": 1}},
            bad(
                "weights.smile",
                "unknown criterion 'smile'; the criteria are: greeting, identifying_problem, presenting_product, "
                "handling_objections, related_offer, initiative, closing, tone, difficult_client, script",
            ),
        ),
        (
            {"weights": {"tone": 1}, "version": 7},
            bad("version", "unknown field 'version'; the fields are: weights, remove, bands"),
        ),
        ({"weights": SPAM_ALL, "remove": "tone"}, bad("remove", "remove must be a list of criteria")),
        ({"weights": SPAM_ALL, "remove": ["tone", 1]}, bad("remove", "remove must be a list of criteria")),
        (
            {"weights": SPAM_ALL, "remove": ["closing"]},
            bad(
                "remove",
                "'closing' is not on the spam scorecard (version 1); it has: greeting, identifying_problem, "
                "related_offer, tone, script",
            ),
        ),
        ({"weights": SPAM_ALL, "remove": ["tone"]}, bad("remove", "tone is both weighted and removed")),
        ({"weights": {}, "remove": list(SPAM_ALL)}, bad("weights", "weights must name at least one criterion")),
    ],
)
async def test_put_scorecard_rejects_bad_weights(api: Api, body: dict, expected: dict) -> None:
    assert await api.call("PUT", "/cqr/scorecards/spam", json=body, status=400) == expected
    assert (await api.call("GET", "/cqr/scorecards/spam", "ann"))["version"] == 1


async def test_a_put_must_name_every_criterion_or_remove_it(api: Api) -> None:
    missing = await api.call("PUT", "/cqr/scorecards/spam", json={"weights": {"tone": 3, "greeting": 1}}, status=400)
    assert missing == error(
        "invalid_parameter",
        "weights must name every criterion of the spam scorecard (version 1); missing: identifying_problem, "
        "related_offer, script; list a criterion in remove to drop it",
        parameter="weights",
        missing=["identifying_problem", "related_offer", "script"],
    )
    assert (await api.call("GET", "/cqr/scorecards/spam", "ann"))["version"] == 1
    # So a call type can still be evaluated on every criterion it had: nothing was dropped.
    assert (await api.evaluate("sue", "L1", "spam", SPAM_ALL))["scorecard_version"] == 1
    # Adding a criterion names the others too; dropping one names it in remove.
    added = await api.call("PUT", "/cqr/scorecards/spam", json={"weights": {**SPAM_ALL, "closing": 2}})
    assert (added["version"], added["weights"]) == (2, {**{k: 1.0 for k in SPAM_ALL}, "closing": 2.0})
    dropped = await api.call(
        "PUT",
        "/cqr/scorecards/spam",
        json={
            "weights": {k: 1 for k in SPAM_ALL if k != "tone"},
            "remove": ["closing", "tone"],
        },
    )
    assert (dropped["version"], list(dropped["weights"])) == (
        3,
        ["greeting", "identifying_problem", "related_offer", "script"],
    )
    # The rule holds against the version the new one follows (v3, without tone); bringing tone back is adding.
    stale = await api.call("PUT", "/cqr/scorecards/spam", json={"weights": {"greeting": 1, "tone": 2}}, status=400)
    assert stale["error"]["details"] == {
        "parameter": "weights",
        "missing": ["identifying_problem", "related_offer", "script"],
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the body is not valid JSON"),
        (b"{weights: 1}", "the body is not valid JSON"),
        (b"\xff\xfe\x00", "the body is not valid JSON"),
        (b'{"weights": {"tone": NaN}}', None),  # parsed, then refused as a weight
        (b'{"weights": {"tone": 1e999}}', None),
        (b"[" * 100_000, "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b'"weights"', "the body must be a JSON object"),
    ],
)
async def test_put_scorecard_rejects_bad_json(api: Api, raw: bytes, message: str | None) -> None:
    body = await api.call("PUT", "/cqr/scorecards/spam", data=raw, status=400)
    if message is None:
        assert body == bad("weights.tone", "the weight of tone must be a number above 0")
    else:
        assert body == error("invalid_json", message)


async def test_put_unknown_call_type_is_404(api: Api) -> None:
    body = await api.call("PUT", "/cqr/scorecards/sales", json={"weights": {"tone": 1}}, status=404)
    assert body["error"]["code"] == "not_found"


# --- roles ---


async def test_every_endpoint_needs_a_token(api: Api) -> None:
    for method, path in [
        ("GET", "/cqr/call-types"),
        ("GET", "/cqr/scorecards/spam"),
        ("PUT", "/cqr/scorecards/spam"),
        ("POST", "/cqr/evaluations"),
        ("GET", "/cqr/evaluations"),
    ]:
        assert await api.call(method, path, None, 401, json={}) == error(
            "unauthorized", "missing or invalid bearer token"
        )


async def test_roles(api: Api) -> None:
    assert await api.evaluate("ann", "L1", "spam", SPAM_ALL, 403) == error(
        "forbidden", "this needs the supervisor role; the token's role is analyst", required_role="supervisor"
    )
    for who, role in [("ann", "analyst"), ("sue", "supervisor")]:
        assert await api.call("PUT", "/cqr/scorecards/spam", who, 403, json={"weights": {"tone": 1}}) == error(
            "forbidden", f"this needs the admin role; the token's role is {role}", required_role="admin"
        )
    # Analysts read; admins may evaluate too.
    assert (await api.call("GET", "/cqr/evaluations", "ann")) == {"items": [], "next_cursor": None}
    assert (await api.evaluate("admin", "L1", "spam", SPAM_ALL))["supervisor"] == "bootstrap"


# --- evaluations ---


async def test_evaluate_then_conflict_then_replace(api: Api) -> None:
    created = await api.evaluate("sue", "L1", "qualification", QUALIFICATION_62_5, comment="missed the need")
    assert without_time(created) == {
        "id": created["id"],
        "call_id": "L1",
        "call_type": "qualification",
        "scorecard_version": 1,
        "scores": {
            "greeting": 1.0,
            "identifying_problem": 0.5,
            "presenting_product": 1.0,
            "initiative": 0.0,
            "closing": 0.5,
            "tone": 1.0,
            "script": 1.0,
        },
        "cqr": 62.5,
        "good": False,
        "comment": "missed the need",
        "supervisor": "sue",
        "operator": "7001",
        "operator_name": None,
        "version": 1,
        "accepted_at": None,
        "band": "to work on",
        "band_colour": "#c62828",
    }

    conflict = await api.evaluate("sue", "L1", "qualification", QUALIFICATION_62_5, 409)
    assert conflict == error(
        "conflict",
        "sue has already evaluated call L1; send replace=true to replace that evaluation",
        evaluation_id=created["id"],
    )

    # The call was an objection after all: replaced, same id and created_at, new type and CQR.
    replaced = await api.evaluate("sue", "L1", "objection", OBJECTION_82_5, 200, replace=True)
    assert replaced == {
        **created,
        "call_type": "objection",
        "cqr": 82.5,
        "good": True,
        "band": "good",
        "band_colour": "#2e7d32",
        "comment": None,
        "scores": {k: float(v) for k, v in OBJECTION_82_5.items()},
    }

    # Another supervisor's evaluation of the same call is separate.
    other = await api.evaluate("sam", "L1", "spam", SPAM_ALL)
    assert (other["cqr"], other["good"], other["supervisor"]) == (100.0, True, "sam")
    # replace=true with nothing to replace just creates.
    fresh = await api.evaluate("sue", "L3", "spam", SPAM_ALL, 201, replace=True)
    assert fresh["operator"] is None

    listed = await api.call("GET", "/cqr/evaluations?call_id=L1", "ann")
    assert [(i["id"], i["supervisor"], i["cqr"]) for i in listed["items"]] == [
        (other["id"], "sam", 100.0),
        (created["id"], "sue", 82.5),
    ]
    assert listed["items"][1] == replaced


async def test_unknown_call_is_404(api: Api) -> None:
    assert await api.evaluate("sue", "L404", "spam", SPAM_ALL, 404) == error(
        "not_found", "no call 'L404' is stored", call_id="L404"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"call_type": "spam", "scores": SPAM_ALL}, bad("call_id", "call_id must be a non-empty string")),
        (
            {"call_id": 17, "call_type": "spam", "scores": SPAM_ALL},
            bad("call_id", "call_id must be a non-empty string"),
        ),
        (
            {"call_id": "x" * 65, "call_type": "spam", "scores": SPAM_ALL},
            bad("call_id", "call_id is longer than 64 characters"),
        ),
        (
            {"call_id": "L1\x00", "call_type": "spam", "scores": SPAM_ALL},
            bad("call_id", "call_id must not contain NUL characters"),
        ),
        (
            {"call_id": "L1", "call_type": "sales", "scores": SPAM_ALL},
            bad("call_type", "call_type must be one of: qualification, objection, spam, transactional, reanimation"),
        ),
        ({"call_id": "L1", "call_type": "spam"}, bad("scores", "scores must be an object of criterion: 0, 0.5 or 1")),
        (
            {"call_id": "L1", "call_type": "spam", "scores": {**SPAM_ALL, "tone": 0.7}},
            bad("scores.tone", "the score of tone must be 0, 0.5 or 1"),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": {**SPAM_ALL, "tone": "1"}},
            bad("scores.tone", "the score of tone must be 0, 0.5 or 1"),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": {k: 1 for k in SPAM_ALL if k != "script"}},
            bad("scores.script", "script is not scored"),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": {**SPAM_ALL, "closing": 1}},
            bad(
                "scores.closing",
                "'closing' is not on this scorecard; it has: "
                "greeting, identifying_problem, related_offer, tone, script",
            ),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": SPAM_ALL, "comment": 5},
            bad("comment", "comment must be a non-empty string"),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": SPAM_ALL, "comment": "x" * 10_001},
            bad("comment", "comment is longer than 10000 characters"),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": SPAM_ALL, "replace": "yes"},
            bad("replace", "replace must be true or false"),
        ),
        (
            {"call_id": "L1", "call_type": "spam", "scores": SPAM_ALL, "operator": "7001"},
            bad("operator", "unknown field 'operator'; the fields are: call_id, call_type, scores, comment, replace"),
        ),
    ],
)
async def test_bad_evaluations(api: Api, body: dict, expected: dict) -> None:
    assert await api.call("POST", "/cqr/evaluations", "sue", 400, json=body) == expected
    assert await api.call("POST", "/cqr/evaluations", "sue", 400, data=b"{") == error(
        "invalid_json", "the body is not valid JSON"
    )
    assert (await api.call("GET", "/cqr/evaluations", "ann"))["items"] == []


async def test_new_weights_never_change_past_evaluations(api: Api) -> None:
    old = await api.evaluate("sue", "L1", "qualification", QUALIFICATION_62_5)
    assert (old["scorecard_version"], old["cqr"]) == (1, 62.5)

    weights = {**DEFAULT_SCORECARDS["qualification"], "identifying_problem": 1, "initiative": 6}
    card = await api.call("PUT", "/cqr/scorecards/qualification", json={"weights": weights})
    assert card["version"] == 2

    # Version 2 (Σw = 1+1+2+6+2+1+1 = 14): 1·1 + 0.5·1 + 1·2 + 0·6 + 0.5·2 + 1·1 + 1·1 = 6.5
    # -> 100 · 6.5 / 14 = 46.428… -> 46.43
    new = await api.evaluate("sam", "L1", "qualification", QUALIFICATION_62_5)
    assert (new["scorecard_version"], new["cqr"]) == (2, 46.43)

    listed = await api.call("GET", "/cqr/evaluations?call_type=qualification", "ann")
    assert [(i["supervisor"], i["scorecard_version"], i["cqr"]) for i in listed["items"]] == [
        ("sam", 2, 46.43),
        ("sue", 1, 62.5),
    ]
    assert listed["items"][1] == old

    # A new criterion on the card must be scored from now on; a removed one may no longer be.
    await api.call(
        "PUT",
        "/cqr/scorecards/qualification",
        json={
            "weights": {"greeting": 1, "related_offer": 1},
            "remove": ["identifying_problem", "presenting_product", "initiative", "closing", "tone", "script"],
        },
    )
    assert await api.evaluate("sam", "L2", "qualification", {"greeting": 1}, 400) == bad(
        "scores.related_offer", "related_offer is not scored"
    )
    # Replacing uses the version current at that moment: (1·1 + 0.5·1) / 2 = 75
    replaced = await api.evaluate(
        "sue", "L1", "qualification", {"greeting": 1, "related_offer": 0.5}, 200, replace=True
    )
    assert (replaced["id"], replaced["scorecard_version"], replaced["cqr"]) == (old["id"], 3, 75.0)
    assert (await api.call("GET", "/cqr/evaluations?supervisor=sam&call_id=L1", "ann"))["items"] == [new]


async def _seed_evaluations(api: Api, sessions) -> dict[str, dict]:
    """Five evaluations with fixed times (E3 and E4 at the same instant):
    name  call  operator  supervisor  type           cqr    created_at
    E1    L1    7001      sue         qualification  62.5   T
    E2    L2    7002      sue         objection      82.5   T + 1 h
    E3    L1    7001      sam         spam           100    T + 2 h
    E4    L3    -         sam         objection      82.5   T + 2 h
    E5    L2    7002      sam         qualification  62.5   T + 1 day"""
    made = {
        "E1": await api.evaluate("sue", "L1", "qualification", QUALIFICATION_62_5),
        "E2": await api.evaluate("sue", "L2", "objection", OBJECTION_82_5),
        "E3": await api.evaluate("sam", "L1", "spam", SPAM_ALL),
        "E4": await api.evaluate("sam", "L3", "objection", OBJECTION_82_5),
        "E5": await api.evaluate("sam", "L2", "qualification", QUALIFICATION_62_5),
    }
    times = {
        "E1": T,
        "E2": T + timedelta(hours=1),
        "E3": T + timedelta(hours=2),
        "E4": T + timedelta(hours=2),
        "E5": T + timedelta(days=1),
    }
    async with sessions() as s, s.begin():
        for name, when in times.items():
            await s.execute(update(CqrEvaluation).where(CqrEvaluation.id == made[name]["id"]).values(created_at=when))
    for name, when in times.items():
        made[name] = {**made[name], "created_at": when.isoformat()}
    return made


async def test_filters(api: Api, sessions) -> None:
    made = await _seed_evaluations(api, sessions)
    by_id = {v["id"]: k for k, v in made.items()}

    async def names(query: str) -> list[str]:
        body = await api.call("GET", f"/cqr/evaluations?{query}", "ann")
        assert all(item == made[by_id[item["id"]]] for item in body["items"])
        return [by_id[item["id"]] for item in body["items"]]

    assert await names("") == ["E5", "E4", "E3", "E2", "E1"]  # E4 and E3 tie on time: higher id first
    assert await names("call_id=L1") == ["E3", "E1"]
    assert await names("operator=7002") == ["E5", "E2"]
    assert await names("supervisor=sue") == ["E2", "E1"]
    assert await names("call_type=objection") == ["E4", "E2"]
    assert await names("good=true") == ["E4", "E3", "E2"]
    assert await names("good=false") == ["E5", "E1"]
    assert await names("from=2026-11-20T11:00:00Z&to=2026-11-20T12:00:00Z") == ["E2"]
    # The same hour written in Moscow time (+03:00).
    assert await names("from=2026-11-20T14:00:00%2B03:00&to=2026-11-20T15:00:00%2B03:00") == ["E2"]
    assert await names("from=2026-11-20T12:00:00Z") == ["E5", "E4", "E3"]
    assert await names("to=2026-11-20T12:00:00Z") == ["E2", "E1"]
    assert await names("supervisor=sam&good=true&operator=7001") == ["E3"]
    assert await names("supervisor=nobody") == []


async def test_keyset_pagination(api: Api, sessions) -> None:
    made = await _seed_evaluations(api, sessions)
    by_id = {v["id"]: k for k, v in made.items()}
    pages, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = await api.call("GET", f"/cqr/evaluations?{query}", "ann")
        pages.append([by_id[i["id"]] for i in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        # A new evaluation arriving between pages does not shift them.
        if len(pages) == 1:
            late = await api.evaluate("sue", "L3", "spam", SPAM_ALL)
            async with sessions() as s, s.begin():
                await s.execute(
                    update(CqrEvaluation).where(CqrEvaluation.id == late["id"]).values(created_at=T + timedelta(days=2))
                )
    assert pages == [["E5", "E4"], ["E3", "E2"], ["E1"]]
    exact = await api.call("GET", "/cqr/evaluations?limit=5&supervisor=sam", "ann")
    assert [by_id[i["id"]] for i in exact["items"]] == ["E5", "E4", "E3"]
    assert exact["next_cursor"] is None
    filtered = await api.call("GET", "/cqr/evaluations?limit=1&good=false", "ann")
    assert [by_id[i["id"]] for i in filtered["items"]] == ["E5"]
    rest = await api.call("GET", f"/cqr/evaluations?limit=1&good=false&cursor={filtered['next_cursor']}", "ann")
    assert ([by_id[i["id"]] for i in rest["items"]], rest["next_cursor"]) == (["E1"], None)


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "from=2026-11-20T10:00:00",
            bad("from", "from needs a time zone, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"),
        ),
        ("to=2026-11-20", bad("to", "to needs a time zone, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00")),
        (
            "from=yesterday",
            bad("from", "from must be an ISO 8601 time, e.g. 2026-11-26T00:00:00Z or 2026-11-26T00:00:00%2B03:00"),
        ),
        ("from=0001-01-01T00:00:00%2B05:00", bad("from", "from is out of range")),
        ("from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z", bad("to", "to is before from")),
        ("limit=0", bad("limit", "limit must be a whole number from 1 to 1000")),
        ("limit=1001", bad("limit", "limit must be a whole number from 1 to 1000")),
        ("limit=ten", bad("limit", "limit must be a whole number from 1 to 1000")),
        ("good=maybe", bad("good", "good must be true or false")),
        (
            "call_type=sales",
            bad("call_type", "call_type must be one of: qualification, objection, spam, transactional, reanimation"),
        ),
        ("call_id=L1%00", bad("call_id", "call_id must not contain NUL characters")),
        ("supervisor=" + "s" * 101, bad("supervisor", "supervisor is longer than 100 characters")),
        ("cursor=!!!", bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor(["2026-11-20T10:00:00", 5]), bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor(["2026-11-20T10:00:00Z", 2**40]), bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor(["2026-11-20T10:00:00Z", True]), bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor({"a": 1, "b": 2}), bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor([1, 2, 3]), bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor(["0001-01-01T00:00:00+05:00", 1]), bad("cursor", "cursor is not one this API gave out")),
        ("cursor=" + _cursor(["[" * 50_000, 1])[:100], bad("cursor", "cursor is not one this API gave out")),
    ],
)
async def test_bad_list_parameters(api: Api, query: str, expected: dict) -> None:
    assert await api.call("GET", f"/cqr/evaluations?{query}", "ann", 400) == expected


# --- no input gives a 500 ---

_ATOMS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    0.5,
    -1,
    2,
    1e308,
    -0.0,
    10**30,
    "",
    "x",
    "\x00",
    "L1",
    "L1\x00",
    "ü🙂",
    "a" * 300,
    "spam",
    "objection",
    "greeting",
    [],
    {},
    [1],
    {"greeting": 1},
    {"": 1},
    {"\x00": 1},
]


def _junk(rng: Any, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 2 or kind < 0.6:
        return rng.choice(_ATOMS)
    if kind < 0.8:
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = [*CRITERIA, "weights", "scores", "call_id", "x"]
    return {rng.choice(keys): _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


async def test_no_bad_input_gives_a_500(api: Api) -> None:
    rng = random.Random(20261126)
    valid = {"call_id": "L1", "call_type": "spam", "scores": dict(SPAM_ALL), "comment": "c", "replace": True}
    for _ in range(150):
        body: Any = {k: (_junk(rng) if rng.random() < 0.3 else v) for k, v in valid.items()}
        if rng.random() < 0.3:
            body["scores"] = {k: (_junk(rng) if rng.random() < 0.3 else v) for k, v in SPAM_ALL.items()}
        if rng.random() < 0.1:
            body = _junk(rng)
        resp = await api.client.post("/cqr/evaluations", json=body, headers={"Authorization": "Bearer " + ADMIN})
        assert resp.status in (200, 201, 400, 404, 409), (body, await resp.text())
        weights = {
            "weights": {
                k: _junk(rng) if rng.random() < 0.3 else rng.choice([1, 2, 0.5]) for k in rng.sample(list(CRITERIA), 3)
            }
        }
        resp = await api.client.put(
            "/cqr/scorecards/spam",
            json=weights if rng.random() < 0.8 else _junk(rng),
            headers={"Authorization": "Bearer " + ADMIN},
        )
        assert resp.status in (200, 400), await resp.text()
    values = [
        "",
        "x",
        "L1",
        "%00",
        "true",
        "0",
        "-1",
        "99999999999999999999",
        "2026-11-20T10:00:00Z",
        "9999-12-31T23:59:59-05:00",
        "2026-13-01T00:00:00Z",
        "%F0%9F%99%82",
        "a" * 70,
        "e30",
        "W10",
    ]
    for _ in range(150):
        names = ["call_id", "operator", "supervisor", "call_type", "good", "from", "to", "limit", "cursor"]
        query = "&".join(f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.randint(1, 4)))
        resp = await api.client.get(f"/cqr/evaluations?{query}", headers={"Authorization": "Bearer " + ADMIN})
        assert resp.status in (200, 400), (query, await resp.text())


async def test_a_scorecard_s_bands_say_what_its_cqrs_mean(api: Api) -> None:
    bands = [
        {"from": 0, "label": "to work on", "colour": "#C62828"},
        {"from": 90, "label": "excellent", "colour": "#1b5e20"},
        {"from": 75, "label": "fine", "colour": "#f9a825"},
    ]
    card = await api.call(
        "PUT", "/cqr/scorecards/objection", json={"weights": DEFAULT_SCORECARDS["objection"], "bands": bands}
    )
    assert (card["version"], card["bands"]) == (
        2,
        [
            {"from": 90.0, "label": "excellent", "colour": "#1b5e20"},
            {"from": 75.0, "label": "fine", "colour": "#f9a825"},
            {"from": 0.0, "label": "to work on", "colour": "#c62828"},
        ],
    )
    # weights alone keep the bands; the same weights and bands add no version
    again = await api.call("PUT", "/cqr/scorecards/objection", json={"weights": DEFAULT_SCORECARDS["objection"]})
    assert (again["version"], [b["label"] for b in again["bands"]]) == (2, ["excellent", "fine", "to work on"])
    objection = await api.evaluate("sue", "L1", "objection", OBJECTION_82_5)
    assert (objection["cqr"], objection["band"], objection["band_colour"]) == (82.5, "fine", "#f9a825")
    spam = await api.evaluate("sue", "L2", "spam", SPAM_ALL)  # the default bands
    assert (spam["band"], spam["band_colour"]) == ("good", "#2e7d32")
    for wrong, parameter in (
        ([{"from": 50, "label": "x", "colour": "#000000"}], "bands"),  # none from 0
        ([{"from": 0, "label": "a", "colour": "red"}], "bands.0.colour"),
        ([{"from": 0, "label": "a", "colour": "#000000"}, {"from": 0, "label": "b", "colour": "#000000"}], "bands"),
        ([{"from": 120, "label": "a", "colour": "#000000"}], "bands.0.from"),
    ):
        refused = await api.call(
            "PUT", "/cqr/scorecards/spam", status=400, json={"weights": DEFAULT_SCORECARDS["spam"], "bands": wrong}
        )
        assert refused["error"]["details"]["parameter"] == parameter, refused
