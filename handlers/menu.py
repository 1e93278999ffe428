"""The official account's custom menu: three buttons whose CLICK keys do what the commands do."""

from __future__ import annotations

# Names are at most 16 bytes (5 Chinese characters), keys at most 128 bytes.
MENU = {
    "button": [
        {
            "name": "找协理员",
            "sub_button": [
                {"type": "click", "name": "我的协理员", "key": "MY_ASSISTANT"},
                {"type": "click", "name": "办理进度", "key": "PROGRESS"},
            ],
        },
        {
            "name": "工作台",
            "sub_button": [{"type": "click", "name": "我的任务", "key": "TASKS"}],
        },
        {"type": "click", "name": "使用帮助", "key": "HELP"},
    ]
}
