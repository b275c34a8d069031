"""The trained part of complaint classification: a small linear model over n-grams.

Features are TF-IDF weights of character n-grams (1–4 characters inside word
boundaries, so Chinese needs no word segmenter), English words and word pairs, and
the rule scores of ``complaints.category_rules`` (so the rules' phrases still count,
as one voice among many). A linear SVM separates the eight categories.

The model is trained by ``manage.py train_classifier`` from the labelled set kept in
``complaints/data/labelled_complaints.csv`` (its ``train`` part only) and from the
categories handlers corrected; the ``heldout`` part is never trained on and measures
how the model does on text it has not seen.

A trained model is stored as a NumPy ``.npz`` file of plain arrays (vocabularies,
IDF weights, coefficients), read with ``allow_pickle=False``: no code is loaded from
it, and it does not depend on the scikit-learn version that wrote it.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from complaints.category_rules import RULES, rule_scores

LABELLED_SET = Path(__file__).resolve().parent / "data" / "labelled_complaints.csv"
TRAIN = "train"
HELDOUT = "heldout"
FORMAT_VERSION = 1

# Weight of the rule scores next to the n-gram features (chosen by cross-validation
# on the training part; see the README).
RULE_FEATURE_WEIGHT = 0.5
RULE_SCORE_CAP = 12
SVM_C = 1.0

_CHAR_PARAMS = {"analyzer": "char_wb", "ngram_range": (1, 4), "lowercase": True}
# Letters only: numbers (phone, account, amounts) never become features.
_WORD_PARAMS = {
    "analyzer": "word",
    "ngram_range": (1, 2),
    "lowercase": True,
    "token_pattern": r"(?u)\b[a-z][a-z']+\b",
}
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Example:
    """One labelled text: from the shipped set, or a handler's correction."""

    text: str
    category: str
    split: str = TRAIN
    lang: str = ""
    ref: str = ""
    source: str = "labelled"


