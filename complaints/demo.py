"""Demo complaints in every state, for the demo customers (called by seed_demo)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from backoffice.roles import COMPLAINT_HANDLER, SUPERVISOR
from complaints import services
from complaints.models import Complaint, ComplaintMessage
from consent.ledger import Actor
from consent.models import Channel, Customer, Topic

# (days ago, channel, topic, text, plan)
SCENARIOS = [
    (1, "sms", "personal_loan", "我从未同意接收贷款营销短信，请停止发送。", "new"),
    (
        14,
        "email",
        "credit_card",
        "Too many emails about the same credit card offer, every day.",
        "new",
    ),
    (3, "voice", "wealth", "凌晨一点打电话推销理财产品，把我吵醒了。", "investigating"),
    (
        4,
        "sms",
        "consumer_loan",
        "短信说零利息，实际年化利率很高，这是误导。",
        "investigating",
    ),
    (
        5,
        "sms",
        "collections",
        "催收人员打电话给我的家人和同事，严重骚扰。",
        "investigating",
    ),
    (
        6,
        "push",
        "offers_events",
        "Push notifications several times a day, far too frequent.",
        "extended",
    ),
    (
        9,
        "email",
        "insurance",
        "How did you get my e-mail? I think my personal information leaked.",
        "paused",
    ),
    (17, "sms", "credit_card", "已经退订了，为什么还在发信用卡广告？", "new"),
    (
        14,
        "sms",
        "personal_loan",
        "I unsubscribed and still receive loan offers. Spam.",
        "resolved",
    ),
    (18, "wechat", "wealth", "微信天天推送理财，频率太高。", "resolved"),
    (20, "sms", "credit_card", "未经同意给我推销信用卡，这是垃圾短信。", "closed"),
    (
        24,
        "email",
        "mortgage",
        "The mortgage advert hid the fees. Misleading.",
        "closed",
    ),
    (27, "voice", "personal_loan", "Sales call at 6am while I was sleeping.", "closed"),
    (33, "sms", "consumer_loan", "一天好几条贷款短信，太频繁了。", "closed"),
    (38, "sms", "personal_loan", "未经同意发贷款广告，垃圾短信。", "closed_late"),
    (
        41,
        "email",
        "credit_card",
        "Unsolicited credit card promotions without my consent.",
        "rejected",
    ),
    (45, "sms", "car_loan", "汽车贷款广告每天都发，太多了。", "closed"),
    (52, "push", "insurance", "Insurance push at midnight, woke me up.", "closed"),
    (58, "sms", "personal_loan", "我没有授权你们发营销信息。", "closed"),
]


def _staff(role: str):
    User = get_user_model()
    user = User.objects.filter(is_active=True, groups__name=role).order_by("pk").first()
    if user is None:
        user = (
            User.objects.filter(is_active=True, is_superuser=True)
            .order_by("pk")
            .first()
        )
    if user is None:
        user, _created = User.objects.get_or_create(
            username="complaints-demo",
            defaults={
                "is_staff": True,
                "is_superuser": True,
                "email": "supervisor@localhost",
            },
        )
        user.set_unusable_password()
        user.save()
    return user


def _backdate(complaint: Complaint, *, decided_after: int, late: bool = False) -> None:
    """Move the decision to a plausible day in the past, so statistics have history."""
    decided = complaint.received_at + timedelta(days=decided_after)
    if late:
        decided = complaint.due_at + timedelta(days=2)
    Complaint.objects.filter(pk=complaint.pk).update(
        decided_at=decided, decision_sent_at=decided + timedelta(minutes=3)
    )
    ComplaintMessage.objects.filter(
        complaint=complaint, kind=ComplaintMessage.Kind.DECISION
    ).update(created_at=decided, sent_at=decided + timedelta(minutes=3))
    complaint.refresh_from_db()


def seed_demo_complaints(*, stdout) -> None:
    """Create the demo complaints once; later runs leave them alone."""
    if Complaint.objects.exists():
        stdout.write("Complaints: demo data already present.")
        return
    customers = list(
        Customer.objects.filter(status=Customer.Status.ACTIVE).order_by("pk")[:8]
    )
    if not customers:
        stdout.write("Complaints: no demo customers, none created.")
        return
    handler = _staff(COMPLAINT_HANDLER)
    supervisor = _staff(SUPERVISOR)
    channels = {c.code: c for c in Channel.objects.all()}
    topics = {t.code: t for t in Topic.objects.all()}
    now = timezone.now()
    created = 0
    for i, (days_ago, channel, topic, text, plan) in enumerate(SCENARIOS):
        customer = customers[i % len(customers)]
        with transaction.atomic():
            complaint = services.complaint_create(
                source=Complaint.Source.PORTAL if i % 3 else Complaint.Source.PHONE,
                description=text,
                actor=Actor.customer(customer),
                customer=customer,
                channel=channels.get(channel),
                topic=topics.get(topic),
                received_at=now - timedelta(days=days_ago, hours=i % 7),
                message_received_at=now - timedelta(days=days_ago, hours=3),
            )
        services.complaint_acknowledge(complaint=complaint, actor=Actor.system("demo"))
        created += 1
        if plan == "new":
            continue
        services.complaint_assign(complaint=complaint, assignee=handler, by=supervisor)
        services.complaint_start_investigation(complaint=complaint, user=handler)
        if plan == "extended":
            services.complaint_extend(
                complaint=complaint,
                reason="Sending logs from the push provider are needed.",
                user=handler,
            )
        if plan == "paused":
            services.complaint_clock_pause(
                complaint=complaint, reason="appraisal", user=handler
            )
        if plan in ("investigating", "extended", "paused"):
            services.complaint_note_add(
                complaint=complaint,
                author=handler,
                text="Asked the sending team for the campaign list.",
            )
            continue
        outcome = (
            Complaint.Outcome.NOT_UPHELD
            if plan == "rejected"
            else Complaint.Outcome.UPHELD
        )
        services.complaint_decide(
            complaint=complaint,
            outcome=outcome,
            findings="The campaign list included the customer after the withdrawal.",
            reasons="The withdrawal was not applied by the sending system in time.",
            user=handler,
        )
        _backdate(complaint, decided_after=3 + i % 9, late=plan == "closed_late")
        if plan in ("closed", "closed_late"):
            services.complaint_close(
                complaint=complaint,
                root_cause=(
                    "third_party_sender",
                    "frequency",
                    "consent_missing",
                    "content",
                )[i % 4],
                remediation_action="Campaign lists pulled from the suppression feed.",
                remediation_owner="Marketing operations",
                user=handler,
            )
            services.complaint_rate(
                complaint=complaint,
                customer=customer,
                score=2 + i % 4,
                comment="",
            )
    services.complaint_escalations_run()
    stdout.write(f"Complaints: {created} demo complaints in several states.")
