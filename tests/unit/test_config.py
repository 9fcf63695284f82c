from __future__ import annotations

import pytest

from ivr_survey.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("IVR_SURVEY_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    s = load_settings(_env_file=None)
    assert s.database_url == "sqlite+aiosqlite:///./ivr_survey.db"
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert s.api_token is None
    assert (s.ari_url, s.ari_user, s.ari_app) == ("http://127.0.0.1:8088", "ivr-survey", "ivr-survey")
    assert s.ari_enabled is False
    assert (s.no_input_timeout, s.inter_digit_timeout, s.max_retries) == (5.0, 3.0, 2)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("IVR_SURVEY_HTTP_PORT", "abc", "IVR_SURVEY_HTTP_PORT: Input should be a valid integer"),
        ("IVR_SURVEY_HTTP_PORT", "70000", "IVR_SURVEY_HTTP_PORT: Input should be less than or equal to 65535"),
        ("IVR_SURVEY_DATABASE_URL", "mysql://u:pw@h/db", "IVR_SURVEY_DATABASE_URL: unsupported driver 'mysql'"),
        ("IVR_SURVEY_DATABASE_URL", "not a url", "IVR_SURVEY_DATABASE_URL: not a database URL"),
        ("IVR_SURVEY_DATABASE_URL", "sqlite:////no/such/dir/x.db", "IVR_SURVEY_DATABASE_URL: directory /no/such/dir"),
        ("IVR_SURVEY_ARI_URL", "127.0.0.1:8088", "IVR_SURVEY_ARI_URL: must start with http:// or https://"),
        ("IVR_SURVEY_MAX_RETRIES", "9", "IVR_SURVEY_MAX_RETRIES: Input should be less than or equal to 5"),
        (
            "IVR_SURVEY_DEFAULT_COUNTRY",
            "Russia",
            'IVR_SURVEY_DEFAULT_COUNTRY: "Russia" is not a country code phonenumbers knows (ISO 3166 alpha-2, e.g. RU)',
        ),
    ],
)
def test_bad_value_gives_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert "pw" not in text


