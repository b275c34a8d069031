"""Classification of complaint text, in Chinese and English: rules and a trained model.

The rules (``complaints.category_rules``) are keyword and phrase weights; Chinese is
matched as character sequences (substrings), so no word segmenter is needed. A small
trained model (``complaints.category_model``: character and word n-grams plus the
rule scores) makes the suggestion when its file is present
(``COMPLAINT_CLASSIFIER_MODEL``, written by ``manage.py train_classifier``); without
it the rules alone decide. Either way the result is only a suggestion shown to staff
with the phrases that produced it; the handler's choice is what counts, a correction
is recorded on the timeline and becomes a training example.

Stop intent ("take me off your list") is read with the SMS reply parser's own
vocabulary, ``consent.keywords``, so a word that stops by reply also stops in a
complaint.

Measured on the held-out part of ``complaints/data/labelled_complaints.csv`` by
``tests/complaints/test_category_model.py``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from complaints.category_rules import RULES, rule_matches
from consent.keywords import stop_requests_in

logger = logging.getLogger(__name__)

OTHER = "other"


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


def classification_text(description: str, message_excerpt: str = "") -> str:
    """The text a complaint is classified from: its description and the message it
    is about."""
    return f"{description}\n{message_excerpt}"


def classify_by_rules(text: str) -> Suggestion:
    """The rules' suggestion alone, with the phrases that decided it."""
    scores, evidence = rule_matches(text or "")
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
    # Imported here: numpy and scikit-learn load with the first suggestion, not
    # with every process that imports the complaints app.
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
    _, matched = rule_matches(text)
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
