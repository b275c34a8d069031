from __future__ import annotations

import factory

from consent import services
from consent.ledger import Actor
from consent.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_ref = factory.Sequence(lambda n: f"CUST{n:07d}")
    preferred_language = "en"


def add_phone(customer: Customer, number: str, *, verified: bool = True):
    return services.contact_point_add(
        customer=customer,
        kind="phone",
        address=number,
        source="staff",
        actor=Actor.system("test"),
        verified=verified,
    )


def add_email(customer: Customer, address: str, *, verified: bool = True):
    return services.contact_point_add(
        customer=customer,
        kind="email",
        address=address,
        source="staff",
        actor=Actor.system("test"),
        verified=verified,
    )


def grant(customer: Customer, channel, topic, notice, *, source: str = "portal"):
    return services.consent_grant(
        customer=customer,
        channel=channel,
        topic=topic,
        source=source,
        actor=Actor.customer(customer),
        notice_version=notice,
    )
