"""Phone-page links marked with the official account a push goes out through."""

from __future__ import annotations

from services.policy.account_links import for_account

BASE = "https://mz.example.cn"


def test_a_link_in_chinese_text_gets_the_account_and_the_text_around_it_stays():
    text = f"新任务：张秀英 缺米。查看：{BASE}/m/cases/12。请尽快处理"
    assert for_account(text, "wuhan") == f"新任务：张秀英 缺米。查看：{BASE}/m/cases/12?account=wuhan。请尽快处理"


def test_parameters_and_fragment_are_kept_and_an_old_account_replaced():
    assert for_account(f"{BASE}/m/log?beneficiary=3&account=old#top", "wuhan") == \
        f"{BASE}/m/log?beneficiary=3&account=wuhan#top"


def test_other_links_and_the_default_account_are_left_alone():
    text = f"{BASE}/office/cases/12 和 {BASE}/m/cases/12"
    assert for_account(text, None) == text
    assert for_account(f"{BASE}/office/cases/12", "wuhan") == f"{BASE}/office/cases/12"
