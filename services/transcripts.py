"""What a voice message said, put on its case: the timeline, the summary, and the classifier again.

When the words show danger (摔倒, 起不来 …) the case becomes urgent: its ladder is re-evaluated from
the time the message arrived, the sender gets the 120/110/119 advice, and whoever has the case is
alerted as for any urgent request. When they show none, a case that was urgent only because
nobody had heard it follows its proper ladder. Never commits; the media job does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models import MediaItem, ServiceRequest, WeChatUser
from models.enums import OPEN_STATUSES, EventKind, PushKind, RequestCategory, TranscriptStatus, Urgency
from services import checkins, texts
from services.notify import Push, enqueue, progress_fields, push_key, task_fields
from services.policy.classify import classify
from services.requests import RequestEnv, case_url, record_event, task_sms

VOICE_PLACEHOLDER = "[语音留言]"


def apply_transcript(session: Session, env: RequestEnv, item: MediaItem, words: str, now: datetime, *,
                     source: str = "asr") -> None:
    """Keep a voice message's words and act on them for its case."""
    words = (words or "").strip()
    item.transcript = words or None
    item.transcript_status = (TranscriptStatus.DONE if words else TranscriptStatus.EMPTY).value
    request = session.get(ServiceRequest, item.request_id) if item.request_id else None
    if request is None:
        return
    if not words:
        # Heard nothing: the case stays as urgent as an unheard voice until someone listens.
        record_event(session, env, request, EventKind.TRANSCRIPT, now, body="", data={
            "media_item": item.id, "source": source, "empty": True})
        return
    # "我很好" said by the beneficiary or their family is a check-in, as it would have been had WeChat
    # recognised it; the case stays for the assistant, now at the urgency the words deserve.
    checkins.checkin_from_transcript(session, env, item, words)
    if request.summary.startswith(VOICE_PLACEHOLDER):
        request.summary = words[:500]
    open_now = request.status in {s.value for s in OPEN_STATUSES}
    result = classify(words, now.astimezone(env.tz).month)
    found_urgent = result.urgency is Urgency.URGENT
    # Urgent for a reason other than nobody having heard it (words said, the 紧急求助 button): already told.
    was_heard_urgent = request.urgency == Urgency.URGENT.value and request.urgency_reason != "unheard"
    if request.category == RequestCategory.OTHER.value:
        request.category = result.category.value
    if found_urgent:
        # A 紧急求助 case keeps its reason: a second tap and the shared place find the case by it.
        request.urgency = Urgency.URGENT.value
        if request.urgency_reason == "unheard":
            request.urgency_reason = None
    elif request.urgency_reason == "unheard":
        request.urgency, request.urgency_reason = result.urgency.value, None
    request.updated_at = now
    # record_event re-evaluates the ladder from when the request was raised, with the new urgency.
    record_event(session, env, request, EventKind.TRANSCRIPT, now, body=words[:1000], data={
        "media_item": item.id, "source": source, "urgency": request.urgency,
        "emergency_numbers": list(result.emergency_numbers)})
    if found_urgent and not was_heard_urgent and open_now:
        _advise_requester(session, env, request, words, result.emergency_numbers, now)
        _alert_urgent(session, env, request, words, now)
    elif open_now and request.assignee is not None:
        _tell_assignee(session, env, request, item, words, now)


def _advise_requester(session, env: RequestEnv, request: ServiceRequest, words: str, numbers, now) -> None:
    """Tell whoever sent the voice to call 120/110/119 first."""
    user = session.get(WeChatUser, request.raised_by_wechat_user_id) if request.raised_by_wechat_user_id else None
    if user is None:
        return
    name = request.assignee.name if request.assignee else "乡镇民政办"
    listed = "、".join(numbers) or "120"
    push = Push(
        key=push_key(PushKind.ADVICE, request.id, user.id),
        text=texts.ADVICE_AFTER_TRANSCRIPT.format(number=request.id, words=words[:60], numbers=listed, name=name),
        template_id=env.templates.progress,
        fields=progress_fields(request, env.tz, f"请先拨打{listed}", name, now),
    )
    enqueue(session, push, user, now, tz=env.tz, request=request, urgent=True)


def _alert_urgent(session, env: RequestEnv, request: ServiceRequest, words: str, now) -> None:
    """Alert whoever has the case, at once, as for a request that was urgent from its first words."""
    staff = request.assignee
    if staff is None:
        return
    beneficiary = request.beneficiary
    url = case_url(env, request)
    text = texts.PUSH_URGENT_TRANSCRIPT.format(number=request.id, words=words[:200], name=beneficiary.name,
                                               village=beneficiary.village.name)
    push = Push(
        key=push_key(PushKind.URGENT_TASK, request.id, staff.id),
        text=text + (f"\n{texts.CASE_LINK.format(url=url)}" if url else ""),
        template_id=env.templates.task,
        fields=task_fields(request, env.tz, f"{request.category} {words}"),
        url=url,
        # By SMS that the voice shows danger, never its words.
        sms=task_sms(request, texts.SMS_TASK_URGENT.format(category=request.category)),
    )
    enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff, urgent=True,
            sms=env.sms)


def _tell_assignee(session, env: RequestEnv, request: ServiceRequest, item: MediaItem, words: str, now) -> None:
    """Give whoever has the case the words of the voice they were sent."""
    staff = request.assignee
    # No SMS form (services.policy.sms.NEVER_BY_SMS): the words are what someone said, and message
    # contents never pass through the SMS provider; the task's SMS already told of the case.
    push = Push(
        key=push_key(PushKind.TRANSCRIPT, item.id, staff.id),
        text=texts.PUSH_TRANSCRIPT.format(number=request.id, words=words[:400]),
        template_id=env.templates.task,
        fields=task_fields(request, env.tz, f"语音 {words}"),
        url=case_url(env, request),
    )
    enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff)
