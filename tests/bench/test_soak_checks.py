"""The soak's classification of repeated deliveries (bench/soak_checks.py): which repeats the
documented at-least-once window explains, and which fail the run."""

from __future__ import annotations

from bench.soak_checks import Disruption, Findings, check_pushes, explained

KILL = 1000.0
DISPATCHER = [Disruption(KILL, "dispatcher-1", "dispatcher")]


def test_a_delivery_just_before_or_after_a_sending_process_is_killed_is_inside_the_window():
    """Sent, then killed before the record; or sent, killed, and answered by WeChat a moment later."""
    assert explained([(KILL - 0.2, False)], DISPATCHER) == 1
    assert explained([(KILL + 0.05, False)], DISPATCHER) == 1


def test_a_delivery_far_from_any_kill_or_near_a_web_worker_s_is_not():
    """Only a process that sends can leave a push sent but unrecorded, and only around its death."""
    assert explained([(KILL - 30, False), (KILL + 30, False)], DISPATCHER) == 0
    assert explained([(KILL + 0.05, False)], [Disruption(KILL, "web-worker-1", "web")]) == 0
    assert explained([(KILL + 30, True)], DISPATCHER) == 1  # answered late: the caller saw a timeout


def test_a_reply_sent_again_after_its_sender_died_mid_request_is_inside_the_window():
    """The soak's case: a dispatcher killed with the request in flight, WeChat answering 0.05 s later,
    the row sent again when its claim lapsed 60 s on; one row marked sent, two deliveries."""
    row = {"status": "sent", "kind": "custom", "openid": "o-a", "text": "已补充到求助 179"}
    calls = [{"path": "message/custom/send", "outcome": "delivered", "at": at,
              "body": {"touser": "o-a", "text": {"content": "已补充到求助 179"}}} for at in (KILL + 0.05, KILL + 60.1)]
    inside = Findings()
    check_pushes([row], calls, DISPATCHER, inside)
    assert inside.outside == 0 and ("  … delivered twice, inside the window", 1, "ok (at-least-once)") in inside.rows

    outside = Findings()
    check_pushes([row], calls, [Disruption(KILL + 20, "dispatcher-0", "dispatcher")], outside)
    assert outside.outside == 1