def test_secret_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_SURVEY_DATABASE_URL", "oracle://user:s3cret-pass@db/x")
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert "s3cret-pass" not in str(info.value)
    monkeypatch.setenv("IVR_SURVEY_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("IVR_SURVEY_ARI_PASSWORD", "s3cret-ari")
    s = load_settings(_env_file=None)
    assert "s3cret-ari" not in repr(s)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@127.0.0.1:5432/ivr", "postgresql+asyncpg://u:p@127.0.0.1:5432/ivr"),
        ("postgres://u@db/ivr", "postgresql+asyncpg://u@db/ivr"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_url_is_normalised(monkeypatch: pytest.MonkeyPatch, given: str, expected: str) -> None:
    monkeypatch.setenv("IVR_SURVEY_DATABASE_URL", given)
    assert load_settings(_env_file=None).database_url == expected


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("IVR_SURVEY_HTTP_PORT=9090\nIVR_SURVEY_ARI_APP=survey2\n")
    s = load_settings(_env_file=str(env))
    assert (s.http_port, s.ari_app) == (9090, "survey2")


def test_a_blank_secret_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line copied unedited from .env.example (`IVR_SURVEY_ARI_PASSWORD=`) leaves ARI off, not passwordless."""
    for name in ("IVR_SURVEY_ARI_PASSWORD", "IVR_SURVEY_AMI_SECRET", "IVR_SURVEY_API_TOKEN"):
        monkeypatch.setenv(name, "  ")
    s = load_settings(_env_file=None)
    assert (s.ari_password, s.ami_secret, s.api_token, s.ari_enabled) == (None, None, None, False)


def test_call_history_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_SURVEY_OPERATOR_PATTERN", "PJSIP/[0-9]+")
    with pytest.raises(ConfigError, match=r"^IVR_SURVEY_OPERATOR_PATTERN: needs one group: the operator's name$"):
        load_settings(_env_file=None)
    monkeypatch.setenv("IVR_SURVEY_OPERATOR_PATTERN", "PJSIP/(")
    with pytest.raises(ConfigError, match=r"^IVR_SURVEY_OPERATOR_PATTERN: not a regular expression"):
        load_settings(_env_file=None)
    monkeypatch.delenv("IVR_SURVEY_OPERATOR_PATTERN")
    monkeypatch.setenv("IVR_SURVEY_PBX_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match=r"^IVR_SURVEY_PBX_TIMEZONE: not a known time zone"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("IVR_SURVEY_ARI_URL", "http://[::1", "IVR_SURVEY_ARI_URL: not a URL (expected e.g. http://127.0.0.1:8088)"),
        ("IVR_SURVEY_ARI_URL", "http://", "IVR_SURVEY_ARI_URL: names no host (expected e.g. http://127.0.0.1:8088)"),
        (
            "IVR_SURVEY_ARI_URL",
            "http://127.0.0.1:notaport",
            "IVR_SURVEY_ARI_URL: the port must be a number from 1 to 65535",
        ),
        ("IVR_SURVEY_ARI_URL", "http://127.0.0.1:0", "IVR_SURVEY_ARI_URL: the port must be a number from 1 to 65535"),
        ("IVR_SURVEY_ARI_URL", "https://pbx:70000", "IVR_SURVEY_ARI_URL: the port must be a number from 1 to 65535"),
        ("IVR_SURVEY_ARI_URL", "ws://127.0.0.1:8088", "IVR_SURVEY_ARI_URL: must start with http:// or https://"),
        (
            "IVR_SURVEY_DATABASE_URL",
            "postgresql://u:pw@db:notaport/ivr",
            "IVR_SURVEY_DATABASE_URL: the port must be a number from 1 to 65535",
        ),
        (
            "IVR_SURVEY_DATABASE_URL",
            "postgresql://u:pw@db:99999/ivr",
            "IVR_SURVEY_DATABASE_URL: the port must be a number from 1 to 65535",
        ),
    ],
)
def test_a_malformed_url_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert str(info.value) == message


def test_every_http_url_setting_has_the_one_check() -> None:
    """A URL setting added later (anything *_url but the database's) is checked by the same validator, optional
    ones (`HttpUrl | None`) too."""
    from typing import get_args

    from ivr_survey.config import Settings, http_url

    urls = [name for name in Settings.model_fields if name.endswith("_url") and name != "database_url"]
    assert {"ari_url", "webhook_url", "alert_webhook_url", "telegram_api_url", "public_url"} <= set(urls)
    for name in urls:
        field = Settings.model_fields[name]
        metadata = [*field.metadata, *(m for a in get_args(field.annotation) for m in getattr(a, "__metadata__", ()))]
        assert [m.func for m in metadata if hasattr(m, "func")] == [http_url]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.10.20.30", True),
        ("localhost", True),
        ("LocalHost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.attacker.example", False),
        ("127.0.0.1.nip.io", False),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("pbx.example", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(monkeypatch: pytest.MonkeyPatch, host: str, loopback: bool) -> None:
    monkeypatch.setenv("IVR_SURVEY_HTTP_HOST", host)
    assert load_settings(_env_file=None).http_is_loopback is loopback


def test_bracketed_ipv6_hosts_are_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IVR_SURVEY_HTTP_HOST", "IVR_SURVEY_AMI_HOST", "IVR_SURVEY_AGI_HOST"):
        monkeypatch.setenv(name, "[::1]")
    s = load_settings(_env_file=None)
    assert (s.http_host, s.ami_host, s.agi_host) == ("::1", "::1", "::1")


def test_the_bootstrap_token_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_SURVEY_API_TOKEN", " \t0123456789abcdef0123 \n")
    token = load_settings(_env_file=None).api_token
    assert token is not None and token.get_secret_value() == "0123456789abcdef0123"


def test_serving_refuses_a_short_bootstrap_token_without_showing_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from ivr_survey.config import check_serving

    monkeypatch.setenv("IVR_SURVEY_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("IVR_SURVEY_API_TOKEN", "  s3cret-" + "x" * 8 + "  ")  # 15 characters once stripped
    with pytest.raises(ConfigError) as info:
        check_serving(load_settings(_env_file=None))
    assert str(info.value) == "IVR_SURVEY_API_TOKEN: too short; use at least 16 characters (e.g. openssl rand -hex 24)"
    assert "s3cret" not in str(info.value)
    monkeypatch.setenv("IVR_SURVEY_API_TOKEN", "  s3cret-" + "x" * 9 + "  ")
    check_serving(load_settings(_env_file=None))


def test_the_metrics_token_is_a_secret_blank_unset_stripped_and_long_enough(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from ivr_survey.config import check_serving

    monkeypatch.setenv("IVR_SURVEY_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("IVR_SURVEY_METRICS_TOKEN", "   ")
    assert load_settings(_env_file=None).metrics_token is None
    monkeypatch.setenv("IVR_SURVEY_METRICS_TOKEN", " scrape-" + "x" * 8 + " ")
    token = load_settings(_env_file=None).metrics_token
    assert token is not None and token.get_secret_value() == "scrape-xxxxxxxx" and "scrape" not in repr(token)
    with pytest.raises(ConfigError) as info:
        check_serving(load_settings(_env_file=None))
    assert str(info.value) == (
        "IVR_SURVEY_METRICS_TOKEN: too short; use at least 16 characters (e.g. openssl rand -hex 24)"
    )
    monkeypatch.setenv("IVR_SURVEY_METRICS_TOKEN", "scrape-" + "x" * 9)
    check_serving(load_settings(_env_file=None))


def test_serving_makes_the_spool_folder_with_its_parents(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from ivr_survey.config import check_serving

    monkeypatch.setenv("IVR_SURVEY_SPOOL_DIR", str(tmp_path / "a" / "b" / "spool"))
    check_serving(load_settings(_env_file=None))
    assert (tmp_path / "a" / "b" / "spool").is_dir()
    assert list((tmp_path / "a" / "b" / "spool").iterdir()) == []  # the write check leaves nothing behind


def test_the_write_check_makes_a_file_where_os_access_says_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    """/sys/kernel: root may write there by os.access, yet no file can be made in it."""
    import contextlib
    import os
    import tempfile

    from ivr_survey.config import check_serving

    if not os.access("/sys/kernel", os.W_OK | os.X_OK):
        pytest.skip("os.access already refuses /sys/kernel here")
    with contextlib.suppress(OSError), tempfile.NamedTemporaryFile(dir="/sys/kernel"):
        pytest.skip("/sys/kernel takes files here")
    monkeypatch.setenv("IVR_SURVEY_SPOOL_DIR", "/sys/kernel")
    with pytest.raises(ConfigError) as info:
        check_serving(load_settings(_env_file=None))
    assert str(info.value) == "IVR_SURVEY_SPOOL_DIR: /sys/kernel is not a writable folder (permission denied)"


def test_the_demo_has_its_own_database_spool_and_a_short_grace(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from pathlib import Path

    from ivr_survey.config import with_demo_defaults

    s = with_demo_defaults(load_settings(_env_file=None))
    assert (s.database_url, s.spool_dir, s.recordings_dir, s.shutdown_grace) == (
        "sqlite+aiosqlite:///./ivr_survey-demo.db",
        Path("spool-demo"),
        Path("recordings-demo"),
        3.0,
    )
    # given explicitly, in the environment or in .env, a setting is the operator's choice
    monkeypatch.setenv("IVR_SURVEY_SHUTDOWN_GRACE", "30")
    env = tmp_path / ".env"
    env.write_text(
        "IVR_SURVEY_DATABASE_URL=sqlite:///./mine.db\nIVR_SURVEY_SPOOL_DIR=./ivr_survey-spool\n"
        "IVR_SURVEY_RECORDINGS_DIR=/var/spool/asterisk/monitor\n"
    )
    s = with_demo_defaults(load_settings(_env_file=str(env)))
    assert (s.database_url, s.spool_dir, s.recordings_dir, s.shutdown_grace) == (
        "sqlite+aiosqlite:///./mine.db",
        Path("ivr_survey-spool"),
        Path("/var/spool/asterisk/monitor"),
        30.0,
    )


def test_the_demo_needs_a_recordings_folder_it_can_write(tmp_path) -> None:
    from ivr_survey.config import check_demo

    made = tmp_path / "made" / "here"
    check_demo(load_settings(_env_file=None, recordings_dir=made))
    assert made.is_dir()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError) as info:
        check_demo(load_settings(_env_file=None, recordings_dir=tmp_path / "a-file"))
    assert (
        str(info.value) == f"IVR_SURVEY_RECORDINGS_DIR: {tmp_path / 'a-file'} is not a writable folder (it is a file)"
    )


@pytest.mark.parametrize(("value", "expected"), [("RU", "RU"), (" de ", "DE"), ("", None), ("  ", None)])
def test_default_country_is_an_upper_case_code_or_unset(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None
) -> None:
    monkeypatch.setenv("IVR_SURVEY_DEFAULT_COUNTRY", value)
    assert load_settings(_env_file=None).default_country == expected
    monkeypatch.delenv("IVR_SURVEY_DEFAULT_COUNTRY")
    assert load_settings(_env_file=None).default_country is None
