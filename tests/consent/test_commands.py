from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from consent.models import ConsentEvent, Contactability, Customer, SuppressionChange

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_leaves_a_verifiable_ledger(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert Customer.objects.filter(external_ref__startswith="DEMO").count() == 5
    assert ConsentEvent.objects.filter(action="grant").count() >= 10
    # DEMO0001 and DEMO0005 share a phone: one key per channel for that number.
    assert (
        Contactability.objects.filter(
            identifier="+8613800138000", channel__code="sms"
        ).count()
        == 1
    )
    assert SuppressionChange.objects.exists()
    call_command("verify_ledger")
    call_command("rebuild_consent_state")
    out = capsys.readouterr().out
    assert "Ledger intact" in out and "matches the ledger" in out


def test_production_mode_refuses_to_start_without_secrets(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "FIELD_ENCRYPTION_KEYS",
            "BLIND_INDEX_KEY",
            "LEDGER_SIGNING_KEY",
        }
    }
    env.update(APP_ENV="production", ALLOWED_HOSTS="consent.example.com")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        "needs SECRET_KEY, FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY and "
        "LEDGER_SIGNING_KEY" in result.stderr
    )
