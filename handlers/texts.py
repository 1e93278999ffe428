"""Every sentence a WeChat user reads, in one place: Simplified Chinese, short and kind."""

WELCOME = (
    "您好，欢迎关注三直达民政服务！\n"
    "这里有专人为您服务，有事直接说。\n"
    "第一次使用请先绑定：扫描家中“关爱服务电话卡”上的二维码，"
    "或发送“绑定 卡上的绑定码”。"
)

HOW_TO_BIND = (
    "您还没有绑定服务对象。\n"
    "请扫描家中“关爱服务电话卡”上的二维码，或发送“绑定 卡上的绑定码”，"
    "例如：绑定 K7P3QX。\n"
    "工作人员请发送“绑定 邀请码”。"
)

RECEIVED = "您的消息已收到，我们会尽快处理。"

UNSUPPORTED_TYPE = "抱歉，暂时看不懂这类消息。请直接发文字或语音告诉我们。"

SORRY_ERROR = "您的消息已收到。系统刚才有点忙，工作人员会尽快看到并联系您。"
