"""报平安, pure: the default check-in plan of a beneficiary, and whether a message is a check-in."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from config import policy
from models.enums import CheckinPlan

# WeChat sends its own smileys inside text as bracketed names (`[强]`, `[OK]`, `[玫瑰]`) or `/:` codes.
_WECHAT_SMILEY = re.compile(r"\[[0-9A-Za-z\u4e00-\u9fff]{1,6}\]|/:[^\s/]{1,8}")
# Sentence-final particles an elderly writer adds to be friendly: "平安啊", "我很好呀", "很好哈哈".
_TRAILING_PARTICLES = re.compile(r"[啊呀啦哦喔噢嘛哈呐]+$")


def default_plan(categories: Iterable[str], lives_alone: bool) -> str:
    """The plan a beneficiary has until staff set one: daily for the listed categories living alone, else off."""
    if lives_alone and policy.CHECKIN_DAILY_CATEGORIES.intersection(str(c) for c in categories):
        return CheckinPlan.DAILY.value
    return CheckinPlan.OFF.value


def checkin_core(text: str) -> str:
    """The words of a message without smileys, punctuation, spaces, symbols and trailing particles."""
    text = _WECHAT_SMILEY.sub("", unicodedata.normalize("NFKC", text or ""))
    # Keep letters and digits only: punctuation (P*), spaces (Z*), symbols and emoji (S*), controls (C*) go.
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")
    return _TRAILING_PARTICLES.sub("", kept.lower())


def is_checkin_words(text: str) -> bool:
    """True when the whole message says "I am fine" (policy.CHECKIN_WORDS), said once or repeated ("平安平安")."""
    core = checkin_core(text)
    return bool(core) and any(core == word * (len(core) // len(word)) for word in policy.CHECKIN_WORDS)
