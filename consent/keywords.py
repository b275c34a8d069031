"""What an SMS reply asks for: not me, stop, start, help, or nothing.

Replies are compared after NFKC folding (full-width letters become half-width),
case folding and removal of punctuation and spaces, so "Ｓｔｏｐ！", "opt-out" and
"回复 TD。" read as the keywords they are. A reply that is not a keyword but plainly
asks to stop ("不要再给我发了", "please stop texting me") is a stop too: withdrawal
beats grant, so a doubtful stop is applied and flagged for a person to review. A
start is never guessed: only the START keywords restore anything.

A reply saying the number is not the addressee's ("我不是机主", "wrong number",
"I am not Li Wei") reads as *not me*: everything to the number stops for every
customer linked to it, as the portal's "this is not me" page does. It is read from
plain language, so it is applied first and flagged for review too. Not-me is checked
before plain-language stop: "打错了，别再发了" is a wrong number, not a mere stop.

This module is the one vocabulary: the complaint classifier reads stop and not-me
intent in free text with ``stop_requests_in`` and ``not_me_statements_in``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

STOP = "stop"
START = "start"
HELP = "help"
NONE = "none"
NOT_ME = "not_me"
EFFECTS = (NOT_ME, STOP, START, HELP, NONE)

STOP_KEYWORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "unsub",
        "cancel",
        "end",
        "quit",
        "optout",
        "revoke",
        "退订",
        "退定",
        "回复td",
        "回td",
        "td",
        "t",
        "取消",
        "取消订阅",
        "拒收",
        "不要再发",
        "别再发",
        "停止",
        "停止发送",
    }
)
START_KEYWORDS = frozenset({"start", "unstop", "恢复", "恢复订阅", "重新订阅"})
HELP_KEYWORDS = frozenset({"help", "info", "帮助"})

# Letters too short to find inside other words: only the whole reply counts.
_WHOLE_REPLY_ONLY = frozenset({"t"})
_SEGMENT_KEYWORDS = STOP_KEYWORDS - _WHOLE_REPLY_ONLY

# Plain-language stop requests, matched on the folded text with spaces kept.
_PLAIN_STOP_EN = re.compile(
    r"\b(?:stop|unsubscribe|opt ?out|remove me|take me off|leave me alone"
    r"|(?:do ?n.?t|do not|never) (?:text|message|sms|send|contact|call|email)"
    r"|no more (?:texts?|messages?|sms|marketing|spam|calls?)"
    r"|not interested|no interest|go away|get lost|piss off|f+ ?off|fuck off"
    r"|stop (?:bothering|harassing|pestering|spamming)|(?:quit|stop) it"
    r"|(?:you(?:re| are)|this is|so) (?:annoying|harassment|spam)"
    r"|enough already|sick of (?:this|these|you)|i (?:will|ll) report you"
    r"|block(?:ing|ed)? (?:you|this number)|reported as spam|spam)\b"
)
_PLAIN_STOP_ZH = re.compile(
    r"退订|退定|拒收|取消订阅|停止发送|别发了|不要发了|不用发了|别再发|"
    r"(?:不要|别|不用|勿)再?(?:给我|向我|跟我)?(?:发(?!票|货|工资)|打电话|打扰|推送|联系)|"
    r"不想再?(?:收到|接收|接到)|不需要|不感兴趣|没兴趣|没有兴趣|"
    r"骚扰|拉黑|屏蔽|烦死|烦不烦|很烦|好烦|真烦|别烦|烦人|滚|"
    r"投诉你们|举报你们|去投诉|去举报|够了|垃圾短信|垃圾信息"
)

# --- not me: the number is not the addressee's -----------------------------------
# Matched on the compact (no spaces) folded text for Chinese.
_NOT_ME_ZH = re.compile(
    r"(?:我|本人)?(?:不是|并不是|并非|非)(?:机主|本人|户主|号主|你们(?:的|要找的)?客户|"
    r"你们银行的客户|贵行(?:的)?客户|你要找的人|你们要找的人|这个人|此人)|"
    r"不是我的?(?:号码|手机|电话|手机号)?$|"
    r"(?:这|这个|此)?(?:号码?|手机号?|电话)(?:不是我的|已经?换(?:人|主人|机主|了主人)了?|"
    r"换(?:人|主)了|是新(?:办|买|申请|换)的|(?:以前|之前|原来)是别人的|"
    r"已(?:经)?(?:注销|过户|转让))|"
    r"号码?(?:已经?)?换人了?|换人了|换号了|换了号码?|我(?:是|刚)?新(?:换|办)?的?号|"
    r"新号码|新(?:机主|号主)|前机主|原机主|之前的机主|上一个机主|"
    r"(?:发|打|找|搞)错(?:人|号码?)?了|你们?(?:发|打|找)错(?:人|号码?)?了?|错号|"
    r"不认识(?:这个人|此人|他|她|你们说的|[\u4e00-\u9fff]{2,4}$)|"
    r"(?:查无此人|没有这个人|没这个人|不存在这个人)|"
    r"(?:我(?:不是|不叫))(?:[\u4e00-\u9fff·]{2,4}|他|她)$|"
    r"(?:已(?:经)?)?(?:更换|换)了?(?:主人|机主|号主)|机主已(?:经)?(?:换|更换|变更)|"
    r"(?:刚|新)(?:买|办|换|申请)的(?:号码?|手机号?|卡)?$|"
    r"(?:这|此)个?(?:号码?|手机号?|电话)?不是[\u4e00-\u9fff·]{1,6}的(?:号码?|手机号?|电话)"
)
# Matched on the folded text with spaces kept, for English.
_NOT_ME_EN = re.compile(
    r"(?:^not me\b"
    r"|\bwrong (?:number|person|guy|girl|phone|recipient|contact)"
    r"|(?:this|that|it)(?: is| s|s)? not (?:me|my (?:phone|number|mobile|cell))"
    r"|not (?:his|her|their) (?:phone|number|mobile|cell)"
    r"|(?:belongs to me|is mine|mine) now"
    r"|(?:got|bought|have had|just got) this (?:number|phone|sim)"
    r"|not (?:my|the right) (?:phone|number|mobile|cell)"
    r"|(?:is|isn ?t|is not|s not) (?:my|the right) (?:phone|number|mobile|cell)"
    r"|not the (?:person|one) you(?: are|re)? (?:looking for|after|trying)"
    r"|new (?:number|phone number|owner of this number)|new owner"
    r"|(?:number|phone) (?:has been |was |got |is )?(?:reassigned|recycled|transferred)"
    r"|previous (?:owner|holder|user)|(?:used to|used) belong to"
    r"|(?:no one|nobody|noone) (?:here )?(?:by|with|called) (?:that|this) name"
    r"|(?:don ?t|do not) know (?:who|any|this person|him|her|them)"
    r"|(?:you(?: ve| have)?|u) (?:got|have|texted|sent (?:this )?to) the wrong"
    r"|not (?:a|your) customer|never (?:been|was) (?:a|your) customer"
    r"|(?:i am|i m|im|this is) not (?:mr |mrs |ms |miss |dr )?"
    r"(?!interested|sure|happy|ok|okay|able|going|gonna|at |in |home|free"
    r"|satisfied|pleased|the one|a robot|spam|joking|kidding|a bot)"
    r"[a-z]+(?: [a-z]+)?$)"
)


@dataclass(frozen=True)
class Interpretation:
    """The effect a reply asks for; ``needs_review`` marks a stop or a not-me read
    from plain language rather than a keyword."""

    effect: str
    needs_review: bool = False
    matched: str = ""


def fold(text: str) -> str:
    """NFKC, case-folded, with punctuation and symbols turned into single spaces."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    out = []
    for ch in folded:
        category = unicodedata.category(ch)
        out.append(" " if category[0] in "PSZC" else ch)
    return " ".join("".join(out).split())


