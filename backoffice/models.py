"""Back-office security records: the staff access log, anomaly alerts and four-eyes
approval requests."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.models import ApiClient, AppendOnlyModel, Channel, Customer, Violation


class AccessLog(AppendOnlyModel):
    """One staff action on customer data: a record opened, a list searched, fields
    changed, an export made or a contact address unmasked.

    Append-only: the model refuses updates and deletes, the admin is read-only for
    everyone and a database trigger refuses UPDATE. Only the retention purge removes
    rows older than ``ACCESS_LOG_RETENTION_DAYS``.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed")
        SEARCH = "search", _("Searched")
        CHANGE = "change", _("Changed")
        EXPORT = "export", _("Exported")
        UNMASK = "unmask", _("Unmasked")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    # No constraint and no cascade: the entry outlives the account, keeping its id
    # and username.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    username = models.CharField(_("username"), max_length=150, db_index=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    customer_ref = models.CharField(
        _("customer reference"), max_length=64, blank=True, db_index=True
    )
    fields = models.JSONField(_("fields"), default=list, blank=True)
    search_hash = models.CharField(
        _("search (keyed hash)"),
        max_length=64,
        blank=True,
        help_text=_("A keyed hash of the search terms: the terms are not kept."),
    )
    result_count = models.PositiveIntegerField(_("results"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [
            models.Index(fields=("customer_ref", "at"), name="access_log_customer"),
            models.Index(fields=("username", "action", "at"), name="access_log_user"),
        ]
        permissions = [
            ("unmask_contact", _("Can show a masked contact address")),
            ("export_data", _("Can export lists")),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.object_type} {self.object_id}"


class AnomalyAlert(models.Model):
    """A staff member's unusual access pattern, for compliance officers to review."""

    class Rule(models.TextChoices):
        CHANGE_BURST = "change_burst", _("Many customers changed or unmasked")
        SEARCH_BURST = "search_burst", _("Many different searches")
        OFF_HOURS_EXPORT = "off_hours_export", _("Export outside working hours")
        SENDER_STALE = "sender_stale", _("Sending system not reading the feed")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        REVIEWED = "reviewed", _("Reviewed")

    created_at = models.DateTimeField(_("raised"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    username = models.CharField(_("username"), max_length=150)
    rule = models.CharField(_("rule"), max_length=20, choices=Rule.choices)
    count = models.PositiveIntegerField(_("count"))
    threshold = models.PositiveIntegerField(_("threshold"))
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    reviewed_by = models.CharField(_("reviewed by"), max_length=150, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("anomaly alert")
        verbose_name_plural = _("anomaly alerts")

    def __str__(self) -> str:
        return f"{self.username} {self.rule} ({self.count})"


class ApprovalRequest(models.Model):
    """A sensitive operation waiting for a second staff member (four-eyes approval).

    Nothing in ``payload`` takes effect until another staff member approves; the
    requester can never approve their own request.
    """

    class Kind(models.TextChoices):
        CONTACT_RESTORE = "contact_restore", _("Clear a not-me or invalid flag")
        CONSENT_RESTORE = "consent_restore", _("Restore marketing consent")
        CONSENT_IMPORT = "consent_import", _("Bulk import of consents")
        API_CLIENT_CHANNELS = "api_client_channels", _("API client channels")
        API_KEY_ROTATE = "api_key_rotate", _("API key rotation")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Approved, failed to apply")

    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    summary = models.CharField(_("summary"), max_length=300)
    reason = models.TextField(_("reason"))
    payload = models.JSONField(_("payload"), default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)
    result = models.JSONField(_("result report"), default=dict, blank=True)

    class Meta:
        ordering = ("-requested_at",)
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        permissions = [("approve_approvalrequest", _("Can approve or reject requests"))]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="approval_not_self_decided",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.get_status_display()})"


class SendIncident(models.Model):
    """Sends a sending system made to a key that did not permit them, one incident
    per (sending system, key, day): compliance officers are told when it opens and
    close it once the sender's cause is found and fixed."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    client = models.ForeignKey(
        ApiClient,
        verbose_name=_("sending system"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    blind_index = models.CharField(_("identifier (blind index)"), max_length=64)
    day = models.DateField(_("day"))
    first_violation = models.ForeignKey(
        Violation,
        verbose_name=_("first violation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    violation_count = models.PositiveIntegerField(_("violations"), default=1)
    last_sent_at = models.DateTimeField(_("last send"))
    opened_at = models.DateTimeField(_("opened"), default=timezone.now, db_index=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    closed_by = models.CharField(_("closed by"), max_length=150, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ("client", "-opened_at")
        verbose_name = _("send incident")
        verbose_name_plural = _("send incidents")
        constraints = [
            models.UniqueConstraint(
                fields=("client", "channel", "blind_index", "day"),
                name="send_incident_per_client_key_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.channel_id} {self.blind_index[:12]}… {self.day}"


class AssistedRecord(AppendOnlyModel):
    """A customer's wish taken by the call centre or at a branch and recorded at once,
    without a second approver: it only ever stops or holds contact (a withdrawal,
    "not me", a care pause). The call or visit reference is the evidence, kept here
    and in the ledger rows it wrote. Append-only."""

    class Kind(models.TextChoices):
        WITHDRAWAL = "withdrawal", _("Withdrawal of marketing consent")
        NOT_ME = "not_me", _("Not me (wrong recipient)")
        CARE_PAUSE = "care_pause", _("Care pause")

    class Via(models.TextChoices):
        CALL_CENTRE = "call_centre", _("Call centre")
        BRANCH = "branch", _("Branch")

    class OnBehalfOf(models.TextChoices):
        CUSTOMER = "customer", _("The customer")
        NEXT_OF_KIN = "next_of_kin", _("Next of kin")

    kind = models.CharField(_("what was recorded"), max_length=12, choices=Kind.choices)
    via = models.CharField(_("taken by"), max_length=12, choices=Via.choices)
    reference = models.CharField(_("call or visit reference"), max_length=100)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    on_behalf_of = models.CharField(
        _("asked by"),
        max_length=12,
        choices=OnBehalfOf.choices,
        default=OnBehalfOf.CUSTOMER,
    )
    relationship = models.CharField(_("relationship"), max_length=40, blank=True)
    summary = models.CharField(_("summary"), max_length=300)
    ledger_events = models.JSONField(_("ledger rows (ids)"), default=list, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        ordering = ("-recorded_at",)
        verbose_name = _("call centre or branch record")
        verbose_name_plural = _("call centre and branch records")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"
