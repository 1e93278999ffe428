"""Text messages (SMS) through a provider's API: a small interface and Aliyun SMS (Dysmsapi SendSms).

A message is a template registered with the provider (its code, e.g. SMS_154950909) filled with
parameters, sent under the registered sign name (签名) to one phone. The provider answers with an id
of its own for the message (Aliyun's BizId) or an error code; `SmsError` says whether sending again
later may work.

Aliyun's API is RPC style, signed with HMAC-SHA1 as its documentation describes
(https://help.aliyun.com/en/document_detail/145075.html, "Signature mechanism"): every parameter
but Signature, sorted by name, percent-encoded as RFC 3986 says (A-Z a-z 0-9 - _ . ~ kept, space as
%20), joined as name=value&…; StringToSign = HTTPMethod & percentEncode("/") &
percentEncode(that string); Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
SendSms's parameters and answers: https://help.aliyun.com/zh/sms/developer-reference/api-dysmsapi-2017-05-25-sendsms;
its error codes: https://help.aliyun.com/document_detail/101346.html.

Phone numbers and parameters are people's data: they are sent, never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable
from urllib.parse import quote

import requests

from config.settings import Settings
from runtime.http import api_session

logger = logging.getLogger(__name__)

ALIYUN_SMS_VERSION = "2017-05-25"
# Dysmsapi's region for mainland messages; the endpoint decides where the call goes.
ALIYUN_SMS_REGION = "cn-hangzhou"

# Codes worth sending again later: flow control, the platform's own trouble, a stale request.
RETRYABLE_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL",  # per-phone flow control (1/min, 5/h, 10/day by default)
    "isv.DAY_LIMIT_CONTROL",       # the account's daily cap set in the console
    "isv.MONTH_LIMIT_CONTROL",
    "isp.SYSTEM_ERROR",
    "isp.GATEWAY_ERROR",
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ServiceUnavailable",
    "InternalError",
    "InvalidTimeStamp.Expired",    # a delayed request: a new one carries a new timestamp
    "SignatureNonceUsed",          # a replayed request: a new one carries a new nonce
})
# Codes that will not change by waiting: a wrong number, template, sign, key, or an empty account.
PERMANENT_CODES = frozenset({
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.TEMPLATE_PARAMS_ILLEGAL",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.PARAM_NOT_SUPPORT_URL",
    "isv.INVALID_JSON_PARAM",
    "isv.INVALID_PARAMETERS",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.SMS_CONTENT_ILLEGAL",
    "isv.AMOUNT_NOT_ENOUGH",       # needs a top-up by a person, not a retry
    "isv.OUT_OF_SERVICE",
    "isv.ACCOUNT_NOT_EXISTS",
    "isv.ACCOUNT_ABNORMAL",
    "isv.PRODUCT_UN_SUBSCRIPT",
    "isv.PRODUCT_UNSUBSCRIBE",
    "isp.RAM_PERMISSION_DENY",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId.NotFound",
    "InvalidAccessKeyId.Inactive",
    "IncompleteSignature",
    "InvalidTimeStamp.Format",
})

_MAINLAND_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


class SmsError(Exception):
    """The provider did not take the message: its code, its message, and whether to try again later."""

    def __init__(self, code: str, message: str, *, permanent: bool, request_id: str | None = None):
        """Keep the provider's code and message as they came."""
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.permanent, self.request_id = code, message, permanent, request_id

    @property
    def retryable(self) -> bool:
        """True when the same message may go through later."""
        return not self.permanent


def is_permanent(code: str) -> bool:
    """Whether an Aliyun error code means sending again will not help (unknown isp.* codes: retry)."""
    if code in RETRYABLE_CODES:
        return False
    if code in PERMANENT_CODES:
        return True
    # isp.* is the platform's side (worth another go); isv.*, Missing*, Invalid*: the request's own fault.
    return not code.startswith(("isp.", "Throttling"))


@runtime_checkable
class SmsSender(Protocol):
    """Anything that sends one templated text message to one phone."""

    def template_code(self, kind: str) -> str | None:
        """The provider's template code registered for a kind of message, None if there is none."""
        ...

    def send(self, phone: str, template_code: str, params: Mapping[str, str], *, out_id: str | None = None) -> str:
        """Send; the provider's id for the message, or SmsError."""
        ...


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature requires: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="-_.~")


def canonicalized_query(params: Mapping[str, str]) -> str:
    """Every parameter but Signature, sorted by name, encoded, joined with & (the CanonicalizedQueryString)."""
    return "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}" for name in sorted(params) if name != "Signature"
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """HTTPMethod & percentEncode("/") & percentEncode(CanonicalizedQueryString)."""
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonicalized_query(params))}"


