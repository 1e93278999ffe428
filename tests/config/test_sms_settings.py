"""SMS settings: off by default, checked when on, the AccessKey secret required in production and never shown."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from config.settings import ConfigError, load_settings, settings_variables
from config.sms import REAL_ALIYUN_SMS_ENDPOINT, SMS_DEV_ACCESS_KEY_SECRET, parse_sms_templates
from tests.config.test_settings import PRODUCTION

SMS = {
    "SMS_PROVIDER": "aliyun",
    "SMS_ACCESS_KEY_ID": "LTAI5tExampleKeyId",
    "SMS_ACCESS_KEY_SECRET": "a-real-looking-secret-0123456789",
    "SMS_SIGN_NAME": "三直达",
    "SMS_TEMPLATES": "task:SMS_123, urgent:SMS_124,notice:SMS_125",
}


def test_sms_is_off_unless_a_provider_is_set():
    """Nothing set: no provider, no templates, nothing required, even in production."""
    assert load_settings({}, read_dotenv=False).sms_provider == ""
    assert load_settings(PRODUCTION, read_dotenv=False).sms_templates == ()


def test_aliyun_settings_are_read():
    """The real endpoint by default; templates as (kind, code) pairs in the order written."""
    settings = load_settings({**PRODUCTION, **SMS}, read_dotenv=False)
    assert settings.sms_provider == "aliyun" and settings.sms_endpoint == REAL_ALIYUN_SMS_ENDPOINT
    assert settings.sms_templates == (("task", "SMS_123"), ("urgent", "SMS_124"), ("notice", "SMS_125"))
    assert settings.sms_sign_name == "三直达"
    assert SMS["SMS_ACCESS_KEY_SECRET"] not in repr(settings)
    assert {"SMS_PROVIDER", "SMS_ENDPOINT", "SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME",
            "SMS_TEMPLATES"} <= set(settings_variables())


@pytest.mark.parametrize(("changes", "message"), [
    ({"SMS_PROVIDER": "twilio"}, "SMS_PROVIDER must be one of aliyun"),
    ({"SMS_ACCESS_KEY_SECRET": ""}, "SMS_ACCESS_KEY_SECRET is required"),
    ({"SMS_ACCESS_KEY_ID": ""}, "SMS_ACCESS_KEY_ID is required"),
    ({"SMS_ACCESS_KEY_SECRET": SMS_DEV_ACCESS_KEY_SECRET}, "SMS_ACCESS_KEY_SECRET still has its development value"),
    ({"SMS_SIGN_NAME": ""}, "SMS_SIGN_NAME is required"),
    ({"SMS_TEMPLATES": ""}, "SMS_TEMPLATES is required"),
    ({"SMS_ENDPOINT": "http://dysmsapi.aliyuncs.com/"}, "SMS_ENDPOINT must be an https URL"),
])
def test_production_refuses_incomplete_sms_settings(changes, message):
    """Each missing or unsafe SMS variable stops production with its name."""
    with pytest.raises(ConfigError, match=message):
        load_settings({**PRODUCTION, **SMS, **changes}, read_dotenv=False)


def test_development_has_a_key_for_the_standin_and_accepts_http():
    """In development the stand-in's key is the default and a local http endpoint is fine."""
    env = {"SMS_PROVIDER": "aliyun", "SMS_SIGN_NAME": "三直达", "SMS_TEMPLATES": "task:SMS_1",
           "SMS_ENDPOINT": "http://127.0.0.1:8901"}
    settings = load_settings(env, read_dotenv=False)
    assert settings.sms_endpoint == "http://127.0.0.1:8901/" and settings.sms_access_key_secret


@pytest.mark.parametrize(("raw", "message"), [
    ("task", "not kind:CODE"),
    ("task:", "not kind:CODE"),
    ("Task:SMS_1", "kind 'Task' must be lower-case"),
    ("task:123456", "is not an Aliyun template code"),
    ("task:SMS_1,task:SMS_2", "names the kind 'task' twice"),
    (" , ", "SMS_TEMPLATES must be kind:CODE pairs"),
])
def test_malformed_templates_are_refused_clearly(raw, message):
    """SMS_TEMPLATES errors say what is wrong and what the format is."""
    with pytest.raises(ConfigError, match=message):
        load_settings({"SMS_PROVIDER": "aliyun", "SMS_SIGN_NAME": "三直达", "SMS_TEMPLATES": raw}, read_dotenv=False)
    assert parse_sms_templates("a:SMS_1") == (("a", "SMS_1"),)


def test_config_check_shows_sms_without_its_secret(tmp_path, monkeypatch):
    """`config check` names the provider, key id, sign name and templates, never the secret."""
    monkeypatch.chdir(tmp_path)
    env = {**SMS, "SANZHIDA_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = CliRunner().invoke(main, ["config", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "SMS: aliyun" in result.output and "task=SMS_123" in result.output and "LTAI5tExampleKeyId" in result.output
    assert SMS["SMS_ACCESS_KEY_SECRET"] not in result.output
    off = CliRunner().invoke(main, ["config", "check"], env={"SMS_PROVIDER": "", "DATABASE_URL": env["DATABASE_URL"]})
    assert "SMS: off" in off.output