@lru_cache(maxsize=4096)
def _segments_into_stop_keywords(compact: str) -> bool:
    """True when the reply is nothing but stop keywords run together ("TD退订")."""
    if not compact:
        return True
    return any(
        compact.startswith(word) and _segments_into_stop_keywords(compact[len(word) :])
        for word in _SEGMENT_KEYWORDS
    )


def interpret(text: str) -> Interpretation:
    """Read one SMS reply. Pure: nothing is looked up or changed."""
    folded = fold(text)
    compact = folded.replace(" ", "")
    if not compact:
        return Interpretation(NONE)
    for effect, keywords in (
        (STOP, STOP_KEYWORDS),
        (START, START_KEYWORDS),
        (HELP, HELP_KEYWORDS),
    ):
        if compact in keywords:
            return Interpretation(effect, matched=compact)
    if len(compact) <= 40 and _segments_into_stop_keywords(compact):
        return Interpretation(STOP, matched=compact)
    not_me = _NOT_ME_ZH.search(compact) or _NOT_ME_EN.search(folded)
    if not_me:
        return Interpretation(NOT_ME, needs_review=True, matched=not_me.group(0))
    plain = _PLAIN_STOP_ZH.search(compact) or _PLAIN_STOP_EN.search(folded)
    if plain:
        return Interpretation(STOP, needs_review=True, matched=plain.group(0))
    return Interpretation(NONE)


