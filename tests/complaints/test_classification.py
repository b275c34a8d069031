"""Classification on the small Chinese and English set kept next to this test.

Threshold: precision of at least 0.80 for every category and accuracy of at least
0.85 over the whole set, for the classifier in use (the shipped model) and for the
rules alone. The set was written alongside the rules, so for them it measures coverage
of their vocabulary; the model never trained on it. How the classifier holds on new
wording is measured on the held-out part of the larger labelled set
(``test_category_model.py``).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

from complaints.classification import (
    RULES,
    classify,
    classify_by_rules,
    wants_no_marketing,
)
from complaints.models import Category

DATA = Path(__file__).with_name("classification_set.csv")
MIN_PRECISION = 0.80
MIN_ACCURACY = 0.85


def _rows() -> list[dict]:
    with DATA.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_set_covers_every_category_in_both_languages():
    rows = _rows()
    assert len(rows) >= 80
    pairs = Counter((r["category"], r["lang"]) for r in rows)
    for code in Category.values:
        assert pairs[(code, "en")] >= 5 and pairs[(code, "zh")] >= 5, code
    assert set(RULES) | {"other"} == set(Category.values)


@pytest.mark.parametrize("method", ["model", "rules"])
def test_precision_per_category(capsys, method):
    rows = _rows()
    predicted, correct, support = Counter(), Counter(), Counter()
    suggest = classify if method == "model" else classify_by_rules
    for row in rows:
        suggestion = suggest(row["text"])
        assert suggestion.method == method
        code = suggestion.code
        predicted[code] += 1
        support[row["category"]] += 1
        correct[code] += code == row["category"]
    report = {
        code: (correct[code] / predicted[code] if predicted[code] else 0.0)
        for code in Category.values
    }
    accuracy = sum(correct.values()) / len(rows)
    with capsys.disabled():
        print(f"\nprecision per category ({method}):")
        for code, value in report.items():
            print(
                f"  {code:20s} {value:.2f} (predicted {predicted[code]}, "
                f"labelled {support[code]})"
            )
        print(f"  accuracy {accuracy:.2f} on {len(rows)} examples")
    assert all(value >= MIN_PRECISION for value in report.values()), report
    assert accuracy >= MIN_ACCURACY


def test_evidence_names_the_matched_phrases():
    s = classify("催收人员威胁我的家人")
    assert s.code == "collections"
    assert {"催收", "威胁", "家人"} <= set(s.evidence)
    assert classify("").code == "other"


def test_stop_intent_in_both_languages():
    assert wants_no_marketing("Please STOP sending these")
    assert wants_no_marketing("请不要再发了")
    assert not wants_no_marketing("The app is slow")
    assert not wants_no_marketing("nonstop service")


def test_classify_command_prints_code_first_then_evidence(capsys):
    call_command("classify_complaint", "凌晨三点收到贷款广告，吵醒了我")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "bad_timing"
    assert any("凌晨" in line for line in lines[1:])


def test_report_link_command_prints_a_working_link(db, customer, client, settings):
    import io

    settings.SITE_BASE_URL = "https://consent.example"
    out = io.StringIO()
    call_command(
        "report_link",
        customer=customer.external_ref,
        channel="sms",
        topic="credit_card",
        stdout=out,
    )
    url = out.getvalue().strip()
    assert url.startswith("https://consent.example/complaints/report/")
    assert client.get(url.removeprefix("https://consent.example")).status_code == 200
