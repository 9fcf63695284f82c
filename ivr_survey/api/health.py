"""GET /healthz: no auth; 200 while answers are safe (the database answers, or the spool can hold them),
503 otherwise, with what is wrong."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from ..db.engine import ping
from ..keys import AGI, AMI, DIALER, ENGINE, LEADERSHIP, SQLITE_FILE, STASIS, STORE
from .responses import json_response

Link = Literal["disabled", "connecting", "connected"]


class Spool(BaseModel):
    status: Literal["ok", "unwritable"]
    problem: str | None = None
    pending: int
    set_aside: int


class DialerHealth(BaseModel):
    status: Literal["idle", "dialing", "waiting_for_ari", "stopped"]
    campaigns_running: int
    calls_in_progress: int  # placed by this instance and not over yet


class Health(BaseModel):
    """What is wrong, if anything; a field that would be null (no problem) is left out."""

    model_config = ConfigDict(frozen=True)
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable", "lost"]
    database_problem: str | None = None
    ari: Link | Literal["replaced", "standby"]
    ami: Link
    agi: Literal["disabled", "listening"]
    pending_records: int
    spool: Spool
    dialer: DialerHealth | None = None  # with ARI
    # with ARI: one instance per ARI app is active (takes ARI calls, dials), the others wait as standbys
    role: Literal["active", "standby"] | None = None
    role_since: datetime | None = None
    takeovers: int | None = None  # times this instance became active


async def _database(app: web.Application) -> dict[str, Any]:
    sqlite_file = app.get(SQLITE_FILE)
    if sqlite_file is not None and (lost := sqlite_file.problem()) is not None:
        return {"database": "lost", "database_problem": f"database file {sqlite_file.path} is {lost}"}
    return {"database": "ok" if await ping(app[ENGINE]) else "unreachable"}


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database = await _database(app)
    spool = await app[STORE].health()
    stasis = app.get(STASIS)
    ami = app.get(AMI)
    dialer = app.get(DIALER)
    leadership = app.get(LEADERSHIP)
    if stasis is None:
        ari = "disabled"
    elif leadership is not None and leadership.role == "standby":  # waiting for the lock: healthy, by design
        ari = "standby"
    elif stasis.replaced:  # another instance took the ARI app: this one never hears a call again
        ari = "replaced"
    else:
        ari = "connected" if stasis.connected else "connecting"
    healthy = database["database"] == "ok" and spool.problem is None and ari != "replaced"
    body = {
        "status": "ok" if healthy else "degraded",
        **database,
        "ari": ari,
        "ami": "disabled" if ami is None else ("connected" if ami.connected else "connecting"),
        "agi": "disabled" if AGI not in app else "listening",
        "pending_records": spool.pending,
        "spool": {
            "status": "ok" if spool.problem is None else "unwritable",
            **({} if spool.problem is None else {"problem": spool.problem}),
            "pending": spool.pending,
            "set_aside": spool.set_aside,
        },
    }
    if dialer is not None:
        body["dialer"] = {
            "status": dialer.status(),
            "campaigns_running": dialer.campaigns_running,
            "calls_in_progress": dialer.calls_in_progress,
        }
    if leadership is not None:
        body |= {"role": leadership.role, "role_since": leadership.role_since, "takeovers": leadership.takeovers}
    health = Health.model_validate(body).model_dump(mode="json", exclude_none=True)
    return json_response(health, status=200 if healthy else 503)
