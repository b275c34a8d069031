from django.db import migrations

# Regulator codes in the style of JR/T 0169 (financial consumer complaint statistics):
# product / sub-product / issue / sub-issue. Staff edit them in admin when the
# regulator's code list changes.
CODES = [
    ("product", "marketing", "B08", "营销推广类业务"),
    ("product", "service", "B09", "账户服务类业务"),
    ("sub_product", "personal_loan", "B0201", "个人消费贷款"),
    ("sub_product", "consumer_loan", "B0202", "消费金融贷款"),
    ("sub_product", "credit_card", "B0301", "信用卡"),
    ("sub_product", "mortgage", "B0203", "个人住房贷款"),
    ("sub_product", "car_loan", "B0204", "个人汽车贷款"),
    ("sub_product", "wealth", "B0501", "理财产品"),
    ("sub_product", "insurance", "B0601", "代理保险"),
    ("sub_product", "offers_events", "B0801", "营销活动"),
    ("sub_product", "repayment_reminder", "B0901", "还款提醒"),
    ("sub_product", "collections", "B0902", "催收"),
    ("sub_product", "security_alert", "B0903", "账户安全提醒"),
    ("issue", "unwanted_marketing", "C1101", "未经同意发送营销信息"),
    ("issue", "too_frequent", "C1102", "营销信息发送频率过高"),
    ("issue", "wrong_person", "C1103", "信息发送对象错误"),
    ("issue", "bad_timing", "C1104", "发送时间不当"),
    ("issue", "misleading", "C0401", "宣传误导"),
    ("issue", "collections", "C0801", "催收方式不当"),
    ("issue", "data_leak_fraud", "C1001", "个人信息保护"),
    ("issue", "other", "C9901", "其他"),
    ("sub_issue", "content", "D01", "宣传内容不当"),
    ("sub_issue", "frequency", "D02", "频次控制不当"),
    ("sub_issue", "consent_missing", "D03", "未取得授权"),
    ("sub_issue", "data_quality", "D04", "客户信息不准确"),
    ("sub_issue", "third_party_sender", "D05", "第三方合作机构问题"),
    ("sub_issue", "staff_conduct", "D06", "工作人员服务问题"),
    ("sub_issue", "system_fault", "D07", "系统问题"),
    ("sub_issue", "no_fault", "D99", "未发现问题"),
]


def seed(apps, schema_editor):
    from complaints.calendars import calendars_seed

    Calendar = apps.get_model("complaints", "Calendar")
    CalendarDay = apps.get_model("complaints", "CalendarDay")
    calendars_seed(Calendar, CalendarDay)
    RegulatorCode = apps.get_model("complaints", "RegulatorCode")
    for dimension, value, code, label in CODES:
        RegulatorCode.objects.get_or_create(
            dimension=dimension, value=value, defaults={"code": code, "label": label}
        )


def unseed(apps, schema_editor):
    apps.get_model("complaints", "CalendarDay").objects.all().delete()
    apps.get_model("complaints", "Calendar").objects.all().delete()
    apps.get_model("complaints", "RegulatorCode").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("complaints", "0003_daily_handling")]

    operations = [migrations.RunPython(seed, unseed)]
