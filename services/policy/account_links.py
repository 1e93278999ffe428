"""Links to the phone pages, marked with the official account a push goes out through.

WeChat gives one person a different openid under each official account, and web authorisation
(网页授权) answers with the openid under the account whose AppID asked. A member of staff who follows
an added city's account is known by that account's openid, so a phone page opened from a push sent
through it must sign them in through that account: the link says which (`?account=<slug>`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ACCOUNT_PARAM = "account"
# An absolute link whose path starts with /m/ (ASCII only: the Chinese text around it is not part of it).
_MOBILE_LINK = re.compile(r"https?://[A-Za-z0-9.\-:\[\]]+/m/[A-Za-z0-9\-._~/?#@!$&*+,;=%:]*")


def for_account(text: str, slug: str | None) -> str:
    """`text` (a message or a link) with every phone-page link carrying `account=<slug>`; None: unchanged."""
    if not slug or "/m/" not in text:
        return text
    return _MOBILE_LINK.sub(lambda match: _with_account(match.group(0), slug), text)


def _with_account(url: str, slug: str) -> str:
    """The link with its `account` parameter set to `slug` (any other parameters and fragment kept)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != ACCOUNT_PARAM]
    query.append((ACCOUNT_PARAM, slug))
    return urlunsplit(parts._replace(query=urlencode(query)))
