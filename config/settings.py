"""Settings read from the environment (and a `.env` file), validated once at start-up."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.env_names import DEV_ONLY_VARIABLES, ENV_NAMES
from config.policy import TEMPLATES
from config.sms import SmsConfigError, load_sms_settings

ENVIRONMENTS = ("development", "production", "test")

REAL_WECHAT_API = "https://api.weixin.qq.com/cgi-bin/"
REAL_WECHAT_OAUTH = "https://open.weixin.qq.com/connect/oauth2/authorize"

# Explicit development defaults. They are never used when SANZHIDA_ENV=production:
# there every one of these must come from the environment.
DEV_DEFAULTS = {
    "WECHAT_TOKEN": "sanzhida-dev-token",  # nosec B105  # development only: production requires its own
    "WECHAT_APP_ID": "wx-sanzhida-dev",
    "WECHAT_APP_SECRET": "sanzhida-dev-app-secret",  # nosec B105  # development only, as above
    "SECRET_KEY": "sanzhida-dev-secret-key-not-for-production",  # nosec B105  # development only, as above
    "ADMIN_API_TOKEN": "sanzhida-dev-admin-token",  # nosec B105  # development only, as above
    "PII_KEY": "sanzhida-dev-pii-key-not-for-production-0000",
    "WECHAT_TEMPLATE_TASK": "dev-template-task",
    "WECHAT_TEMPLATE_PROGRESS": "dev-template-progress",
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
}

# Variables production refuses to start without, in the order they are reported.
PRODUCTION_REQUIRED = (
    "DATABASE_URL",
    "REDIS_URL",
    "WECHAT_TOKEN",
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "SECRET_KEY",
    "ADMIN_API_TOKEN",
    "PII_KEY",
    "WECHAT_TEMPLATE_TASK",
    "WECHAT_TEMPLATE_PROGRESS",
    "PUBLIC_BASE_URL",
)


# How the webhook answers; see Settings.wechat_reply_mode.
REPLY_MODES = ("queued", "inline")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting the service reads, with the variable each comes from in `env_names`."""

    env: str = "development"
    # URLs may carry passwords.
    database_url: str = field(default="", repr=False)
    # A read-only PostgreSQL replica for the dashboard's and reports' reads (bot.deps.read_session);
    # None: they read the primary, DATABASE_URL.
    database_replica_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "sanzhida"
    wechat_token: str = field(default="", repr=False)
    wechat_app_id: str = ""
    wechat_app_secret: str = field(default="", repr=False)
    wechat_encoding_aes_key: str | None = field(default=None, repr=False)
    # Production refuses plaintext mode unless this says so on purpose: there the signature covers
    # only the URL, while safe mode's msg_signature covers the encrypted payload too.
    wechat_allow_plaintext: bool = False
    wechat_api_base_url: str = REAL_WECHAT_API
    wechat_http_timeout: float = 5.0
    wechat_timestamp_tolerance: int = 300
    wechat_max_body_bytes: int = 64 * 1024
    # `queued`: the webhook stores the message and answers at once; the inbox worker handles it
    # and replies by customer-service message. `inline`: handled inside the request, answered
    # with a passive reply (for accounts without the customer-service API).
    wechat_reply_mode: str = "queued"
    # Template ids chosen in the WeChat console: tasks and alerts to staff, progress to requesters.
    wechat_template_task: str = "dev-template-task"
    wechat_template_progress: str = "dev-template-progress"
    # Pushes of these templates go as subscription notices (订阅通知) instead of template messages:
    # `task:ID,progress:ID`, each optionally with the notice template's keywords, `task:ID:k1/k2/…`.
    wechat_subscribe_templates: str = ""
    # A bound user's new message joins their open request from the last this-many hours.
    request_merge_hours: int = 6
    # Wrong bind codes allowed per openid per day before binding is locked for the day.
    bind_max_failures: int = 5
    # The scheduler leader's lock lives this many seconds unless renewed; a dead leader is
    # replaced within it.
    scheduler_leader_ttl: int = 30
    # A daily or weekly job missed while no scheduler ran is still run this long after its time.
    scheduler_catchup_grace_minutes: int = 180
    # Where people reach the web service from their phones, for links in pushes (the mobile list page).
    public_base_url: str = "http://127.0.0.1:5000"
    secret_key: str = field(default="", repr=False)
    admin_api_token: str = field(default="", repr=False)
    pii_key: str = field(default="", repr=False)
    tz_name: str = "Asia/Shanghai"
    # Development only: a file holding a time offset, so the simulator can move time forward.
    dev_clock_file: str | None = None
    log_level: str = "INFO"
    # "json": one JSON object per line (production's default, for a log collector); "text": key=value lines.
    log_format: str = "text"
    # Where media are kept: `file:///path` (the default, under instance/) or `s3://bucket/prefix`.
    media_store_url: str = ""
    # For s3:// stores: the endpoint of an S3-compatible service (MinIO, Aliyun OSS, Tencent COS) and its keys.
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    # "path" (MinIO, most S3-compatible services) or "virtual" (bucket in the host name: Aliyun OSS needs it).
    s3_addressing_style: str = "path"
    s3_access_key_id: str | None = field(default=None, repr=False)
    s3_secret_access_key: str | None = field(default=None, repr=False)
    # The largest media file fetched from WeChat (WeChat's own limit for temporary media is 10 MB).
    media_max_bytes: int = 10 * 1024 * 1024
    # Media are deleted this many days after their case closes.
    media_retention_days: int = 365
    # Message payloads and stored replies (inbound and outbox) are stubbed out this many days later.
    message_retention_days: int = 180
    # Finished messages, pushes and closed cases' timelines move to the archive tables after this many
    # whole months (13: the year the reports and figures compare, and the month before it).
    archive_after_months: int = 13
    # The FunASR server (ws:// or wss://); empty: no speech recognition.
    asr_url: str | None = None
    asr_timeout: float = 30.0
    # WeChat's web-authorisation page (网页授权); a stand-in's in development.
    wechat_oauth_url: str = REAL_WECHAT_OAUTH
    # How many reverse proxies stand in front of the web service, each adding to X-Forwarded-For:
    # the client's address (sign-in throttle, audit log) is read that many hops back. 0: none, the
    # connection's own address is the client's (and X-Forwarded-For, which anyone can send, is ignored).
    trusted_proxies: int = 0
    # Prometheus metrics. The inbox worker, the media worker and the scheduler serve them on
    # METRICS_BIND:METRICS_PORT (0: not at all; `--metrics-port` sets it per process); the web app
    # serves /metrics only to a scraper sending `Authorization: Bearer <METRICS_TOKEN>` (unset: 404).
    metrics_port: int = 0
    metrics_bind: str = "127.0.0.1"
    metrics_token: str | None = field(default=None, repr=False)
    # SMS (config/sms.py): provider "aliyun", or "" for none; the template code for each kind of message.
    sms_provider: str = ""
    sms_endpoint: str = ""
    sms_access_key_id: str = ""
    sms_access_key_secret: str = field(default="", repr=False)
    sms_sign_name: str = ""
    sms_templates: tuple[tuple[str, str], ...] = ()
    # Urgent escalations also go by SMS to staff with a phone, whenever SMS is configured.
    sms_urgent_escalations: bool = True
    # The secret path part of the reply-push URL (POST /sms/replies/<token>); empty: no such URL (404).
    sms_reply_token: str = field(default="", repr=False)

    @property
    def is_production(self) -> bool:
        """True when running with production rules."""
        return self.env == "production"

    @property
    def safe_mode(self) -> bool:
        """True when WeChat messages are AES-encrypted (安全模式/兼容模式)."""
        return bool(self.wechat_encoding_aes_key)

    @property
    def queued_replies(self) -> bool:
        """True when the inbox worker handles messages and replies by customer-service message."""
        return self.wechat_reply_mode == "queued"

    @property
    def subscribe_templates(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Template kind -> (subscription template id, our keyword -> the notice's keyword)."""
        return subscribe_templates(self.wechat_subscribe_templates)

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone used for display, service hours and schedules."""
        return ZoneInfo(self.tz_name)

    @property
    def uses_embedded_redis(self) -> bool:
        """True when no REDIS_URL is set and the in-process stand-in is used."""
        return not self.redis_url

    def with_overrides(self, **changes) -> "Settings":
        """A copy with some settings replaced (used by tests and tools)."""
        return replace(self, **changes)




def default_database_url(instance_dir: Path | None = None) -> str:
    """The embedded default: a SQLite file under `instance/`."""
    folder = (instance_dir or Path.cwd() / "instance").resolve()
    return f"sqlite:///{folder / 'sanzhida.db'}"


def default_media_store_url(instance_dir: Path | None = None) -> str:
    """The embedded default: a folder `media/` under `instance/`."""
    folder = (instance_dir or Path.cwd() / "instance").resolve()
    return (folder / "media").as_uri()


def _media_store_url(raw: str) -> str:
    """MEDIA_STORE_URL checked: file:///absolute/path or s3://bucket[/prefix]."""
    if not raw:
        return default_media_store_url()
    if raw.startswith("file:///") or (raw.startswith("s3://") and len(raw) > len("s3://")):
        return raw.rstrip("/")
    raise ConfigError(f"MEDIA_STORE_URL must be file:///absolute/path or s3://bucket/prefix, got {raw!r}")


def _replica_url(raw: str, primary: str) -> str | None:
    """DATABASE_REPLICA_URL checked: a PostgreSQL URL beside a PostgreSQL primary, or None (read the primary)."""
    if not raw:
        return None
    pg = ("postgresql://", "postgres://", "postgresql+psycopg://")
    if not raw.startswith(pg) or not primary.startswith(pg):
        raise ConfigError("DATABASE_REPLICA_URL must be a postgresql:// URL of a replica of DATABASE_URL's PostgreSQL"
                          " (unset it to read the primary)")
    return raw


def subscribe_templates(raw: str) -> dict[str, tuple[str, dict[str, str]]]:
    """WECHAT_SUBSCRIBE_TEMPLATES parsed: `kind:ID[:key/key/…]`, comma-separated.

    The keys, when given, are the notice template's keywords for ours (config/policy.py TEMPLATES) in
    their order, each of the same value type (thing2 may become thing1, never time1).
    """
    routes: dict[str, tuple[str, dict[str, str]]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kind, _, rest = part.partition(":")
        template_id, _, keys = rest.partition(":")
        spec = TEMPLATES.get(kind.strip())
        if spec is None or not template_id.strip() or kind.strip() in routes:
            raise ConfigError(f"WECHAT_SUBSCRIBE_TEMPLATES must be {', '.join(k + ':ID' for k in TEMPLATES)}"
                              f" (each once), got {part!r}")
        ours = [f.key for f in spec.fields]
        theirs = [k.strip() for k in keys.split("/")] if keys else ours
        if len(theirs) != len(ours) or any(_key_type(a) != _key_type(b) for a, b in zip(ours, theirs)):
            raise ConfigError(f"WECHAT_SUBSCRIBE_TEMPLATES: {kind} needs {len(ours)} keywords of the types of"
                              f" {'/'.join(ours)}, got {keys!r}")
        routes[kind.strip()] = (template_id.strip(), dict(zip(ours, theirs)))
    return routes


def _key_type(key: str) -> str:
    """A keyword's value type, its name without the number (thing2 -> thing)."""
    return key.rstrip("0123456789")


def valid_aes_key(key: str) -> bool:
    """WeChat's EncodingAESKey: 43 base64 characters that decode (with `=`) to 32 bytes."""
    if len(key) != 43:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _archive_months(environ: Mapping[str, str]) -> int:
    """ARCHIVE_AFTER_MONTHS, at least 13: the monthly report and the figures compare a whole year."""
    months = _number(environ, "ARCHIVE_AFTER_MONTHS", 13, int)
    if months < 13:
        raise ConfigError(f"ARCHIVE_AFTER_MONTHS must be at least 13 (a year of reports stays), got {months}")
    return months


def _number(environ: Mapping[str, str], name: str, default, kind):
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    """A yes/no variable: `1`, `true` or `yes` for yes; unset, `0`, `false` or `no` for no."""
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


LOG_FORMATS = ("json", "text")


def log_format(environ: Mapping[str, str]) -> str:
    """LOG_FORMAT, or its default for SANZHIDA_ENV: JSON lines in production, key=value text elsewhere."""
    raw = environ.get("LOG_FORMAT", "").strip().lower()
    if not raw:
        return "json" if environ.get("SANZHIDA_ENV", "").strip() == "production" else "text"
    if raw not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be json or text, got {raw!r}")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Read and validate settings; raise ConfigError naming the first bad variable."""
    if environ is None:
        if read_dotenv:
            from dotenv import load_dotenv

            # The real environment wins over `.env`, as operators expect.
            load_dotenv(Path.cwd() / ".env", override=False)
        environ = os.environ

    def text(name: str) -> str:
        return environ.get(name, "").strip()

    env = text("SANZHIDA_ENV") or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"SANZHIDA_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"

    if production:
        for name in PRODUCTION_REQUIRED:
            if not text(name):
                raise ConfigError(f"{name} is required when SANZHIDA_ENV=production")

    def secret(name: str) -> str:
        return text(name) or DEV_DEFAULTS[name]

    aes_key = text("WECHAT_ENCODING_AES_KEY") or None
    if aes_key is not None and not valid_aes_key(aes_key):
        raise ConfigError("WECHAT_ENCODING_AES_KEY must be the 43-character key from the WeChat console")
    allow_plaintext = _flag(environ, "WECHAT_ALLOW_PLAINTEXT")
    if production and aes_key is None and not allow_plaintext:
        raise ConfigError(
            "WECHAT_ENCODING_AES_KEY is required when SANZHIDA_ENV=production (safe mode, 安全模式);"
            " set WECHAT_ALLOW_PLAINTEXT=1 to run in plaintext mode on purpose"
        )

    pii_key = secret("PII_KEY")
    if len(pii_key) < 32:
        raise ConfigError("PII_KEY must be at least 32 characters")
    if production and text("SANZHIDA_DEV_CLOCK_FILE"):
        raise ConfigError("SANZHIDA_DEV_CLOCK_FILE is for development only; unset it in production")
    if production:
        for name in ("SECRET_KEY", "ADMIN_API_TOKEN", "PII_KEY"):
            if len(text(name)) < 32:
                raise ConfigError(f"{name} must be at least 32 characters when SANZHIDA_ENV=production")
        for name, value in DEV_DEFAULTS.items():
            if text(name) == value:
                raise ConfigError(f"{name} still has its development value; set a real one for production")

    tz_name = text("SANZHIDA_TZ") or "Asia/Shanghai"
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SANZHIDA_TZ is not a known time zone: {tz_name!r}") from None

    base_url = text("WECHAT_API_BASE_URL") or REAL_WECHAT_API
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"WECHAT_API_BASE_URL must be an http(s) URL, got {base_url!r}")
    if not base_url.endswith("/"):
        base_url += "/"

    # Links in pushes open pages with names on them: only over TLS in production.
    public_base_url = secret("PUBLIC_BASE_URL").rstrip("/")
    schemes = ("https://",) if production else ("http://", "https://")
    if not public_base_url.startswith(schemes) or public_base_url.endswith(":/"):
        raise ConfigError(
            f"PUBLIC_BASE_URL must be the {'https' if production else 'http(s)'} address phones reach the service at,"
            f" got {public_base_url!r}"
        )

    reply_mode = (text("WECHAT_REPLY_MODE") or "queued").lower()
    if reply_mode not in REPLY_MODES:
        raise ConfigError(f"WECHAT_REPLY_MODE must be one of {', '.join(REPLY_MODES)}, got {reply_mode!r}")

    asr_url = text("ASR_URL") or None
    if asr_url is not None and not asr_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"ASR_URL must be the ws:// or wss:// address of the FunASR server, got {asr_url!r}")
    addressing = (text("S3_ADDRESSING_STYLE") or "path").lower()
    if addressing not in ("path", "virtual"):
        raise ConfigError(f"S3_ADDRESSING_STYLE must be path or virtual, got {addressing!r}")
    oauth_url = text("WECHAT_OAUTH_URL") or REAL_WECHAT_OAUTH
    proxies = text("TRUSTED_PROXIES") or "0"
    if not proxies.isdigit() or int(proxies) > 5:
        raise ConfigError(f"TRUSTED_PROXIES must be the number of reverse proxies in front (0-5), got {proxies!r}")
    if not oauth_url.startswith(("http://", "https://")):
        raise ConfigError(f"WECHAT_OAUTH_URL must be an http(s) URL, got {oauth_url!r}")
    metrics_port = text("METRICS_PORT") or "0"
    if not metrics_port.isdigit() or int(metrics_port) > 65535:
        raise ConfigError(f"METRICS_PORT must be a port number (0 for none), got {metrics_port!r}")
    metrics_token = text("METRICS_TOKEN") or None
    subscribe_templates(text("WECHAT_SUBSCRIBE_TEMPLATES"))  # refuses a malformed value at start-up
    if production and metrics_token is not None and len(metrics_token) < 32:
        raise ConfigError("METRICS_TOKEN must be at least 32 characters when SANZHIDA_ENV=production")
    try:
        sms = load_sms_settings(environ, production=production)
    except SmsConfigError as exc:
        raise ConfigError(str(exc)) from None

    database_url = text("DATABASE_URL") or default_database_url()
    return Settings(
        env=env,
        database_url=database_url,
        database_replica_url=_replica_url(text("DATABASE_REPLICA_URL"), database_url),
        redis_url=text("REDIS_URL") or None,
        redis_prefix=text("REDIS_KEY_PREFIX") or "sanzhida",
        wechat_token=secret("WECHAT_TOKEN"),
        wechat_app_id=secret("WECHAT_APP_ID"),
        wechat_app_secret=secret("WECHAT_APP_SECRET"),
        wechat_encoding_aes_key=aes_key,
        wechat_allow_plaintext=allow_plaintext,
        wechat_api_base_url=base_url,
        wechat_http_timeout=_number(environ, "WECHAT_HTTP_TIMEOUT", 5.0, float),
        wechat_timestamp_tolerance=_number(environ, "WECHAT_TIMESTAMP_TOLERANCE", 300, int),
        wechat_max_body_bytes=_number(environ, "WECHAT_MAX_BODY_BYTES", 64 * 1024, int),
        wechat_reply_mode=reply_mode,
        wechat_template_task=secret("WECHAT_TEMPLATE_TASK"),
        wechat_template_progress=secret("WECHAT_TEMPLATE_PROGRESS"),
        wechat_subscribe_templates=text("WECHAT_SUBSCRIBE_TEMPLATES"),
        request_merge_hours=_number(environ, "REQUEST_MERGE_HOURS", 6, int),
        bind_max_failures=_number(environ, "BIND_MAX_FAILURES", 5, int),
        scheduler_leader_ttl=_number(environ, "SCHEDULER_LEADER_TTL", 30, int),
        scheduler_catchup_grace_minutes=_number(environ, "SCHEDULER_CATCHUP_GRACE_MINUTES", 180, int),
        public_base_url=public_base_url,
        secret_key=secret("SECRET_KEY"),
        admin_api_token=secret("ADMIN_API_TOKEN"),
        pii_key=pii_key,
        tz_name=tz_name,
        dev_clock_file=text("SANZHIDA_DEV_CLOCK_FILE") or None,
        log_level=(text("LOG_LEVEL") or "INFO").upper(),
        log_format=log_format(environ),
        media_store_url=_media_store_url(text("MEDIA_STORE_URL")),
        s3_endpoint_url=text("S3_ENDPOINT_URL") or None,
        s3_region=text("S3_REGION") or None,
        s3_addressing_style=addressing,
        s3_access_key_id=text("S3_ACCESS_KEY_ID") or None,
        s3_secret_access_key=text("S3_SECRET_ACCESS_KEY") or None,
        media_max_bytes=_number(environ, "MEDIA_MAX_BYTES", 10 * 1024 * 1024, int),
        media_retention_days=_number(environ, "MEDIA_RETENTION_DAYS", 365, int),
        message_retention_days=_number(environ, "MESSAGE_RETENTION_DAYS", 180, int),
        archive_after_months=_archive_months(environ),
        asr_url=asr_url,
        asr_timeout=_number(environ, "ASR_TIMEOUT", 30.0, float),
        wechat_oauth_url=oauth_url,
        trusted_proxies=int(proxies),
        metrics_port=int(metrics_port),
        metrics_bind=text("METRICS_BIND") or "127.0.0.1",
        metrics_token=metrics_token,
        # On unless turned off: an urgent case must reach someone even when WeChat cannot.
        sms_urgent_escalations=environ.get("SMS_URGENT_ESCALATIONS", "").strip() == ""
        or _flag(environ, "SMS_URGENT_ESCALATIONS"),
        **sms,
    )


def settings_variables(*, include_dev_only: bool = True) -> list[str]:
    """Every environment variable the settings read, for docs and deployment checks."""
    names = [ENV_NAMES[f.name] for f in fields(Settings) if f.name in ENV_NAMES]
    return names if include_dev_only else [n for n in names if n not in DEV_ONLY_VARIABLES]
