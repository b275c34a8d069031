from __future__ import annotations

import pytest
from django.core.management import call_command

from consent import keywords
from consent.keywords import HELP, NONE, START, STOP, interpret

STOP_REPLIES = [
    # English keywords, any case, with punctuation and spacing around them
    "STOP",
    "stop",
    "Stop.",
    " sToP! ",
    "STOPALL",
    "Stop All",
    "UNSUBSCRIBE",
    "Unsubscribe!",
    "CANCEL",
    "cancel",
    "END",
    "end.",
    "QUIT",
    "Quit!!",
    "OPT OUT",
    "opt-out",
    "Opt_Out",
    "OPTOUT",
    "REVOKE",
    "revoke?",
    # Chinese keywords, with Chinese punctuation
    "退订",
    "退订。",
    "【退订】",
    "回复TD",
    "回复td",
    "回复 TD！",
    "TD",
    "td",
    "T",
    "t",
    "取消",
    "取消！",
    "拒收",
    "不要再发",
    "不要再发！",
    "别再发",
    "别再发。",
    # full-width letters and punctuation
    "ＳＴＯＰ",
    "Ｓｔｏｐ！",
    "ＴＤ",
    "ｔｄ",
    "Ｔ",
    "ＵＮＳＵＢＳＣＲＩＢＥ",
    "ＯＰＴ　ＯＵＴ",
    "退订！",
    "（退订）",
    # keywords run together or repeated
    "TD退订",
    "STOP STOP",
    "退订 TD",
    "stop-stop",
]


@pytest.mark.parametrize("text", STOP_REPLIES)
def test_stop_keywords_are_stops_without_review(text):
    reading = interpret(text)
    assert reading.effect == STOP
    assert reading.needs_review is False


@pytest.mark.parametrize(
    "text",
    [
        "不要再给我发了",
        "别再给我发短信了",
        "请不要再发了，谢谢",
        "我不想再收到你们的短信",
        "please stop texting me",
        "Stop sending me these",
        "Don't text me again",
        "do not contact me",
        "No more messages please",
        "remove me from your list",
        "退订谢谢",
        "你们这是骚扰",
        "I want to opt out",
    ],
)
def test_plain_language_stop_is_a_stop_flagged_for_review(text):
    reading = interpret(text)
    assert reading.effect == STOP
    assert reading.needs_review is True
    assert reading.matched


@pytest.mark.parametrize(
    "text", ["START", "start", "Start.", "UNSTOP", "unstop!", "ＳＴＡＲＴ", "恢复"]
)
def test_start_keywords(text):
    assert interpret(text) == keywords.Interpretation(
        START, matched=keywords.fold(text).replace(" ", "")
    )


@pytest.mark.parametrize("text", ["HELP", "help?", "Ｈｅｌｐ", "INFO", "帮助"])
def test_help_keywords(text):
    assert interpret(text).effect == HELP


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "OK thanks",
        "好的",
        "收到",
        "weekend",
        "tend",
        "ttt tea",
        "我不要发票",
        "不要打折吗",
        "Please start my application",
        "When does my loan end date fall?",
    ],
)
def test_other_text_has_no_effect(text):
    assert interpret(text) == keywords.Interpretation(NONE)


def test_start_is_never_guessed_from_plain_language():
    assert interpret("I want your offers again, please start").effect == NONE


def test_fold_handles_width_case_and_punctuation():
    assert keywords.fold("  Ｏｐｔ－Ｏｕｔ！！ ") == "opt out"
    assert keywords.fold("回复ＴＤ。") == "回复td"


def test_reply_text_in_the_shared_language_or_bilingual():
    zh = keywords.reply_text(STOP, {"zh-hans"})
    en = keywords.reply_text(STOP, {"en"})
    both = keywords.reply_text(STOP, {"en", "zh-hans"})
    nobody = keywords.reply_text(STOP, set())
    assert "退订" in zh and "unsubscribed" not in zh
    assert "unsubscribed" in en and "退订" not in en
    assert both == nobody == f"{zh}\n{en}"


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("退订", "stop"),
        ("Ｓｔａｒｔ", "start"),
        ("HELP", "help"),
        ("hello", "none"),
        ("please stop texting me", "stop"),
    ],
)
def test_interpret_reply_command_prints_the_effect_first(text, first_line, capsys):
    call_command("interpret_reply", text)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == first_line
