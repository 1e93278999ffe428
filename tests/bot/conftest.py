"""Fixtures the chat tests share: everyone's phone on WeChat's side, and a town with bound staff."""

from __future__ import annotations

import pytest

from tests.bot.test_e2e_requests import Phone
from tests.support.factories import make_town


@pytest.fixture
def phone(app, client, sender, fake_wechat, clock):
    """Everyone's phone."""
    return Phone(app, client, sender, fake_wechat, clock)


@pytest.fixture
def town(session, clock):
    """A town with bound staff."""
    return make_town(session, clock())
