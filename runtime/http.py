"""HTTP sessions for the outside APIs we call often (WeChat, the SMS provider)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import requests
import urllib3


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


    def pool(self, base_url: str, maxsize: int) -> urllib3.PoolManager:
        """A connection pool for calls to `base_url` with these settings, shared by threads (keeping up to
        `maxsize` connections): for the calls made most often, at under half a session's CPU a call."""
        if not self.verify:
            tls: dict = {"cert_reqs": "CERT_NONE"}
        elif isinstance(self.verify, str) and os.path.isdir(self.verify):
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": self.verify}
        else:
            # requests' own default is certifi's bundle: the same certificates either way.
            tls = {"cert_reqs": "CERT_REQUIRED",
                   "ca_certs": self.verify if isinstance(self.verify, str) else certifi.where()}
        proxy = self.proxies.get(urlsplit(base_url).scheme) or self.proxies.get("all")
        if proxy:
            return urllib3.ProxyManager(proxy, maxsize=maxsize, **tls)
        return urllib3.PoolManager(maxsize=maxsize, **tls)


def api_session(base_url: str) -> requests.Session:
    """A session for calls to `base_url`, with the environment's proxy and CA bundle read once, now."""
    return HttpEnvironment.read(base_url).session()
