"""build_router(): the one table that says which handler answers which message."""

from __future__ import annotations

from handlers import binding, checkins, notice_consent, requests, sos, staff, welcome
from handlers.router import Router


def build_router() -> Router:
    """Build the conversation's routing table."""
    router = Router()
    # wechatpy turns a subscribe with `qrscene_…` into `subscribe_scan`; SCAN is a follower scanning.
    router.on_event("subscribe", "subscribe_scan", "scan")(binding.on_follow_or_scan)
    router.on_event("unsubscribe")(welcome.on_unsubscribe)
    router.on_event("subscribe_msg_popup_event", "subscribe_msg_change_event")(notice_consent.on_choice)
    router.on_event("subscribe_msg_sent_event")(notice_consent.on_sent)

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
    router.on_command("平安计划")(checkins.on_plan)

    router.on_dialog("relation")(binding.on_relation_answer)
    router.on_dialog("which_beneficiary")(requests.on_which_beneficiary)
    router.on_dialog(sos.DIALOG)(sos.on_which)
    router.on_dialog("on_behalf")(staff.on_log_content)

    router.on_click("MY_ASSISTANT")(requests.on_my_assistant)
    router.on_click("PROGRESS")(requests.on_progress)
    router.on_click("TASKS")(staff.on_tasks)
    router.on_click("HELP")(requests.on_help)
    router.on_click("SOS")(sos.on_sos)
    # The menu's 发送位置 button: WeChat sends this event and then the place as a location message.
    router.on_event("location_select")(sos.on_location_select)
    router.on_click("CHECKIN")(checkins.on_checkin)

    # 平安 / 我很好 as the whole message (or a voice WeChat recognised so): a check-in, not a request.
    router.on_match(checkins.said_checkin_words)(checkins.on_checkin)

    # A shared link or mini-program card is a message like any other: it joins or opens a case.
    router.on_type("text", "voice", "image", "video", "shortvideo", "link", "miniprogrampage")(requests.on_message)
    # A place goes on the sender's open 紧急求助 case once (it may repeat the location_select event), else the same.
    router.on_type("location")(sos.on_location)
    router.fallback = welcome.on_message
    router.unknown = welcome.on_unknown
    return router
