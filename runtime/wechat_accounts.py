"""The official accounts a process serves and sends through: the settings' default one, and those
added to `wechat_accounts`, loaded once per process and reloaded after a short while.

The default account (the webhook at `/wechat`, users with no account) costs nothing: it is built
from the settings, and the table is read only when another account is asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException

from services.wechat_accounts import AccountSecrets

logger = logging.getLogger(__name__)

# Seconds an account list is trusted before it is read again (a new or changed account shows up).
ACCOUNTS_TTL = 60.0
# An unknown slug reads the table again at most this often, so a just-added account answers at once
# while a flood of made-up slugs costs one query every few seconds at most.
MISS_RELOAD_SECONDS = 5.0


@dataclass(frozen=True)
class Account:
    """What the webhook needs of one account: who it is, its token and its message cipher."""

    id: int | None
    slug: str | None
    app_id: str
    token: str = field(repr=False)
    # None: plaintext mode (only the default account may be in it).
    crypto: WeChatCrypto | None = field(repr=False, default=None)


@dataclass(frozen=True)
class _Loaded:
    """One reading of the table."""

    by_slug: dict[str, Account]
    secrets: dict[int, AccountSecrets]
    at: float


class WeChatAccounts:
    """The default account and client, and the added accounts and their clients, by slug or id."""

    def __init__(self, default: Account, default_client, load: Callable[..., list[AccountSecrets]],
                 make_client: Callable[[AccountSecrets], object], *, ttl: float = ACCOUNTS_TTL,
                 monotonic: Callable[[], float] = time.monotonic):
        self.default = default
        self.default_client = default_client
        self._load = load
        self._make_client = make_client
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        # account id -> (the credentials it was made with, the client)
        self._clients: dict[int, tuple[AccountSecrets, object]] = {}

    def __repr__(self) -> str:
        return f"<WeChatAccounts default={self.default.app_id}>"

    def _current(self, *, missed: bool = False, session=None) -> _Loaded:
        """The accounts, read again when stale (or, after a miss, when not read for a few seconds);
        through `session` when the caller holds one (on SQLite a second connection would wait for it)."""
        loaded = self._loaded
        now = self._monotonic()
        if loaded is not None and now - loaded.at < (MISS_RELOAD_SECONDS if missed else self._ttl):
            return loaded
        with self._lock:
            if self._loaded is not loaded:
                # Another thread read it meanwhile.
                return self._loaded
            rows = self._load(session)
            self._loaded = _Loaded(
                by_slug={row.slug: Account(row.id, row.slug, row.app_id, row.token,
                                           WeChatCrypto(row.token, row.aes_key, row.app_id)) for row in rows},
                secrets={row.id: row for row in rows},
                at=self._monotonic(),
            )
            logger.info("wechat_accounts=loaded count=%s", len(rows))
            return self._loaded

    def by_slug(self, slug: str) -> Account | None:
        """The added account whose webhook is `/wechat/<slug>`, or None."""
        account = self._current().by_slug.get(slug)
        if account is None:
            account = self._current(missed=True).by_slug.get(slug)
        return account

    def client(self, account_id: int | None):
        """The API client of an account (None: the default one); WeChatClientException when it is unknown."""
        if account_id is None:
            return self.default_client
        secrets = self._current().secrets.get(account_id) or self._current(missed=True).secrets.get(account_id)
        if secrets is None:
            raise WeChatClientException(errcode=None, errmsg=f"official account {account_id} is not configured")
        kept = self._clients.get(account_id)
        if kept is not None and kept[0] == secrets:
            return kept[1]
        with self._lock:
            kept = self._clients.get(account_id)
            if kept is None or kept[0] != secrets:
                kept = self._clients[account_id] = (secrets, self._make_client(secrets))
            return kept[1]

    def client_for_city(self, city_id: int | None, session=None):
        """The client of the account serving this city (the first added), else the default one."""
        ids = sorted(row.id for row in self._current(session=session).secrets.values() if row.region_id == city_id)
        return self.client(ids[0]) if ids else self.default_client


def client_for(client, account_id: int | None):
    """The client of an account, found through the default account's `client`: `client` itself for the
    default account (or a client that knows no other accounts)."""
    accounts = getattr(client, "accounts", None)
    return client if accounts is None or account_id is None else accounts.client(account_id)
