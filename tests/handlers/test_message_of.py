"""`handlers.inbox.message_of`: the message the inbox worker rebuilds from a stored payload is the one the
webhook parsed (class and fields), for every kind WeChat sends, without an XML round trip."""

from __future__ import annotations

import json

import pytest
import xmltodict
from wechatpy import parse_message

from handlers.inbox import message_of
from models import InboundMessage

HEAD = ("<ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-1]]></FromUserName>"
        "<CreateTime>1764550800</CreateTime>")

MESSAGES = {
    "text": "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[家里没米了]]></Content><MsgId>1</MsgId>",
    "voice": "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m1]]></MediaId><Format><![CDATA[amr]]></Format>"
             "<Recognition><![CDATA[老人的药吃完了]]></Recognition><MsgId>2</MsgId>",
    "voice without recognition": "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m2]]></MediaId>"
                                 "<Format><![CDATA[amr]]></Format><MsgId>3</MsgId>",
    "image": "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/p.jpg]]></PicUrl>"
             "<MediaId><![CDATA[m3]]></MediaId><MsgId>4</MsgId>",
    "location": "<MsgType><![CDATA[location]]></MsgType><Location_X>29.8</Location_X><Location_Y>113.4</Location_Y>"
                "<Scale>15</Scale><Label><![CDATA[洪湖市]]></Label><MsgId>5</MsgId>",
    "unknown type": "<MsgType><![CDATA[miniprogrampage]]></MsgType><Title><![CDATA[t]]></Title><MsgId>6</MsgId>",
    "follow": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>",
    "follow with empty key": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                             "<EventKey><![CDATA[]]></EventKey>",
    "follow by scanning a care card": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                                      "<EventKey><![CDATA[qrscene_card:123]]></EventKey><Ticket><![CDATA[t]]></Ticket>",
    "follow by scanning a product": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                                    "<EventKey><![CDATA[scanbarcode|x]]></EventKey>",
    "scan while following": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event>"
                            "<EventKey><![CDATA[card:123]]></EventKey><Ticket><![CDATA[t]]></Ticket>",
    "unfollow": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>",
    "menu click": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
                  "<EventKey><![CDATA[MY_ASSISTANT]]></EventKey>",
    "reported location": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[LOCATION]]></Event>"
                         "<Latitude>29.8</Latitude><Longitude>113.4</Longitude><Precision>65</Precision>",
    "scan code, waiting": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[scancode_waitmsg]]></Event>"
                          "<EventKey><![CDATA[k]]></EventKey><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>"
                          "<ScanResult><![CDATA[r]]></ScanResult></ScanCodeInfo>",
    "photos from the menu": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[pic_sysphoto]]></Event>"
                            "<EventKey><![CDATA[k]]></EventKey><SendPicsInfo><Count>2</Count><PicList>"
                            "<item><PicMd5Sum><![CDATA[a]]></PicMd5Sum></item>"
                            "<item><PicMd5Sum><![CDATA[b]]></PicMd5Sum></item></PicList></SendPicsInfo>",
    "template sent": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
                     "<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>",
    "unknown event": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[some_new_event]]></Event>",
    "event without its name": "<MsgType><![CDATA[event]]></MsgType>",
    "device event": "<MsgType><![CDATA[device_event]]></MsgType><Event><![CDATA[bind]]></Event>"
                    "<DeviceType><![CDATA[d]]></DeviceType>",
    "device text": "<MsgType><![CDATA[device_text]]></MsgType><Content><![CDATA[x]]></Content>",
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_the_rebuilt_message_is_the_one_the_webhook_parsed(name):
    parsed = parse_message(f"<xml>{HEAD}{MESSAGES[name]}</xml>")
    # As the webhook stores it (`services.inbound`): the parsed fields, through a JSON column.
    stored = InboundMessage(payload=json.loads(json.dumps(dict(parsed._data), ensure_ascii=False)))
    rebuilt = message_of(stored)
    # What the worker did before: the payload written out as XML and parsed again.
    again = parse_message(xmltodict.unparse({"xml": stored.payload}))
    assert type(rebuilt) is type(parsed) is type(again)
    assert rebuilt._data == parsed._data == again._data
    assert (rebuilt.type, rebuilt.source, rebuilt.create_time) == (parsed.type, parsed.source, parsed.create_time)
    if parsed.type == "event":
        assert rebuilt.event == parsed.event


def test_rebuilding_leaves_the_stored_payload_as_it_was():
    """A scan-to-follow's key is rewritten in the message, never in the stored row."""
    payload = {"ToUserName": "gh_1", "FromUserName": "o-1", "CreateTime": "1764550800", "MsgType": "event",
               "Event": "subscribe", "EventKey": "qrscene_card:9"}
    stored = InboundMessage(payload=dict(payload))
    message = message_of(stored)
    assert (message.event, message.scene_id) == ("subscribe_scan", "card:9")
    assert stored.payload == payload
