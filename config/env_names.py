"""The environment variable behind each setting, for loading, docs and deployment checks."""

from __future__ import annotations

# Settings field -> environment variable. Operators and tests rely on these names.
ENV_NAMES = {
    "env": "SANZHIDA_ENV",
    "database_url": "DATABASE_URL",
    "database_replica_url": "DATABASE_REPLICA_URL",
    "redis_url": "REDIS_URL",
    "redis_prefix": "REDIS_KEY_PREFIX",
    "wechat_token": "WECHAT_TOKEN",  # nosec B105  # a variable's name, not a secret
    "wechat_app_id": "WECHAT_APP_ID",
    "wechat_app_secret": "WECHAT_APP_SECRET",  # nosec B105  # a name, as above
    "wechat_encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
    "wechat_allow_plaintext": "WECHAT_ALLOW_PLAINTEXT",
    "wechat_api_base_url": "WECHAT_API_BASE_URL",
    "wechat_http_timeout": "WECHAT_HTTP_TIMEOUT",
    "wechat_timestamp_tolerance": "WECHAT_TIMESTAMP_TOLERANCE",
    "wechat_max_body_bytes": "WECHAT_MAX_BODY_BYTES",
    "wechat_reply_mode": "WECHAT_REPLY_MODE",
    "wechat_template_task": "WECHAT_TEMPLATE_TASK",
    "wechat_template_progress": "WECHAT_TEMPLATE_PROGRESS",
    "wechat_subscribe_templates": "WECHAT_SUBSCRIBE_TEMPLATES",
    "request_merge_hours": "REQUEST_MERGE_HOURS",
    "bind_max_failures": "BIND_MAX_FAILURES",
    "scheduler_leader_ttl": "SCHEDULER_LEADER_TTL",
    "scheduler_catchup_grace_minutes": "SCHEDULER_CATCHUP_GRACE_MINUTES",
    "public_base_url": "PUBLIC_BASE_URL",
    "secret_key": "SECRET_KEY",  # nosec B105  # a name, as above
    "admin_api_token": "ADMIN_API_TOKEN",  # nosec B105  # a name, as above
    "pii_key": "PII_KEY",
    "tz_name": "SANZHIDA_TZ",
    "dev_clock_file": "SANZHIDA_DEV_CLOCK_FILE",
    "log_level": "LOG_LEVEL",
    "log_format": "LOG_FORMAT",
    "media_store_url": "MEDIA_STORE_URL",
    "s3_endpoint_url": "S3_ENDPOINT_URL",
    "s3_region": "S3_REGION",
    "s3_addressing_style": "S3_ADDRESSING_STYLE",
    "s3_access_key_id": "S3_ACCESS_KEY_ID",
    "s3_secret_access_key": "S3_SECRET_ACCESS_KEY",  # nosec B105  # a name, as above
    "media_max_bytes": "MEDIA_MAX_BYTES",
    "media_retention_days": "MEDIA_RETENTION_DAYS",
    "message_retention_days": "MESSAGE_RETENTION_DAYS",
    "archive_after_months": "ARCHIVE_AFTER_MONTHS",
    "asr_url": "ASR_URL",
    "asr_timeout": "ASR_TIMEOUT",
    "wechat_oauth_url": "WECHAT_OAUTH_URL",
    "trusted_proxies": "TRUSTED_PROXIES",
    "metrics_port": "METRICS_PORT",
    "metrics_bind": "METRICS_BIND",
    "metrics_token": "METRICS_TOKEN",  # nosec B105  # a name, as above
    "sms_provider": "SMS_PROVIDER",
    "sms_endpoint": "SMS_ENDPOINT",
    "sms_access_key_id": "SMS_ACCESS_KEY_ID",
    "sms_access_key_secret": "SMS_ACCESS_KEY_SECRET",  # nosec B105  # a name, as above
    "sms_sign_name": "SMS_SIGN_NAME",
    "sms_templates": "SMS_TEMPLATES",
    "sms_urgent_escalations": "SMS_URGENT_ESCALATIONS",
    "sms_reply_token": "SMS_REPLY_TOKEN",  # nosec B105  # a name, as above
}


# Read in development only; production refuses them, so deployment files leave them out.
DEV_ONLY_VARIABLES = frozenset({"SANZHIDA_DEV_CLOCK_FILE"})

