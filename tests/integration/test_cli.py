"""The command line as an operator meets it: one-line errors with exit code 2, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import wave
from pathlib import Path

import aiohttp
import pytest
from alembic.script import ScriptDirectory

from ivr_survey.db.migrate import alembic_config
from tests.support.api_client import AUTH, admin_client
from tests.support.waiting import free_port


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_SURVEY_")}
    env.update({"IVR_SURVEY_SPOOL_DIR": str(tmp_path / "spool"), **extra})
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr_survey.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"IVR_SURVEY_DATABASE_URL": "mysql://root:hunter2@db/x"},
            "ivr-survey: IVR_SURVEY_DATABASE_URL: unsupported driver 'mysql' "
            "(use sqlite+aiosqlite or postgresql+asyncpg)",
        ),
        (
            {"IVR_SURVEY_HTTP_PORT": "http"},
            "ivr-survey: IVR_SURVEY_HTTP_PORT: Input should be a valid integer, unable to parse string as an integer "
            "(got 'http')",
        ),
        (
            {"IVR_SURVEY_HTTP_HOST": "0.0.0.0"},
            "ivr-survey: refusing to serve the API on 0.0.0.0 without IVR_SURVEY_API_TOKEN; set a token or bind to "
            "127.0.0.1",
        ),
        (
            {"IVR_SURVEY_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"},
            "ivr-survey: database migration failed: ",
        ),
        (
            {"IVR_SURVEY_ARI_URL": "http://[::1"},
            "ivr-survey: IVR_SURVEY_ARI_URL: not a URL (expected e.g. http://127.0.0.1:8088)\n",
        ),
        (
            {"IVR_SURVEY_ARI_URL": "http://"},
            "ivr-survey: IVR_SURVEY_ARI_URL: names no host (expected e.g. http://127.0.0.1:8088)\n",
        ),
        (
            {"IVR_SURVEY_ARI_URL": "http://127.0.0.1:notaport", "IVR_SURVEY_ARI_PASSWORD": "hunter2"},
            "ivr-survey: IVR_SURVEY_ARI_URL: the port must be a number from 1 to 65535\n",
        ),
        (
            {"IVR_SURVEY_DATABASE_URL": "postgresql://u:hunter2@db:notaport/x"},
            "ivr-survey: IVR_SURVEY_DATABASE_URL: the port must be a number from 1 to 65535\n",
        ),
        (
            {"IVR_SURVEY_API_TOKEN": " hunter2-hunter2 "},
            "ivr-survey: IVR_SURVEY_API_TOKEN: too short; use at least 16 characters (e.g. openssl rand -hex 24)\n",
        ),
        (
            {"IVR_SURVEY_HTTP_HOST": "127.attacker.example"},
            "ivr-survey: refusing to serve the API on 127.attacker.example without IVR_SURVEY_API_TOKEN; set a token "
            "or bind to 127.0.0.1\n",
        ),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    proc = _run(["serve"], _env(tmp_path, **env), tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(expected)
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert "hunter2" not in proc.stderr


def test_migrate_on_a_fresh_database(tmp_path: Path) -> None:
    proc = _run(["migrate"], _env(tmp_path), tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "database is up to date\n")
    assert (tmp_path / "ivr_survey.db").exists()


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _run(["serve"], _env(tmp_path, IVR_SURVEY_HTTP_PORT=str(port)), tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"ivr-survey: cannot listen on 127.0.0.1:{port}: ")
    assert last.endswith("address already in use")


def test_agi_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _env(tmp_path, IVR_SURVEY_HTTP_PORT=str(free_port()), IVR_SURVEY_AGI_PORT=str(port))
        proc = _run(["serve"], env, tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"ivr-survey: cannot listen for FastAGI on 127.0.0.1:{port}: ")
    assert last.endswith("address already in use")


async def test_serve_answers_healthz_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr_survey.cli",
        "serve",
        env=_env(tmp_path, IVR_SURVEY_HTTP_PORT=str(port)),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        body = None
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        body = (resp.status, await resp.json())
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert body == (
            200,
            {
                "status": "ok",
                "database": "ok",
                "ari": "disabled",
                "ami": "disabled",
                "agi": "disabled",
                "pending_records": 0,
                "spool": {"status": "ok", "pending": 0, "set_aside": 0},
            },
        )
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_survey_add_and_list(tmp_path: Path) -> None:
    env = _env(tmp_path)
    survey_file = Path(__file__).resolve().parents[2] / "surveys" / "csat3.json"
    assert _run(["survey", "add", str(survey_file)], env, tmp_path).stdout == "survey 'csat3' version 1 stored\n"
    again = _run(["survey", "add", str(survey_file)], env, tmp_path)
    assert again.stdout == "survey 'csat3' version 1 unchanged, already stored\n"
    renamed = _run(["survey", "add", str(survey_file), "--name", "csat3-ru"], env, tmp_path)
    assert renamed.stdout == "survey 'csat3-ru' version 1 stored\n"
    listed = _run(["survey", "list"], env, tmp_path)
    assert listed.stdout.splitlines() == [
        "csat3\tv1\trating, solved, nps",
        "csat3-ru\tv1\trating, solved, nps",
        "default\tv1\trating",
    ]


def test_survey_add_refuses_a_bad_definition(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "questions": [{"key": "q", "prompts": {"en": "p"}, "scores": {}}]}')
    proc = _run(["survey", "add", str(bad)], _env(tmp_path), tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"ivr-survey: {bad}: ")
    assert proc.stderr.count("\n") == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    proc = _run(["survey", "add", str(broken)], _env(tmp_path), tmp_path)
    assert (proc.returncode, proc.stderr.count("\n")) == (2, 1)
    assert proc.stderr.startswith(f"ivr-survey: {broken}: JSONDecodeError: ")


def test_demo_runs_simulated_calls_into_the_database(tmp_path: Path) -> None:
    import sqlite3

    env = _env(tmp_path, IVR_SURVEY_HTTP_PORT=str(free_port()), IVR_SURVEY_NO_INPUT_TIMEOUT="0.2")
    proc = _run(["demo", "--calls", "8", "--per-second", "20", "--speed", "20", "--seed", "3"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    # its own database, never the one `serve` uses in the same folder
    assert "INFO ivr_survey: demo database sqlite+aiosqlite:///./ivr_survey-demo.db, spool " in proc.stderr
    assert not (tmp_path / "ivr_survey.db").exists()
    with sqlite3.connect(tmp_path / "ivr_survey-demo.db") as db:
        # the inbound calls' surveys (the demo's campaign runs meanwhile: tests/integration/test_demo_campaign.py)
        statuses = [row[0] for row in db.execute("SELECT status FROM survey_responses WHERE campaign_id IS NULL")]
        history = db.execute(
            "SELECT c.direction, c.disposition, o.code IS NOT NULL, EXISTS (SELECT 1 FROM "
            "survey_responses r WHERE r.call_id = c.id) FROM calls c LEFT JOIN operators o "
            "ON o.id = c.operator_id WHERE c.history_source = 'ami'"
        ).fetchall()
        operators = db.execute("SELECT code, name, team FROM operators ORDER BY code").fetchall()
    # named and in teams on demo start, by the same upsert as an import
    assert operators == [
        ("7001", "Анна Смирнова", "Продажи"),
        ("7002", "Иван Петров", "Продажи"),
        ("7003", "Olga Ivanova", "Продажи"),
        ("7004", "John Miller", "Support"),
        ("7005", "Мария Кузнецова", "Support"),
    ]
    assert set(statuses) <= {"completed", "partial", "no_input", "abandoned"}
    # the simulated PBX's AMI side: every call is in the history; the answered ones were surveyed, the missed
    # ones were not, and callbacks are answered outbound calls by an operator
    inbound = [h for h in history if h[0] == "inbound"]
    assert len(inbound) == 8
    assert sorted(inbound) == sorted(
        [("inbound", "answered", 1, 1)] * len(statuses) + [("inbound", "missed", 0, 0)] * (8 - len(statuses))
    )
    assert all(h == ("outbound", "answered", 1, 0) for h in history if h[0] != "inbound")
    assert len(history) - len(inbound) <= 8 - len(statuses)
    # every answered call (callbacks too) was recorded into ./recordings-demo, as MixMonitor names its files
    folder = (tmp_path / "recordings-demo").resolve()
    with sqlite3.connect(tmp_path / "ivr_survey-demo.db") as db:
        recorded = db.execute(
            "SELECT linkedid, disposition, recording FROM calls WHERE history_source = 'ami' ORDER BY id"
        ).fetchall()
    assert [(d, r is not None) for _, d, r in recorded] == [(d, d == "answered") for _, d, _ in recorded]
    files = {Path(r) for _, _, r in recorded if r is not None}
    assert {f.parent for f in files} == {folder} and files == set(folder.iterdir())
    for file in files:
        with wave.open(str(file)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
            assert 0.4 <= w.getnframes() / 8000 <= 4.0  # the simulated talk, 1-4 s
    # and the API serves them with the demo's settings
    linkedid, _, stored = next(row for row in recorded if row[2] is not None)

    async def fetch() -> tuple[int, str, bytes]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'ivr_survey-demo.db'}"
        async with admin_client(url, tmp_path, recordings_dir=tmp_path / "recordings-demo") as client:
            resp = await client.get(f"/calls/{linkedid}/recording", headers=AUTH)
            return resp.status, resp.headers["Content-Type"], await resp.read()

    assert asyncio.run(fetch()) == (200, "audio/x-wav", Path(stored).read_bytes())


def test_token_create_list_revoke(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = _run(["token", "create", "--role", "supervisor", "--name", "sue"], env, tmp_path)
    assert created.returncode == 0
    assert created.stdout.startswith("ivs_") and len(created.stdout.strip()) > 40
    again = _run(["token", "create", "--role", "analyst", "--name", "sue"], env, tmp_path)
    assert (again.returncode, again.stderr.splitlines()[-1]) == (
        2,
        "ivr-survey: a live token named 'sue' exists; revoke it or choose another name",
    )
    listed = _run(["token", "list"], env, tmp_path).stdout.split("\t")
    assert (listed[0], listed[1], listed[3]) == ("sue", "supervisor", "live\n")
    assert created.stdout.strip() not in _run(["token", "list"], env, tmp_path).stdout
    assert _run(["token", "revoke", "sue"], env, tmp_path).stdout == "token 'sue' revoked\n"
    assert _run(["token", "list"], env, tmp_path).stdout.split("\t")[3].startswith("revoked ")
    gone = _run(["token", "revoke", "sue"], env, tmp_path)
    assert (gone.returncode, gone.stderr.splitlines()[-1]) == (2, "ivr-survey: no live token named 'sue'")


@pytest.mark.parametrize("command", ["serve", "demo"])
@pytest.mark.parametrize(
    ("spool", "reason"),
    [
        ("a-file", "it is a file"),
        ("a-file/spool", "not a directory"),
        ("/proc/1", "no write permission"),  # refused even to root
        ("/proc/ivr-survey-spool", "no such file or directory"),
    ],
)
def test_an_unwritable_spool_folder_is_one_line(tmp_path: Path, command: str, spool: str, reason: str) -> None:
    (tmp_path / "a-file").write_text("")
    path = tmp_path / spool
    proc = _run([command], _env(tmp_path, IVR_SURVEY_SPOOL_DIR=str(path)), tmp_path)
    assert (proc.returncode, proc.stderr) == (
        2,
        f"ivr-survey: IVR_SURVEY_SPOOL_DIR: {path} is not a writable folder ({reason})\n",
    )


def test_an_unwritable_demo_recordings_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "recordings"
    proc = _run(["demo"], _env(tmp_path, IVR_SURVEY_RECORDINGS_DIR=str(path)), tmp_path)
    assert (proc.returncode, proc.stderr) == (
        2,
        f"ivr-survey: IVR_SURVEY_RECORDINGS_DIR: {path} is not a writable folder (not a directory)\n",
    )


def test_a_missing_spool_folder_is_made_with_its_parents(tmp_path: Path) -> None:
    # no database behind port 1: serve stops right after its checks
    env = _env(
        tmp_path,
        IVR_SURVEY_SPOOL_DIR=str(tmp_path / "var" / "spool"),
        IVR_SURVEY_DATABASE_URL="postgresql://u@127.0.0.1:1/x",
    )
    proc = _run(["serve"], env, tmp_path)
    assert (proc.returncode, proc.stderr.startswith("ivr-survey: database migration failed: ")) == (2, True)
    assert (tmp_path / "var" / "spool").is_dir()


async def test_a_padded_bootstrap_token_authenticates(tmp_path: Path) -> None:
    token = "0123456789abcdef0123"
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr_survey.cli",
        "serve",
        env=_env(tmp_path, IVR_SURVEY_HTTP_PORT=str(port), IVR_SURVEY_API_TOKEN=f"  {token}\t"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        statuses = None
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    statuses = []
                    for header in (f"Bearer {token}", f"Bearer   {token} ", "Bearer wrong-token-wrong-token"):
                        async with http.get(
                            f"http://127.0.0.1:{port}/ratings", headers={"Authorization": header}
                        ) as resp:
                            statuses.append(resp.status)
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert statuses == [200, 200, 401]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert token not in (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_a_revoked_tokens_name_may_be_given_again(database_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=database_url)
    assert _run(["token", "create", "--role", "analyst", "--name", "anna"], env, tmp_path).returncode == 0
    assert _run(["token", "revoke", "anna"], env, tmp_path).stdout == "token 'anna' revoked\n"
    again = _run(["token", "create", "--role", "supervisor", "--name", "anna"], env, tmp_path)
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.startswith("ivs_")
    # both are listed, the revoked one kept for the audit
    listed = [line.split("\t") for line in _run(["token", "list"], env, tmp_path).stdout.splitlines()]
    assert [(name, role, state.split(" ")[0]) for name, role, _created, state in listed] == [
        ("anna", "analyst", "revoked"),
        ("anna", "supervisor", "live"),
    ]
    # a second live one is refused, by the command and by the database
    refused = _run(["token", "create", "--role", "admin", "--name", "anna"], env, tmp_path)
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        2,
        "",
        "ivr-survey: a live token named 'anna' exists; revoke it or choose another name\n",
    )
    assert _run(["token", "revoke", "anna"], env, tmp_path).returncode == 0
    assert _run(["token", "revoke", "anna"], env, tmp_path).stderr == "ivr-survey: no live token named 'anna'\n"


def test_an_operator_token_names_its_operator(database_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=database_url)
    made = _run(["token", "create", "--role", "operator", "--operator", "7001", "--name", "olga"], env, tmp_path)
    assert (made.returncode, made.stderr, made.stdout.startswith("ivs_")) == (0, "", True)
    for args in (["--role", "operator"], ["--role", "analyst", "--operator", "7001"]):
        refused = _run(["token", "create", *args, "--name", "x"], env, tmp_path)
        assert (refused.returncode, refused.stderr) == (
            2,
            "ivr-survey: --operator goes with --role operator, and an operator token needs it (e.g. 7001)\n",
        )
    listed = [line.split("\t")[:2] for line in _run(["token", "list"], env, tmp_path).stdout.splitlines()]
    assert listed == [["olga", "operator:7001"]]


async def test_the_database_refuses_two_live_tokens_of_one_name(database_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from ivr_survey.db.engine import create_engine, create_sessionmaker
    from ivr_survey.db.tokens import create_token, revoke_token

    engine = create_engine(database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            await create_token(session, name="grafana", role="analyst")
            assert await revoke_token(session, name="grafana")
            await create_token(session, name="grafana", role="analyst")
        with pytest.raises(IntegrityError):
            async with sessions() as session, session.begin():
                await create_token(session, name="grafana", role="admin")
    finally:
        await engine.dispose()


def test_debug_logs_never_carry_sql_parameters(database_url: str, tmp_path: Path) -> None:
    import hashlib

    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=database_url, IVR_SURVEY_LOG_LEVEL="DEBUG")
    created = _run(["token", "create", "--role", "admin", "--name", "zz-distinct-name"], env, tmp_path)
    listed = _run(["token", "list"], env, tmp_path)
    assert created.returncode == listed.returncode == 0
    secret_hash = hashlib.sha256(created.stdout.strip().encode()).hexdigest()
    for proc in (created, listed):
        assert " DEBUG " in proc.stderr  # DEBUG is on, and still says something
        assert secret_hash not in proc.stderr
        assert "zz-distinct-name" not in proc.stderr


async def _read_lines(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode())


async def _wait_for(lines: list[str], text: str) -> None:
    async with asyncio.timeout(30):
        while not any(text in line for line in lines):
            await asyncio.sleep(0.05)


async def _demo(tmp_path: Path, **env: str) -> tuple[asyncio.subprocess.Process, list[str], asyncio.Task[None]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr_survey.cli",
        "demo",
        "--per-second",
        "4",
        "--seed",
        "5",
        env=_env(tmp_path, IVR_SURVEY_HTTP_PORT=str(free_port()), **env),
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    return proc, lines, asyncio.create_task(_read_lines(proc.stderr, lines))


async def test_the_demo_stops_within_its_own_short_grace(tmp_path: Path) -> None:
    proc, lines, reader = await _demo(tmp_path)
    try:
        await _wait_for(lines, "is calling in")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        await reader
        assert any(
            line.endswith(
                " INFO ivr_survey: shutting down; surveys in progress have up to 3 s to finish "
                "(a second Ctrl-C stops at once)\n"
            )
            for line in lines
        ), lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_second_ctrl_c_stops_the_demo_at_once(tmp_path: Path) -> None:
    """With a grace of 60 s and silent callers waiting 30 s per question, only the second Ctrl-C ends it soon."""
    proc, lines, reader = await _demo(tmp_path, IVR_SURVEY_SHUTDOWN_GRACE="60", IVR_SURVEY_NO_INPUT_TIMEOUT="30")
    try:
        await _wait_for(lines, ": survey default v1 for operator ")  # a survey has begun
        proc.send_signal(signal.SIGINT)
        await _wait_for(lines, "INFO ivr_survey.ari.stasis: waiting up to 60 s for ")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 130
        await reader
        assert lines[-1].endswith(
            " WARNING ivr_survey: second signal: stopping at once, surveys in progress are cut off\n"
        )
        assert not any("Traceback" in line for line in lines)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (IVR_SURVEY_TEST_DATABASE_URL)")


@pytest.mark.parametrize("mode", ["disable", "prefer"])
def test_migrate_and_alembic_take_a_libpq_sslmode(database_url: str, tmp_path: Path, mode: str) -> None:
    _postgresql_only(database_url)
    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=f"{database_url}?sslmode={mode}")
    assert _run(["migrate"], env, tmp_path).stdout == "database is up to date\n"
    # `alembic` from the repository root builds its engine the same way (migrations/env.py)
    root = Path(__file__).resolve().parents[2]
    alembic = subprocess.run(
        [Path(sys.executable).parent / "alembic", "current"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert (alembic.returncode, alembic.stdout.split()) == (0, [head, "(head)"]), alembic.stderr


def test_sslmode_require_without_ssl_on_the_server_is_one_line(database_url: str, tmp_path: Path) -> None:
    """The local test server has no SSL: the one line says so, rather than asyncpg's TypeError for sslmode."""
    from sqlalchemy.engine import make_url

    _postgresql_only(database_url)
    url = make_url(database_url)
    for command in ("migrate", "serve"):
        proc = _run([command], _env(tmp_path, IVR_SURVEY_DATABASE_URL=f"{database_url}?sslmode=require"), tmp_path)
        assert (proc.returncode, proc.stderr) == (
            2,
            f'ivr-survey: database migration failed: ConnectionError: PostgreSQL server at "{url.host}:{url.port}" '
            "rejected SSL upgrade\n",
        )


