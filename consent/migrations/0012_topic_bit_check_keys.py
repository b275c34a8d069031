from django.core.validators import MaxValueValidator
from django.db import migrations, models


def number_topics(apps, schema_editor):
    Topic = apps.get_model("consent", "Topic")
    for bit, topic in enumerate(Topic.objects.order_by("pk")):
        topic.bit = bit
        topic.save(update_fields=["bit"])


def fill_check_keys(apps, schema_editor):
    from consent.check_keys import rebuild

    rebuild()


class Migration(migrations.Migration):
    dependencies = [("consent", "0011_wechat_events")]

    operations = [
        migrations.AddField(
            model_name="topic",
            name="bit",
            field=models.PositiveSmallIntegerField(null=True, editable=False),
        ),
        migrations.RunPython(number_topics, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="topic",
            name="bit",
            field=models.PositiveSmallIntegerField(
                editable=False,
                help_text="The topic's place in the check's permission bitmask.",
                unique=True,
                validators=[MaxValueValidator(62)],
                verbose_name="bit",
            ),
        ),
        migrations.AddConstraint(
            model_name="topic",
            constraint=models.CheckConstraint(
                condition=models.Q(("bit__lte", 62)), name="topic_bit_fits"
            ),
        ),
        migrations.CreateModel(
            name="CheckKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "channel_id",
                        "digest",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "channel_id",
                    models.PositiveSmallIntegerField(verbose_name="channel"),
                ),
                (
                    "digest",
                    models.BinaryField(max_length=32, verbose_name="blind index"),
                ),
                (
                    "permitted",
                    models.BigIntegerField(verbose_name="permitted topics (bitmask)"),
                ),
                (
                    "held",
                    models.BinaryField(
                        default=b"", verbose_name="reasons per topic (16-bit masks)"
                    ),
                ),
                (
                    "reasons",
                    models.PositiveSmallIntegerField(
                        default=0, verbose_name="reasons (mask)"
                    ),
                ),
                (
                    "quiet_start",
                    models.CharField(
                        blank=True, max_length=5, verbose_name="quiet from"
                    ),
                ),
                (
                    "quiet_end",
                    models.CharField(
                        blank=True, max_length=5, verbose_name="quiet until"
                    ),
                ),
                (
                    "quiet_tz",
                    models.CharField(
                        blank=True, max_length=64, verbose_name="time zone"
                    ),
                ),
                (
                    "max_per_week",
                    models.PositiveSmallIntegerField(
                        blank=True, null=True, verbose_name="max per 7 days"
                    ),
                ),
            ],
            options={"verbose_name": "check key", "verbose_name_plural": "check keys"},
        ),
        migrations.RunPython(fill_check_keys, migrations.RunPython.noop),
    ]
