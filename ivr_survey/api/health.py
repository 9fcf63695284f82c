"""GET /healthz: no auth; 200 while the database answers, 503 otherwise."""

from __future__ import annotations

from aiohttp import web

from ..db.engine import ping
from ..keys import AGI, AMI, ENGINE, STASIS, STORE
from .responses import json_response


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database_ok = await ping(app[ENGINE])
    stasis = app.get(STASIS)
    ami = app.get(AMI)
    body = {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "unreachable",
        "ari": "disabled" if stasis is None else ("connected" if stasis.connected else "connecting"),
        "ami": "disabled" if ami is None else ("connected" if ami.connected else "connecting"),
        "agi": "disabled" if AGI not in app else "listening",
        "pending_records": app[STORE].pending,
    }
    return json_response(body, status=200 if database_ok else 503)