def rpc_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)), as Aliyun's RPC signature is computed."""
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def normalize_phone(phone: str) -> str:
    """A mainland mobile number as the provider wants it: 11 digits, spaces, dashes and +86 removed."""
    digits = re.sub(r"[\s\-()]", "", phone)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def mask_phone(phone: str) -> str:
    """138****1234: enough to tell numbers apart in a log, not enough to call."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


class AliyunSmsSender:
    """Aliyun SMS (Dysmsapi 2017-05-25 SendSms), signed with the AccessKey, one HTTP call a message."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str] | None = None,
        endpoint: str = "https://dysmsapi.aliyuncs.com/",
        timeout: float = 5.0,
        now: Callable[[], datetime] | None = None,
        nonce: Callable[[], str] | None = None,
        session: requests.Session | None = None,
    ):
        """Check the endpoint now, so that a bad SMS_ENDPOINT fails at start-up."""
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"SMS endpoint must be an http(s) URL, got {endpoint!r}")
        if not access_key_id or not access_key_secret or not sign_name:
            raise ValueError("Aliyun SMS needs an AccessKey id, its secret and a sign name")
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.access_key_id, self._secret, self.sign_name = access_key_id, access_key_secret, sign_name
        self.templates = dict(templates or {})
        self.timeout = timeout
        # The provider checks the timestamp against its own clock: the real time, not a test's shifted one.
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._nonce = nonce or (lambda: uuid.uuid4().hex)
        self._http = session or api_session(self.endpoint)

    def __repr__(self) -> str:
        return f"<AliyunSmsSender endpoint={self.endpoint} sign={self.sign_name}>"

    def template_code(self, kind: str) -> str | None:
        """The template code registered for a kind of message (SMS_TEMPLATES), None if there is none."""
        return self.templates.get(kind)

    def signed_params(self, phone: str, template_code: str, params: Mapping[str, str], *,
                      out_id: str | None = None, method: str = "POST") -> dict[str, str]:
        """SendSms's parameters, common ones included, with their Signature."""
        query = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": ALIYUN_SMS_REGION,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": self._now().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": ALIYUN_SMS_VERSION,
            "PhoneNumbers": phone,
            "SignName": self.sign_name,
            "TemplateCode": template_code,
            # Values must be strings (isv.INVALID_JSON_PARAM otherwise); Chinese is sent as itself.
            "TemplateParam": json.dumps({k: str(v) for k, v in params.items()}, ensure_ascii=False,
                                        separators=(",", ":")),
        }
        if out_id:
            query["OutId"] = out_id
        query["Signature"] = rpc_signature(method, query, self._secret)
        return query

    def send(self, phone: str, template_code: str, params: Mapping[str, str], *, out_id: str | None = None) -> str:
        """Send one message; Aliyun's BizId, or SmsError (permanent or not) saying why not."""
        phone = normalize_phone(phone)
        if not _MAINLAND_MOBILE.match(phone):
            # Aliyun would refuse it too; no need to spend a call (or the flow-control budget).
            raise SmsError("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", permanent=True)
        query = self.signed_params(phone, template_code, params, out_id=out_id)
        # POST with the parameters in the body: phone numbers stay out of URLs and proxies' access logs.
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())
        try:
            response = self._http.post(
                self.endpoint, data=body.encode(), timeout=self.timeout,
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                         "Accept": "application/json"},
            )
        except requests.Timeout:
            raise SmsError("Timeout", f"no answer within {self.timeout:g} s", permanent=False) from None
        except requests.RequestException as exc:
            raise SmsError("ConnectionError", type(exc).__name__, permanent=False) from None
        return self._answer(response, phone, template_code)

    def _answer(self, response: requests.Response, phone: str, template_code: str) -> str:
        """The BizId of an OK answer; SmsError for anything else."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("Code"), str):
            # A gateway's HTML error page or an empty body: the server's trouble if 5xx.
            raise SmsError(f"HTTP{response.status_code}", "the SMS API gave no JSON answer",
                           permanent=response.status_code < 500 and response.status_code != 429)
        code, message, request_id = data["Code"], str(data.get("Message", "")), data.get("RequestId")
        if code == "OK" and response.ok and data.get("BizId"):
            logger.info("sms sent phone=%s template=%s biz_id=%s", mask_phone(phone), template_code, data["BizId"])
            return str(data["BizId"])
        permanent = is_permanent(code) and response.status_code < 500
        logger.warning("sms refused phone=%s template=%s code=%s permanent=%s request_id=%s",
                       mask_phone(phone), template_code, code, permanent, request_id)
        raise SmsError(code, message, permanent=permanent, request_id=request_id)


def make_sms_sender(settings: Settings, *, session: requests.Session | None = None) -> SmsSender | None:
    """The configured SMS sender, or None when SMS_PROVIDER is unset."""
    if settings.sms_provider == "aliyun":
        return AliyunSmsSender(
            access_key_id=settings.sms_access_key_id,
            access_key_secret=settings.sms_access_key_secret,
            sign_name=settings.sms_sign_name,
            templates=dict(settings.sms_templates),
            endpoint=settings.sms_endpoint,
            timeout=settings.wechat_http_timeout,
            session=session,
        )
    return None