def read_labelled(path: Path | str = LABELLED_SET) -> list[Example]:
    """The labelled set (columns id, split, category, lang, text)."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        return [
            Example(
                text=row["text"],
                category=row["category"],
                split=row["split"],
                lang=row.get("lang", ""),
                ref=f"#{row['id']}" if row.get("id") else "",
            )
            for row in csv.DictReader(fh)
        ]


def _rule_features(
    texts: Sequence[str], codes: Sequence[str], weight: float = RULE_FEATURE_WEIGHT
) -> np.ndarray:
    out = np.zeros((len(texts), len(codes)), dtype=np.float64)
    for i, text in enumerate(texts):
        scores = rule_scores(text)
        for j, code in enumerate(codes):
            out[i, j] = min(scores.get(code, 0), RULE_SCORE_CAP) / RULE_SCORE_CAP
    return out * weight


def _vectorizer(params: dict, vocabulary: dict[str, int] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        sublinear_tf=True,
        min_df=1 if vocabulary is not None else 2,
        vocabulary=vocabulary,
        dtype=np.float64,
        **params,
    )


@dataclass
class CategoryModel:
    classes: list[str]
    rule_codes: list[str]
    char_vocabulary: list[str]
    char_idf: np.ndarray
    word_vocabulary: list[str]
    word_idf: np.ndarray
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    meta: dict = field(default_factory=dict)

    # --- training -----------------------------------------------------------------

    @classmethod
    def fit(cls, examples: Sequence[Example], *, meta: dict | None = None):
        """Train on the examples; deterministic for the same examples in the same
        order."""
        from scipy.sparse import csr_matrix, hstack
        from sklearn.svm import LinearSVC

        texts = [e.text for e in examples]
        labels = [e.category for e in examples]
        char = _vectorizer(_CHAR_PARAMS)
        word = _vectorizer(_WORD_PARAMS)
        rule_codes = list(RULES)
        matrix = hstack(
            [
                char.fit_transform(texts),
                word.fit_transform(texts),
                csr_matrix(_rule_features(texts, rule_codes)),
            ]
        ).tocsr()
        svm = LinearSVC(C=SVM_C, random_state=0, max_iter=5000)
        svm.fit(matrix, labels)
        coef = np.asarray(svm.coef_, dtype=np.float32)
        intercept = np.asarray(svm.intercept_, dtype=np.float32)
        classes = [str(c) for c in svm.classes_]
        if len(classes) == 2:  # one hyperplane for two classes; spell both out
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32)
        counts = Counter(labels)
        return cls(
            classes=classes,
            rule_codes=rule_codes,
            char_vocabulary=_ordered_vocabulary(char.vocabulary_),
            char_idf=char.idf_.astype(np.float32),
            word_vocabulary=_ordered_vocabulary(word.vocabulary_),
            word_idf=word.idf_.astype(np.float32),
            coef=coef,
            intercept=intercept,
            meta={
                "format": FORMAT_VERSION,
                "rule_weight": RULE_FEATURE_WEIGHT,
                "examples": len(examples),
                "per_category": dict(sorted(counts.items())),
                **(meta or {}),
            },
        )

    # --- use ------------------------------------------------------------------------

    def _vectorizers(self):
        if not hasattr(self, "_fitted"):
            char = _vectorizer(
                _CHAR_PARAMS, {g: i for i, g in enumerate(self.char_vocabulary)}
            )
            char.idf_ = self.char_idf.astype(np.float64)
            word = _vectorizer(
                _WORD_PARAMS, {g: i for i, g in enumerate(self.word_vocabulary)}
            )
            word.idf_ = self.word_idf.astype(np.float64)
            self._fitted = (char, word)
        return self._fitted

    def features(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix, hstack

        char, word = self._vectorizers()
        return hstack(
            [
                char.transform(texts),
                word.transform(texts),
                csr_matrix(
                    _rule_features(
                        texts,
                        self.rule_codes,
                        self.meta.get("rule_weight", RULE_FEATURE_WEIGHT),
                    )
                ),
            ]
        ).tocsr()

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.features(texts) @ self.coef.T) + self.intercept

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        scores = self.decision(texts)
        return [self.classes[i] for i in scores.argmax(axis=1)]

    def explain(
        self, text: str, code: str, limit: int = 4, *, beside: Sequence[str] = ()
    ) -> list[str]:
        """The n-grams of the text that pushed it most towards ``code``: English words
        and pairs of them (without function words), or runs of two or more Chinese
        characters, so a handler can read them. Grams overlapping ``beside`` or one
        another are left out."""
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        if code not in self.classes:
            return []
        row = self.features([text])
        weights = self.coef[self.classes.index(code)]
        n_char = len(self.char_vocabulary)
        names = self.char_vocabulary + self.word_vocabulary
        ranked = sorted(
            (
                (float(value * weights[index]), index)
                for index, value in zip(row.indices, row.data, strict=True)
                if index < len(names)
            ),
            reverse=True,
        )
        out: list[str] = []
        for weight, index in ranked:
            if weight <= 0 or len(out) >= limit:
                break
            gram = names[index].strip()
            if index < n_char:
                readable = len(gram) >= 2 and all(_CJK.match(ch) for ch in gram)
            else:
                words = gram.split()
                readable = len(gram) >= 3 and not any(
                    w in ENGLISH_STOP_WORDS for w in words
                )
            if readable and not _overlaps(gram, [*beside, *out]):
                out.append(gram)
        return out

    # --- storage ----------------------------------------------------------------------

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez_compressed(
                fh,
                classes=np.array(self.classes, dtype=str),
                rule_codes=np.array(self.rule_codes, dtype=str),
                char_vocabulary=np.array(self.char_vocabulary, dtype=str),
                char_idf=self.char_idf,
                word_vocabulary=np.array(self.word_vocabulary, dtype=str),
                word_idf=self.word_idf,
                coef=self.coef,
                intercept=self.intercept,
                meta=np.array(
                    json.dumps(self.meta, ensure_ascii=False, sort_keys=True)
                ),
            )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> CategoryModel:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"unknown model format {meta.get('format')!r}")
            model = cls(
                classes=[str(c) for c in data["classes"]],
                rule_codes=[str(c) for c in data["rule_codes"]],
                char_vocabulary=[str(g) for g in data["char_vocabulary"]],
                char_idf=data["char_idf"],
                word_vocabulary=[str(g) for g in data["word_vocabulary"]],
                word_idf=data["word_idf"],
                coef=data["coef"],
                intercept=data["intercept"],
                meta=meta,
            )
        features = len(model.char_vocabulary) + len(model.word_vocabulary)
        features += len(model.rule_codes)
        if model.coef.shape != (len(model.classes), features):
            raise ValueError("model file is inconsistent")
        return model


def _overlaps(gram: str, others: Sequence[str]) -> bool:
    """True when the gram repeats another: contains it, is contained, or (Chinese)
    shares two characters in a row with it."""
    pairs = (
        {gram[i : i + 2] for i in range(len(gram) - 1)} if _CJK.match(gram) else set()
    )
    for other in others:
        if gram in other or other in gram:
            return True
        if pairs and any(pair in other for pair in pairs):
            return True
    return False


def _ordered_vocabulary(vocabulary: dict[str, int]) -> list[str]:
    out = [""] * len(vocabulary)
    for gram, index in vocabulary.items():
        out[index] = gram
    return out


# --- measuring ---------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Per-category precision and recall, and accuracy, of predictions on examples."""

    codes: tuple[str, ...]
    predictions: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        if not self.labels:
            return 0.0
        right = sum(p == t for p, t in zip(self.predictions, self.labels, strict=True))
        return right / len(self.labels)

    def _pairs(self):
        return zip(self.predictions, self.labels, strict=True)

    def precision(self, code: str) -> float:
        """Of the texts suggested as ``code``, the share labelled ``code``."""
        predicted = [label for guess, label in self._pairs() if guess == code]
        return (
            sum(label == code for label in predicted) / len(predicted)
            if predicted
            else 0.0
        )

    def recall(self, code: str) -> float:
        """Of the texts labelled ``code``, the share suggested as ``code``."""
        actual = [guess for guess, label in self._pairs() if label == code]
        return sum(guess == code for guess in actual) / len(actual) if actual else 0.0

    def support(self, code: str) -> int:
        return sum(t == code for t in self.labels)


def evaluate(
    predict: Callable[[list[str]], list[str]],
    examples: Iterable[Example],
    codes: Sequence[str],
) -> Report:
    examples = list(examples)
    predictions = predict([e.text for e in examples]) if examples else []
    return Report(
        codes=tuple(codes),
        predictions=tuple(predictions),
        labels=tuple(e.category for e in examples),
    )
