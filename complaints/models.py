"""Complaints: intake, timeline, handling steps, reviews and escalations."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import crypto
from consent.models import BilingualNameMixin, Channel, ContactPoint, Customer, Topic


class Category(models.TextChoices):
    UNWANTED_MARKETING = "unwanted_marketing", _("Unwanted marketing (no consent)")
    TOO_FREQUENT = "too_frequent", _("Too frequent")
    WRONG_PERSON = "wrong_person", _("Wrong person / not me")
    BAD_TIMING = "bad_timing", _("Bad timing (night, hardship)")
    MISLEADING = "misleading", _("Misleading content")
    COLLECTIONS = "collections", _("Collections harassment")
    DATA_LEAK_FRAUD = "data_leak_fraud", _("Data leak or fraud suspicion")
    OTHER = "other", _("Other")


class RootCause(models.TextChoices):
    CONTENT = "content", _("Content")
    FREQUENCY = "frequency", _("Frequency")
    CONSENT_MISSING = "consent_missing", _("Consent missing")
    DATA_QUALITY = "data_quality", _("Data quality / wrong number")
    THIRD_PARTY = "third_party_sender", _("Third-party sender")
    STAFF_CONDUCT = "staff_conduct", _("Staff conduct")
    SYSTEM_FAULT = "system_fault", _("System fault")
    NO_FAULT = "no_fault", _("No fault found")


class IdentityVerification(models.TextChoices):
    """How sure we are, at intake, that the complainant is who they say they are."""

    PORTAL_SIGN_IN = "portal_sign_in", _("Signed in with a one-time code")
    STAFF_CHECKED = "staff_checked", _("Checked by staff against identity documents")
    SIGNED_LINK = "signed_link", _("Holder of the address a signed link was sent to")
    SENDING_SYSTEM = "sending_system", _("Reported by a sending system")
    NOT_VERIFIED = "not_verified", _("Not verified")


class BusinessUnit(BilingualNameMixin):
    """A part of the bank a complaint can name: a branch, a sales team, a call centre.

    Staff who belong to a unit named in a complaint neither handle nor review it.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff in this unit"),
        related_name="business_units",
        blank=True,
    )

    class Meta:
        ordering = ("code",)
        verbose_name = _("business unit")
        verbose_name_plural = _("business units")

    def __str__(self) -> str:
        return self.label


