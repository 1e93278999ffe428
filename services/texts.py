"""Every sentence a WeChat user reads, in one place: Simplified Chinese, short and kind."""

WELCOME = (
    "您好，欢迎关注三直达民政服务！\n"
    "这里有专人为您服务，有事直接说。\n"
    "第一次使用请先绑定：扫描家中“关爱服务电话卡”上的二维码，"
    "或发送“绑定 卡上的绑定码”。"
)

WELCOME_BACK = "您好，欢迎回来！有事直接说，文字、语音、图片、位置都可以。发送“帮助”查看常用功能。"

HOW_TO_BIND = (
    "您还没有绑定服务对象。\n"
    "请扫描家中“关爱服务电话卡”上的二维码，或发送“绑定 卡上的绑定码”，"
    "例如：绑定 K7P3QX。\n"
    "工作人员请发送“绑定 邀请码”。"
)

RECEIVED = "您的消息已收到，我们会尽快处理。"

UNSUPPORTED_TYPE = "抱歉，暂时看不懂这类消息。请直接发文字或语音告诉我们。"

SORRY_ERROR = "您的消息已收到，但系统刚才出了点问题。工作人员会查看并联系您；着急的话请直接打电话给协理员。"

# --- binding ---------------------------------------------------------------------------------

ASK_RELATION = (
    "找到了：{village}的{name}。\n"
    "请问您是{name}的什么人？回复数字：\n"
    "1 本人\n2 子女\n3 配偶\n4 其他亲属\n5 邻居或其他"
)
RELATION_NOT_UNDERSTOOD = "请回复 1 到 5 中的一个数字：1 本人 2 子女 3 配偶 4 其他亲属 5 邻居或其他"
BOUND_FAMILY = (
    "绑定成功！您已绑定{name}（{relation}）。\n"
    "负责的协理员：{assistant}。\n"
    "有事直接在这里说，文字、语音、图片、位置都可以。"
)
BOUND_FAMILY_NO_ASSISTANT = "绑定成功！您已绑定{name}（{relation}）。\n有事直接在这里说，乡镇民政办会安排人员联系您。"
ALREADY_BOUND = "您已经绑定过{name}了，有事直接说就行。"
BOUND_STAFF = "绑定成功！{name}（{role}），您好。\n发送“任务”查看待办，发送“帮助”查看全部命令。"
BIND_CODE_WRONG = "绑定码不对，请核对电话卡上的绑定码后再试。今天还可以试{left}次。"
BIND_LOCKED = "今天绑定失败次数太多，请明天再试，或请协理员、乡镇民政办帮您绑定。"
BIND_PAUSED = "绑定暂时停止受理，请{minutes}分钟后再试，或请协理员、乡镇民政办帮您绑定。给您添麻烦了。"
BIND_USAGE = "请发送“绑定 绑定码”，例如：绑定 K7P3QX。绑定码印在“关爱服务电话卡”上。"
INVITE_USED = "这个邀请码已经用过或已过期，请联系管理员重新获取。"
STAFF_ALREADY_BOUND = "您的微信已绑定工作人员账号{staff_no}，不能再绑定其他工号。"
UNBOUND_ONE = "已解除与{name}的绑定。以后需要时可以再次扫码绑定。"
UNBOUND_STAFF = "已解除工作人员账号绑定。"
NOTHING_TO_UNBIND = "您还没有绑定任何服务对象。"
UNBIND_WHICH = "您绑定了多位服务对象，请回复“解绑 序号”：\n{options}"
RELATIONS_BY_NUMBER = ("本人", "子女", "配偶", "其他亲属", "邻居或其他")

# --- requests (beneficiary side) ----------------------------------------------------------------

