"""The Aliyun SMS client against the real local stand-in: success, every refusal with Aliyun's code
and the right permanent/retryable verdict, flow control and faults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from devtools.fake_sms import FakeSmsServer
from runtime.sms import AliyunSmsSender, SmsError, make_sms_sender
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN

PHONE = "13800138000"
TASK = "SMS_200001"


@pytest.fixture
def standin():
    """A stand-in whose task template needs `name` and `case`."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates={TASK: ["name", "case"]}).start()
    yield server
    server.stop()


def sender(server, **overrides) -> AliyunSmsSender:
    """A client for the stand-in with the test key, overridable."""
    kwargs = dict(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET, sign_name=TEST_SMS_SIGN,
                  templates={"task": TASK}, endpoint=server.url, timeout=2.0)
    kwargs.update(overrides)
    return AliyunSmsSender(**kwargs)


def calls(server) -> list[dict]:
    """What the stand-in recorded."""
    return requests.get(server.url + "_calls", timeout=2).json()


def refusal(client, phone=PHONE, template=TASK, params=None) -> SmsError:
    """The SmsError a send raises."""
    with pytest.raises(SmsError) as caught:
        client.send(phone, template, {"name": "张阿姨", "case": "R-1"} if params is None else params)
    return caught.value


def test_a_message_goes_through_and_is_recorded(standin):
    """OK: the BizId comes back; the stand-in saw the phone, sign name, template and parameters."""
    client = sender(standin)
    assert client.template_code("task") == TASK and client.template_code("nope") is None
    biz_id = client.send("+86 138-0013-8000", TASK, {"name": "张阿姨", "case": "R-1"}, out_id="outbox-7")
    assert biz_id
    [call] = calls(standin)
    assert call["code"] == "OK" and call["biz_id"] == biz_id
    assert call["phones"] == [PHONE] and call["sign_name"] == TEST_SMS_SIGN and call["template"] == TASK
    assert call["params"] == {"name": "张阿姨", "case": "R-1"} and call["out_id"] == "outbox-7"
    assert call["method"] == "POST"