class Matter(models.Model):
    """One matter many customers complain about together (a campaign, an incident).

    When the customers on a matter reach the major-complaint threshold, every
    complaint on it is flagged major and supervisors are alerted at once.
    """

    title = models.CharField(_("title"), max_length=200)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    major_since = models.DateTimeField(_("major since"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("matter")
        verbose_name_plural = _("matters")

    def __str__(self) -> str:
        return self.title


class ComplaintQuerySet(models.QuerySet):
    def open(self) -> ComplaintQuerySet:
        return self.filter(status__in=Complaint.OPEN_STATUSES)

    def overdue(self, now=None) -> ComplaintQuerySet:
        return self.open().filter(
            due_at__lt=now or timezone.now(), paused_at__isnull=True
        )

    def due_within(self, hours: int | None = None, now=None) -> ComplaintQuerySet:
        """Open, running and due within ``COMPLAINT_DUE_SOON_HOURS`` (or ``hours``)."""
        if hours is None:
            hours = settings.COMPLAINT_DUE_SOON_HOURS
        now = now or timezone.now()
        return self.open().filter(
            due_at__gte=now,
            due_at__lt=now + timedelta(hours=hours),
            paused_at__isnull=True,
        )

    def visible_to_customer(self, customer: Customer) -> ComplaintQuerySet:
        return self.filter(customer=customer)


class Complaint(models.Model):
    """A complaint about messages we sent (or failed to stop), from receipt to closure.

    Status changes only through ``complaints.services``; each one lands on the
    complaint's timeline with the actor and the time.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        INVESTIGATING = "investigating", _("Investigating")
        RESOLVED = "resolved", _("Resolved")
        REJECTED = "rejected", _("Rejected")
        CLOSED = "closed", _("Closed")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Self-service portal")
        REPORT_LINK = "report_link", _("Report-this-message link")
        PHONE = "phone", _("Phone")
        BRANCH = "branch", _("Branch")
        LETTER = "letter", _("Letter")
        REGULATOR = "regulator", _("Regulator referral")
        SENDING_SYSTEM = "sending_system", _("Sending system spam report")
        SEND_AUDIT = "send_audit", _("Send audit")

    class Outcome(models.TextChoices):
        UPHELD = "upheld", _("Upheld")
        PARTLY_UPHELD = "partly_upheld", _("Partly upheld")
        NOT_UPHELD = "not_upheld", _("Not upheld")

    OPEN_STATUSES = (Status.RECEIVED, Status.ACKNOWLEDGED, Status.INVESTIGATING)
    DECIDED_STATUSES = (Status.RESOLVED, Status.REJECTED)

    # NULL (not "") until the row has its id, so concurrent inserts never collide.
    reference = models.CharField(  # noqa: DJ001
        _("reference"), max_length=20, unique=True, null=True, editable=False
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="complaints",
        null=True,
        blank=True,
    )
    contact_point = models.ForeignKey(
        ContactPoint,
        verbose_name=_("contact point concerned"),
        on_delete=models.PROTECT,
        related_name="complaints",
        null=True,
        blank=True,
    )
    contact_kind = models.CharField(
        _("reply address kind"),
        max_length=10,
        blank=True,
        help_text=_("For a complainant who is not a customer."),
    )
    contact_address_encrypted = models.TextField(
        _("reply address (encrypted)"), blank=True
    )
    contact_blind_index = models.CharField(
        _("reply address (blind index)"), max_length=64, blank=True, db_index=True
    )
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.OTHER
    )
    suggested_category = models.CharField(
        _("suggested category"), max_length=20, choices=Category.choices, blank=True
    )
    classification_evidence = models.JSONField(
        _("classification evidence"), default=list, blank=True
    )
    description = models.TextField(_("description"))
    message_excerpt = models.TextField(_("message excerpt"), blank=True)
    message_received_at = models.DateTimeField(
        _("message arrived"), null=True, blank=True
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    external_id = models.CharField(
        _("sender's event id"), max_length=100, blank=True, editable=False
    )
    complainant_count = models.PositiveIntegerField(
        _("complainants"),
        default=1,
        help_text=_("More than one for a joint complaint."),
    )
    violation = models.ForeignKey(
        "consent.Violation",
        verbose_name=_("send violation"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    matter = models.ForeignKey(
        Matter,
        verbose_name=_("matter"),
        on_delete=models.SET_NULL,
        related_name="complaints",
        null=True,
        blank=True,
    )
    is_major = models.BooleanField(_("major complaint"), default=False)
    identity_verification = models.CharField(
        _("identity verification"),
        max_length=20,
        choices=IdentityVerification.choices,
        default=IdentityVerification.NOT_VERIFIED,
    )
    report_token_hash = models.CharField(
        _("report link (keyed hash)"), max_length=64, blank=True, editable=False
    )
    named_units = models.ManyToManyField(
        BusinessUnit,
        verbose_name=_("business units named in the complaint"),
        related_name="complaints_named_in",
        blank=True,
    )
    named_staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff named in the complaint"),
        related_name="complaints_named_in",
        blank=True,
    )

    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.RECEIVED
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        on_delete=models.PROTECT,
        related_name="complaints_assigned",
        null=True,
        blank=True,
    )
    policy = models.CharField(_("deadline policy"), max_length=10, editable=False)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    clock_started_at = models.DateTimeField(_("clock started"), default=timezone.now)
    ack_due_at = models.DateTimeField(_("acknowledgement due"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(
        _("first response due"), null=True, blank=True
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True, db_index=True)
    deadline_provisional = models.BooleanField(
        _("deadline provisional"),
        default=False,
        help_text=_(
            "The holiday calendar does not yet cover the deadline: the earliest "
            "possible date is used until it does."
        ),
    )
    extension_step = models.PositiveSmallIntegerField(_("extension step"), default=0)
    extension_reason = models.TextField(_("extension reason"), blank=True)
    paused_at = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    pause_reason = models.CharField(_("pause reason"), max_length=20, blank=True)
    paused_total = models.DurationField(_("time paused"), default=timedelta)

    outcome = models.CharField(
        _("outcome"), max_length=15, choices=Outcome.choices, blank=True
    )
    findings = models.TextField(_("findings"), blank=True)
    reasons = models.TextField(_("reasons"), blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decision_sent_at = models.DateTimeField(_("decision sent"), null=True, blank=True)
    root_cause = models.CharField(
        _("root cause"), max_length=20, choices=RootCause.choices, blank=True
    )
    remediation_action = models.TextField(_("remediation action"), blank=True)
    remediation_owner = models.CharField(
        _("remediation owner"), max_length=150, blank=True
    )
    remediation_due_on = models.DateField(_("remediation due"), null=True, blank=True)
    remediation_done_on = models.DateField(_("remediation done"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction"), null=True, blank=True
    )
    satisfaction_comment = models.TextField(_("satisfaction comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)

    protection = models.JSONField(
        _("protection applied at intake"), default=list, blank=True
    )
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        ordering = ("due_at", "pk")
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        constraints = [
            models.UniqueConstraint(
                fields=("source", "external_id"),
                condition=~models.Q(external_id=""),
                name="complaint_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=("report_token_hash",),
                condition=~models.Q(report_token_hash=""),
                name="complaint_one_per_report_link",
            ),
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True)
                | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="complaint_satisfaction_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=("status", "due_at"), name="complaint_queue"),
            models.Index(fields=("received_at",), name="complaint_received"),
        ]

    def __str__(self) -> str:
        return self.reference or f"#{self.pk}"

    @property
    def contact_address(self) -> str:
        if not self.contact_address_encrypted:
            return ""
        return crypto.decrypt(self.contact_address_encrypted)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def resolved_in_time(self) -> bool | None:
        if self.decision_sent_at is None or self.due_at is None:
            return None
        return self.decision_sent_at <= self.due_at


class ComplaintEvent(models.Model):
    """One entry on a complaint's timeline. Append-only: never edited or deleted."""

    class Kind(models.TextChoices):
        RECEIVED = "received", _("Received")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        PROTECTION = "protection", _("Protection applied")
        CATEGORY = "category", _("Category corrected")
        MESSAGE = "message", _("Message to customer")
        EXTENSION_REQUESTED = "extension_requested", _("Extension requested")
        EXTENDED = "extended", _("Deadline extended")
        PAUSED = "paused", _("Clock paused")
        RESUMED = "resumed", _("Clock resumed")
        NEW_FACTS = "new_facts", _("New facts (clock restarted)")
        MATTER = "matter", _("Linked to a matter")
        MAJOR = "major", _("Flagged major")
        ESCALATED = "escalated", _("Escalated")
        REVIEW = "review", _("Review")
        RATED = "rated", _("Rated by customer")
        DEADLINE = "deadline", _("Deadline recalculated")
        REMEDIATION = "remediation", _("Remediation")

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    from_status = models.CharField(_("from"), max_length=15, blank=True)
    to_status = models.CharField(_("to"), max_length=15, blank=True)
    actor = models.CharField(_("actor"), max_length=150)
    detail = models.TextField(_("detail"), blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ("at", "pk")
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Timeline entries are append-only.")
        super().save(*args, **kwargs)

    @property
    def to_status_label(self) -> str:
        if self.to_status in Complaint.Status.values:
            return Complaint.Status(self.to_status).label
        return self.to_status


class ComplaintNote(models.Model):
    """An internal note: staff only, never shown to the customer."""

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="notes",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    text = models.TextField(_("note"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ("created_at", "pk")
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.created_at:%Y-%m-%d %H:%M}"


class ComplaintMessage(models.Model):
    """A message to the customer (shown in the portal and sent through the sender).

    ``sent_at`` is set only once the sender accepted it: the proof of sending that
    decides whether a deadline was met.
    """

    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement")
        REPLY = "reply", _("Reply")
        EXTENSION = "extension", _("Extension notice")
        PAUSE = "pause", _("Clock pause notice")
        DECISION = "decision", _("Decision letter")
        REVIEW_DECISION = "review_decision", _("Review decision")

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="messages",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    author = models.CharField(_("author"), max_length=150)
    recipient = models.CharField(_("recipient (masked)"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ("created_at", "pk")
        verbose_name = _("message to customer")
        verbose_name_plural = _("messages to customer")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind}"


class ComplaintExtension(models.Model):
    """A deadline extension within the policy's steps; the last step needs a
    supervisor's approval before it applies."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting supervisor approval")
        APPROVED = "approved", _("Approved")

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="extensions",
    )
    step = models.PositiveSmallIntegerField(_("step"))
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)

    class Meta:
        ordering = ("complaint", "step")
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")
        constraints = [
            models.UniqueConstraint(
                fields=("complaint", "step"), name="complaint_extension_step_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} step {self.step} ({self.status})"


class ComplaintReview(models.Model):
    """A customer's request to review the decision, decided by a different handler
    on its own clock."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", _("Decision confirmed")
        CHANGED = "changed", _("Decision changed")

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="reviews",
    )
    reason = models.TextField(_("reason"))
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.PROTECT,
        related_name="complaint_reviews",
        null=True,
        blank=True,
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, blank=True
    )
    decision = models.TextField(_("review decision"), blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        ordering = ("-requested_at",)
        verbose_name = _("review request")
        verbose_name_plural = _("review requests")

    def __str__(self) -> str:
        return f"{self.complaint_id} review {self.requested_at:%Y-%m-%d}"


class Escalation(models.Model):
    """A complaint flagged to supervisors, recorded once per (kind, deadline) so a
    periodic run never alerts twice for the same breach."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("Due soon")
        DUE_IN_DAYS = "due_in_days", _("Due in a few days (T-n alert)")
        OVERDUE = "overdue", _("Overdue")
        MAJOR = "major", _("Major complaint")
        ACK_OVERDUE = "ack_overdue", _("Not acknowledged in time")
        REVIEW_DUE_SOON = "review_due_soon", _("Review due soon")
        REVIEW_OVERDUE = "review_overdue", _("Review overdue")

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="escalations",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField(_("deadline concerned"))
    created_at = models.DateTimeField(_("escalated"), default=timezone.now)
    notified = models.PositiveIntegerField(_("supervisors notified"), default=0)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(
                fields=("complaint", "kind", "due_at"), name="escalation_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind}"


class Calendar(models.Model):
    """The rest days of one deadline policy's jurisdiction.

    Seeded from maintained sources (``holidays`` for the UK and the US, China's
    official schedule with its make-up working days from ``chinesecalendar``) and
    edited by staff when a new year is published. ``covered_until`` says how far the
    days are known: beyond it, deadlines take the earliest date they could have.
    """

    class Code(models.TextChoices):
        CN = "cn", _("China")
        UK = "uk", _("United Kingdom")
        US = "us", _("United States")

    code = models.CharField(
        _("policy"), max_length=10, choices=Code.choices, unique=True
    )
    covered_until = models.DateField(
        _("known until"),
        help_text=_("The last day for which holidays and working days are entered."),
    )
    has_make_up_workdays = models.BooleanField(
        _("has make-up working days"),
        default=False,
        help_text=_("Weekends can be working days (China)."),
    )
    source = models.CharField(_("source"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ("code",)
        verbose_name = _("holiday calendar")
        verbose_name_plural = _("holiday calendars")

    def __str__(self) -> str:
        return str(self.get_code_display())


class CalendarDay(models.Model):
    """A public holiday, or a weekend day worked in its place (make-up working day)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKDAY = "workday", _("Make-up working day")

    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar"),
        on_delete=models.CASCADE,
        related_name="days",
    )
    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ("calendar", "day")
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [
            models.UniqueConstraint(
                fields=("calendar", "day"), name="calendar_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.calendar_id} {self.day} {self.kind}"


class RegulatorCode(models.Model):
    """How one of our values is coded in the regulator's complaint statistics
    (product, sub-product, issue and sub-issue, in the style of JR/T 0169)."""

    class Dimension(models.TextChoices):
        PRODUCT = "product", _("Product")
        SUB_PRODUCT = "sub_product", _("Sub-product")
        ISSUE = "issue", _("Issue")
        SUB_ISSUE = "sub_issue", _("Sub-issue")

    dimension = models.CharField(
        _("dimension"), max_length=15, choices=Dimension.choices
    )
    value = models.CharField(
        _("our value"),
        max_length=40,
        help_text=_(
            "Topic kind (product), topic code (sub-product), category (issue) or "
            "root cause (sub-issue)."
        ),
    )
    code = models.CharField(_("regulator code"), max_length=20)
    label = models.CharField(_("regulator label"), max_length=100)

    class Meta:
        ordering = ("dimension", "code")
        verbose_name = _("regulator code")
        verbose_name_plural = _("regulator codes")
        constraints = [
            models.UniqueConstraint(
                fields=("dimension", "value"), name="regulator_code_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class RightsRequestQuerySet(models.QuerySet):
    def open(self) -> RightsRequestQuerySet:
        return self.filter(status__in=RightsRequest.OPEN_STATUSES)

    def overdue(self, now=None) -> RightsRequestQuerySet:
        return self.open().filter(due_at__lt=now or timezone.now())


class RightsRequest(models.Model):
    """A customer's request to see, correct or delete their personal information
    (PIPL arts. 44-47, GDPR arts. 15-17), answered within 30 days.

    The customer is told at once that we have it; more time needs an extension
    notice with reasons before the 30 days end (at most three months in all); a
    refusal gives reasons and the route to complain. Changes go through
    ``complaints.services.rights``.
    """

    class Kind(models.TextChoices):
        ACCESS = "access", _("Access to my personal information")
        CORRECTION = "correction", _("Correction of my personal information")
        DELETION = "deletion", _("Deletion of my personal information")

    class Status(models.TextChoices):
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        EXTENDED = "extended", _("Extended")
        COMPLETED = "completed", _("Completed")
        REFUSED = "refused", _("Refused")

    OPEN_STATUSES = (Status.ACKNOWLEDGED, Status.EXTENDED)

    reference = models.CharField(  # noqa: DJ001
        _("reference"), max_length=20, unique=True, null=True, editable=False
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="rights_requests",
    )
    kind = models.CharField(_("request"), max_length=15, choices=Kind.choices)
    details = models.TextField(_("details"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=15,
        choices=Status.choices,
        default=Status.ACKNOWLEDGED,
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), db_index=True)
    extension_reason = models.TextField(_("extension reason"), blank=True)
    extended_at = models.DateTimeField(_("extended"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        on_delete=models.PROTECT,
        related_name="rights_requests_assigned",
        null=True,
        blank=True,
    )
    outcome = models.TextField(_("what we did"), blank=True)
    refusal_reasons = models.TextField(_("reasons for refusal"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    erasure_request = models.ForeignKey(
        "preferences.ErasureRequest",
        verbose_name=_("erasure request"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    overdue_alerted_at = models.DateTimeField(
        _("overdue alert sent"), null=True, blank=True
    )

    objects = RightsRequestQuerySet.as_manager()

    class Meta:
        ordering = ("due_at", "pk")
        verbose_name = _("rights request")
        verbose_name_plural = _("rights requests")

    def __str__(self) -> str:
        return self.reference or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class RightsRequestMessage(models.Model):
    """A notice to the customer about their rights request (shown in the portal and
    sent through the sender)."""

    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement")
        EXTENSION = "extension", _("Extension notice")
        REFUSAL = "refusal", _("Refusal with reasons")
        COMPLETION = "completion", _("Completion notice")

    request = models.ForeignKey(
        RightsRequest,
        verbose_name=_("rights request"),
        on_delete=models.CASCADE,
        related_name="messages",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    author = models.CharField(_("author"), max_length=150)
    recipient = models.CharField(_("recipient (masked)"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ("created_at", "pk")
        verbose_name = _("notice to customer")
        verbose_name_plural = _("notices to customer")

    def __str__(self) -> str:
        return f"{self.request_id} {self.kind}"