REQUEST_OPENED = "已收到您的求助，编号 {number}。\n{handler}"
REQUEST_OPENED_HANDLER = "负责人：{name}，电话 {phone}，会尽快联系您。"
REQUEST_OPENED_OFFICE = "乡镇民政办会尽快联系您。"
REQUEST_APPENDED = "已补充到求助 {number}，{name}会看到。"
REQUEST_EMERGENCY = "情况紧急请先拨打 {numbers}！我们也已通知{name}马上处理。"
# A voice message nobody has understood yet: it is handled as urgent until someone listens.
VOICE_RECEIVED = "收到您的语音，{name}会马上听。如有危险，请先拨打 120（急救）、110（报警）或 119（火警）。"
# Sent when a voice's transcript shows danger after the request was opened.
ADVICE_AFTER_TRANSCRIPT = "求助 {number}号：听到您说“{words}”。情况紧急请先拨打 {numbers}！我们已通知{name}马上处理。"
WHICH_BENEFICIARY = "请问是为谁求助？回复序号：\n{options}"
WHICH_NOT_UNDERSTOOD = "请回复上面列出的序号。"
MY_ASSISTANT = "{name}的协理员：{assistant}，电话 {phone}。\n{town}民政办电话：{office}"
MY_ASSISTANT_NONE = "{name}暂时没有指定协理员，请联系{town}民政办：{office}"
PROGRESS_NONE = "您目前没有正在办理的求助。有事直接说就行。"
PROGRESS_LINE = "{number}号（{name}，{category}）：{status}，负责人{handler}"
CANCELLED = "求助 {number} 已取消。"
CANNOT_CANCEL = "求助 {number} 已经{status}，不能取消了。"
RATED = "谢谢您的评价！求助 {number} 已办结。"
CANNOT_RATE_YET = "求助 {number} 还没办完，办完后再评价。"
NOT_YOUR_REQUEST = "没有找到编号 {number} 的求助，请发送“进度”查看您的求助编号。"
NOTICES_OFF = "好的，以后不再给您发走访和办结通知。发送“订阅通知”可以恢复。"
NOTICES_ON = "好的，以后会给您发走访和办结通知。"
HELP_FAMILY = (
    "有事直接说：文字、语音、图片、位置都可以。\n"
    "我的协理员 — 看负责人和电话\n"
    "进度 — 看求助办到哪一步\n"
    "取消 编号 — 取消求助\n"
    "评价 编号 1到5分 — 给办理打分\n"
    "退订通知 / 订阅通知\n"
    "解绑 — 解除绑定\n"
    "平安 — 报平安，告诉我们今天一切都好"
)

STATUS_NAMES = {
    "open": "待接单",
    "acknowledged": "办理中",
    "resolved": "已办好",
    "closed": "已办结",
    "cancelled": "已取消",
}
URGENCY_NAMES = {"normal": "一般", "urgent": "紧急"}

# --- staff side -------------------------------------------------------------------------------------

HELP_STAFF = (
    "任务 — 我的待办和到期走访\n"
    "接单 编号\n"
    "回复 编号 内容 — 转给求助人\n"
    "完成 编号 说明 — 办结并请对方评价\n"
    "转派 编号 工号 — 乡镇及以上\n"
    "督办 编号 — 市级\n"
    "走访 对象编号 [住:问题] [帮:购物,政策] [备注:…]\n"
    "代办 对象编号 [电话|上门|来访|其他] 内容 — 代为登记求助\n"
    "平安计划 对象编号 每天|每周|关闭 — 报平安计划"
)
TASKS_NONE = "目前没有待办求助。"
TASKS_HEADER = "待办求助 {count} 件："
TASK_LINE = "{number}号 {urgency}{category} {name}（{village}）{status}"
VISITS_DUE_HEADER = "到期走访 {count} 户："
VISIT_DUE_LINE = "对象{id} {name}（{village}）{when}"
TASKS_MORE = "……还有 {count} 条，请到工作台查看。"
ACKNOWLEDGED = "已接单：{number}号。请尽快联系{name}，电话 {phone}。"
ALREADY_ACKNOWLEDGED = "{number}号已经在办理中。"
REPLY_SENT = "已转告求助人：{number}号。"
REPLY_EMPTY = "请写上回复内容，例如：回复 12 下午三点上门"
RESOLVED = "已办结：{number}号，已请求助人评价。"
RESOLVE_NEEDS_NOTE = "请写上办理结果，例如：完成 12 已送药上门"
REASSIGNED = "已转派：{number}号 → {name}（{staff_no}）。"
SUPERVISED = "已督办：{number}号，已提醒{name}。"
NOT_ALLOWED = "您没有权限处理{number}号求助。"
REQUEST_NOT_FOUND = "没有找到{number}号求助。"
REQUEST_CLOSED_ALREADY = "{number}号已经{status}了。"
STAFF_NOT_FOUND = "没有找到工号 {staff_no} 的在岗人员。"
VISIT_RECORDED = "已记录走访：{name}。{problems}"
VISIT_PROBLEMS_OPENED = "发现的问题已生成求助 {number} 号。"
VISIT_ALL_FINE = "吃穿住医都好。"
BENEFICIARY_NOT_FOUND = "没有找到编号 {id} 的服务对象，或不归您负责。"
STAFF_ONLY = "这个命令只给工作人员使用。"
# 代办: a member of staff logs a request for a beneficiary who phoned, was visited or came in.
LOG_NOT_FOUND = "没有找到编号 {id} 的服务对象，请核对编号。"
LOG_OUT_OF_SCOPE = "编号 {id} 的服务对象不归您负责，不能代为登记。请联系其协理员或乡镇民政办。"
LOG_NO_CONTENT = "请写上求助内容，例如：代办 {id} 电话 家里停水三天了"
LOG_WAITING_CONTENT = "好的，请接着发一段语音或文字，说明{name}的求助内容。"
LOG_OPENED = "已代{name}登记求助 {number}号（{channel}），{category}{urgent}。\n{handler}"
LOG_OPENED_HANDLER = "负责人：{name}。"
LOG_OPENED_OFFICE = "已转乡镇民政办安排。"
LOG_URGENT = "，紧急"
PUSH_FAMILY_LOGGED = "{staff}已为{name}登记求助（{channel}）：{summary}\n编号 {number}，负责人：{handler}。"

