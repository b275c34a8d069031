from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from consent import hooks, services
from consent.checkpoints import checkpoint_seal
from consent.ledger import Actor, Evidence
from consent.models import Channel, Customer, NoticeVersion, Topic
from consent.staff_grants import SIGNED_FORM, customer_act_evidence

DEMO_CUSTOMERS = [
    # ref, name, language, phone, e-mail, grants [(channel, topic)]
    (
        "DEMO0001",
        "王小明",
        "zh-hans",
        "13800138000",
        "wang.xiaoming@example.cn",
        [
            ("sms", "credit_card"),
            ("sms", "personal_loan"),
            ("email", "wealth"),
            ("wechat", "offers_events"),
        ],
    ),
    (
        "DEMO0002",
        "Alice Chen",
        "en",
        "+8613900139000",
        "alice.chen@example.com",
        [("email", "credit_card"), ("email", "mortgage"), ("push", "offers_events")],
    ),
    (
        "DEMO0003",
        "李华",
        "zh-hans",
        "13700137000",
        "li.hua@example.cn",
        [("sms", "car_loan"), ("voice", "insurance")],
    ),
    (
        "DEMO0004",
        "Bob Li",
        "en",
        "+447911123456",
        "bob.li@example.co.uk",
        [("email", "wealth")],
    ),
]
# DEMO0005 shares DEMO0001's phone (a joint account), to show shared identifiers.
SHARED = (
    "DEMO0005",
    "王芳",
    "zh-hans",
    "13800138000",
    "wang.fang@example.cn",
    [("sms", "credit_card")],
)

DEMO_ADMIN = os.environ.get("DEMO_ADMIN_USERNAME", "admin")
DEMO_ADMIN_PASSWORD = os.environ.get("DEMO_ADMIN_PASSWORD", "demo-admin-Passw0rd!")


class Command(BaseCommand):
    help = "Create demo customers, contact points, consents and staff (idempotent)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            created = [self._customer(*row) for row in [*DEMO_CUSTOMERS, SHARED]]
            self._admin()
        # Other apps' demo data, in their registered order (staff before the
        # complaints assigned to them).
        for _order, seeder in hooks.registry.demo_seeders:
            seeder(stdout=self.stdout)
        # No beat runs beside the development server: seal what the demo wrote.
        checkpoint_seal()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {sum(created)} new customers "
                f"({len(DEMO_CUSTOMERS) + 1} in all)."
            )
        )
        self.stdout.write(
            "Portal sign-in: phone 13800138000 (王小明, zh) or "
            "alice.chen@example.com (Alice, en); the code is printed in this terminal."
        )
        self.stdout.write(
            f"Admin: {DEMO_ADMIN} / {DEMO_ADMIN_PASSWORD}, then one of the backup "
            "codes listed above (or the code from an authenticator app)."
        )

    def _customer(self, ref, name, language, phone, email, grants) -> bool:
        if Customer.objects.filter(external_ref=ref).exists():
            return False
        customer = Customer(external_ref=ref, preferred_language=language)
        customer.display_name = name
        customer.save()
        actor, evidence = Actor.system("seed_demo"), Evidence(request_id="seed-demo")
        for kind, address in (("phone", phone), ("email", email)):
            services.contact_point_add(
                customer=customer,
                kind=kind,
                address=address,
                source="import",
                actor=actor,
                evidence=evidence,
                verified=True,
            )
        notice = NoticeVersion.objects.filter(
            code="marketing", language=language
        ).first()
        # Demo grants stand for paper forms the customers signed, checked by a
        # second person (a staff-entered grant needs both: consent.staff_grants).
        signed = Evidence(
            request_id="seed-demo",
            extra=(
                *customer_act_evidence(
                    act=SIGNED_FORM, reference=f"DEMO-{ref}", notice_version=notice
                ),
                ("approved_by", "demo-reviewer"),
            ),
        )
        for channel_code, topic_code in grants:
            services.consent_grant(
                customer=customer,
                channel=Channel.objects.get(code=channel_code),
                topic=Topic.objects.get(code=topic_code),
                source="import",
                actor=actor,
                evidence=signed,
                notice_version=notice,
            )
        return True

    def _admin(self) -> None:
        User = get_user_model()
        if not User.objects.filter(username=DEMO_ADMIN).exists():
            User.objects.create_superuser(
                DEMO_ADMIN, "admin@example.com", DEMO_ADMIN_PASSWORD
            )
