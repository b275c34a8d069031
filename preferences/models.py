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
# Applies to everyone who has not chosen other hours.
DEFAULT_QUIET_HOURS = {
    "start": DEFAULT_QUIET_START.strftime("%H:%M"),
    "end": DEFAULT_QUIET_END.strftime("%H:%M"),
    "tz": DEFAULT_TIME_ZONE,
}


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
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_TIME_ZONE
    )
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
        MARKETING_COLLECTIONS = (
            "marketing+collections",
            _("Marketing and collections messages"),
        )

    class Reason(models.TextChoices):
        ILLNESS = "illness", _("Illness or hospital stay")
        BEREAVEMENT = "bereavement", _("Bereavement")
        HARDSHIP = "hardship", _("Financial hardship")
        OTHER = "other", _("Other")
        # Placed by a next-of-kin death report while staff check it.
        DEATH_REPORT = "death_report", _("Death reported, being checked")

        @classmethod
        def asked_choices(cls) -> list[tuple[str, str]]:
            """The reasons a person may give (a death report's hold is not one)."""
            return [c for c in cls.choices if c[0] != cls.DEATH_REPORT]

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


class OneTimeCode(models.Model):
    """A 6-digit code sent to an address to prove the holder has it.

    Only a keyed hash of the code is stored; a code is valid for ten minutes and is
    used at most once. The address itself is kept as its blind index only.
    """

    class Purpose(models.TextChoices):
        SIGN_IN = "sign_in", _("Sign in")
        VERIFY_CONTACT = "verify_contact", _("Verify a contact point")
        NOT_ME = "not_me", _("Not me")

    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    blind_index = models.CharField(_("identifier (blind index)"), max_length=64)
    contact_point = models.ForeignKey(
        "consent.ContactPoint",
        verbose_name=_("contact point"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    code_hash = models.CharField(_("code hash"), max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=("blind_index", "purpose"), name="one_time_code_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.blind_index[:12]}…"


class ErasureRequest(models.Model):
    """A customer's request to delete their personal data (PIPL art. 47).

    Staff carry it out (legal retention may apply first); the refusal to be contacted
    survives as a keyed hash of each identifier.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for staff")
        DONE = "done", _("Carried out")
        REJECTED = "rejected", _("Declined (legal retention)")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="erasure_requests",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    processed_by = models.CharField(_("processed by"), max_length=150, blank=True)
    staff_note = models.CharField(_("staff note"), max_length=300, blank=True)

    class Meta:
        ordering = ("-requested_at",)
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")

    def __str__(self) -> str:
        return f"{self.customer_id} {self.requested_at:%Y-%m-%d}"


class NotMeReport(models.Model):
    """Someone proved they hold an address and said messages to it are not for them.

    The address is already suppressed when this row exists; staff review whether
    the customer record needs correcting.
    """

    kind = models.CharField(_("kind"), max_length=10)
    blind_index = models.CharField(_("identifier (blind index)"), max_length=64)
    masked = models.CharField(_("address (masked)"), max_length=64)
    contact_points = models.PositiveSmallIntegerField(_("contact points marked"))
    reported_at = models.DateTimeField(_("reported"), default=timezone.now)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.CharField(_("reviewed by"), max_length=150, blank=True)

    class Meta:
        ordering = ("-reported_at",)
        verbose_name = _("not-me report")
        verbose_name_plural = _("not-me reports")

    def __str__(self) -> str:
        return f"{self.masked} {self.reported_at:%Y-%m-%d}"


class NextOfKinReport(models.Model):
    """A relative's report that a customer has died, or their request for a care
    pause for the customer, waiting for staff to check it.

    Either holds marketing at once, through a care pause (``hold``); staff then
    confirm it (a death becomes permanent) or reject it (the hold ends and the pause
    it replaced, ``replaced_pause``, comes back)."""

    class Kind(models.TextChoices):
        DEATH = "death", _("Death reported")
        CARE_PAUSE = "care_pause", _("Care pause asked for")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for staff")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Not confirmed")

    class Relationship(models.TextChoices):
        SPOUSE = "spouse", _("Spouse or partner")
        CHILD = "child", _("Child")
        PARENT = "parent", _("Parent")
        SIBLING = "sibling", _("Brother or sister")
        EXECUTOR = "executor", _("Executor or legal representative")
        OTHER = "other", _("Other")

    kind = models.CharField(
        _("kind"), max_length=12, choices=Kind.choices, default=Kind.DEATH
    )
    customer_ref = models.CharField(
        _("customer reference given"), max_length=64, blank=True
    )
    identifier_index = models.CharField(
        _("deceased's phone or e-mail (blind index)"), max_length=64, blank=True
    )
    identifier_masked = models.CharField(
        _("phone or e-mail (masked)"), max_length=64, blank=True
    )
    deceased_name_encrypted = models.TextField(_("deceased's name (encrypted)"))
    reporter_name_encrypted = models.TextField(_("reporter's name (encrypted)"))
    reporter_contact_encrypted = models.TextField(_("reporter's contact (encrypted)"))
    relationship = models.CharField(
        _("relationship"), max_length=10, choices=Relationship.choices
    )
    document_reference_encrypted = models.TextField(_("document reference (encrypted)"))
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("matched customer"),
        on_delete=models.PROTECT,
        related_name="next_of_kin_reports",
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    pause_until = models.DateTimeField(_("pause asked until"), null=True, blank=True)
    pause_reason = models.CharField(
        _("pause reason"), max_length=12, choices=CarePause.Reason.choices, blank=True
    )
    hold = models.ForeignKey(
        CarePause,
        verbose_name=_("marketing held by"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    replaced_pause = models.ForeignKey(
        CarePause,
        verbose_name=_("customer's pause it replaced"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    reported_at = models.DateTimeField(_("reported"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    processed_by = models.CharField(_("processed by"), max_length=150, blank=True)

    class Meta:
        ordering = ("-reported_at",)
        verbose_name = _("next-of-kin report")
        verbose_name_plural = _("next-of-kin reports")

    def __str__(self) -> str:
        return f"{self.reported_at:%Y-%m-%d} {self.get_status_display()}"

    @staticmethod
    def _clear(value: str) -> str:
        from consent import crypto

        return crypto.decrypt(value) if value else ""

    @property
    def deceased_name(self) -> str:
        return self._clear(self.deceased_name_encrypted)

    @property
    def reporter_name(self) -> str:
        return self._clear(self.reporter_name_encrypted)

    @property
    def reporter_contact(self) -> str:
        return self._clear(self.reporter_contact_encrypted)

    @property
    def document_reference(self) -> str:
        return self._clear(self.document_reference_encrypted)


class IdentityCheck(models.Model):
    """Facts only the customer should know, asked for when a phone number or e-mail
    address belongs to several customers, so one holder cannot act as another.

    Both are stored encrypted and compared in constant time; either one is enough.
    """

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="identity_check",
        primary_key=True,
    )
    id_number_tail_encrypted = models.TextField(
        _("last four characters of the ID document number (encrypted)"), blank=True
    )
    birth_date_encrypted = models.TextField(_("date of birth (encrypted)"), blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("identity check")
        verbose_name_plural = _("identity checks")

    def __str__(self) -> str:
        return f"{self.customer_id}"


class SettingChange(models.Model):
    """A change of a preference that is not a consent (quiet hours, frequency caps,
    care pause, personalisation, language), for the customer's own history.

    Append-only in practice: rows are written by the portal actions and never
    edited. ``details`` holds codes and dates only, no personal data.
    """

    class Kind(models.TextChoices):
        CONTACT_SETTINGS = "contact_settings", _("Quiet hours and language")
        FREQUENCY_CAPS = "frequency_caps", _("Frequency cap")
        CARE_PAUSE_STARTED = "care_pause_started", _("Care pause started")
        CARE_PAUSE_ENDED = "care_pause_ended", _("Care pause ended")
        PERSONALISATION = "personalisation", _("Personalisation")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="setting_changes",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.CharField(_("actor"), max_length=200)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ("-occurred_at", "-pk")
        verbose_name = _("setting change")
        verbose_name_plural = _("setting changes")
        indexes = [
            models.Index(
                fields=("customer", "-occurred_at"), name="setting_change_history"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.occurred_at:%Y-%m-%d}"
