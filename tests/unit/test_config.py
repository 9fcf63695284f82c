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
