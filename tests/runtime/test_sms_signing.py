"""Aliyun's RPC request signing, checked against the worked example Alibaba Cloud publishes."""

from __future__ import annotations

import pytest

from runtime.sms import canonicalized_query, percent_encode, rpc_signature, string_to_sign

# The worked example of Alibaba Cloud's "Signature mechanism" for RPC APIs (ECS DescribeRegions),
# as published at https://developer.aliyun.com/ask/210168 ("API 签名机制(示例)", 云栖大讲堂):
#   "以 DescribeRegions 为例,假设使用的 Access Key Id 为 testid, Access Key Secret 为 testsecret。
#    那么签名前的请求 URL 为: http://ecs.aliyuncs.com/?TimeStamp=2016-02-23T12:46:24Z&Format=XML
#    &AccessKeyId=testid&Action=DescribeRegions&SignatureMethod=HMAC-SHA1
#    &SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&Version=2014-05-26&SignatureVersion=1.0
#    …因为 Access Key Secret 为 testsecret,所以用于计算 HMAC 的 Key 为 testsecret&,
#    计算得到的签名值为: CT9X0VtwR86fNWSnsc6v8YGOjuE="
# The same Signature (CT9X0VtwR86fNWSnsc6v8YGOjuE%3D with that SignatureNonce) heads the official
# page https://help.aliyun.com/en/document_detail/145075.html ("Signature mechanism").
# The web page shows the StringToSign with the inner "&" unencoded; the bytes that give the published
# signature have them as %26, as percentEncode(CanonicalizedQueryString) makes them.
EXAMPLE_PARAMS = {
    "TimeStamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
EXAMPLE_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
    "%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
EXAMPLE_SIGNATURE = "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_string_to_sign_is_the_documented_one_byte_for_byte():
    """Sorted, encoded and joined as the example: the colons of the time end up as %253A."""
    assert string_to_sign("GET", EXAMPLE_PARAMS) == EXAMPLE_STRING_TO_SIGN


def test_signature_is_the_documented_one():
    """Key testsecret& over the example's StringToSign gives CT9X0VtwR86fNWSnsc6v8YGOjuE=."""
    assert rpc_signature("GET", EXAMPLE_PARAMS, "testsecret") == EXAMPLE_SIGNATURE


def test_signature_leaves_out_an_existing_signature_and_depends_on_method_and_secret():
    """A Signature parameter is not signed; POST and another secret give other signatures."""
    signed = {**EXAMPLE_PARAMS, "Signature": EXAMPLE_SIGNATURE}
    assert rpc_signature("GET", signed, "testsecret") == EXAMPLE_SIGNATURE
    assert rpc_signature("POST", EXAMPLE_PARAMS, "testsecret") != EXAMPLE_SIGNATURE
    assert rpc_signature("GET", EXAMPLE_PARAMS, "othersecret") != EXAMPLE_SIGNATURE


@pytest.mark.parametrize(("raw", "encoded"), [
    ("AZaz09-_.~", "AZaz09-_.~"),       # kept as they are
    ("a b", "a%20b"),                   # space as %20, never +
    ("*", "%2A"),                       # Java's URLEncoder leaves * alone; Aliyun wants %2A
    ("/", "%2F"),
    ('"', "%22"),                       # the documentation's own example
    ("三直达", "%E4%B8%89%E7%9B%B4%E8%BE%BE"),  # UTF-8 bytes
    ('{"name":"张"}', "%7B%22name%22%3A%22%E5%BC%A0%22%7D"),
])
def test_percent_encoding_follows_rfc3986_as_documented(raw, encoded):
    """A-Z a-z 0-9 - _ . ~ stay; everything else is %XY of its UTF-8 bytes."""
    assert percent_encode(raw) == encoded


def test_canonicalized_query_sorts_by_name():
    """Upper-case names sort before lower-case ones, as a byte-wise sort does."""
    assert canonicalized_query({"b": "2", "B": "1", "a": "x y"}) == "B=1&a=x%20y&b=2"
