"""The command line as an operator meets it: one-line errors with exit code 2, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_SURVEY_")}
    env.update(IVR_SURVEY_SPOOL_DIR=str(tmp_path / "spool"), **extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr_survey.cli", *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"IVR_SURVEY_DATABASE_URL": "mysql://root:hunter2@db/x"},
            "ivr-survey: IVR_SURVEY_DATABASE_URL: unsupported driver 'mysql' "
            "(use sqlite+aiosqlite or postgresql+asyncpg)",
        ),
        ({"IVR_SURVEY_HTTP_PORT": "http"},
         "ivr-survey: IVR_SURVEY_HTTP_PORT: Input should be a valid integer, unable to parse string as an integer "
         "(got 'http')"),
        ({"IVR_SURVEY_HTTP_HOST": "0.0.0.0"},
         "ivr-survey: refusing to serve the API on 0.0.0.0 without IVR_SURVEY_API_TOKEN; set a token or bind to "
         "127.0.0.1"),
        ({"IVR_SURVEY_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"},
         "ivr-survey: database migration failed: "),
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
        env = _env(tmp_path, IVR_SURVEY_HTTP_PORT=str(_free_port()), IVR_SURVEY_AGI_PORT=str(port))
        proc = _run(["serve"], env, tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"ivr-survey: cannot listen for FastAGI on 127.0.0.1:{port}: ")
    assert last.endswith("address already in use")


async def test_serve_answers_healthz_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr_survey.cli", "serve",
        env=_env(tmp_path, IVR_SURVEY_HTTP_PORT=str(port)), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
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
        assert body == (200, {"status": "ok", "database": "ok", "ari": "disabled", "ami": "disabled",
                               "agi": "disabled", "pending_records": 0})
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

    env = _env(tmp_path, IVR_SURVEY_HTTP_PORT=str(_free_port()), IVR_SURVEY_NO_INPUT_TIMEOUT="0.2")
    proc = _run(["demo", "--calls", "8", "--per-second", "20", "--speed", "20", "--seed", "3"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(tmp_path / "ivr_survey.db") as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM survey_responses")]
        history = db.execute("SELECT c.direction, c.disposition, o.code IS NOT NULL, EXISTS (SELECT 1 FROM "
                             "survey_responses r WHERE r.call_id = c.id) FROM calls c LEFT JOIN operators o "
                             "ON o.id = c.operator_id WHERE c.history_source = 'ami'").fetchall()
    assert set(statuses) <= {"completed", "partial", "no_input", "abandoned"}
    # the simulated PBX's AMI side: every call is in the history; the answered ones were surveyed, the missed
    # ones were not, and callbacks are answered outbound calls by an operator
    inbound = [h for h in history if h[0] == "inbound"]
    assert len(inbound) == 8
    assert sorted(inbound) == sorted([("inbound", "answered", 1, 1)] * len(statuses)
                                     + [("inbound", "missed", 0, 0)] * (8 - len(statuses)))
    assert all(h == ("outbound", "answered", 1, 0) for h in history if h[0] != "inbound")
    assert len(history) - len(inbound) <= 8 - len(statuses)


def test_token_create_list_revoke(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = _run(["token", "create", "--role", "supervisor", "--name", "sue"], env, tmp_path)
    assert created.returncode == 0
    assert created.stdout.startswith("ivs_") and len(created.stdout.strip()) > 40
    again = _run(["token", "create", "--role", "analyst", "--name", "sue"], env, tmp_path)
    assert (again.returncode, again.stderr.splitlines()[-1]) == (
        2, "ivr-survey: a token named 'sue' exists; revoke it or choose another name"
    )
    listed = _run(["token", "list"], env, tmp_path).stdout.split("\t")
    assert (listed[0], listed[1], listed[3]) == ("sue", "supervisor", "live\n")
    assert created.stdout.strip() not in _run(["token", "list"], env, tmp_path).stdout
    assert _run(["token", "revoke", "sue"], env, tmp_path).stdout == "token 'sue' revoked\n"
    assert _run(["token", "list"], env, tmp_path).stdout.split("\t")[3].startswith("revoked ")
    gone = _run(["token", "revoke", "sue"], env, tmp_path)
    assert (gone.returncode, gone.stderr.splitlines()[-1]) == (2, "ivr-survey: no live token named 'sue'")
