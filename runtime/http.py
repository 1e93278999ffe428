"""HTTP sessions for the outside APIs we call often (WeChat, the SMS provider)."""

from __future__ import annotations

from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class HttpEnvironment:
    """The proxy and CA bundle the environment names for one API's base URL, read once.

    A plain session reads them again on every call (the proxy variables, `no_proxy`, and a look for
    ~/.netrc on disk): about a third of the client's CPU per WeChat call. These APIs take no
    credentials from ~/.netrc.
    """

    proxies: dict[str, str]
    verify: bool | str

    @classmethod
    def read(cls, base_url: str) -> HttpEnvironment:
        """What the environment says now: the proxy for `base_url`'s host (none if `no_proxy` names it)
        and `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`."""
        found = requests.Session().merge_environment_settings(base_url, {}, None, None, None)
        return cls({scheme: url for scheme, url in found["proxies"].items() if scheme != "no"}, found["verify"])

    def session(self) -> requests.Session:
        """A new session with these settings, which never reads the environment itself."""
        session = requests.Session()
        session.proxies = dict(self.proxies)
        session.verify = self.verify
        session.trust_env = False
        return session


def api_session(base_url: str) -> requests.Session:
    """A session for calls to `base_url`, with the environment's proxy and CA bundle read once, now."""
    return HttpEnvironment.read(base_url).session()
