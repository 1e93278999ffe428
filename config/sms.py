"""SMS settings read from the environment: the provider, its endpoint, AccessKey, sign name and the
template code registered for each kind of message."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Empty: SMS is off. Tencent Cloud SMS may join this list.
SMS_PROVIDERS = ("aliyun",)
REAL_ALIYUN_SMS_ENDPOINT = "https://dysmsapi.aliyuncs.com/"

# Development only, like the WeChat ones: production requires its own and refuses these.
SMS_DEV_ACCESS_KEY_ID = "sanzhida-dev-sms-key"
SMS_DEV_ACCESS_KEY_SECRET = "sanzhida-dev-sms-secret"  # nosec B105  # development only

# A kind names what a message is for (task, urgent, notice …); the code is the provider's template.
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Aliyun's template codes read SMS_ and digits (模板CODE, e.g. SMS_154950909).
_ALIYUN_CODE = re.compile(r"^SMS_[0-9]{1,20}$")
TEMPLATES_FORMAT = "kind:CODE pairs separated by commas, e.g. task:SMS_123,urgent:SMS_124,notice:SMS_125"


class SmsConfigError(ValueError):
    """An SMS variable is missing or malformed; the message names it."""


def parse_sms_templates(raw: str, *, provider: str = "aliyun") -> tuple[tuple[str, str], ...]:
    """SMS_TEMPLATES as ((kind, code), …), in the order written; SmsConfigError when malformed."""
    pairs: list[tuple[str, str]] = []
    for entry in raw.split(","):
        entry = entry.strip()
        if not entry:
            continue
        kind, colon, code = (part.strip() for part in entry.partition(":"))
        if not colon or not kind or not code:
            raise SmsConfigError(f"SMS_TEMPLATES must be {TEMPLATES_FORMAT}; {entry!r} is not kind:CODE")
        if not _KIND.match(kind):
            raise SmsConfigError(
                f"SMS_TEMPLATES: kind {kind!r} must be lower-case letters, digits or _, starting with a letter"
            )
        if provider == "aliyun" and not _ALIYUN_CODE.match(code):
            raise SmsConfigError(
                f"SMS_TEMPLATES: {code!r} (for {kind}) is not an Aliyun template code (SMS_ and digits)"
            )
        if any(kind == seen for seen, _ in pairs):
            raise SmsConfigError(f"SMS_TEMPLATES names the kind {kind!r} twice")
        pairs.append((kind, code))
    if not pairs:
        raise SmsConfigError(f"SMS_TEMPLATES must be {TEMPLATES_FORMAT}")
    return tuple(pairs)


def load_sms_settings(environ: Mapping[str, str], *, production: bool) -> dict:
    """The Settings fields for SMS, checked; all empty when SMS_PROVIDER is unset."""

    def text(name: str) -> str:
        return environ.get(name, "").strip()

    provider = text("SMS_PROVIDER").lower()
    reply = _reply_token(text("SMS_REPLY_TOKEN"), production=production)
    if not provider:
        return reply
    if provider not in SMS_PROVIDERS:
        raise SmsConfigError(f"SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)} or empty (off), got {provider!r}")
    if production:
        for name in ("SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET"):
            if not text(name):
                raise SmsConfigError(f"{name} is required when SMS_PROVIDER is set and SANZHIDA_ENV=production")
        for name, dev_value in (("SMS_ACCESS_KEY_ID", SMS_DEV_ACCESS_KEY_ID),
                                ("SMS_ACCESS_KEY_SECRET", SMS_DEV_ACCESS_KEY_SECRET)):
            if text(name) == dev_value:
                raise SmsConfigError(f"{name} still has its development value; set a real one for production")
    # Sign name and templates have no sensible default anywhere: they are registered with the provider.
    for name in ("SMS_SIGN_NAME", "SMS_TEMPLATES"):
        if not text(name):
            raise SmsConfigError(f"{name} is required when SMS_PROVIDER is set")
    endpoint = text("SMS_ENDPOINT") or REAL_ALIYUN_SMS_ENDPOINT
    # Messages carry phone numbers and names: only over TLS in production.
    schemes = ("https://",) if production else ("http://", "https://")
    if not endpoint.startswith(schemes) or len(endpoint) <= len("https://"):
        raise SmsConfigError(
            f"SMS_ENDPOINT must be an {'https' if production else 'http(s)'} URL, got {endpoint!r}"
        )
    if not endpoint.endswith("/"):
        endpoint += "/"
    return {
        "sms_provider": provider,
        "sms_endpoint": endpoint,
        "sms_access_key_id": text("SMS_ACCESS_KEY_ID") or SMS_DEV_ACCESS_KEY_ID,
        "sms_access_key_secret": text("SMS_ACCESS_KEY_SECRET") or SMS_DEV_ACCESS_KEY_SECRET,
        "sms_sign_name": text("SMS_SIGN_NAME"),
        "sms_templates": parse_sms_templates(text("SMS_TEMPLATES"), provider=provider),
        **reply,
    }


def _reply_token(token: str, *, production: bool) -> dict:
    """SMS_REPLY_TOKEN checked: it is the only thing between anyone and our opt-out records."""
    if not token:
        return {}
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise SmsConfigError("SMS_REPLY_TOKEN may hold only letters, digits, - and _ (it is part of a URL)")
    if production and len(token) < 32:
        raise SmsConfigError("SMS_REPLY_TOKEN must be at least 32 characters when SANZHIDA_ENV=production")
    return {"sms_reply_token": token}
