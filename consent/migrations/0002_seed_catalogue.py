import hashlib

from django.db import migrations
from django.utils import timezone

CHANNELS = [
    ("sms", "phone", "SMS", "短信"),
    ("email", "email", "E-mail", "电子邮件"),
    ("push", "push", "App push", "App 推送"),
    ("voice", "phone", "Phone call", "电话"),
    ("wechat", "wechat", "WeChat", "微信"),
    ("post", "postal", "Post", "邮寄信件"),
]

TOPICS = [
    ("personal_loan", "marketing", "Personal loans", "个人贷款", False),
    ("consumer_loan", "marketing", "Consumer loans", "消费贷款", False),
    ("credit_card", "marketing", "Credit cards", "信用卡", False),
    ("mortgage", "marketing", "Mortgages", "住房按揭贷款", False),
    ("car_loan", "marketing", "Car loans", "汽车贷款", False),
    ("wealth", "marketing", "Wealth management", "理财产品", False),
    ("insurance", "marketing", "Insurance", "保险", False),
    ("offers_events", "marketing", "Offers and events", "优惠活动", False),
    ("repayment_reminder", "service", "Repayment reminders", "还款提醒", False),
    ("collections", "service", "Collections notices", "催收通知", True),
    ("security_alert", "service", "Security alerts", "账户安全提醒", False),
]

NOTICES = {
    "en": (
        "Marketing consent notice",
        "We will send you information about the products you switch on, through the "
        "channels you switch on, at most as often as you allow and never during your "
        "quiet hours. We use your contact details only for this purpose. You can "
        "withdraw at any time, as easily as you agreed: switch it off here, use the "
        "unsubscribe link in any message, or reply STOP (or 退订) to any SMS.",
    ),
    "zh-hans": (
        "营销信息授权告知书",
        "我们将仅通过您开启的渠道，向您发送您开启的产品与业务类型的营销信息，发送频次不超过"
        "您设置的上限，且不会在您的免打扰时段发送。您的联系方式仅用于上述目的。您可随时撤回"
        "授权，与授权同样便捷：在此关闭开关、点击任一信息中的退订链接，或回复短信“退订”"
        "（或 TD）。",
    ),
}


def seed(apps, schema_editor):
    Channel = apps.get_model("consent", "Channel")
    Topic = apps.get_model("consent", "Topic")
    NoticeVersion = apps.get_model("consent", "NoticeVersion")
    LedgerHead = apps.get_model("consent", "LedgerHead")
    for position, (code, kind, en, zh) in enumerate(CHANNELS):
        Channel.objects.update_or_create(
            code=code,
            defaults={"address_kind": kind, "name_en": en, "name_zh": zh,
                      "position": position},
        )
    for position, (code, kind, en, zh, held) in enumerate(TOPICS):
        Topic.objects.update_or_create(
            code=code,
            defaults={"kind": kind, "name_en": en, "name_zh": zh,
                      "held_by_care_pause": held, "position": position},
        )
    now = timezone.now()
    for language, (title, text) in NOTICES.items():
        NoticeVersion.objects.get_or_create(
            code="marketing",
            version=1,
            language=language,
            defaults={
                "title": title,
                "text": text,
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "effective_from": now,
            },
        )
    LedgerHead.objects.get_or_create(pk=1)


def unseed(apps, schema_editor):
    apps.get_model("consent", "NoticeVersion").objects.filter(version=1).delete()
    apps.get_model("consent", "Topic").objects.all().delete()
    apps.get_model("consent", "Channel").objects.all().delete()
    apps.get_model("consent", "LedgerHead").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
