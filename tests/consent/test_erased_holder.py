"""An erased holder's refusal stays with the number; a new holder is a new person."""

from __future__ import annotations

import pytest

from consent.contactability import Reason
from consent.erasure import customer_erase
from consent.models import Contactability
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

NUMBER = "+8613800138000"

SERVICE = {"collections", "repayment_reminder", "security_alert"}


def _key(sms) -> Contactability:
    return Contactability.objects.get(channel=sms, identifier=NUMBER)


def test_a_new_holder_gets_service_messages_and_marketing_only_after_own_consent(
    customer, phone_point, sms, credit_card, personal_loan, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    customer_erase(customer=customer)
    erased = _key(sms)
    assert erased.suppressed and erased.permitted_topics == []

    newcomer = CustomerFactory()
    add_phone(newcomer, NUMBER)
    key = _key(sms)
    # Service messages reach the new holder; the erased holder's refusal of
    # marketing stays.
    assert SERVICE <= set(key.permitted_topics)
    assert key.suppressed
    assert key.topic_reasons["credit_card"] == [Reason.OPT_OUT_ALL]

    grant(newcomer, sms, credit_card, notice_en)
    key = _key(sms)
    assert "credit_card" in key.permitted_topics and not key.suppressed
    # Only what the new holder granted.
    assert "personal_loan" not in key.permitted_topics


def test_a_grant_made_before_the_erasure_does_not_lift_it(
    customer, phone_point, sms, credit_card, notice_en
):
    other = CustomerFactory()
    add_phone(other, NUMBER)
    grant(other, sms, credit_card, notice_en)
    customer_erase(customer=customer)
    key = _key(sms)
    assert "credit_card" not in key.permitted_topics and key.suppressed
    assert "security_alert" in key.permitted_topics
