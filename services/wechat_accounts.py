"""The official accounts of a deployment beyond the settings' default one: add, list and load them.

Their Token, EncodingAESKey and AppSecret are stored only encrypted (services.pii); `list_accounts`
never returns them, and only `load_accounts` (for the process that serves or sends) decrypts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import valid_aes_key
from models import Region, WeChatAccount
from models.enums import RegionLevel
from services.pii import PiiCipher

# The last part of the webhook's URL, `/wechat/<slug>`.
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# WeChat's AppIDs are `wx` and 16 hex digits; anything of that alphabet and size is accepted.
APP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{2,32}$")
# The console's rule for the Token: 3 to 32 letters or digits.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9]{3,32}$")
# The AppSecret as the console shows it (32 hex digits), or a stand-in's: printable, no spaces.
SECRET_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")


class AccountRefused(ValueError):
    """An account that cannot be added as given; the message says why, never the secrets."""


@dataclass(frozen=True)
class AccountSecrets:
    """One account with its credentials in clear, for the process that serves or sends through it."""

    id: int
    slug: str
    region_id: int
    app_id: str
    token: str
    aes_key: str
    app_secret: str
    template_task: str | None = None
    template_progress: str | None = None

    def __repr__(self) -> str:
        return f"<AccountSecrets {self.slug} {self.app_id}>"


@dataclass(frozen=True)
class AccountListing:
    """One account as `list` shows it: no credential at all."""

    id: int
    slug: str
    city_code: str
    city_name: str
    app_id: str
    created_at: datetime


def _check_fields(slug: str, app_id: str, token: str, aes_key: str, app_secret: str) -> None:
    """Refuse a malformed field, naming it (never repeating a secret)."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise AccountRefused(f"slug {slug!r}: lower-case letters, digits and '-', starting with a letter, at most 32")
    if not APP_ID_PATTERN.fullmatch(app_id):
        raise AccountRefused(f"AppID {app_id!r}: letters, digits, '_' or '-', 2 to 32 characters")
    if not TOKEN_PATTERN.fullmatch(token):
        raise AccountRefused("Token: 3 to 32 letters or digits, as the WeChat console requires")
    if not valid_aes_key(aes_key):
        raise AccountRefused("EncodingAESKey: must be the 43-character base64 key from the WeChat console")
    if not SECRET_PATTERN.fullmatch(app_secret):
        raise AccountRefused("AppSecret: 1 to 128 printable characters without spaces")


def add_account(session: Session, pii: PiiCipher, *, slug: str, city_code: str, app_id: str, token: str,
                aes_key: str, app_secret: str, now: datetime, default_app_id: str | None = None,
                template_task: str | None = None, template_progress: str | None = None) -> WeChatAccount:
    """Add an official account for a city, its credentials encrypted; AccountRefused when it cannot be.

    `default_app_id` is the settings' account, which is served at `/wechat` and cannot be added again.
    """
    _check_fields(slug, app_id, token, aes_key, app_secret)
    if app_id == default_app_id:
        raise AccountRefused(f"AppID {app_id!r} is the default account's (WECHAT_APP_ID), served at /wechat")
    city = session.scalars(select(Region).where(Region.code == city_code)).one_or_none()
    if city is None:
        raise AccountRefused(f"no region with code {city_code!r}")
    if city.level != RegionLevel.CITY.value:
        raise AccountRefused(f"region {city_code} ({city.name}) is a {city.level}, not a city")
    if session.scalar(select(WeChatAccount.id).where(WeChatAccount.slug == slug)) is not None:
        raise AccountRefused(f"an account with slug {slug!r} already exists")
    if session.scalar(select(WeChatAccount.id).where(WeChatAccount.app_id == app_id)) is not None:
        raise AccountRefused(f"an account with AppID {app_id!r} already exists")
    account = WeChatAccount(
        slug=slug, region_id=city.id, app_id=app_id, token_encrypted=pii.encrypt_credential(token),
        aes_key_encrypted=pii.encrypt_credential(aes_key), app_secret_encrypted=pii.encrypt_credential(app_secret),
        template_task=template_task or None, template_progress=template_progress or None, created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def list_accounts(session: Session) -> list[AccountListing]:
    """Every added account with its city, by slug; never a credential."""
    rows = session.execute(
        select(WeChatAccount.id, WeChatAccount.slug, Region.code, Region.name, WeChatAccount.app_id,
               WeChatAccount.created_at)
        .join(Region, Region.id == WeChatAccount.region_id)
        .order_by(WeChatAccount.slug)
    ).all()
    return [AccountListing(*row) for row in rows]


def load_accounts(session: Session, pii: PiiCipher) -> list[AccountSecrets]:
    """Every added account with its credentials decrypted (ValueError when PII_KEY does not match)."""
    return [
        AccountSecrets(id=a.id, slug=a.slug, region_id=a.region_id, app_id=a.app_id,
                       token=pii.decrypt_credential(a.token_encrypted),
                       aes_key=pii.decrypt_credential(a.aes_key_encrypted),
                       app_secret=pii.decrypt_credential(a.app_secret_encrypted),
                       template_task=a.template_task, template_progress=a.template_progress)
        for a in session.scalars(select(WeChatAccount).order_by(WeChatAccount.id))
    ]
