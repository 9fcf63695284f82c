"""The workstation's pages over HTTP, without a browser: sign-in and sessions, roles and CSRF, languages,
static files, refusals as pages, and the admin's edit of an operator."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr_survey.app import create_app
from ivr_survey.config import ConfigError, Settings, check_serving
from ivr_survey.db.operators import get_operator
from ivr_survey.db.tokens import create_token
from ivr_survey.keys import SESSIONS
from ivr_survey.web.session import COOKIE, KEY_FILE, session_secret

TOKEN = "bootstrap-admin-token-for-tests"


def settings(database_url: str, tmp_path: Path, **more: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, spool_dir=tmp_path / "spool", **more)  # type: ignore[arg-type]


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(settings(database_url, tmp_path, api_token=TOKEN)))) as c:
        yield c


async def token(client: TestClient, role: str, name: str | None = None) -> str:
    async with client.app[SESSIONS]() as s, s.begin():
        return await create_token(s, name=name or f"web-{role}", role=role)


async def sign_in(client: TestClient, value: str) -> None:
    resp = await client.post("/ui/sign-in", data={"token": value, "next": "/ui/calls"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/ui/calls"


async def csrf_of(client: TestClient, path: str) -> str:
    page = await (await client.get(path)).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


async def test_without_a_session_the_pages_send_to_the_sign_in(client: TestClient) -> None:
    for path in ("/", "/ui/calls", "/ui/review", "/ui/operators/7001"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303, path
        assert resp.headers["Location"].startswith("/ui/sign-in?next=")
    form = await client.get("/ui/sign-in")
    assert form.status == 200 and 'name="token"' in await form.text()


async def test_sign_in_sets_a_strict_http_only_cookie_without_the_token(client: TestClient) -> None:
    value = await token(client, "analyst")
    refused = await client.post("/ui/sign-in", data={"token": "ivs_wrong", "next": "/"})
    assert refused.status == 401
    assert "This token is not valid" in await refused.text()
    resp = await client.post("/ui/sign-in", data={"token": value, "next": "//evil.example/x"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"  # only this site's paths
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert value not in cookie and value.removeprefix("ivs_") not in cookie
    page = await client.get("/")
    assert page.status == 200
    text = await page.text()
    assert "web-analyst · analyst" in text and value not in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


async def test_the_session_reads_the_api_but_never_writes_it(client: TestClient) -> None:
    await sign_in(client, await token(client, "supervisor"))
    assert (await client.get("/ratings")).status == 200  # the CSV links and the recording player use this
    write = await client.post("/cqr/evaluations", json={"call_id": "x", "call_type": "spam", "scores": {}})
    assert write.status == 401
    assert (await write.json())["error"]["code"] == "unauthorized"


async def test_roles_and_csrf_on_the_forms(client: TestClient) -> None:
    await sign_in(client, await token(client, "analyst"))
    form = {"call_id": "c1", "call_type": "spam", "score.greeting": "1"}
    assert (await client.post("/ui/review/evaluate", data=form)).status == 403
    assert (await client.post("/ui/operators/7001", data={"name": "X"})).status == 403
    client.session.cookie_jar.clear()
    await sign_in(client, await token(client, "admin"))
    async with client.app[SESSIONS]() as s:
        assert await get_operator(s, code="7001") is None
    no_csrf = await client.post("/ui/operators/7001", data={"name": "Анна"})
    assert no_csrf.status == 403
    assert "did not come from this site" in await no_csrf.text()
    csrf = await csrf_of(client, "/ui/calls")
    other_site = await client.post(
        "/ui/operators/7001", data={"name": "Анна", "csrf": csrf}, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status == 403
    async with client.app[SESSIONS]() as s:
        assert await get_operator(s, code="7001") is None  # nothing was stored by the refused posts
    edit = await client.post(
        "/ui/operators/7001", data={"name": " Анна Смирнова ", "team": "Sales", "csrf": csrf}, allow_redirects=False
    )
    assert edit.status == 303 and edit.headers["Location"] == "/ui/operators/7001?saved=1"
    async with client.app[SESSIONS]() as s:
        row = await get_operator(s, code="7001")
    assert row is not None and (row.name, row.team) == ("Анна Смирнова", "Sales")
    out = await client.post("/ui/sign-out", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_language_from_the_browser_then_the_switch(client: TestClient) -> None:
    await sign_in(client, await token(client, "analyst"))
    ru = await (await client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})).text()
    assert '<html lang="ru">' in ru and "Принято звонков" in ru
    switch = await client.get("/ui/language/en?next=/ui/calls", allow_redirects=False)
    assert switch.status == 303 and switch.headers["Location"] == "/ui/calls"
    en = await (await client.get("/", headers={"Accept-Language": "ru-RU"})).text()
    assert '<html lang="en">' in en and "Calls answered" in en
    assert (await client.get("/ui/language/de", allow_redirects=False)).status == 404


async def test_refusals_are_pages_in_the_viewers_language(client: TestClient) -> None:
    await sign_in(client, await token(client, "analyst"))
    ru = {"Accept-Language": "ru"}
    cases = [
        ("/?period=custom&from=2026-02-01&to=2026-01-01", 400, "Дата окончания раньше даты начала."),
        ("/?period=year", 400, "Неизвестный период."),
        ("/?unit=hour", 400, "Динамика строится по дням или по неделям."),
        ("/ui/operators/9999", 404, "Оператора 9999 нет."),
        ("/ui/review?date=tomorrow", 400, "День указан неверно."),
        ("/ui/calls?direction=sideways", 400, "Неверный фильтр (direction)"),
        ("/ui/calls?sort=nonsense", 400, "Неверный фильтр (sort)"),
    ]
    for path, status, message in cases:
        resp = await client.get(path, headers=ru)
        assert resp.status == status, path
        assert resp.content_type == "text/html", path
        assert message in await resp.text(), path


async def test_static_files_have_content_hashed_names(client: TestClient) -> None:
    page = await (await client.get("/ui/sign-in")).text()
    css = re.search(r'href="(/static/app\.[0-9a-f]{10}\.css)"', page)
    js = re.search(r'src="(/static/app\.[0-9a-f]{10}\.js)"', page)
    assert css is not None and js is not None
    resp = await client.get(css.group(1))
    assert resp.status == 200 and resp.content_type == "text/css"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await client.get(js.group(1))).content_type in {"text/javascript", "application/javascript"}
    assert (await client.get("/static/app.0000000000.css")).status == 404


async def test_anonymous_on_loopback_reads_the_pages_as_the_api_does(database_url: str, tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(settings(database_url, tmp_path)))) as anonymous:
        page = await anonymous.get("/")
        assert page.status == 200
        assert "Not signed in (read only)" in await page.text()
        assert (await anonymous.post("/ui/review/evaluate", data={"call_id": "x"})).status == 403


def test_the_session_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    config = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    key = session_secret(config)
    assert len(key) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600
    assert session_secret(config) == key
    given = Settings(_env_file=None, data_dir=tmp_path, session_secret="s" * 40)  # type: ignore[call-arg]
    assert session_secret(given) == "s" * 40


def test_a_short_session_secret_is_refused_at_start(tmp_path: Path) -> None:
    short = Settings(_env_file=None, spool_dir=tmp_path / "spool", session_secret="short")  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as refused:
        check_serving(short)
    assert str(refused.value) == (
        "IVR_SURVEY_SESSION_SECRET: too short; use at least 32 characters (e.g. openssl rand -hex 32)"
    )


async def test_the_viewers_time_zone_from_the_browsers_cookie(client: TestClient) -> None:
    await sign_in(client, await token(client, "analyst"))
    moscow = await (await client.get("/", headers={"Cookie": "ivr_tz=Europe%2FMoscow"})).text()
    assert 'data-tz="Europe/Moscow"' in moscow
    given = await (await client.get("/?tz=Asia/Tokyo", headers={"Cookie": "ivr_tz=Europe%2FMoscow"})).text()
    assert 'data-tz="Asia/Tokyo"' in given
    unknown = await (await client.get("/", headers={"Cookie": "ivr_tz=Mars%2FOlympus"})).text()
    assert 'data-tz="UTC"' in unknown  # the PBX's zone


async def test_revoking_the_token_ends_its_session(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr_survey.api import auth
    from ivr_survey.db.tokens import revoke_token

    monkeypatch.setattr(auth, "_CACHE_SECONDS", 0.0)  # the cache's few seconds are the only delay
    await sign_in(client, await token(client, "supervisor", name="leaver"))
    assert (await client.get("/", allow_redirects=False)).status == 200
    async with client.app[SESSIONS]() as s, s.begin():
        assert await revoke_token(s, name="leaver")
    gone = await client.get("/", allow_redirects=False)
    assert gone.status == 303 and gone.headers["Location"].startswith("/ui/sign-in")
    assert (await client.get("/ratings")).status == 401


async def test_a_form_scored_in_part_is_shown_again_with_what_is_missing(database_url: str, tmp_path: Path) -> None:
    from tests.support.workstation import ANNA, PARTIAL, linkedid, seed_day

    config = settings(database_url, tmp_path, api_token=TOKEN, recordings_dir=tmp_path / "rec")
    async with TestClient(TestServer(create_app(config))) as c:
        tokens = await seed_day(c.app[SESSIONS], tmp_path / "rec")
        await sign_in(c, tokens.supervisor)
        call = linkedid(ANNA, 0)
        csrf = await csrf_of(c, f"/ui/review?date=2026-11-20&tz=UTC&call={call}")
        scores = {f"score.{k}": str(v) for k, v in PARTIAL.items() if k != "closing"}
        form = {"csrf": csrf, "call_id": call, "call_type": "qualification", "date": "2026-11-20", **scores}
        resp = await c.post("/ui/review/evaluate", data=form, headers={"Accept-Language": "ru"})
        assert resp.status == 400
        page = await resp.text()
        assert "Оценка не сохранена: оцените и «Закрытие»." in page
        assert 'value="0.5" aria-label="Выявление потребности 0.5" checked' in page  # the draft kept
        assert '<span class="q">Пожалуйста, оцените разговор от 1 до 5</span> <strong>1</strong>' in page
        bad = await c.post("/ui/review/evaluate", data={**form, "score.closing": "0.7"})
        assert "«Closing» is scored 0, 0.5 or 1." in await bad.text()
        none = await c.get(f"/cqr/evaluations?call_id={call}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (await none.json())["items"] == []
        saved = await c.post("/ui/review/evaluate", data={**form, "score.closing": "0"}, allow_redirects=False)
        assert saved.status == 303
        assert saved.headers["Location"].startswith("/ui/review?date=2026-11-20&saved=")


@pytest.mark.parametrize(
    "target",
    ["/%09/evil.example", "/%0a/evil.example", "//evil.example", "https://evil.example/", "/\\evil.example", "evil"],
)
async def test_no_redirect_leaves_the_site(client: TestClient, target: str) -> None:
    resp = await client.get(f"/ui/language/ru?next={target}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    value = await token(client, "analyst")
    signed = await client.post("/ui/sign-in", data={"token": value, "next": target.replace("%09", "\t")})
    assert signed.url.host == client.server.host  # wherever it lands, it is this site


async def test_days_beyond_any_call_are_refused_not_crashed(client: TestClient) -> None:
    await sign_in(client, await token(client, "analyst"))
    for path in (
        "/?period=custom&from=9999-12-31&to=9999-12-31",
        "/?period=custom&from=0001-01-01&to=0001-01-02&tz=Asia/Tokyo",
        "/ui/calls?period=custom&from=0001-01-01&tz=Asia/Tokyo",
        "/ui/review?date=0001-01-01&tz=Asia/Tokyo",
        "/ui/review?date=9999-12-31",
    ):
        resp = await client.get(path)
        assert resp.status == 400, path
        assert "error" in await resp.text()


async def test_a_form_through_a_tls_proxy_keeps_its_origin(client: TestClient) -> None:
    await sign_in(client, await token(client, "admin"))
    csrf = await csrf_of(client, "/ui/calls")
    host = f"{client.server.host}:{client.server.port}"
    proxied = await client.post(
        "/ui/operators/7009",
        data={"name": "Bea", "csrf": csrf},
        headers={"Origin": f"https://{host}"},
        allow_redirects=False,
    )
    assert proxied.status == 303
    too_long = await client.post("/ui/operators/7009", data={"team": "t" * 101, "csrf": csrf})
    assert too_long.status == 400 and "one line of at most 100 characters" in await too_long.text()
