import pytest

from consent.models import Contactability

pytestmark = pytest.mark.django_db


def test_granting_sms_credit_card_permits_that_topic(customer, phone_point, sms, credit_card, notice_en):
    from tests.factories import grant

    grant(customer, sms, credit_card, notice_en)
    key = Contactability.objects.get(channel=sms)
    assert "credit_card" in key.permitted_topics
    assert key.suppressed is False
