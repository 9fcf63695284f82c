"""GET /healthz: no auth; 200 while answers are safe (the database answers, or the spool can hold them),
503 otherwise, with what is wrong."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..db.engine import ping
from ..keys import AGI, AMI, ENGINE, SQLITE_FILE, STASIS, STORE
from .responses import json_response


async def _database(app: web.Application) -> dict[str, Any]:
    sqlite_file = app.get(SQLITE_FILE)
    lost = sqlite_file.problem() if sqlite_file is not None else None
    if lost is not None:
        return {"database": "lost", "database_problem": f"database file {sqlite_file.path} is {lost}"}
    return {"database": "ok" if await ping(app[ENGINE]) else "unreachable"}


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database = await _database(app)
    spool = await app[STORE].health()
    stasis = app.get(STASIS)
    ami = app.get(AMI)
    healthy = database["database"] == "ok" and spool.problem is None
    body = {
        "status": "ok" if healthy else "degraded",
        **database,
        "ari": "disabled" if stasis is None else ("connected" if stasis.connected else "connecting"),
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
    return json_response(body, status=200 if healthy else 503)