# --- pushes ------------------------------------------------------------------------------------------

PUSH_NEW_TASK = "新求助 {number}号（{urgency}）\n{name}，{village}\n{category}：{summary}\n回复“接单 {number}”接单。"
PUSH_NEW_MESSAGE = "求助 {number}号 有新消息：\n{summary}"
CASE_LINK = "手机上查看、接单：{url}"
PUSH_MEDIA = "求助 {number}号 的{what}，请查看。"
PUSH_URGENT_TRANSCRIPT = "紧急！求助 {number}号 语音内容：{words}\n{name}，{village}\n请马上联系，回复“接单 {number}”接单。"
PUSH_TRANSCRIPT = "求助 {number}号 语音内容：{words}"
MEDIA_NAMES = {"voice": "语音", "image": "图片", "video": "视频", "shortvideo": "小视频"}
PUSH_REPLY = "求助 {number}号，{staff}回复：\n{text}"
PUSH_ACKNOWLEDGED = "求助 {number}号：{staff}已接单，电话 {phone}。"
PUSH_RESOLVED = "求助 {number}号已办好：{note}\n满意请回复“评价 {number} 5”（1到5分）。"
PUSH_CANCELLED = "求助 {number}号已被求助人取消。"
PUSH_REASSIGNED = "求助 {number}号 转给您办理（{urgency}）：{name}，{category}。回复“接单 {number}”。"
PUSH_REASSIGNED_REQUESTER = "求助 {number}号 已改由{staff}负责，电话 {phone}。"
PUSH_SUPERVISED = "请尽快办理：求助 {number}号 已被市民政局督办。"
PUSH_FAMILY_RESOLVED = "您关心的{name}的求助已办好：{note}"
PUSH_FAMILY_VISIT = "{staff}今天走访了{name}：{summary}"
# 报平安 silences. {when} is 今天 (a daily plan) or 本周 (a weekly one). The reminder at 10:00 to the
# family names the beneficiary by the relation the family member gave when binding (the records hold
# no one's sex, so never 母亲 or 父亲); one bound as 本人 is reminded gently themselves.
CHECKIN_WHEN = {"daily": "今天", "weekly": "本周"}
CHECKIN_RELATION_WORDS = {"子女": "您的家人", "配偶": "您的老伴", "其他亲属": "您的亲人", "邻居或其他": "您关照的"}
PUSH_CHECKIN_REMIND_FAMILY = "{who}{name}{when}还没有报平安。方便时请打个电话问问，或请{name}在公众号点「报平安」。"
PUSH_CHECKIN_REMIND_SELF = "{name}，您{when}还没有报平安。点菜单「报平安」或回复“平安”，告诉我们您一切都好。"
CHECKIN_REMIND_WHAT = "{name}{when}还没有报平安"
# Whom to call when the beneficiary has no assistant.
TOWN_OFFICE = "乡镇民政办"
# The 联系 case the assistant gets at 16:00 when there is still no sign of life.
SILENCE_SUMMARY = "{name}{when}没有报平安，也没有其他消息，请打电话或上门看看。"
# What news after 16:00 does to that case. A check-in (or the assignee's own 走访) settles it: its
# resolution note, and the one push to the assignee, who may already be on the way. Anything else
# (a message, which may be a worry; someone else's visit; a contact staff logged) is one line on its
# timeline, never the words of a message.
CHECK_ON_CHECKED_IN = "已报平安（{time}，{who}）"
CHECK_ON_CHECKED_IN_NOBODY = "已报平安（{time}）"
CHECK_ON_VISITED = "已走访（{time}，{staff}）"
PUSH_CHECK_ON_SETTLED = "{name} {time} 已报平安，联系任务 {number}号 已自动办结。如已在路上，可顺路看看。"
CHECK_ON_SETTLED_WHAT = "{time} 已报平安，已自动办结"
CHECK_ON_NOTE_MESSAGE = "{who} {time} 发来消息"
CHECK_ON_NOTE_FAMILY = "家属"
CHECK_ON_NOTE_SELF = "本人"
CHECK_ON_NOTE_STAFF_ANYONE = "工作人员"
CHECK_ON_NOTE_VISIT = "{staff} {time} 已走访"
CHECK_ON_NOTE_STAFF = "{staff} {time} 登记了一次联系"
# 报平安 itself (the menu button, or 平安 / 我很好 as the whole message). Nobody is told of a
# check-in: it is simply kept, so the reply promises nothing more.
CHECKIN_SELF = "收到，您今天平安，我们记下了。祝您一切都好！有事随时发消息给我们。"
CHECKIN_FOR = "收到，已记下{names}今天平安，谢谢您！有事随时发消息给我们。"
CHECKIN_YOU = "您"
CHECKIN_STAFF = "报平安是给服务对象和家属用的。为服务对象设置报平安计划，请发送：平安计划 对象编号 每天|每周|关闭"
# `平安计划 对象编号 每天|每周|关闭` (staff).
PLAN_OUT_OF_SCOPE = "编号 {id} 的服务对象不归您负责，不能设置报平安计划。请联系其协理员或乡镇民政办。"
PLAN_SET = "已设置{name}（对象{id}）的报平安计划：{plan}。{what}"
PLAN_WHAT = {
    "daily": "每天{remind}前没有报平安或其他消息，会提醒家属；到{raise_at}仍没有，会请协理员联系。",
    "weekly": "每周{weekday}{remind}前本周没有报平安或其他消息，会提醒家属；到{raise_at}仍没有，会请协理员联系。",
    "off": "不再提醒家属，也不会因为没报平安请协理员联系。",
}
WEEKDAY_NAMES = ("一", "二", "三", "四", "五", "六", "日")

