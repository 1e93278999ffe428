"""Several official accounts on the WeChat API stand-in, as one deployment of several cities has.

Each account is an AppID with its AppSecret; the stand-in's own (the settings' WECHAT_APP_ID) is
the default. As on WeChat:

- `token` gives a token to a known AppID with its own AppSecret only (40013, 40125), and the token
  belongs to that AppID;
- an openid belongs to one account: every openid registered with `"app_id"` at `POST /_interactions`
  is that account's for good (an action without `app_id` keeps it there), any other the default
  account's. A call with one account's token about another account's openid (a customer-service,
  template or subscription message, `user/info`) is refused with 40003 "invalid openid", as WeChat
  refuses an openid of another account;
- a media_id is the account's it was sent to or uploaded by (`POST /_media` takes `app_id`):
  `media/get` or a media message with another account's token gets 40007, as on WeChat.

Every recorded call names the AppID it was made as (`app_id`, from its token). Test controls:
`POST /_accounts {"app_id", "app_secret"}` adds (or changes) an account, `GET /_accounts` lists the
AppIDs (never a secret); `sanzhida fake-wechat --account APPID` adds one from the command line.
"""

from __future__ import annotations

import threading

from flask import Flask, jsonify, request

INVALID_OPENID = 40003


class Accounts:
    """AppID -> AppSecret and openid -> AppID, safe for the stand-in's request threads."""

    def __init__(self, app_id: str | None, app_secret: str | None):
        self._lock = threading.Lock()
        # None: the stand-in accepts any AppID (and then knows no owner for an openid).
        self.default = app_id
        self._secrets: dict[str, str | None] = {} if app_id is None else {app_id: app_secret}
        self._owners: dict[str, str] = {}

    def add(self, app_id: str, app_secret: str) -> None:
        """Add an account, or give a known one a new secret."""
        with self._lock:
            self._secrets[app_id] = app_secret

    def add_all(self, secrets: dict[str, str]) -> None:
        """Add several accounts, AppID -> AppSecret."""
        for app_id, app_secret in secrets.items():
            self.add(app_id, app_secret)

    def app_ids(self) -> list[str]:
        """The accounts' AppIDs."""
        with self._lock:
            return sorted(self._secrets)

    def token_errcode(self, app_id: str, secret: str) -> int | None:
        """WeChat's refusal of a token for this AppID and secret, or None."""
        if self.default is None:
            return None
        with self._lock:
            if app_id not in self._secrets:
                return 40013
            expected = self._secrets[app_id]
        return 40125 if expected is not None and secret != expected else None

    def follow(self, openid: str, app_id: str | None) -> str | None:
        """Register the openid as the account's (None: the one it already belongs to); why not, or None."""
        if app_id is None or app_id == self.default:
            # The default account's openids are every one not registered to another.
            return None if openid not in self._owners or app_id is None else f"openid {openid!r} is another account's"
        with self._lock:
            if app_id not in self._secrets:
                return f"unknown app_id {app_id!r}: add it at POST /_accounts first"
            owner = self._owners.setdefault(openid, app_id)
        return None if owner == app_id else f"openid {openid!r} already belongs to {owner}"

    def owner(self, openid: str) -> str | None:
        """The AppID the openid belongs to (None: the stand-in accepts any)."""
        with self._lock:
            return self._owners.get(openid, self.default)

    def openid_errcode(self, token_app_id: str | None, body, args) -> int | None:
        """40003 when the call names an openid of another account than its token's; else None."""
        openid = body.get("touser") if isinstance(body, dict) else None
        openid = openid or args.get("openid")
        if not isinstance(openid, str) or not openid or token_app_id is None:
            return None
        owner = self.owner(openid)
        return INVALID_OPENID if owner is not None and owner != token_app_id else None


def register_account_routes(app: Flask, accounts: Accounts) -> None:
    """Add the accounts' test controls to the stand-in's app."""

    @app.post("/_accounts")
    def add_account():
        """Test control: add an account (or change its secret)."""
        body = request.get_json(silent=True)
        app_id = body.get("app_id") if isinstance(body, dict) else None
        secret = body.get("app_secret") if isinstance(body, dict) else None
        if not (isinstance(app_id, str) and app_id and isinstance(secret, str) and secret):
            return jsonify(error="send {\"app_id\": …, \"app_secret\": …}"), 400
        accounts.add(app_id, secret)
        return jsonify(app_ids=accounts.app_ids()), 201

    @app.get("/_accounts")
    def list_accounts():
        """Test control: the accounts' AppIDs."""
        return jsonify(app_ids=accounts.app_ids(), default=accounts.default)