def test_operators_import_and_list(database_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=database_url)
    excel = tmp_path / "operators.csv"  # as Excel saves "CSV UTF-8" in a Russian locale
    excel.write_bytes(
        'id;name;team\r\n7001;Анна Смирнова;Продажи\r\n7002;"Miller; John";Support\r\n7003;;\r\n'.encode("utf-8-sig")
    )
    imported = _run(["operators", "import", str(excel)], env, tmp_path)
    assert (imported.returncode, imported.stdout, imported.stderr) == (0, "3 created, 0 updated\n", "")
    listed = _run(["operators", "list"], env, tmp_path)
    assert listed.stdout == "7001\tАнна Смирнова\tПродажи\n7002\tMiller; John\tSupport\n7003\t\t\n"
    again = _run(["operators", "import", str(excel)], env, tmp_path)
    assert again.stdout == "0 created, 0 updated\n"  # the same file again changes nothing

    changes = tmp_path / "changes.csv"
    changes.write_text("id,name,team\n7001,Анна Смирнова,\n7004,Иван Петров,Продажи\n", encoding="utf-8")
    assert _run(["operators", "import", str(changes)], env, tmp_path).stdout == "1 created, 1 updated\n"
    assert _run(["operators", "list"], env, tmp_path).stdout == (
        "7001\tАнна Смирнова\t\n7002\tMiller; John\tSupport\n7003\t\t\n7004\tИван Петров\tПродажи\n"
    )
    team = _run(["operators", "list", "--team", "Продажи"], env, tmp_path)
    assert team.stdout == "7004\tИван Петров\tПродажи\n"


