"""Classification of complaint text, in Chinese and English: rules and a trained model.

The rules are keyword and phrase weights; Chinese is matched as character sequences
(substrings), so no word segmenter is needed. A small trained model
(``complaints.category_model``: character and word n-grams plus the rule scores) makes
the suggestion when its file is present (``COMPLAINT_CLASSIFIER_MODEL``, written by
``manage.py train_classifier``); without it the rules alone decide. Either way the
result is only a suggestion shown to staff with the phrases that produced it; the
handler's choice is what counts, a correction is recorded on the timeline and becomes
a training example.

Stop intent ("take me off your list") is read with the SMS reply parser's own
vocabulary, ``consent.keywords``, so a word that stops by reply also stops in a
complaint.

Measured on the held-out part of ``complaints/data/labelled_complaints.csv`` by
``tests/complaints/test_category_model.py``.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from consent.keywords import stop_requests_in

logger = logging.getLogger(__name__)

OTHER = "other"

# (phrase, weight). English phrases match on word boundaries, case-insensitively;
# Chinese phrases match as substrings.
RULES: dict[str, tuple[tuple[str, int], ...]] = {
    "unwanted_marketing": (
        ("never agreed", 3),
        ("never consented", 3),
        ("didn't agree", 3),
        ("did not agree", 3),
        ("never signed up", 3),
        ("without my consent", 3),
        ("without consent", 3),
        ("without my permission", 3),
        ("never given permission", 3),
        ("permission", 1),
        ("unsolicited", 3),
        ("spam", 2),
        ("unsubscribe", 2),
        ("unsubscribed", 2),
        ("opted out", 2),
        ("stop sending", 2),
        ("still sending", 1),
        ("still receive", 1),
        ("marketing", 1),
        ("advert", 1),
        ("advertising", 1),
        ("promotion", 1),
        ("promotional", 1),
        ("don't want", 1),
        ("do not want", 1),
        ("未经同意", 3),
        ("没有同意", 3),
        ("从未同意", 3),
        ("没同意", 3),
        ("未授权", 3),
        ("没有授权", 3),
        ("从没授权", 3),
        ("没有订阅", 3),
        ("垃圾短信", 2),
        ("垃圾邮件", 2),
        ("骚扰短信", 2),
        ("广告", 2),
        ("推销", 2),
        ("营销", 1),
        ("退订", 2),
        ("已经退订", 2),
        ("还在发", 1),
        ("仍然收到", 1),
        ("不要再发", 1),
        ("不想收到", 1),
        ("推广", 1),
    ),
    "too_frequent": (
        ("too many", 3),
        ("too often", 3),
        ("too frequent", 3),
        ("every day", 2),
        ("every single day", 3),
        ("several times a day", 3),
        ("times a day", 3),
        ("times today", 3),
        ("times this week", 3),
        ("daily", 2),
        ("constantly", 2),
        ("flooded", 3),
        ("bombarded", 3),
        ("over and over", 2),
        ("repeatedly", 2),
        ("multiple", 1),
        ("frequency", 2),
        ("太频繁", 3),
        ("频繁", 2),
        ("太多", 2),
        ("每天", 2),
        ("天天", 2),
        ("一天好几", 3),
        ("一天几", 3),
        ("好几条", 2),
        ("好几次", 2),
        ("反复", 2),
        ("不停", 2),
        ("轰炸", 3),
        ("多次", 1),
        ("次数", 2),
        ("频率", 2),
        ("连续", 1),
    ),
    "wrong_person": (
        ("not me", 4),
        ("wrong person", 4),
        ("wrong number", 4),
        ("not my name", 4),
        ("someone else", 3),
        ("not my account", 3),
        ("not a customer", 4),
        ("never been a customer", 4),
        ("addressed to", 2),
        ("previous owner", 4),
        ("new number", 2),
        ("don't know who", 3),
        ("do not know who", 3),
        ("not my number", 4),
        ("isn't me", 4),
        ("is not me", 4),
        ("不是我", 4),
        ("非本人", 4),
        ("不是本人", 4),
        ("发错人", 4),
        ("号码不是", 3),
        ("别人的", 3),
        ("不认识", 3),
        ("前机主", 4),
        ("原机主", 4),
        ("新号码", 2),
        ("从来不是", 2),
        ("不是你们的客户", 4),
        ("不是贵行客户", 4),
        ("我没有在", 2),
        ("名字不是", 4),
        ("发错了", 3),
    ),
    "bad_timing": (
        ("at night", 4),
        ("midnight", 4),
        ("middle of the night", 4),
        ("2am", 4),
        ("3am", 4),
        ("11pm", 3),
        ("early morning", 3),
        ("6am", 3),
        ("woke me", 4),
        ("woke up", 3),
        ("wake", 2),
        ("late at night", 4),
        ("hospital", 3),
        ("funeral", 4),
        ("passed away", 4),
        ("bereavement", 4),
        ("while i was ill", 4),
        ("quiet hours", 3),
        ("sleeping", 3),
        ("at 5am", 4),
        ("sick", 2),
        ("半夜", 4),
        ("深夜", 4),
        ("凌晨", 4),
        ("晚上十一点", 4),
        ("睡觉", 3),
        ("吵醒", 4),
        ("住院", 3),
        ("医院", 2),
        ("葬礼", 4),
        ("去世", 4),
        ("丧事", 4),
        ("生病", 2),
        ("免打扰", 3),
        ("休息时间", 3),
        ("大清早", 3),
        ("早上六点", 3),
        ("夜里", 4),
    ),
    "misleading": (
        ("misleading", 4),
        ("mislead", 4),
        ("false", 2),
        ("lie", 2),
        ("lied", 3),
        ("hidden fee", 4),
        ("hidden fees", 4),
        ("hidden charge", 4),
        ("not as advertised", 4),
        ("zero interest", 2),
        ("0% interest", 2),
        ("guaranteed", 2),
        ("pre-approved", 2),
        ("preapproved", 2),
        ("bait", 3),
        ("fake offer", 4),
        ("deceptive", 4),
        ("actual rate", 3),
        ("fine print", 3),
        ("interest rate", 1),
        ("exaggerat", 3),
        ("误导", 4),
        ("虚假", 4),
        ("夸大", 4),
        ("欺骗", 3),
        ("隐藏费用", 4),
        ("隐性收费", 4),
        ("零利息", 2),
        ("零利率", 2),
        ("无息", 2),
        ("实际利率", 3),
        ("实际年化", 3),
        ("保证", 1),
        ("预批", 2),
        ("与宣传不符", 4),
        ("宣传不符", 4),
        ("不一致", 2),
        ("套路", 3),
        ("低息", 2),
    ),
    "collections": (
        ("collection", 3),
        ("collections", 3),
        ("collector", 4),
        ("debt", 3),
        ("overdue", 2),
        ("threaten", 4),
        ("threatened", 4),
        ("threatening", 4),
        ("harass", 2),
        ("harassment", 2),
        ("my family", 3),
        ("my employer", 3),
        ("my colleagues", 3),
        ("my boss", 3),
        ("repay", 2),
        ("arrears", 3),
        ("催收", 4),
        ("催款", 4),
        ("逾期", 3),
        ("欠款", 3),
        ("还款", 2),
        ("威胁", 4),
        ("恐吓", 4),
        ("辱骂", 3),
        ("家人", 3),
        ("单位", 2),
        ("同事", 3),
        ("通讯录", 3),
        ("爆通讯录", 4),
        ("领导", 2),
        ("上门", 2),
    ),
    "data_leak_fraud": (
        ("fraud", 4),
        ("scam", 4),
        ("phishing", 4),
        ("fake link", 4),
        ("suspicious link", 4),
        ("data leak", 4),
        ("leaked", 4),
        ("leak", 3),
        ("how did you get my", 4),
        ("sold my", 4),
        ("my data", 2),
        ("personal information", 3),
        ("identity", 2),
        ("id number", 3),
        ("impersonat", 4),
        ("verification code", 3),
        ("password", 3),
        ("stolen", 4),
        ("breach", 3),
        ("诈骗", 4),
        ("骗子", 4),
        ("钓鱼", 4),
        ("泄露", 4),
        ("泄漏", 4),
        ("个人信息", 3),
        ("卖了我", 4),
        ("被卖", 4),
        ("怎么知道我的", 4),
        ("从哪里得到", 4),
        ("身份证", 3),
        ("冒充", 4),
        ("假冒", 4),
        ("验证码", 3),
        ("密码", 3),
        ("可疑链接", 4),
        ("盗用", 4),
        ("被盗", 4),
    ),
}

_TOKEN = re.compile(r"[a-z0-9%'\-]+")


@dataclass(frozen=True)
class Suggestion:
    """``score`` and ``scores`` are rule scores; ``method`` says what decided the
    code: ``"model"`` (the trained model) or ``"rules"`` (no model loaded)."""

    code: str
    score: int
    evidence: tuple[str, ...]
    scores: dict[str, int]
    method: str = "rules"

    def as_evidence(self) -> list[str]:
        return list(self.evidence)


def _is_cjk(phrase: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in phrase)


def _compile(phrase: str) -> re.Pattern | None:
    if _is_cjk(phrase):
        return None
    return re.compile(r"(?<![a-z0-9])" + re.escape(phrase), re.IGNORECASE)


_COMPILED = {
    code: tuple((phrase, weight, _compile(phrase)) for phrase, weight in rules)
    for code, rules in RULES.items()
}


def _matches(text: str, lowered: str, phrase: str, pattern: re.Pattern | None) -> bool:
    if pattern is None:
        return phrase in text
    return pattern.search(lowered) is not None


def _rule_matches(text: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    lowered = text.lower()
    scores: dict[str, int] = {}
    evidence: dict[str, list[str]] = {}
    for code, rules in _COMPILED.items():
        for phrase, weight, pattern in rules:
            if _matches(text, lowered, phrase, pattern):
                scores[code] = scores.get(code, 0) + weight
                evidence.setdefault(code, []).append(phrase)
    return scores, evidence


def classification_text(description: str, message_excerpt: str = "") -> str:
    """The text a complaint is classified from: its description and the message it
    is about."""
    return f"{description}\n{message_excerpt}"


def rule_scores(text: str) -> dict[str, int]:
    """The summed weight of the matched phrases, per category (none: absent)."""
    return _rule_matches(text or "")[0]


def classify_by_rules(text: str) -> Suggestion:
    """The rules' suggestion alone, with the phrases that decided it."""
    scores, evidence = _rule_matches(text or "")
    if not scores:
        return Suggestion(OTHER, 0, (), {})
    # Ties go to the category listed first in RULES, which orders them by how
    # specific their vocabulary is less than by harm; the evidence shows the rest.
    best = max(scores, key=lambda code: (scores[code], -list(RULES).index(code)))
    if scores[best] < 2:
        return Suggestion(OTHER, scores[best], tuple(evidence[best]), scores)
    return Suggestion(best, scores[best], tuple(evidence[best]), scores)


