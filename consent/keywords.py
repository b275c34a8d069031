"""What an SMS reply asks for: stop, start, help, or nothing.

Replies are compared after NFKC folding (full-width letters become half-width),
case folding and removal of punctuation and spaces, so "Ｓｔｏｐ！", "opt-out" and
"回复 TD。" read as the keywords they are. A reply that is not a keyword but plainly
asks to stop ("不要再给我发了", "please stop texting me") is a stop too: withdrawal
beats grant, so a doubtful stop is applied and flagged for a person to review. A
start is never guessed: only the START keywords restore anything.
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
EFFECTS = (STOP, START, HELP, NONE)

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
    r"|no more (?:texts?|messages?|sms|marketing|spam))\b"
)
_PLAIN_STOP_ZH = re.compile(
    r"退订|退定|拒收|取消订阅|停止发送|别发了|不要发了|"
    r"(?:不要|别|不用|勿)再?(?:给我|向我|跟我)?(?:发(?!票|货|工资)|打电话|打扰|推送|联系)|"
    r"不想再?(?:收到|接收|接到)|不需要(?:再)?(?:收到|这类|这些|此类)|骚扰"
)


@dataclass(frozen=True)
class Interpretation:
    """The effect a reply asks for; ``needs_review`` marks a stop read from plain
    language rather than a keyword."""

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
    plain = _PLAIN_STOP_ZH.search(compact) or _PLAIN_STOP_EN.search(folded)
    if plain:
        return Interpretation(STOP, needs_review=True, matched=plain.group(0))
    return Interpretation(NONE)


# --- texts for the sender to send back ------------------------------------------------
# Sent to a phone, so both languages must exist whatever the message catalogue holds;
# the wording is compliance content reviewed here, and carries no marketing.

REPLY_TEXTS: dict[str, dict[str, str]] = {
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