# --- scheduler: escalations, reminders, digests -------------------------------------------------------

PUSH_ESCALATION = "请督办：求助 {number}号 已等待{waited}，{state}。\n{name}（{village}），{category}，负责人{assignee}。"
PUSH_ESCALATION_REMINDER = "提醒：求助 {number}号（{name}，{category}）已等待{waited}，{state}，请马上处理。"
PUSH_ESCALATION_REQUESTER = "您的求助 {number}号 还在办理中，已提请{office}督办，请放心。"
PUSH_ESCALATION_REPEAT = (
    "紧急求助 {number}号 仍无人接单（第{repeat}次提醒，已等待{waited}）。\n"
    "{name}（{village}），{category}，负责人{assignee}。请马上安排，接单请回复“接单 {number}”。"
)
ESCALATION_REPEAT_NOTE = "（第{repeat}次重复提醒）"
# Why a member of staff gets an escalation: their place in the 包联 chain.
ESCALATION_ROLE = {
    "responsible_officer": "您是{village}的包村责任人。",
    "deputy_officer": "您是{village}的包村副责任人。",
    "liaison": "您是{department}的市级民政联络员。",
    "deputy_liaison": "您是{department}的市级民政联络员（副）。",
    "rota": "您正在值班，请马上安排处理。",
    "city_staff": "包联责任人暂缺，请您安排处理。",
}
ESCALATION_STANDING_IN = "（原定责任人暂时联系不上，由您代为督办）"
# One push per member of staff per scan when several cases escalate to them at once.
PUSH_ESCALATION_DIGEST = "请督办：{count}件求助超时未办："
PUSH_ESCALATION_DIGEST_REMINDER = "提醒：您有{count}件求助超时未办，请马上处理："
PUSH_ESCALATION_DIGEST_LINE = "{number}号 {name}（{village}）{urgent}已等待{waited}"
PUSH_ESCALATION_DIGEST_URGENT = "紧急，"
PUSH_ESCALATION_DIGEST_MORE = "……另有{count}件，请到工作台查看。"
# Template fields of the digest (each at most 20 characters).
ESCALATION_DIGEST_WHAT = "{count}件求助"
ESCALATION_DIGEST_STATE = "超时待督办"
ESCALATION_DIGEST_STATE_REMINDER = "超时请马上处理"
VISIT_DIGEST_HEADER = "今日走访：{count} 户到期或超期"
VISIT_DIGEST_LINE = "{name}（{village}）{when}"
VISIT_DIGEST_MORE = "……共 {count} 户，发送“任务”查看全部。"
VISIT_DIGEST_FOOTER = "走访后发送“走访 对象编号”记录。"
VISIT_OVERDUE_ALERT = "走访超期提醒：{count} 户超期{slack}天以上未走访：\n{lines}"
TOWN_DIGEST = (
    "{town}民政日报（{date}）\n"
    "在办求助 {open} 件，其中督办中 {escalated} 件、超过48小时 {overdue} 件；\n"
    "超期未走访 {visits_overdue} 户。"
)
# The town digest's 报平安 line, about yesterday; left out where nobody in the town is on a plan.
TOWN_DIGEST_CHECKINS = "昨天报平安：应报{expected}人，已报{received}人（{rate}）；未报转协理员{raised}件。"
LIAISON_DIGEST_HEADER = "值班转交（{date}）：非工作时间{count}件紧急求助由值班人员督办，您是所属部门的联络员："
LIAISON_DIGEST_STATE = "值班转交"
LIAISON_DIGEST_LINE = "{number}号 {name}（{village}）{category}，{status}"
CITY_SUMMARY_HEADER = "全市民政周报（{start}—{end}）"
CITY_SUMMARY_LINE = "{town}：求助{requests}件，接单中位{accept}，办结中位{resolve}，走访覆盖{coverage}，评分{rating}"
NO_DATA = "—"
# A push about a list links to the whole of it (services/summaries.py): the text's last line.
LIST_LINK = "查看全部：{url}"
# Template fields of a push about a list (each at most 20 characters; 紧急程度 at most 5 汉字).
LIST_WHO_ONE = "{name} {village}"
LIST_WHO_MANY = "{name}等{count}{unit}"
LIST_CASES_WAITED = "{state} 最长已等{waited}"
LIST_VISITS_LATE = "{count}户待走访 最多超期{days}天"
LIST_VISITS_TODAY = "{count}户今天到期待走访"
LIST_VISITS_OVERDUE = "{count}户超期{slack}天以上未走访"
LIST_TOWN_WHAT = "在办{open}件 督办{escalated}件 未走访{visits}户"
LIST_CITY_WHO = "全市{towns}个乡镇"
LIST_CITY_WHAT = "本周求助{requests}件"
LIST_URGENCY = {"urgent": "紧急", "late": "较急", "normal": "一般"}
# The monthly report (月报), to each supervisor of a city once the scheduler has made its last month's.
REPORT_READY = (
    "{title}（{month}）已生成：求助{raised}件，接单用时中位数{accept}，走访覆盖率{coverage}，平均评分{rating}。\n"
    "Excel 表和 PDF 请到工作台“月报”页下载：{url}"
)
REPORT_READY_WHAT = "{month}月报已生成"
# Text messages (SMS): the wording to register with the SMS provider for each kind named in
# SMS_TEMPLATES (Aliyun sends registered templates only, never free text); ${…} are the parameters
# we fill in, each at most 35 characters. The sign name (签名) is added by the provider.
SMS_TEMPLATES = {
    "task": "您有一件求助待处理：${number}号，${name}（${village}），${what}。请尽快处理。",
    "urgent": "紧急求助${number}号：${name}（${village}）已等${waited}仍无人接单，请立即处理。",
    # The emergency button, to the assistant and the town officers at once (like `urgent`, alongside WeChat).
    "sos": "紧急求助${number}号：${name}（${village}）刚按了一键求助，请立即联系处理。",
    # To a beneficiary with a phone and nobody bound on WeChat.
    "received": "您的求助已登记，编号${number}，由${name}为您办理，电话${phone}。",
    "visited": "${name}已上门走访，${result}。有事请拨${phone}。",
    "resolved": "您的求助${number}号已办好：${note}。",
    # 报平安 not heard by 10:00 ("今天" or "本周"), with whom to call: the assistant, else the town office.
    "checkin": "${name}，您${when}还没有报平安。一切都好的话，请给${staff}回个电话：${phone}。",
    # To staff: a case withdrawn, and the digests (visits, daily and weekly figures, the monthly report).
    "cancelled": "求助${number}号（${name}）已被求助人取消，无需再办理。",
    "digest": "工作提醒（${what}）：${figures}。详情请登录民政工作台查看。",
    # A 联系 case settled by the person's own 报平安, to its assignee.
    "checked_in": "${name}已于${time}报平安，联系任务${number}号已自动办结。如已在路上，可顺路看看。",
}
# `task`'s ${what} for a case the recipient hears of again: never what anyone wrote or said (an SMS
# passes through the provider), only that there is something to look at.
SMS_TASK_REASSIGNED = "{category}，已转派给您"
SMS_TASK_SUPERVISED = "{category}，市民政局督办"
SMS_TASK_MESSAGE = "有新留言"
SMS_TASK_URGENT = "{category}，语音显示情况紧急"
# `digest`'s ${what}, by digest; its ${figures} are the push's own figures (LIST_… above).
SMS_DIGEST_VISITS = "今日走访"
SMS_DIGEST_VISITS_OVERDUE = "走访超期"
SMS_DIGEST_TOWN = "{town}民政日报"
SMS_DIGEST_CITY = "全市民政周报"
SMS_DIGEST_LIAISON = "值班转交"
SMS_DIGEST_LIAISON_FIGURES = "{count}件紧急求助由值班人员督办"
SMS_DIGEST_REPORT = "月报"

