"""The reply vocabulary for "not me" and for refusals said without a keyword."""

from __future__ import annotations

import pytest

from consent import keywords
from consent.keywords import NONE, NOT_ME, STOP, interpret

NOT_ME_REPLIES = [
    # Chinese: not the account holder
    "我不是机主",
    "我不是机主。",
    "不是机主",
    "我不是本人",
    "本人不是机主，请勿再发",
    "我并不是机主！",
    "非本人",
    "我不是你们的客户",
    "我不是你们银行的客户",
    "我不是贵行客户",
    "我不是你要找的人",
    # Chinese: the number changed hands
    "这个号码换人了",
    "这个号码已经换人了",
    "号码换人了",
    "换人了",
    "这个号已经换主人了",
    "这个手机号是新办的",
    "这个号码以前是别人的",
    "这个号码不是我的",
    "此号码已注销",
    "我是新换的号",
    "新号码，不认识你们",
    "你找的是前机主吧",
    "原机主已经不用这个号了",
    "换号了",
    # Chinese: wrong recipient
    "打错了",
    "你们发错人了",
    "发错了吧",
    "发错人了！！",
    "你发错号码了",
    "找错人了",
    "不是我",
    "不是我的",
    "不是我的手机",
    "不认识这个人",
    "不认识李伟",
    "查无此人",
    "没有这个人",
    "我不是李伟",
    "我不是张三。",
    "我不叫王芳",
    "我不是他",
    "你好，我不是王先生",
    "这不是李伟的手机",
    "这个号码不是张先生的号码",
    "本机号码已更换主人",
    "机主已换",
    "此号已换人",
    "号码已过户",
    "这号码我刚买的",
    "这是我新办的号码，不认识你们说的人",
    "你们打错电话了",
    "您发错了",
    # Chinese: full-width and mixed punctuation, spaces
    "我 不 是 机 主",
    "【我不是机主】",
    "我不是机主！！！别再发了",
    "打错了，别再发了",
    # English
    "this isn't my phone",
    "This isn't my number.",
    "this is not my phone",
    "It's not me",
    "not me",
    "Not my number!",
    "Wrong number",
    "WRONG NUMBER",
    "wrong number, please stop",
    "Wrong person",
    "you have the wrong number",
    "You've got the wrong person",
    "I think you texted the wrong number",
    "new number",
    "This is a new number, I don't know who that is",
    "I'm the new owner of this number",
    "This number has been reassigned",
    "number was recycled",
    "previous owner",
    "No one by that name here",
    "nobody by that name",
    "I don't know who this is",
    "I am not Li Wei",
    "I'm not John",
    "im not mary smith",
    "This is not Mr Chen",
    "I'm not a customer",
    "never been a customer of yours",
    "Sorry, wrong person",
    "this is not his phone anymore",
    "this number belongs to me now",
    "I got this number recently",
    "This phone number is mine now, not Li Wei",
    "who is this? I don't know any Li Wei",
    # full-width English
    "ＷＲＯＮＧ　ＮＵＭＢＥＲ",
    "Ｉ’ｍ ｎｏｔ Ｌｉ Ｗｅｉ",
    "ｎｏｔ ｍｅ！",
]


@pytest.mark.parametrize("text", NOT_ME_REPLIES)
def test_not_me_replies_start_the_not_me_flow(text):
    reading = interpret(text)
    assert reading.effect == NOT_ME, reading
    assert reading.needs_review is True
    assert reading.matched


REFUSALS_WITHOUT_KEYWORD = [
    "不需要",
    "不需要，谢谢",
    "我不需要贷款",
    "拉黑",
    "已拉黑",
    "再发就拉黑你们",
    "烦死了",
    "烦死了！！",
    "烦不烦啊",
    "别烦我",
    "不感兴趣",
    "没兴趣",
    "骚扰短信",
    "滚",
    "垃圾短信",
    "再发我就投诉你们",
    "屏蔽了",
    "leave me alone",
    "Leave me alone!!",
    "not interested",
    "Not interested, thanks",
    "go away",
    "stop bothering me",
    "this is harassment",
    "No more calls",
    "I will report you",
    "ＬＥＡＶＥ ＭＥ ＡＬＯＮＥ",
]


@pytest.mark.parametrize("text", REFUSALS_WITHOUT_KEYWORD)
def test_refusals_without_a_keyword_are_stops_flagged_for_review(text):
    reading = interpret(text)
    assert reading.effect == STOP, reading
    assert reading.needs_review is True


@pytest.mark.parametrize(
    "text",
    [
        "我是机主",
        "是我本人",
        "I'm not sure",
        "I am not interested in the loan yet",  # a refusal, not a wrong number
        "收到，谢谢",
        "my number is new",  # tells nothing about the addressee
        "When will the new card arrive?",
        "这不是我的问题",
        "我不是不想要，只是现在没空",
        "Is this my new card?",
    ],
)
def test_other_replies_are_not_not_me(text):
    assert interpret(text).effect != NOT_ME


@pytest.mark.parametrize("text", ["退订", "STOP", "TD", "T"])
def test_plain_keywords_stay_stops(text):
    assert interpret(text) == keywords.Interpretation(
        STOP, matched=keywords.fold(text).replace(" ", "")
    )


def test_not_me_is_found_in_free_text():
    found = keywords.not_me_statements_in("您好，我不是机主，这个号码换人了。")
    assert found and all(isinstance(f, str) for f in found)
    assert keywords.not_me_statements_in("The app is slow") == []


def test_not_me_has_reply_texts_in_both_languages():
    text = keywords.reply_text(NOT_ME, set())
    assert "停止" in text and "nothing more" in text
    assert interpret("hello").effect == NONE


def test_interpret_reply_command_names_not_me(capsys):
    from django.core.management import call_command

    call_command("interpret_reply", "我不是机主")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == NOT_ME
    assert "queued for review" in out[-1]
