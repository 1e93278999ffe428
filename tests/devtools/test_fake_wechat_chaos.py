"""The WeChat stand-in's injected latency and failures: WeChat's own error answers, each recorded
with its outcome, and a late answer that still delivers the message."""

from __future__ import annotations

from collections import Counter

import pytest

from devtools.fake_wechat import FakeWeChatState, create_fake_wechat_app
from devtools.fake_wechat_chaos import KINDS, Chaos


def client_for(chaos: Chaos):
    """A test client of the stand-in with this chaos, and its state."""
    state = FakeWeChatState(chaos=chaos)
    app = create_fake_wechat_app(state)
    return app.test_client(), state


def token(client, state) -> str:
    """A token for the development app."""
    answer = client.get("/cgi-bin/token", query_string={"grant_type": "client_credential", "appid": state.app_id,
                                                        "secret": state.app_secret})
    return answer.get_json()["access_token"]


def test_no_chaos_draws_nothing():
    """The default stand-in never fails on its own."""
    chaos = Chaos()
    assert not chaos.active
    assert {chaos.draw() for _ in range(100)} == {None}


def test_draws_follow_the_rate_and_kinds():
    """About the asked share fails, in every kind."""
    chaos = Chaos(error_rate=0.5, seed=3)
    drawn = Counter(chaos.draw() for _ in range(4000))
    assert 1700 < sum(n for kind, n in drawn.items() if kind) < 2300
    assert {"system_error", "timeout", "late"} <= set(drawn)
    assert {"http 502", "http 503"} & set(drawn)
    assert len(KINDS) == 4


@pytest.mark.parametrize("bad", [{"latency": -1}, {"error_rate": 1.5}])
def test_refuses_nonsense(bad):
    """A negative latency or a rate above 1 is a mistake."""
    with pytest.raises(ValueError):
        Chaos(**bad)


def test_failures_answer_as_wechat_and_are_recorded():
    """Every call fails: errcode -1 with WeChat's message, HTTP 5xx, or a timeout, never a delivery."""
    client, state = client_for(Chaos(error_rate=1.0, seed=7, hold_seconds=0))
    state.chaos.error_rate = 0
    access = token(client, state)
    state.chaos.error_rate = 1.0
    client.post("/_interactions", json={"openid": "o-1"})
    seen = set()
    for _ in range(60):
        answer = client.post("/cgi-bin/message/custom/send", query_string={"access_token": access},
                             json={"touser": "o-1", "msgtype": "text", "text": {"content": "hi"}})
        if answer.status_code == 200 and answer.get_json().get("errcode") == -1:
            assert answer.get_json()["errmsg"] == "system error"
            seen.add("errcode -1")
        elif answer.status_code in (502, 503, 504):
            seen.add(answer.status_code)
        else:
            # A late answer: delivered, answered after the caller's timeout.
            assert answer.get_json()["errcode"] == 0
            seen.add("late")
        client.post("/_interactions", json={"openid": "o-1"})
    outcomes = Counter(c["outcome"] for c in state.calls if c["path"] == "message/custom/send")
    assert {"errcode -1", "timeout", "delivered late"} <= set(outcomes)
    assert "delivered" not in outcomes
    assert "late" in seen and "errcode -1" in seen


def test_template_record_carries_its_msgid():
    """A delivered template message's record holds the msgid WeChat answered."""
    client, state = client_for(Chaos())
    access = token(client, state)
    answer = client.post("/cgi-bin/message/template/send", query_string={"access_token": access},
                         json={"touser": "o-1", "template_id": "t", "data": {}, "client_msg_id": "k1"})
    msgid = answer.get_json()["msgid"]
    assert [c["msgid"] for c in state.calls if c["path"] == "message/template/send"] == [msgid]
