"""build_router(): the one table that says which handler answers which message."""

from __future__ import annotations

from handlers import binding, requests, staff, welcome
from handlers.router import Router


def build_router() -> Router:
    """Build the conversation's routing table."""
    router = Router()
    # wechatpy turns a subscribe with `qrscene_…` into `subscribe_scan`; SCAN is a follower scanning.
    router.on_event("subscribe", "subscribe_scan", "scan")(binding.on_follow_or_scan)
    router.on_event("unsubscribe")(welcome.on_unsubscribe)

    router.on_command("绑定")(binding.on_bind_command)
    router.on_command("解绑")(binding.on_unbind)
    router.on_command("退订通知")(binding.on_notices_off)
    router.on_command("订阅通知")(binding.on_notices_on)
    router.on_command("我的协理员")(requests.on_my_assistant)
    router.on_command("进度")(requests.on_progress)
    router.on_command("取消")(requests.on_cancel)
    router.on_command("评价")(requests.on_rate)
    router.on_command("帮助", "菜单")(requests.on_help)
    router.on_command("任务")(staff.on_tasks)
    router.on_command("接单")(staff.on_accept)
    router.on_command("回复")(staff.on_reply)
    router.on_command("完成")(staff.on_resolve)
    router.on_command("转派")(staff.on_reassign)
    router.on_command("督办")(staff.on_supervise)
    router.on_command("走访")(staff.on_visit)
    router.on_command("代办")(staff.on_log)

    router.on_dialog("relation")(binding.on_relation_answer)
    router.on_dialog("which_beneficiary")(requests.on_which_beneficiary)
    router.on_dialog("on_behalf")(staff.on_log_content)

    router.on_click("MY_ASSISTANT")(requests.on_my_assistant)
    router.on_click("PROGRESS")(requests.on_progress)
    router.on_click("TASKS")(staff.on_tasks)
    router.on_click("HELP")(requests.on_help)

    # A shared link or mini-program card is a message like any other: it joins or opens a case.
    router.on_type("text", "voice", "image", "location", "video", "shortvideo", "link", "miniprogrampage")(
        requests.on_message)
    router.fallback = welcome.on_message
    router.unknown = welcome.on_unknown
    return router
