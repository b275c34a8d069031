"""Customer preferences that shape contactability beyond consent."""

from __future__ import annotations

from datetime import time

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.models import Channel, Customer

DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(8, 0)
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Preference(models.Model):
    """Quiet hours, preferred channel and language, and personalisation refusal."""

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="preference",
        primary_key=True,
    )
    quiet_start = models.TimeField(_("quiet hours start"), default=DEFAULT_QUIET_START)
    quiet_end = models.TimeField(_("quiet hours end"), default=DEFAULT_QUIET_END)
    time_zone = models.CharField(_("time zone"), max_length=64, default=DEFAULT_TIME_ZONE)
    preferred_channel = models.ForeignKey(
        Channel,
        verbose_name=_("preferred channel"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    personalisation_allowed = models.BooleanField(
        _("personalised marketing allowed"),
        default=True,
        help_text=_("False: no marketing selected by profiling (PIPL art. 24)."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.customer_id}"

    def quiet_hours(self) -> dict[str, str]:
        return {
            "start": self.quiet_start.strftime("%H:%M"),
            "end": self.quiet_end.strftime("%H:%M"),
            "tz": self.time_zone,
        }


class FrequencyCap(models.Model):
    """At most ``max_per_week`` marketing messages on a channel per rolling 7 days."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="frequency_caps",
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    max_per_week = models.PositiveSmallIntegerField(_("messages per 7 days"))

    class Meta:
        verbose_name = _("frequency cap")
        verbose_name_plural = _("frequency caps")
        constraints = [
            models.UniqueConstraint(
                fields=("customer", "channel"), name="frequency_cap_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(max_per_week__lte=100), name="frequency_cap_max_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel_id} ≤{self.max_per_week}/7d"


class CarePauseQuerySet(models.QuerySet):
    def active_at(self, when) -> CarePauseQuerySet:
        return self.filter(
            starts_at__lte=when, ends_at__gt=when, cancelled_at__isnull=True
        )


class CarePause(models.Model):
    """A pause of contact in hard times. Only a reason category is kept, no details."""

    class Scope(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        MARKETING_COLLECTIONS = "marketing+collections", _(
            "Marketing and collections messages"
        )

    class Reason(models.TextChoices):
        ILLNESS = "illness", _("Illness or hospital stay")
        BEREAVEMENT = "bereavement", _("Bereavement")
        HARDSHIP = "hardship", _("Financial hardship")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="care_pauses",
    )
    starts_at = models.DateTimeField(_("from"), default=timezone.now)
    ends_at = models.DateTimeField(_("until"))
    scope = models.CharField(
        _("scope"), max_length=24, choices=Scope.choices, default=Scope.MARKETING
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    expiry_processed_at = models.DateTimeField(
        _("end published"), null=True, blank=True, editable=False
    )

    objects = CarePauseQuerySet.as_manager()

    class Meta:
        ordering = ("-starts_at",)
        verbose_name = _("care pause")
        verbose_name_plural = _("care pauses")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="care_pause_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"

    @property
    def holds_collections(self) -> bool:
        return self.scope == self.Scope.MARKETING_COLLECTIONS