def test_a_bad_operators_file_is_one_line_and_stores_nothing(database_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=database_url)
    good = "id,name,team\n7001,Anna,Sales\n7002,Bob,Sales\n"
    files: dict[str, bytes] = {
        "missing-column.csv": b"id,name\n7001,Anna\n",
        "empty-id.csv": (good + ",Carl,Support\n").encode(),
        "duplicate-id.csv": (good + "7001,Ann,Support\n").encode(),
        "long-name.csv": (good + f"7003,{'x' * 201},Support\n").encode(),
        "long-team.csv": (good + f"7003,Carl,{'x' * 101}\n").encode(),
        "long-id.csv": (good + f"{'7' * 65},Carl,Support\n").encode(),
        "cp1251.csv": (good + "7003,Иван,Продажи\n").encode("cp1251"),
        "unquoted-comma.csv": (good + "7003,Petrov, Ivan,Support\n").encode(),
        "empty.csv": b"",
    }
    expected = {
        "missing-column.csv": "1: the header must name the columns id, name and team; missing: team",
        "empty-id.csv": "4: id is empty",
        "duplicate-id.csv": "4: id 7001 is given again (first on line 2)",
        "long-name.csv": "4: name is longer than 200 characters",
        "long-team.csv": "4: team is longer than 100 characters",
        "long-id.csv": "4: id is longer than 64 characters",
        "cp1251.csv": "4: not UTF-8 text; save the file as CSV UTF-8",
        "unquoted-comma.csv": "4: 4 cells where the header has 3; quote a value holding ','",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        proc = _run(["operators", "import", str(path)], env, tmp_path)
        line = (
            f"{path}:{expected[name]}"
            if name in expected
            else f"{path}: the file is empty; it needs a header line: id,name,team"
        )
        assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"ivr-survey: {line}\n"), name
    for path, why in ((tmp_path / "nowhere.csv", "No such file or directory"), (tmp_path, "Is a directory")):
        proc = _run(["operators", "import", str(path)], env, tmp_path)
        assert (proc.returncode, proc.stderr) == (2, f"ivr-survey: {path}: cannot read it: {why}\n")
    assert _run(["operators", "list"], env, tmp_path).stdout == ""  # nothing of any file was stored


def test_policy_set_changes_the_options_given_and_keeps_the_others(database_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, IVR_SURVEY_DATABASE_URL=database_url)
    first = _run(["policy", "set", "sales", "--share", "0.3", "--cooldown-days", "7"], env, tmp_path)
    assert (first.returncode, first.stdout, first.stderr) == (0, "sales: version 1\n", "")
    second = _run(["policy", "set", "sales", "--consent", "ask", "--languages", "ru,en"], env, tmp_path)
    assert second.stdout == "sales: version 2\n"
    same = _run(["policy", "set", "sales", "--share", "0.3"], env, tmp_path)
    assert same.stdout == "sales: version 2 (unchanged)\n"
    bad = _run(["policy", "set", "sales", "--share", "1.5"], env, tmp_path)
    assert (bad.returncode, bad.stdout, bad.stderr) == (
        2,
        "",
        "ivr-survey: share must be a number from 0 to 1, got 1.5\n",
    )
    listed = _run(["policy", "list"], env, tmp_path)
    assert listed.stdout == (
        'sales\tv2\t{"survey": null, "share": 0.3, "cooldown_days": 7, "consent": "ask", "consent_default": "no", '
        '"languages": ["ru", "en"], "not_offered": "continue"}\n'
    )
