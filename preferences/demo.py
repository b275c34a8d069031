"""Demo identity facts for the customers who share a phone number."""

from __future__ import annotations

from datetime import date

from consent.models import Customer

# Made-up values for the demo's joint account (13800138000).
DEMO_IDENTITY = {
    "DEMO0001": ("123X", date(1980, 5, 17)),
    "DEMO0005": ("4321", date(1984, 9, 2)),
}


def seed_demo_identity_checks(*, stdout=None, **_kwargs) -> None:
    from preferences.portal_actions import identity_check_set

    for ref, (tail, birth) in DEMO_IDENTITY.items():
        customer = Customer.objects.filter(external_ref=ref).first()
        if customer is not None:
            identity_check_set(customer=customer, id_number_tail=tail, birth_date=birth)
    if stdout is not None:
        stdout.write(
            "Shared phone 13800138000: after the code, 王小明 answers 123X or "
            "1980-05-17, 王芳 answers 4321 or 1984-09-02."
        )