# --- texts for the sender to send back ------------------------------------------------
# Sent to a phone, so both languages must exist whatever the message catalogue holds;
# the wording is compliance content reviewed here, and carries no marketing.

REPLY_TEXTS: dict[str, dict[str, str]] = {
    NOT_ME: {
        "zh-hans": "感谢告知，我们将停止向此号码发送任何信息，并核实更正客户资料。",
        "en": "Thank you for telling us. We will send nothing more to this number "
        "and will correct our records.",
    },
    STOP: {
        "zh-hans": "您已退订营销短信，将不再收到此类信息。如需恢复，请回复START。",
        "en": "You have unsubscribed from marketing SMS and will get no more. "
        "Reply START to undo.",
    },
    START: {
        "zh-hans": "您已恢复接收此前退订的营销短信。回复TD可随时退订。",
        "en": "Marketing SMS you had stopped by reply are on again. "
        "Reply STOP at any time to stop.",
    },
    "start_nothing": {
        "zh-hans": "没有可恢复的短信退订。如需重新接收营销信息，请登录营销偏好中心。",
        "en": "There was no SMS stop to undo. To receive marketing again, "
        "use the preference centre.",
    },
    HELP: {
        "zh-hans": "营销偏好中心：回复TD或STOP退订营销短信，回复START恢复。"
        "服务类通知（如还款提醒）不受影响。",
        "en": "Preference centre: reply STOP or TD to stop marketing SMS, START to "
        "undo. Service messages such as repayment reminders are not affected.",
    },
}


# The same answers for a reply to a WeChat official account.
WECHAT_REPLY_TEXTS: dict[str, dict[str, str]] = {
    NOT_ME: {
        "zh-hans": "感谢告知，我们将停止向此号码发送任何信息，并核实更正客户资料。",
        "en": "Thank you for telling us. We will send nothing more to this number "
        "and will correct our records.",
    },
    STOP: {
        "zh-hans": "您已退订微信营销消息，将不再收到此类信息。如需恢复，请回复START。",
        "en": "You have unsubscribed from marketing messages on WeChat and will get "
        "no more. Reply START to undo.",
    },
    START: {
        "zh-hans": "您已恢复接收此前退订的微信营销消息。回复TD可随时退订。",
        "en": "Marketing messages on WeChat you had stopped by reply are on again. "
        "Reply STOP at any time to stop.",
    },
    "start_nothing": {
        "zh-hans": "没有可恢复的微信退订。如需重新接收营销信息，请登录营销偏好中心。",
        "en": "There was no WeChat stop to undo. To receive marketing again, "
        "use the preference centre.",
    },
    HELP: {
        "zh-hans": "营销偏好中心：回复TD或STOP退订微信营销消息，回复START恢复。"
        "服务类通知（如还款提醒）不受影响。",
        "en": "Preference centre: reply STOP or TD to stop marketing messages on "
        "WeChat, START to undo. Service messages such as repayment reminders are "
        "not affected.",
    },
}


def reply_text(kind: str, languages: set[str], *, channel: str = "sms") -> str:
    """One text in the holders' shared language, or both languages when they differ
    or nobody is known."""
    texts = (WECHAT_REPLY_TEXTS if channel == "wechat" else REPLY_TEXTS)[kind]
    if len(languages) == 1 and (language := next(iter(languages))) in texts:
        return texts[language]
    return f"{texts['zh-hans']}\n{texts['en']}"


# --- the same vocabulary, read in free text ---------------------------------------


def stop_requests_in(text: str) -> list[str]:
    """The plain-language stop requests in free text (a complaint, a letter), in the
    words the reply parser knows, first occurrence first. Keywords that mean stop only
    as a whole reply ("T", "END", "取消") are not looked for inside longer text."""
    folded = fold(text)
    compact = folded.replace(" ", "")
    found = [m.group(0) for m in _PLAIN_STOP_ZH.finditer(compact)]
    found += [m.group(0) for m in _PLAIN_STOP_EN.finditer(folded)]
    return list(dict.fromkeys(found))


def not_me_statements_in(text: str) -> list[str]:
    """The "not me" statements in free text (wrong number, not the account holder),
    in the words the reply parser knows, first occurrence first."""
    folded = fold(text)
    compact = folded.replace(" ", "")
    found = [m.group(0) for m in _NOT_ME_ZH.finditer(compact)]
    found += [m.group(0) for m in _NOT_ME_EN.finditer(folded)]
    return list(dict.fromkeys(found))