@pytest.mark.parametrize(("overrides", "code"), [
    ({"access_key_secret": "wrong-secret"}, "SignatureDoesNotMatch"),
    ({"access_key_id": "someone-else"}, "InvalidAccessKeyId.NotFound"),
    ({"sign_name": "别的签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
    ({"now": lambda: datetime.now(timezone.utc) - timedelta(minutes=16)}, "InvalidTimeStamp.Expired"),
])
def test_refusals_of_the_request_are_classified(standin, overrides, code):
    """A bad key, sign name or a stale timestamp: Aliyun's code; only the stale request is worth retrying."""
    error = refusal(sender(standin, **overrides))
    assert error.code == code
    assert error.permanent is (code != "InvalidTimeStamp.Expired")
    assert not [c for c in calls(standin) if c["code"] == "OK"]


@pytest.mark.parametrize(("template", "params", "code"), [
    ("SMS_999999", None, "isv.SMS_TEMPLATE_ILLEGAL"),
    (TASK, {"name": "张阿姨"}, "isv.TEMPLATE_MISSING_PARAMETERS"),
    (TASK, {"name": "张阿姨", "case": "x" * 36}, "isv.PARAM_LENGTH_LIMIT"),
    (TASK, {"name": "张阿姨", "case": "https://example.cn/r/1"}, "isv.PARAM_NOT_SUPPORT_URL"),
])
def test_refusals_of_the_message_are_permanent(standin, template, params, code):
    """Template and parameter faults come back with Aliyun's code and are not retried."""
    error = refusal(sender(standin), template=template, params=params)
    assert (error.code, error.permanent) == (code, True)
    assert error.request_id


def test_a_number_aliyun_would_refuse_is_refused_before_the_call(standin):
    """Not an 11-digit mainland mobile: permanent, and the provider is not even asked."""
    error = refusal(sender(standin), phone="0571-8888888")
    assert (error.code, error.permanent) == ("isv.MOBILE_NUMBER_ILLEGAL", True)
    assert calls(standin) == []


def test_a_reused_nonce_is_refused_and_worth_retrying(standin):
    """The same SignatureNonce twice in 15 minutes: SignatureNonceUsed, retryable with a new one."""
    client = sender(standin, nonce=lambda: "the-same-nonce")
    assert client.send(PHONE, TASK, {"name": "张阿姨", "case": "R-1"})
    error = refusal(client, phone="13900139000")
    assert (error.code, error.permanent) == ("SignatureNonceUsed", False)


def test_flow_control_per_number_is_retryable_and_lifts_with_time(standin):
    """1 a minute, 5 an hour, 10 a day per number for one sign name, on the stand-in's clock."""
    client = sender(standin)
    params = {"name": "张阿姨", "case": "R-1"}
    client.send(PHONE, TASK, params)
    error = refusal(client)
    assert (error.code, error.message, error.permanent) == ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", False)
    client.send("13900139000", TASK, params)  # another number is not held back
    for _ in range(4):
        requests.post(standin.url + "_clock", json={"advance": 61}, timeout=2)
        client.send(PHONE, TASK, params)
    requests.post(standin.url + "_clock", json={"advance": 61}, timeout=2)
    assert refusal(client).message == "触发小时级流控Permits:5"
    for _ in range(5):
        requests.post(standin.url + "_clock", json={"advance": 3601}, timeout=2)
        client.send(PHONE, TASK, params)
    requests.post(standin.url + "_clock", json={"advance": 3601}, timeout=2)
    assert refusal(client).message == "触发天级流控Permits:10"
    requests.post(standin.url + "_clock", json={"advance": 86400}, timeout=2)
    assert client.send(PHONE, TASK, params)


@pytest.mark.parametrize(("fault", "code", "permanent"), [
    ({"code": "isp.SYSTEM_ERROR"}, "isp.SYSTEM_ERROR", False),
    ({"code": "isv.AMOUNT_NOT_ENOUGH"}, "isv.AMOUNT_NOT_ENOUGH", True),
    ({"code": "Throttling.User", "status": 400}, "Throttling.User", False),
    ({"http_status": 503}, "HTTP503", False),
    ({"hang": True}, "Timeout", False),
])
def test_faults_fail_the_next_call_and_then_clear(standin, fault, code, permanent):
    """A queued fault fails one call as asked; the next call goes through."""
    assert requests.post(standin.url + "_faults", json=fault, timeout=2).status_code == 201
    client = sender(standin, timeout=0.5)
    error = refusal(client)
    assert (error.code, error.permanent) == (code, permanent)
    assert client.send(PHONE, TASK, {"name": "张阿姨", "case": "R-1"})


def test_an_unreachable_endpoint_is_retryable():
    """Nobody listening: a connection error, worth another go."""
    client = AliyunSmsSender(access_key_id="k", access_key_secret="s", sign_name="三直达",
                             endpoint="http://127.0.0.1:9/", timeout=0.5)
    error = refusal(client)
    assert (error.code, error.permanent) == ("ConnectionError", False)


def test_factory_builds_a_sender_only_when_configured(settings, fake_sms):
    """No SMS_PROVIDER: None; aliyun: a sender that reaches the stand-in with the settings' templates."""
    from tests.conftest import TEST_SMS_TEMPLATES

    assert make_sms_sender(settings) is None
    configured = settings.with_overrides(
        sms_provider="aliyun", sms_endpoint=fake_sms.url, sms_access_key_id=TEST_SMS_KEY_ID,
        sms_access_key_secret=TEST_SMS_KEY_SECRET, sms_sign_name=TEST_SMS_SIGN, sms_templates=TEST_SMS_TEMPLATES)
    client = make_sms_sender(configured)
    code = client.template_code("urgent")
    assert code == "SMS_100002"
    assert client.send(PHONE, code, {"case": "R-9"})
    assert [c["template"] for c in calls(fake_sms)] == ["SMS_100002"]
    assert TEST_SMS_KEY_SECRET not in repr(configured) and TEST_SMS_KEY_SECRET not in repr(client)
