"""WeChat's subscription-notice events (订阅通知), which wechatpy 1.8.18 does not know, as event classes.

Registered with wechatpy's parser on import, so `parse_message` gives them type `event` and their
lower-case event name (as for every known event) instead of an UnknownMessage. The XML
(https://developers.weixin.qq.com/doc/service/guide/product/subscription_messages/push.html) holds
one or several <List> items under an element named after the event:

- subscribe_msg_popup_event, <SubscribeMsgPopupEvent>: TemplateId, SubscribeStatusString
  (accept | reject), PopupScene (1 a web page, 2 a message);
- subscribe_msg_change_event, <SubscribeMsgChangeEvent>: TemplateId, SubscribeStatusString (only
  reject is pushed: the user turned the notice off in 服务通知);
- subscribe_msg_sent_event, <SubscribeMsgSentEvent>: TemplateId, MsgID, ErrorCode (0: delivered),
  ErrorStatus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wechatpy.events import BaseEvent, register_event

from models.enums import NoticeChoice

POPUP = "subscribe_msg_popup_event"
CHANGE = "subscribe_msg_change_event"
SENT = "subscribe_msg_sent_event"
# A template id is WeChat's: letters, digits, - and _ (43 characters today), within our column.
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
CHOICES = frozenset(c.value for c in NoticeChoice)


@dataclass(frozen=True)
class Choice:
    """One template's item: its id and what the user chose (or, in a sent event, the delivery's errcode)."""

    template_id: str
    status: str


def _items(container: object) -> list[dict]:
    """The <List> items under an event's element: one parses as a dict, several as a list."""
    if not isinstance(container, dict):
        return []
    items = container.get("List")
    items = items if isinstance(items, list) else [items]
    return [item for item in items if isinstance(item, dict)]


class _ListEvent(BaseEvent):
    """An event whose items sit in <List> elements under `container`."""

    container = ""
    status_field = "SubscribeStatusString"

    @property
    def items(self) -> list[Choice]:
        """The well-formed items, in order; an item with a malformed id or status is left out."""
        found = []
        for item in _items(self._data.get(self.container)):
            template_id, status = item.get("TemplateId"), item.get(self.status_field)
            if isinstance(template_id, str) and TEMPLATE_ID.fullmatch(template_id) and isinstance(status, str):
                found.append(Choice(template_id, status.strip().lower()))
        return found

    @property
    def choices(self) -> list[Choice]:
        """The items that say accept or reject."""
        return [c for c in self.items if c.status in CHOICES]


@register_event(POPUP)
class SubscribeMsgPopupEvent(_ListEvent):
    """The user answered the subscription pop-up: accept or reject, per template."""

    event = POPUP
    container = "SubscribeMsgPopupEvent"


@register_event(CHANGE)
class SubscribeMsgChangeEvent(_ListEvent):
    """The user turned a notice off in 服务通知 (WeChat pushes only rejections)."""

    event = CHANGE
    container = "SubscribeMsgChangeEvent"


@register_event(SENT)
class SubscribeMsgSentEvent(_ListEvent):
    """WeChat's report on notices it delivered: ErrorCode per template (0: delivered)."""

    event = SENT
    container = "SubscribeMsgSentEvent"
    status_field = "ErrorCode"
