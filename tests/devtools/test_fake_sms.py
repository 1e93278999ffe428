"""The Aliyun SMS stand-in on its own: the RPC gateway's refusals, GET as well as POST, its controls
and its command."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
import requests
from click.testing import CliRunner

from cli import main
from runtime.sms import rpc_signature
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN


def signed(method: str = "POST", secret: str = TEST_SMS_KEY_SECRET, **changes) -> dict:
    """SendSms's parameters as Aliyun's documentation lists them, signed (a None change removes one)."""
    params = {
        "AccessKeyId": TEST_SMS_KEY_ID, "Action": "SendSms", "Format": "JSON", "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
        "PhoneNumbers": "13800138000", "SignName": TEST_SMS_SIGN, "TemplateCode": "SMS_100001",
        "TemplateParam": json.dumps({"name": "张阿姨"}, ensure_ascii=False),
    }
    params.update(changes)
    params = {k: v for k, v in params.items() if v is not None}
    params["Signature"] = rpc_signature(method, params, secret)
    return params


def post(server, params: dict) -> requests.Response:
    """A form POST, as the product's client sends."""
    return requests.post(server.url, data=params, timeout=2)


def test_get_with_a_signed_query_is_taken_like_post(fake_sms):
    """The documentation's own way, GET with every parameter in the query, is signed with GET."""
    answer = requests.get(fake_sms.url, params=signed("GET"), timeout=2)
    assert answer.status_code == 200 and answer.json()["Code"] == "OK" and answer.json()["BizId"]
    # The same parameters signed for POST but sent by GET do not match.
    wrong = requests.get(fake_sms.url, params=signed("POST"), timeout=2)
    assert (wrong.status_code, wrong.json()["Code"]) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize(("changes", "status", "code"), [
    ({"PhoneNumbers": None}, 400, "MissingPhoneNumbers"),
    ({"TemplateCode": None}, 400, "MissingTemplateCode"),
    ({"SignatureNonce": None}, 400, "MissingSignatureNonce"),
    ({"Action": "SendBatchSms"}, 404, "InvalidAction.NotFound"),
    ({"Version": "2018-05-01"}, 400, "InvalidVersion"),
    ({"SignatureMethod": "HMAC-SHA256"}, 400, "IncompleteSignature"),
    ({"Timestamp": "2026-12-01 09:00:00"}, 400, "InvalidTimeStamp.Format"),
    ({"Timestamp": "2020-01-01T00:00:00Z"}, 400, "InvalidTimeStamp.Expired"),
    ({"PhoneNumbers": "1380013800"}, 200, "isv.MOBILE_NUMBER_ILLEGAL"),
    ({"PhoneNumbers": "13800138000,+8613900139000"}, 200, "isv.MOBILE_NUMBER_ILLEGAL"),
    ({"PhoneNumbers": ",".join(["13800138000"] * 1001)}, 200, "isv.MOBILE_COUNT_OVER_LIMIT"),
    ({"TemplateParam": '{"name": 1}'}, 200, "isv.INVALID_JSON_PARAM"),
    ({"TemplateParam": "name=张"}, 200, "isv.INVALID_JSON_PARAM"),
])
def test_the_gateway_and_sendsms_refuse_as_aliyun_does(fake_sms, changes, status, code):
    """Each breach gets Aliyun's code and HTTP status, and nothing is sent."""
    answer = post(fake_sms, signed(**changes))
    assert (answer.status_code, answer.json()["Code"]) == (status, code)
    assert answer.json()["RequestId"] and "BizId" not in answer.json()
    if status >= 400:
        assert answer.json()["HostId"] == "dysmsapi.aliyuncs.com"
    assert [c["code"] for c in requests.get(fake_sms.url + "_calls", timeout=2).json()] == [code]


def test_a_tampered_parameter_breaks_the_signature(fake_sms):
    """Changing the number after signing is caught."""
    params = signed()
    params["PhoneNumbers"] = "13900139000"
    answer = post(fake_sms, params)
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert answer.json()["Message"] == "Specified signature is not matched with our calculation."


def test_controls_refuse_nonsense_and_clear(fake_sms):
    """Faults and the clock check what they are given; DELETE forgets calls and faults."""
    assert requests.post(fake_sms.url + "_faults", json={"times": 2}, timeout=2).status_code == 400
    assert requests.post(fake_sms.url + "_faults", json={"http_status": 404}, timeout=2).status_code == 400
    assert requests.post(fake_sms.url + "_clock", json={"advance": -5}, timeout=2).status_code == 400
    assert requests.post(fake_sms.url + "_faults", json={"code": "isp.SYSTEM_ERROR", "times": 2},
                         timeout=2).status_code == 201
    assert requests.delete(fake_sms.url + "_faults", timeout=2).status_code == 204
    assert post(fake_sms, signed()).json()["Code"] == "OK"
    assert requests.delete(fake_sms.url + "_calls", timeout=2).status_code == 204
    assert requests.get(fake_sms.url + "_calls", timeout=2).json() == []
    assert requests.get(fake_sms.url, timeout=2).json()["controls"] == ["/_calls", "/_faults", "/_clock"]


def test_fake_sms_command_has_help():
    """`sanzhida fake-sms --help` says what it stands in for and how to point the settings at it."""
    result = CliRunner().invoke(main, ["fake-sms", "--help"])
    assert result.exit_code == 0, result.output
    assert "Aliyun SMS" in result.output and "SMS_ENDPOINT" in result.output
    assert "--port" in result.output and "--template" in result.output and "--sign" in result.output


def test_fake_sms_command_refuses_a_malformed_template():
    """A --template that is not SMS_<digits>[:vars] stops before serving."""
    result = CliRunner().invoke(main, ["fake-sms", "--port", "0", "--template", "task"])
    assert result.exit_code != 0 and "SMS_<digits>" in result.output
