"""Demo complaints in every state, for the demo customers (called by seed_demo)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from backoffice.roles import COMPLAINT_HANDLER, SUPERVISOR
from complaints import services
from complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    Escalation,
    IdentityVerification,
)
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


# Handler texts in the customer's language: a Chinese customer's letter carries
# Chinese findings.
TEXTS = {
    "zh": {
        "findings": "经核查，该客户撤回授权后，营销名单仍包含该客户的号码。",
        "reasons": "发送系统未及时从退订名单同步撤回记录，导致继续发送。",
        "rejected_findings": "经核查，该信息发送时客户的授权仍然有效。",
        "rejected_reasons": "发送记录显示信息在撤回授权之前发出。",
        "note": "已向营销发送团队调取活动名单。",
        "extension": "需要向推送服务商调取发送日志。",
        "remediation": "营销名单改为每日从退订名单同步。",
        "owner": "营销运营部",
        "comment": "处理及时，谢谢。",
    },
    "en": {
        "findings": "The campaign list still held the customer after the withdrawal.",
        "reasons": "The sending system did not apply the withdrawal from the feed "
        "in time.",
        "rejected_findings": "The customer's consent was still in force when the "
        "message was sent.",
        "rejected_reasons": "The send records show the message left before the "
        "withdrawal.",
        "note": "Asked the sending team for the campaign list.",
        "extension": "Sending logs from the push provider are needed.",
        "remediation": "Campaign lists pulled from the suppression feed daily.",
        "owner": "Marketing operations",
        "comment": "Handled quickly, thank you.",
    },
}


def _language_of(text: str) -> str:
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


def _retime(complaint: Complaint, *, decided: datetime | None) -> None:
    """Give every step a time consistent with the receipt: acknowledged minutes
    after it, handled the next day, decided on ``decided``, closed and rated after.
    Demo only: the services stamp real time, the story needs past times."""
    received = complaint.received_at
    acknowledged = received + timedelta(minutes=4)
    working = received + timedelta(days=1, hours=1)
    if decided:
        working = min(working, received + (decided - received) / 3)
    closed = decided + timedelta(days=1) if decided else None
    rated = decided + timedelta(days=2) if decided else None
    ack_label = str(ComplaintMessage.Kind.ACKNOWLEDGEMENT.label)
    decision_label = str(ComplaintMessage.Kind.DECISION.label)
    previous = received
    step = 0
    for event in complaint.events.order_by("pk"):
        if event.kind == ComplaintEvent.Kind.RECEIVED:
            at = received
        elif event.to_status == Complaint.Status.ACKNOWLEDGED or (
            event.kind == ComplaintEvent.Kind.MESSAGE and event.detail == ack_label
        ):
            at = acknowledged
        elif event.to_status in Complaint.DECIDED_STATUSES or (
            event.kind == ComplaintEvent.Kind.MESSAGE and event.detail == decision_label
        ):
            at = decided
        elif event.to_status == Complaint.Status.CLOSED:
            at = closed
        elif event.kind == ComplaintEvent.Kind.RATED:
            at = rated
        else:
            step += 1
            at = working + timedelta(minutes=10 * step)
        at = max(at or previous, previous)
        previous = at
        ComplaintEvent.objects.filter(pk=event.pk).update(at=at)
    for message in complaint.messages.all():
        if message.kind == ComplaintMessage.Kind.ACKNOWLEDGEMENT:
            at = acknowledged
        elif message.kind == ComplaintMessage.Kind.DECISION and decided:
            at = decided
        else:
            at = working + timedelta(hours=2)
        ComplaintMessage.objects.filter(pk=message.pk).update(
            created_at=at,
            sent_at=at + timedelta(minutes=1) if message.sent_at else None,
        )
    complaint.notes.update(created_at=working)
    complaint.extensions.update(requested_at=working, approved_at=working)
    fields = {"acknowledged_at": acknowledged}
    if decided:
        fields.update(
            decided_at=decided, decision_sent_at=decided + timedelta(minutes=1)
        )
    if complaint.closed_at:
        fields["closed_at"] = closed
    if complaint.rated_at:
        fields["rated_at"] = rated
    if complaint.paused_at:
        fields["paused_at"] = working
    Complaint.objects.filter(pk=complaint.pk).update(**fields)
    Escalation.objects.filter(complaint=complaint).delete()


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
    by_language = {
        "zh": [c for c in customers if (c.preferred_language or "").startswith("zh")],
        "en": [c for c in customers if (c.preferred_language or "").startswith("en")],
    }
    handler = _staff(COMPLAINT_HANDLER)
    supervisor = _staff(SUPERVISOR)
    channels = {c.code: c for c in Channel.objects.all()}
    topics = {t.code: t for t in Topic.objects.all()}
    now = timezone.now()
    created = 0
    # Oldest first, so references run in the order complaints were received.
    ordered = sorted(enumerate(SCENARIOS), key=lambda item: -item[1][0])
    for i, (days_ago, channel, topic, text, plan) in ordered:
        language = _language_of(text)
        pool = by_language[language] or customers
        customer = pool[i % len(pool)]
        words = TEXTS[language]
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
                identity_verification=IdentityVerification.STAFF_CHECKED
                if i % 3 == 0
                else "",
            )
        services.complaint_acknowledge(complaint=complaint, actor=Actor.system("demo"))
        created += 1
        if plan == "new":
            _retime(complaint, decided=None)
            continue
        services.complaint_assign(complaint=complaint, assignee=handler, by=supervisor)
        services.complaint_start_investigation(complaint=complaint, user=handler)
        if plan == "extended":
            services.complaint_extend(
                complaint=complaint, reason=words["extension"], user=handler
            )
        if plan == "paused":
            services.complaint_clock_pause(
                complaint=complaint, reason="appraisal", user=handler
            )
        if plan in ("investigating", "extended", "paused"):
            services.complaint_note_add(
                complaint=complaint, author=handler, text=words["note"]
            )
            complaint.refresh_from_db()
            _retime(complaint, decided=None)
            continue
        rejected = plan == "rejected"
        services.complaint_decide(
            complaint=complaint,
            outcome=Complaint.Outcome.NOT_UPHELD
            if rejected
            else Complaint.Outcome.UPHELD,
            findings=words["rejected_findings" if rejected else "findings"],
            reasons=words["rejected_reasons" if rejected else "reasons"],
            user=handler,
        )
        complaint.refresh_from_db()
        decided = complaint.received_at + timedelta(days=3 + i % 9)
        if plan == "closed_late":
            decided = complaint.due_at + timedelta(days=2)
        if plan in ("closed", "closed_late"):
            services.complaint_close(
                complaint=complaint,
                root_cause=(
                    "third_party_sender",
                    "frequency",
                    "consent_missing",
                    "content",
                )[i % 4],
                remediation_action=words["remediation"],
                remediation_owner=words["owner"],
                remediation_due_on=(decided + timedelta(days=30)).date(),
                user=handler,
            )
            services.complaint_rate(
                complaint=complaint,
                customer=customer,
                score=2 + i % 4,
                comment=words["comment"] if i % 4 == 1 else "",
            )
            if i % 2 == 0 and decided + timedelta(days=20) < now:
                Complaint.objects.filter(pk=complaint.pk).update(
                    remediation_done_on=(decided + timedelta(days=20)).date()
                )
        complaint.refresh_from_db()
        _retime(complaint, decided=decided)
    services.complaint_escalations_run()
    _seed_rights_requests(customers, handler)
    stdout.write(f"Complaints: {created} demo complaints in several states.")


def _seed_rights_requests(customers: list[Customer], handler) -> None:
    """An open access request and a completed correction, for the queue."""
    from complaints.services import rights

    first = customers[0]
    rights.rights_request_create(
        customer=first, kind="access", actor=Actor.customer(first)
    )
    last = customers[-1]
    zh = (last.preferred_language or "").startswith("zh")
    correction = rights.rights_request_create(
        customer=last,
        kind="correction",
        details="邮寄地址的门牌号有误，应为 18 号。"
        if zh
        else "The house number in my postal address is wrong; it is 18.",
        actor=Actor.customer(last),
    )
    rights.rights_request_complete(
        request=correction,
        outcome="已更正邮寄地址。" if zh else "Your postal address is corrected.",
        user=handler,
    )
