"""Settings from the environment: embedded defaults in development, hard requirements in production."""

from __future__ import annotations

import pytest

from config.settings import (
    DEV_DEFAULTS,
    PRODUCTION_REQUIRED,
    REAL_WECHAT_API,
    ConfigError,
    load_settings,
    settings_variables,
)

PRODUCTION = {
    "SANZHIDA_ENV": "production",
    "DATABASE_URL": "postgresql://app@db/sanzhida",
    "REDIS_URL": "redis://cache:6379/0",
    "WECHAT_TOKEN": "tok",
    "WECHAT_APP_ID": "wx1",
    "WECHAT_APP_SECRET": "sec",
    "SECRET_KEY": "s" * 40,
    "ADMIN_API_TOKEN": "a" * 40,
    "PII_KEY": "p" * 40,
    "WECHAT_TEMPLATE_TASK": "tpl-task",
    "WECHAT_TEMPLATE_PROGRESS": "tpl-progress",
    "PUBLIC_BASE_URL": "https://mz.example.cn/",
    "WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
}


def test_development_defaults_are_embedded():
    """With nothing set: SQLite under instance/, the in-process Redis, the real WeChat API."""
    settings = load_settings({}, read_dotenv=False)
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("instance/sanzhida.db")
    assert settings.uses_embedded_redis
    assert settings.wechat_api_base_url == REAL_WECHAT_API
    assert settings.tz_name == "Asia/Shanghai"
    assert settings.wechat_token == DEV_DEFAULTS["WECHAT_TOKEN"]
    assert not settings.safe_mode


def test_production_with_everything_set_starts():
    """A complete production environment is accepted and uses no development default."""
    settings = load_settings(PRODUCTION, read_dotenv=False)
    assert settings.is_production
    assert settings.redis_url == "redis://cache:6379/0"
    assert set(DEV_DEFAULTS.values()).isdisjoint(
        {settings.wechat_token, settings.secret_key, settings.pii_key, settings.admin_api_token}
    )


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED)
def test_production_refuses_to_start_without_each_required_variable(missing):
    """Each missing production variable stops start-up with its name in the message."""
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env, read_dotenv=False)


@pytest.mark.parametrize(
    "name, value",
    [
        ("SANZHIDA_ENV", "staging"),
        ("SANZHIDA_TZ", "Mars/Olympus"),
        ("WECHAT_ENCODING_AES_KEY", "too-short"),
        ("WECHAT_API_BASE_URL", "ftp://example"),
        ("WECHAT_HTTP_TIMEOUT", "soon"),
        ("WECHAT_MAX_BODY_BYTES", "-1"),
        ("WECHAT_REPLY_MODE", "later"),
        ("PII_KEY", "short"),
        ("MEDIA_STORE_URL", "media/"),
        ("MEDIA_STORE_URL", "https://bucket.example"),
        ("MEDIA_MAX_BYTES", "0"),
        ("MEDIA_RETENTION_DAYS", "forever"),
        ("S3_ADDRESSING_STYLE", "dns"),
        ("ASR_URL", "http://asr:10095"),
        ("ASR_TIMEOUT", "-5"),
        ("WECHAT_OAUTH_URL", "open.weixin.qq.com"),
        ("WECHAT_ALLOW_PLAINTEXT", "maybe"),
    ],
)
def test_malformed_values_are_refused_naming_the_variable(name, value):
    """A malformed value is refused with the variable's name."""
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, read_dotenv=False)


@pytest.mark.parametrize("name", ["SECRET_KEY", "ADMIN_API_TOKEN", "PII_KEY"])
def test_production_refuses_short_secrets(name):
    """Production secrets must be long enough to resist guessing."""
    with pytest.raises(ConfigError, match=name):
        load_settings({**PRODUCTION, name: "short-but-set"}, read_dotenv=False)


@pytest.mark.parametrize("name", sorted(DEV_DEFAULTS))
def test_production_refuses_development_values(name):
    """A development default copied into production is refused by name."""
    with pytest.raises(ConfigError, match=name):
        load_settings({**PRODUCTION, name: DEV_DEFAULTS[name]}, read_dotenv=False)


