"""libpq-style PostgreSQL URLs, as cloud providers print them, become asyncpg's arguments (or one line saying what
to write instead), for the service and the migrations alike: both build their engine with create_engine."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from ivr_survey.config import ConfigError, load_settings
from ivr_survey.db.engine import postgresql_connection

BASE = "postgresql+asyncpg://ivr:pw@db.example:5432/ivr"
TIMEOUTS = {"timeout": 5, "command_timeout": 10}


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key: a root certificate, or a client certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("pem")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ivr-survey-test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return {"cert": cert, "key": key}


@pytest.mark.parametrize(
    ("query", "url", "ssl_arg"),
    [
        ("", BASE, None),
        ("?sslmode=require", BASE, "require"),
        ("?sslmode=verify-full", BASE, "verify-full"),
        ("?sslmode=disable&target_session_attrs=read-write", f"{BASE}?target_session_attrs=read-write", "disable"),
        ("?ssl=prefer&prepared_statement_cache_size=0", f"{BASE}?prepared_statement_cache_size=0", "prefer"),
    ],
)
def test_sslmode_becomes_asyncpgs_ssl_argument(query: str, url: str, ssl_arg: str | None) -> None:
    translated, args = postgresql_connection(BASE + query)
    assert translated.render_as_string(hide_password=False) == url
    assert args == (TIMEOUTS if ssl_arg is None else {**TIMEOUTS, "ssl": ssl_arg})


def test_certificate_files_become_an_ssl_context(pem: dict[str, Path]) -> None:
    url, args = postgresql_connection(f"{BASE}?sslmode=verify-full&sslrootcert={pem['cert']}")
    assert (url.render_as_string(hide_password=False), set(args)) == (BASE, {"timeout", "command_timeout", "ssl"})
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "ivr-survey-test"),),)]
    # libpq: verify-ca, and require given a root certificate, verify the chain but not the host name
    for mode in ("verify-ca", "require"):
        context = postgresql_connection(f"{BASE}?sslmode={mode}&sslrootcert={pem['cert']}")[1]["ssl"]
        assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, False)
    # a client certificate alone, with require: sent, and the server's is not checked (as libpq does)
    context = postgresql_connection(f"{BASE}?sslmode=require&sslcert={pem['cert']}&sslkey={pem['key']}")[1]["ssl"]
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "?sslmode=verify_full",
            "sslmode 'verify_full' is not one of disable, allow, prefer, require, verify-ca, verify-full",
        ),
        ("?sslmode=require&ssl=require", "give sslmode or ssl, not both"),
        ("?sslmode=require&sslmode=disable", "sslmode is given more than once"),
        ("?sslrootcert=/etc/ca.pem", "sslrootcert needs sslmode=require, verify-ca or verify-full"),
        (
            "?sslmode=prefer&sslcert=/c.pem&sslkey=/k.pem",
            "sslcert, sslkey needs sslmode=require, verify-ca or verify-full",
        ),
        ("?sslmode=require&sslkey=/k.pem", "sslkey needs sslcert, the client certificate it belongs to"),
        ("?sslmode=verify-full&sslrootcert=/no/such/ca.pem", "sslrootcert /no/such/ca.pem: no such file or directory"),
        (
            "?sslmode=require&channel_binding=require",
            "parameter 'channel_binding' is not supported by asyncpg; remove it (supported: sslmode, sslrootcert, "
            "sslcert, sslkey, prepared_statement_cache_size, target_session_attrs, passfile, krbsrvname, gsslib)",
        ),
    ],
)
def test_what_asyncpg_cannot_take_is_refused_at_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch, query: str, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        postgresql_connection(BASE + query)
    assert str(info.value) == message
    monkeypatch.setenv("IVR_SURVEY_DATABASE_URL", f"postgresql://ivr:hunter2@db.example/ivr{query}")
    with pytest.raises(ConfigError) as config_info:
        load_settings(_env_file=None)
    assert str(config_info.value) == f"IVR_SURVEY_DATABASE_URL: {message}"


def test_a_malformed_certificate_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=rf"^sslrootcert {bad}: "):
        postgresql_connection(f"{BASE}?sslmode=verify-ca&sslrootcert={bad}")


def test_the_settings_keep_the_url_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The translation happens where the engine is made; the setting stays what the operator wrote."""
    monkeypatch.setenv("IVR_SURVEY_DATABASE_URL", "postgresql://ivr:pw@db.example/ivr?sslmode=require")
    assert load_settings(_env_file=None).database_url == f"{BASE.replace(':5432', '')}?sslmode=require"