# --- the trained model -------------------------------------------------------------

_model_lock = threading.Lock()
_model_cache: dict[str, object] = {"key": None, "model": None}
_MODEL_IN_USE = object()


def model_path() -> Path:
    return Path(settings.COMPLAINT_CLASSIFIER_MODEL)


def current_model():
    """The trained model from ``COMPLAINT_CLASSIFIER_MODEL``, or None when the file
    is absent or unreadable (then the rules decide, and a warning is logged once per
    file version). Reloaded when the file changes, so retraining needs no restart."""
    from complaints.category_model import CategoryModel

    path = model_path()
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (str(path), None, None)
    with _model_lock:
        if _model_cache["key"] == key:
            return _model_cache["model"]
        model = None
        if key[1] is None:
            logger.warning(
                "No complaint classifier model at %s; suggesting categories by rules "
                "only (manage.py train_classifier writes one).",
                path,
            )
        else:
            try:
                model = CategoryModel.load(path)
            except (OSError, ValueError, KeyError) as exc:
                logger.warning(
                    "Complaint classifier model %s cannot be read (%s); suggesting "
                    "categories by rules only.",
                    path,
                    exc,
                )
        _model_cache["key"], _model_cache["model"] = key, model
        return model


def classify(text: str, *, model=_MODEL_IN_USE) -> Suggestion:
    """Suggest a category code for the text, with the phrases that decided it.

    ``model`` defaults to the trained model in use (``current_model()``); pass None
    for the rules alone."""
    text = text or ""
    rules = classify_by_rules(text)
    if model is _MODEL_IN_USE:
        model = current_model()
    if model is None or not text.strip():
        return rules
    code = model.predict([text])[0]
    _, matched = _rule_matches(text)
    evidence = list(matched.get(code, ()))
    evidence += model.explain(text, code, limit=3, beside=evidence)
    return Suggestion(
        code=code,
        score=rules.scores.get(code, 0),
        evidence=tuple(evidence[:6]),
        scores=rules.scores,
        method="model",
    )


def wants_no_marketing(text: str) -> list[str]:
    """The stop requests found in the text (empty when none), read with the reply
    parser's vocabulary (``consent.keywords``)."""
    return stop_requests_in(text or "")
