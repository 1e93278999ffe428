"""The official account's custom menu: three buttons whose CLICK keys do what the commands do.

平安 comes first, where a hand finds it soonest: 报平安 (the daily check-in), 紧急求助 (opens an
urgent case at once) and 发送位置, WeChat's location picker (type location_select), which sends a
location_select event and then the place as a location message.
"""

from __future__ import annotations

# WeChat allows 1 to 3 buttons with 1 to 5 sub-buttons each, names of at most 16 bytes (60 for a
# sub-button), keys of at most 128 bytes. Ours keep every name to 16 bytes (5 Chinese characters),
# so a phone shows it whole.
MENU = {
    "button": [
        {
            "name": "平安",
            "sub_button": [
                {"type": "click", "name": "报平安", "key": "CHECKIN"},
                {"type": "click", "name": "紧急求助", "key": "SOS"},
                {"type": "location_select", "name": "发送位置", "key": "SOS_LOCATION"},
            ],
        },
        {
            "name": "找协理员",
            "sub_button": [
                {"type": "click", "name": "我的协理员", "key": "MY_ASSISTANT"},
                {"type": "click", "name": "办理进度", "key": "PROGRESS"},
                {"type": "click", "name": "使用帮助", "key": "HELP"},
            ],
        },
        {
            "name": "工作台",
            "sub_button": [{"type": "click", "name": "我的任务", "key": "TASKS"}],
        },
    ]
}