# --- 一键紧急求助 (the emergency menu button) ----------------------------------------------------------
# {numbers} is SOS_NUMBERS filled from services.cards.EMERGENCY_NUMBERS, as printed on the care card.
SOS_NUMBER = "{number}（{what}）"
SOS_SUMMARY = "一键紧急求助"
# On the timeline when the button is pressed again on an open case.
SOS_AGAIN = "又按了一次紧急求助"
# Who has a case that nobody in particular has: the town's office.
SOS_OFFICE = "乡镇民政办"
SOS_OPENED = (
    "已收到{name}的紧急求助，编号 {number}。\n"
    "情况危急请马上拨打：{numbers}。\n"
    "我们已通知{handler}和镇里的包村干部。\n"
    "请点菜单「平安」→「发送位置」把您的位置发给我们。"
)
SOS_HANDLER = "{name}（电话 {phone}）"
SOS_HANDLER_OFFICE = "{town}民政办（电话 {office}）"
SOS_REPEAT = "求助 {number}号 已在处理，{handler}会马上联系您。情况危急请先拨打：{numbers}。"
SOS_WHICH = "情况危急请先拨打：{numbers}。\n请问是谁需要紧急帮助？回复序号：\n{options}"
SOS_UNBOUND = (
    "情况危急请马上拨打：{numbers}。\n"
    "您还没有绑定服务对象，绑定后按这个按钮，协理员会马上收到通知。\n"
    "绑定方法：扫描“关爱服务电话卡”上的二维码，或发送“绑定 卡上的绑定码”。"
)
SOS_STAFF = "情况危急请马上拨打：{numbers}。"
SOS_LOCATION_RECEIVED = "已收到您的位置，已转告{name}。"
# To the town officers at once, beside the assistant's task push.
PUSH_SOS_OFFICER = (
    "紧急求助 {number}号：{name}（{village}）刚按下一键紧急求助。\n"
    "已通知{assignee}。请马上关注，必要时直接联系。"
)
PUSH_SOS_REPEAT = "紧急求助 {number}号：{name}又按了一次紧急求助，请尽快联系。"
PUSH_SOS_LOCATION = "紧急求助 {number}号 {name}的位置：{label}\n地图：{url}"
# `task`'s ${what} for the town officers' SMS.
SMS_TASK_SOS = "一键紧急求助"
SMS_TASK_SOS_AGAIN = "又按了紧急求助"
SMS_TASK_SOS_PLACE = "紧急求助，已发来位置"