def test_public_base_url_defaults_locally_and_must_be_https_in_production():
    """Links in pushes point at the local server in development; production needs its https address."""
    assert load_settings({}, read_dotenv=False).public_base_url == "http://127.0.0.1:5000"
    assert load_settings(PRODUCTION, read_dotenv=False).public_base_url == "https://mz.example.cn"
    for value in ("http://mz.example.cn", "mz.example.cn", "https://"):
        with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
            load_settings({**PRODUCTION, "PUBLIC_BASE_URL": value}, read_dotenv=False)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings({"PUBLIC_BASE_URL": "ftp://x"}, read_dotenv=False)


def test_secrets_stay_out_of_repr():
    """Printing the settings (or an object holding them) shows no secret."""
    settings = load_settings({**PRODUCTION, "REDIS_URL": "redis://:hunter2-password@cache:6379/0"}, read_dotenv=False)
    shown = repr(settings)
    for value in (PRODUCTION["PII_KEY"], PRODUCTION["SECRET_KEY"], PRODUCTION["ADMIN_API_TOKEN"], "sec", "hunter2"):
        assert value not in shown


def test_an_aes_key_that_is_not_base64_is_refused():
    """43 characters are not enough: the key must decode to 32 bytes."""
    with pytest.raises(ConfigError, match="WECHAT_ENCODING_AES_KEY"):
        load_settings({"WECHAT_ENCODING_AES_KEY": "!" * 43}, read_dotenv=False)


def test_production_refuses_plaintext_mode_unless_allowed_on_purpose():
    """Without an AES key production stops, naming both variables; WECHAT_ALLOW_PLAINTEXT=1 lets it run."""
    plaintext = {k: v for k, v in PRODUCTION.items() if k != "WECHAT_ENCODING_AES_KEY"}
    for allow in (None, "0", "no"):
        env = plaintext if allow is None else {**plaintext, "WECHAT_ALLOW_PLAINTEXT": allow}
        with pytest.raises(ConfigError, match="WECHAT_ENCODING_AES_KEY.*WECHAT_ALLOW_PLAINTEXT=1"):
            load_settings(env, read_dotenv=False)
    allowed = load_settings({**plaintext, "WECHAT_ALLOW_PLAINTEXT": "1"}, read_dotenv=False)
    assert allowed.wechat_allow_plaintext and not allowed.safe_mode
    assert load_settings(PRODUCTION, read_dotenv=False).safe_mode
    # Development keeps plaintext mode as its default.
    assert not load_settings({}, read_dotenv=False).safe_mode


def test_safe_mode_and_base_url():
    """An AES key switches on safe mode; the base URL gets its trailing slash."""
    settings = load_settings(
        {"WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "WECHAT_API_BASE_URL": "http://127.0.0.1:8900/cgi-bin"},
        read_dotenv=False,
    )
    assert settings.safe_mode
    assert settings.wechat_api_base_url == "http://127.0.0.1:8900/cgi-bin/"


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    """A `.env` file fills in what the environment does not set."""
    (tmp_path / ".env").write_text("SANZHIDA_TZ=Asia/Urumqi\nLOG_LEVEL=debug\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("SANZHIDA_TZ", raising=False)
    settings = load_settings()
    assert settings.tz_name == "Asia/Urumqi"
    assert settings.log_level == "WARNING"


def test_the_documented_variables_are_all_read():
    """The variables operators rely on are exactly the ones the settings read."""
    assert {
        "DATABASE_URL", "REDIS_URL", "WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET",
        "WECHAT_ENCODING_AES_KEY", "WECHAT_API_BASE_URL", "SECRET_KEY", "ADMIN_API_TOKEN",
        "PII_KEY", "SANZHIDA_ENV", "SANZHIDA_TZ",
    } <= set(settings_variables())


def test_media_and_speech_settings():
    """The media store defaults to a folder under instance/; s3:// and file:// are taken as given."""
    settings = load_settings({}, read_dotenv=False)
    assert settings.media_store_url.startswith("file:///") and settings.media_store_url.endswith("/instance/media")
    assert (settings.asr_url, settings.s3_addressing_style, settings.media_retention_days) == (None, "path", 365)
    given = load_settings({"MEDIA_STORE_URL": "s3://sanzhida/honghu/", "ASR_URL": "wss://asr.mz.local:10095",
                           "S3_ADDRESSING_STYLE": "virtual"}, read_dotenv=False)
    assert (given.media_store_url, given.asr_url, given.s3_addressing_style) == (
        "s3://sanzhida/honghu", "wss://asr.mz.local:10095", "virtual")
