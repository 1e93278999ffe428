"""The router: an explicit table from event, command prefix or message type to one handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from wechatpy.messages import BaseMessage, UnknownMessage

from handlers.context import Context
from services.errors import DomainError
from services.policy.commands import CommandError

logger = logging.getLogger(__name__)

# A handler answers with reply text, or None for no visible answer ("success").
Handler = Callable[[BaseMessage, Context], "str | None"]
# Picks messages by their whole words (报平安's 平安 / 我很好), not by a prefix.
Matcher = Callable[[BaseMessage], bool]


@dataclass
class Router:
    """Dispatch order: event key, then command prefix (text), pending question, whole words, message type,
    fallback."""

    events: dict[str, Handler] = field(default_factory=dict)
    commands: list[tuple[str, Handler]] = field(default_factory=list)
    types: dict[str, Handler] = field(default_factory=dict)
    dialogs: dict[str, Handler] = field(default_factory=dict)
    clicks: dict[str, Handler] = field(default_factory=dict)
    matchers: list[tuple[Matcher, Handler]] = field(default_factory=list)
    fallback: Handler | None = None
    unknown: Handler | None = None

    def on_event(self, *names: str):
        """Register a handler for wechatpy's lower-cased event names."""
        return _register_in(self.events, names)

    def on_command(self, *prefixes: str):
        """Register a handler for text that starts with one of the prefixes."""

        def register(fn: Handler) -> Handler:
            for prefix in prefixes:
                self.commands.append((prefix, fn))
            # Longest prefix first, so `取消通知` is not taken by `取消`.
            self.commands.sort(key=lambda item: -len(item[0]))
            return fn

        return register

    def on_type(self, *types: str):
        """Register a handler for a message type (text, voice, image, location …)."""
        return _register_in(self.types, types)

    def on_dialog(self, kind: str):
        """Register the handler that takes the answer to a pending question of this kind."""
        return _register_in(self.dialogs, (kind,))

    def on_click(self, *keys: str):
        """Register a handler for custom-menu CLICK keys."""
        return _register_in(self.clicks, keys)

    def on_match(self, matcher: Matcher):
        """Register a handler for text or voice messages `matcher` picks, tried in registration order."""

        def register(fn: Handler) -> Handler:
            self.matchers.append((matcher, fn))
            return fn

        return register

    def resolve(self, msg: BaseMessage, dialog: str | None = None) -> Handler | None:
        """The handler the table picks: event, command, pending question, type, fallback."""
        if isinstance(msg, UnknownMessage):
            # Unknown events (new WeChat features) need no answer; unknown messages get a polite one.
            raw_type = str(msg._data.get("MsgType", "")).lower()
            return None if raw_type == "event" else self.unknown
        if msg.type == "event":
            if msg.event == "click":
                return self.clicks.get(msg.key)
            # An event nobody registered needs no visible answer.
            return self.events.get(msg.event)
        if msg.type == "text":
            content = (msg.content or "").strip()
            for prefix, handler in self.commands:
                if content.startswith(prefix):
                    return handler
        if dialog is not None and dialog in self.dialogs and msg.type in ("text", "voice"):
            return self.dialogs[dialog]
        if msg.type in ("text", "voice"):
            for matcher, handler in self.matchers:
                if matcher(msg):
                    return handler
        return self.types.get(msg.type, self.fallback)

    def dispatch(self, msg: BaseMessage, ctx: Context) -> str | None:
        """Run the chosen handler; a refused action (DomainError) answers with its message."""
        handler = self.resolve(msg, ctx.dialog if ctx is not None else None)
        if handler is None:
            return None
        try:
            return handler(msg, ctx)
        except DomainError as refused:
            return refused.message
        except CommandError as unclear:
            return str(unclear)


def _register_in(table: dict[str, Handler], names):
    """A decorator that puts a handler in `table` under each name."""

    def register(fn: Handler) -> Handler:
        for name in names:
            table[name] = fn
        return fn

    return register
