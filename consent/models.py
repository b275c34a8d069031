"""The consent core: catalogue, customers, contact points, the ledger and the feed."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from consent import crypto
from consent.identifiers import AddressKind, mask


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an append-only row."""


class AppendOnlyModel(models.Model):
    """A row that is written once and never updated or deleted."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")


class BilingualNameMixin(models.Model):
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)

    class Meta:
        abstract = True

    @property
    def label(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


class Channel(BilingualNameMixin):
    """A way to reach a person: SMS, e-mail, app push, phone call, WeChat, post."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    address_kind = models.CharField(
        _("address kind"), max_length=10, choices=AddressKind.CHOICES
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ("position", "code")
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.code


# A topic's bit in ``CheckKey.permitted`` (a signed 64-bit integer).
MAX_TOPIC_BIT = 62

# Service topics that always reach the customer: nobody may mark them refusable.
ALWAYS_ON_TOPICS = frozenset({"security_alert"})
MSG_ALWAYS_ON = _("Security alerts are always sent; customers cannot switch them off.")
MSG_REFUSABLE_SERVICE_ONLY = _(
    "Only service topics can be marked as refusable; marketing topics always are."
)


class Topic(BilingualNameMixin):
    """What a message is about. Marketing topics need consent; service topics do not."""

    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SERVICE = "service", _("Service")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    held_by_care_pause = models.BooleanField(
        _("held by a care pause"),
        default=False,
        help_text=_("Service topics (collections) that a care pause can hold."),
    )
    customer_may_refuse = models.BooleanField(
        _("customer may switch off"),
        default=False,
        help_text=_(
            "Informational service messages that customers may switch off in the "
            "portal. Never for security alerts."
        ),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    bit = models.PositiveSmallIntegerField(
        _("bit"),
        unique=True,
        editable=False,
        validators=[MaxValueValidator(MAX_TOPIC_BIT)],
        help_text=_("The topic's place in the check's permission bitmask."),
    )

    class Meta:
        ordering = ("kind", "position", "code")
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(bit__lte=MAX_TOPIC_BIT), name="topic_bit_fits"
            ),
            models.CheckConstraint(
                condition=models.Q(customer_may_refuse=False)
                | (
                    models.Q(kind="service")
                    & ~models.Q(code__in=sorted(ALWAYS_ON_TOPICS))
                ),
                name="topic_refusable_service_only",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs) -> None:
        if self.bit is None:
            # Never reused while the topic exists: the next bit after the highest.
            highest = Topic.objects.aggregate(m=models.Max("bit"))["m"]
            self.bit = 0 if highest is None else highest + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.customer_may_refuse and self.code in ALWAYS_ON_TOPICS:
            raise ValidationError(
                {"customer_may_refuse": MSG_ALWAYS_ON}, code="always_on"
            )
        if self.customer_may_refuse and self.kind != self.Kind.SERVICE:
            raise ValidationError(
                {"customer_may_refuse": MSG_REFUSABLE_SERVICE_ONLY},
                code="refusable_service_only",
            )

    @property
    def is_refusable_service(self) -> bool:
        """A service topic the customer may switch off."""
        return (
            self.kind == self.Kind.SERVICE
            and self.customer_may_refuse
            and self.code not in ALWAYS_ON_TOPICS
        )

    @property
    def is_marketing(self) -> bool:
        return self.kind == self.Kind.MARKETING


class NoticeVersion(models.Model):
    """The exact consent wording a customer was shown, in one language."""

    code = models.SlugField(_("notice"), max_length=40, default="marketing")
    version = models.PositiveIntegerField(_("version"))
    language = models.CharField(_("language"), max_length=10)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False)
    effective_from = models.DateTimeField(_("effective from"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ("code", "-version", "language")
        verbose_name = _("notice version")
        verbose_name_plural = _("notice versions")
        constraints = [
            models.UniqueConstraint(
                fields=("code", "version", "language"), name="notice_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} ({self.language})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(
                "A notice version is never edited; publish a new one."
            )
        self.sha256 = hashlib.sha256(self.text.encode()).hexdigest()
        super().save(*args, **kwargs)


class Customer(models.Model):
    """A bank customer, with the minimum personal data the purpose needs."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DECEASED = "deceased", _("Deceased")
        ERASED = "erased", _("Erased")

    class Language(models.TextChoices):
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    external_ref = models.CharField(_("customer reference"), max_length=64, unique=True)
    display_name_encrypted = models.TextField(_("name (encrypted)"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=Language.choices,
        default=Language.ZH_HANS,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)

    class Meta:
        ordering = ("external_ref",)
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.external_ref

    @property
    def display_name(self) -> str:
        if not self.display_name_encrypted:
            return ""
        return crypto.decrypt(self.display_name_encrypted)

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.display_name_encrypted = crypto.encrypt(value) if value else ""


class ContactPointQuerySet(models.QuerySet):
    def for_identifier(self, kind: str, normalised: str) -> ContactPointQuerySet:
        return self.filter(blind_index=ContactPoint.index_for(kind, normalised))

    def active(self) -> ContactPointQuerySet:
        return self.filter(status=ContactPoint.Status.ACTIVE)


class ContactPoint(models.Model):
    """A customer's address on one kind of channel, encrypted at rest.

    Lookups go through ``blind_index`` (a keyed hash of kind and normalised value);
    the clear value is only ever decrypted to show it or to publish the suppression
    state of the address to sending systems.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        NOT_ME = "not_me", _("Not me (wrong recipient)")
        INVALID = "invalid", _("Invalid (bounced)")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="contact_points",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=AddressKind.CHOICES)
    address_encrypted = models.TextField(_("address (encrypted)"))
    blind_index = models.CharField(_("blind index"), max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    objects = ContactPointQuerySet.as_manager()

    class Meta:
        ordering = ("customer", "kind", "created_at")
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        constraints = [
            models.UniqueConstraint(
                fields=("customer", "blind_index"),
                name="contact_point_unique_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.masked}"

    @staticmethod
    def index_for(kind: str, normalised: str) -> str:
        return crypto.blind_index(f"{kind}:{normalised}")

    @property
    def address(self) -> str:
        return crypto.decrypt(self.address_encrypted) if self.address_encrypted else ""

    @property
    def masked(self) -> str:
        return mask(self.kind, self.address)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None


class SuppressedIdentifier(models.Model):
    """An identifier kept only as a keyed hash so it stays suppressed for good.

    Written when a customer is erased (their addresses are gone, the refusal stays),
    when someone proves an unknown number is theirs and says "not me", and when a
    number nobody on file holds replies STOP (for that channel only).

    ``not_me`` and ``deceased`` block everything sent to the identifier. ``erased``
    and ``stop`` keep a refusal of marketing only: a later verified holder is
    contacted for service messages, and for a marketing product only once they give
    their own consent after the refusal was recorded.
    """

    class Reason(models.TextChoices):
        ERASED = "erased", _("Customer data erased")
        NOT_ME = "not_me", _("Not me (unknown number)")
        DECEASED = "deceased", _("Customer deceased")
        STOP = "stop", _("Stop reply (unknown number)")

    # Reasons that refuse marketing until a later holder's own consent.
    MARKETING_ONLY = frozenset({Reason.ERASED, Reason.STOP})

    kind = models.CharField(_("kind"), max_length=10, choices=AddressKind.CHOICES)
    blind_index = models.CharField(_("blind index"), max_length=64)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Empty: every channel of the identifier's kind."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    review_pending = models.BooleanField(_("staff review pending"), default=False)

    class Meta:
        verbose_name = _("suppressed identifier")
        verbose_name_plural = _("suppressed identifiers")
        constraints = [
            models.UniqueConstraint(
                fields=("blind_index", "reason"),
                condition=models.Q(channel__isnull=True),
                name="suppressed_identifier_unique",
            ),
            models.UniqueConstraint(
                fields=("blind_index", "reason", "channel"),
                condition=models.Q(channel__isnull=False),
                name="suppressed_identifier_channel_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.blind_index[:12]}… ({self.reason})"


class ConsentEvent(AppendOnlyModel):
    """One entry of the consent ledger: a grant, a withdrawal or a contact change.

    The ledger is append-only (the model refuses updates and deletes and a database
    trigger rejects UPDATE and DELETE). Each row's ``hash`` is the SHA-256 of the
    previous row's hash and this row's canonical JSON, so any later edit breaks the
    chain and ``manage.py verify_ledger`` finds it.
    """

    class Action(models.TextChoices):
        GRANT = "grant", _("Consent granted")
        WITHDRAW = "withdraw", _("Consent withdrawn")
        OPT_OUT_ALL = "opt_out_all", _("Stopped all marketing")
        OPT_IN_ALL = "opt_in_all", _("Wants marketing again")
        CONTACT_ADDED = "contact_added", _("Contact point added")
        CONTACT_VERIFIED = "contact_verified", _("Contact point verified")
        CONTACT_REMOVED = "contact_removed", _("Contact point removed")
        CONTACT_NOT_ME = "contact_not_me", _("Reported as not me")
        CONTACT_INVALID = "contact_invalid", _("Contact point invalid")
        CONTACT_RESTORED = "contact_restored", _("Contact point restored")
        PREFERENCES_SET = "preferences_set", _("Quiet hours, channel or language set")
        FREQUENCY_CAPS_SET = "frequency_caps_set", _("Frequency caps set")
        PERSONALISATION_SET = "personalisation_set", _("Personalisation choice set")
        CARE_PAUSE_START = "care_pause_start", _("Care pause started")
        CARE_PAUSE_END = "care_pause_end", _("Care pause ended")
        PROFILE_TAGS_CLEARED = "profile_tags_cleared", _("Profile tags cleared")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Self-service portal")
        ONE_CLICK = "one_click", _("One-click unsubscribe")
        SMS_KEYWORD = "sms_keyword", _("SMS reply")
        WECHAT = "wechat", _("WeChat reply or unsubscribe")
        API = "api", _("Sending system")
        STAFF = "staff", _("Staff")
        CALL_CENTRE = "call_centre", _("Call centre")
        BRANCH = "branch", _("Branch")
        COMPLAINT = "complaint", _("Complaint")
        IMPORT = "import", _("Import")
        SYSTEM = "system", _("System")
        # A reply read from plain language that a reviewer found misread: only what
        # that reply withdrew comes back, each citing the customer's own grant.
        REPLY_REVIEW = "reply_review", _("Reply review (misread reply undone)")

    seq = models.BigIntegerField(_("sequence"), unique=True, editable=False)
    # Indexed with seq (Meta): a second index on customer alone would cost every
    # append a write at a random place.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="consent_events",
        db_index=False,
    )
    contact_point = models.ForeignKey(
        ContactPoint,
        verbose_name=_("contact point"),
        on_delete=models.PROTECT,
        related_name="consent_events",
        null=True,
        blank=True,
    )
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Empty means every channel."),
    )
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("topic"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Empty means every marketing topic."),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    actor = models.CharField(_("actor"), max_length=150)
    notice_version = models.ForeignKey(
        NoticeVersion,
        verbose_name=_("notice version"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    detail = models.JSONField(
        _("detail"),
        null=True,
        blank=True,
        help_text=_("The new values of a preference change (quiet hours, caps, …)."),
    )
    occurred_at = models.DateTimeField(_("occurred"))
    recorded_at = models.DateTimeField(_("recorded"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    # Not indexed: nothing looks a row up by its hash, and the chain, not an index,
    # is what makes the ledger tamper-evident (an index on random values cost
    # every append two writes at random places).
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        ordering = ("seq",)
        verbose_name = _("consent event")
        verbose_name_plural = _("consent ledger")
        indexes = [
            models.Index(fields=("customer", "seq"), name="consent_event_customer")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.customer_id}"


class LedgerHead(models.Model):
    """The positions of the ledger and the feed: the short ordering step at the end
    of every unit of work (``consent.unit``) locks this row, appends the ledger rows
    and the feed rows with the next sequence numbers, and commits. Everything else a
    change does happens before, under the customer's own row lock, so writers for
    different customers only meet here, for a few statements."""

    ledger_seq = models.BigIntegerField(default=0)
    ledger_hash = models.CharField(max_length=64, default="0" * 64)
    feed_seq = models.BigIntegerField(default=0)
    # Moved by every edit of channels and topics: workers keep the catalogue in
    # memory and reload it when the version they read with the keys differs.
    catalogue_version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("ledger head")

    def __str__(self) -> str:
        return f"ledger {self.ledger_seq}, feed {self.feed_seq}"


class LedgerCheckpoint(AppendOnlyModel):
    """A signed statement of the ledger's position and hash at one moment.

    Append-only and hash-chained to the previous checkpoint, signed with Ed25519
    (``LEDGER_SIGNING_KEY``) like a Certificate Transparency signed tree head.
    Exported copies (``manage.py export_checkpoints``) kept outside the database
    expose any later rewrite of the ledger, even of the whole table.
    """

    ledger_seq = models.BigIntegerField(_("ledger position"), unique=True)
    ledger_hash = models.CharField(_("ledger hash"), max_length=64)
    prev_hash = models.CharField(_("previous checkpoint hash"), max_length=64)
    hash = models.CharField(_("checkpoint hash"), max_length=64, unique=True)
    key_id = models.CharField(_("signing key"), max_length=16)
    signature = models.CharField(_("signature"), max_length=128)
    created_at = models.DateTimeField(_("sealed"))

    class Meta:
        ordering = ("ledger_seq",)
        verbose_name = _("ledger checkpoint")
        verbose_name_plural = _("ledger checkpoints")

    def __str__(self) -> str:
        return f"checkpoint @{self.ledger_seq}"


class ConsentStateQuerySet(models.QuerySet):
    def granted(self) -> ConsentStateQuerySet:
        return self.filter(status=ConsentState.Status.GRANTED)


class ConsentState(models.Model):
    """The current consent per (customer, channel, topic): a projection of the ledger.

    Absent means no consent. ``manage.py rebuild_consent_state`` replays the ledger and
    must arrive at exactly these rows.
    """

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    # Customer is looked up through consent_state_unique, event never: with no index
    # of their own, a change of status, source and event is a heap-only update.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="consent_states",
        db_index=False,
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    source = models.CharField(
        _("source"), max_length=20, choices=ConsentEvent.Source.choices
    )
    event = models.ForeignKey(
        ConsentEvent,
        verbose_name=_("last event"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # ledger rows are never deleted
    )
    updated_at = models.DateTimeField(_("updated"))

    objects = ConsentStateQuerySet.as_manager()

    class Meta:
        ordering = ("customer", "channel", "topic")
        verbose_name = _("consent state")
        verbose_name_plural = _("consent states")
        constraints = [
            models.UniqueConstraint(
                fields=("customer", "channel", "topic"), name="consent_state_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel_id}/{self.topic_id}: {self.status}"


class OptOut(models.Model):
    """A customer's "stop all marketing", projected from the ledger.

    Present means opted out of every marketing channel and topic; only the customer's
    own "I want marketing again" in the portal removes it.
    """

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="opt_out",
        primary_key=True,
    )
    event = models.ForeignKey(
        ConsentEvent,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    since = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("stop all marketing")
        verbose_name_plural = _("stop all marketing")

    def __str__(self) -> str:
        return f"{self.customer_id} opted out since {self.since:%Y-%m-%d}"


class Contactability(models.Model):
    """The computed contact decision for one (identifier, channel) key.

    A pure function of consents, contact point status and preferences, recomputed in
    the same transaction as every change. ``identifier`` is the published form of the
    address (E.164, lower-cased e-mail): this table *is* the suppression list shared
    with sending systems. When the person's data is erased it is cleared after a grace
    period (``ERASED_IDENTIFIER_GRACE_DAYS``), leaving only the blind index.
    """

    identifier = models.CharField(_("identifier"), max_length=512, blank=True)
    identifier_erase_at = models.DateTimeField(
        _("identifier erased at"),
        null=True,
        blank=True,
        help_text=_(
            "After its holder's data was erased, the identifier stays published until "
            "then so every sending system receives the final suppressed row."
        ),
    )
    blind_index = models.CharField(_("blind index"), max_length=64)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # indexed with seq (Meta)
    )
    suppressed = models.BooleanField(_("suppressed"))
    permitted_topics = models.JSONField(_("permitted topics"), default=list)
    reasons = models.JSONField(_("reasons"), default=list)
    topic_reasons = models.JSONField(
        _("reasons per topic"),
        default=dict,
        help_text=_("Why each topic that is not permitted is held."),
    )
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    quiet_hours = models.JSONField(_("quiet hours"), null=True, blank=True)
    max_per_week = models.PositiveIntegerField(
        _("max per 7 days"), null=True, blank=True
    )
    personalisation = models.BooleanField(_("personalisation allowed"), default=True)
    seq = models.BigIntegerField(_("feed sequence"))
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("contactability")
        verbose_name_plural = _("contactability")
        constraints = [
            models.UniqueConstraint(
                fields=("blind_index", "channel"), name="contactability_key_unique"
            )
        ]
        indexes = [models.Index(fields=("channel", "seq"), name="contactability_seq")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.blind_index[:12]}…"


class CheckKey(models.Model):
    """The check's narrow copy of a key, written with it in the ordering step.

    Only what a send-time answer needs, in fixed binary form, so the lookup of a
    batch stays in memory at bank scale: the blind index as 32 bytes, the permitted
    topics as a bitmask (``Topic.bit``), and per topic not permitted the reasons as
    a 16-bit mask (``consent.check_keys``).
    """

    pk = models.CompositePrimaryKey("channel_id", "digest")
    channel_id = models.PositiveSmallIntegerField(_("channel"))
    digest = models.BinaryField(_("blind index"), max_length=32)
    permitted = models.BigIntegerField(_("permitted topics (bitmask)"))
    held = models.BinaryField(_("reasons per topic (16-bit masks)"), default=b"")
    reasons = models.PositiveSmallIntegerField(_("reasons (mask)"), default=0)
    quiet_start = models.CharField(_("quiet from"), max_length=5, blank=True)
    quiet_end = models.CharField(_("quiet until"), max_length=5, blank=True)
    quiet_tz = models.CharField(_("time zone"), max_length=64, blank=True)
    max_per_week = models.PositiveSmallIntegerField(
        _("max per 7 days"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("check key")
        verbose_name_plural = _("check keys")

    def __str__(self) -> str:
        return f"{self.channel_id} {bytes(self.digest).hex()[:12]}…"


class SuppressionChange(AppendOnlyModel):
    """One row of the suppression feed: the full new state of a key when it changed.

    Append-only, with a gap-free sequence assigned in the ordering step at the end of
    a unit of work (under the ledger head lock, held only until commit), so rows
    become visible in ``seq`` order.
    """

    seq = models.BigIntegerField(_("sequence"), primary_key=True)
    key = models.ForeignKey(
        Contactability,
        verbose_name=_("key"),
        on_delete=models.PROTECT,
        related_name="changes",
    )
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # indexed with seq (Meta)
    )
    suppressed = models.BooleanField(_("suppressed"))
    permitted_topics = models.JSONField(_("permitted topics"), default=list)
    reasons = models.JSONField(_("reasons"), default=list)
    topic_reasons = models.JSONField(_("reasons per topic"), default=dict)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    quiet_hours = models.JSONField(_("quiet hours"), null=True, blank=True)
    max_per_week = models.PositiveIntegerField(
        _("max per 7 days"), null=True, blank=True
    )
    personalisation = models.BooleanField(_("personalisation allowed"), default=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ("seq",)
        verbose_name = _("suppression change")
        verbose_name_plural = _("suppression feed")
        indexes = [
            models.Index(fields=("channel", "seq"), name="suppression_change_channel")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.channel_id}"


# --- sending systems (suppression sync API) -------------------------------------------


class ApiClient(models.Model):
    """A sending system (SMS gateway, e-mail platform, push, dialer) using the API."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    channels = models.ManyToManyField(
        Channel, verbose_name=_("channels it may read"), related_name="api_clients"
    )
    is_active = models.BooleanField(_("active"), default=True)
    hmac_key_encrypted = models.TextField(
        _("HMAC key (encrypted)"),
        editable=False,
        help_text=_("The client's own key for identifier_format=hmac."),
    )
    rate_per_minute = models.PositiveIntegerField(_("requests per minute"), default=600)
    may_push_profile_tags = models.BooleanField(
        _("may push profile tags"),
        default=False,
        help_text=_(
            "Scope: the client may read and replace the profile tags it pushed for "
            "customers (personalisation)."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ("name",)
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self) -> str:
        return self.name

    @property
    def hmac_key(self) -> bytes:
        import base64

        return base64.urlsafe_b64decode(crypto.decrypt(self.hmac_key_encrypted))


class ApiKey(models.Model):
    """One key of a client, stored as a SHA-256 hash; the clear key is shown once."""

    client = models.ForeignKey(
        ApiClient,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="keys",
    )
    prefix = models.CharField(_("prefix"), max_length=12, db_index=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("Set when a key is rotated out."),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ("client", "-created_at")
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.client} {self.prefix}…"


class ProfileTag(models.Model):
    """A profile tag: a characteristic a bank system derived about a customer that
    marketing uses to choose what to offer (personalisation), such as "young
    family" or "frequent traveller".

    Each system pushes and replaces only its own tags. The customer sees every tag
    in the portal (label, which system, when) and can clear them; clearing is a
    ledger event (PIPL art. 24). A customer who refused personalisation gets none.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="profile_tags",
    )
    client = models.ForeignKey(
        ApiClient,
        verbose_name=_("set by"),
        on_delete=models.CASCADE,
        related_name="profile_tags",
    )
    code = models.SlugField(_("code"), max_length=64)
    label = models.CharField(_("label"), max_length=200)
    set_at = models.DateTimeField(_("set"))

    class Meta:
        ordering = ("customer", "client", "code")
        verbose_name = _("profile tag")
        verbose_name_plural = _("profile tags")
        constraints = [
            models.UniqueConstraint(
                fields=("customer", "client", "code"), name="profile_tag_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.client_id}:{self.code}"


class InboundEvent(models.Model):
    """An event a sending system pushed, kept once per (client, event id) so a repeat
    returns the first result and changes nothing."""

    class Type(models.TextChoices):
        SMS_REPLY = "sms_reply", _("SMS reply")
        EMAIL_UNSUBSCRIBE = "email_unsubscribe", _("E-mail unsubscribe")
        BOUNCE = "bounce", _("Bounce")
        SPAM_COMPLAINT = "spam_complaint", _("Spam complaint")
        SENT = "sent", _("Sent")
        WECHAT_REPLY = "wechat_reply", _("WeChat reply")
        WECHAT_UNSUBSCRIBE = "wechat_unsubscribe", _("WeChat unsubscribe")

    class ReviewStatus(models.TextChoices):
        PENDING = "pending", _("To review")
        CONFIRMED = "confirmed", _("Confirmed")
        UNDONE = "undone", _("Undone")

    client = models.ForeignKey(
        ApiClient,
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,  # inbound_event_idempotency leads with it
    )
    event_id = models.CharField(_("sender's event id"), max_length=100)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    blind_index = models.CharField(_("identifier (blind index)"), max_length=64)
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("topic"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    occurred_at = models.DateTimeField(_("occurred"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    effect = models.CharField(_("effect"), max_length=20, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    needs_review = models.BooleanField(_("needs review"), default=False)
    # The review queue of replies read from plain language (applied first).
    review_status = models.CharField(
        _("review"), max_length=10, choices=ReviewStatus.choices, blank=True
    )
    review_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("review owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    review_due_at = models.DateTimeField(_("review due"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.CharField(_("reviewed by"), max_length=150, blank=True)
    review_alerted_at = models.DateTimeField(
        _("overdue alert sent"), null=True, blank=True
    )

    class Meta:
        ordering = ("-received_at",)
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(
                fields=("client", "event_id"), name="inbound_event_idempotency"
            )
        ]
        indexes = [
            models.Index(
                fields=("review_status", "review_due_at"),
                name="inbound_event_review_queue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} {self.type} {self.event_id}"


class ReplyReviewQuerySet(models.QuerySet):
    def open(self) -> ReplyReviewQuerySet:
        return self.filter(review_status=InboundEvent.ReviewStatus.PENDING)

    def overdue(self, now) -> ReplyReviewQuerySet:
        return self.open().filter(review_due_at__lt=now)


class ReplyReviewManager(models.Manager.from_queryset(ReplyReviewQuerySet)):
    def get_queryset(self):
        return super().get_queryset().exclude(review_status="")


class ReplyReview(InboundEvent):
    """A reply read from plain language ("不需要", "wrong number"): applied at once
    (withdrawal beats grant), then a person confirms the reading or undoes it,
    within one business day. The work queue over the inbound events."""

    objects = ReplyReviewManager()

    class Meta:
        proxy = True
        ordering = ("review_due_at",)
        verbose_name = _("reply to review")
        verbose_name_plural = _("replies to review")


class SendRecord(models.Model):
    """A marketing send reported by a sending system, kept only for the frequency
    window (purged by a periodic task)."""

    blind_index = models.CharField(_("identifier (blind index)"), max_length=64)
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="+"
    )
    client = models.ForeignKey(
        ApiClient, verbose_name=_("client"), on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"))

    class Meta:
        verbose_name = _("send record")
        verbose_name_plural = _("send records")
        indexes = [
            models.Index(
                fields=("channel", "blind_index", "sent_at"), name="send_record_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.sent_at:%Y-%m-%d %H:%M}"


class Violation(models.Model):
    """A send to a key that was not permitted at that moment (after a withdrawal, to a
    not-me number, in a care pause or quiet hours)."""

    client = models.ForeignKey(
        ApiClient, verbose_name=_("sender"), on_delete=models.PROTECT, related_name="+"
    )
    event = models.OneToOneField(
        InboundEvent,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="+"
    )
    blind_index = models.CharField(_("identifier (blind index)"), max_length=64)
    reasons = models.JSONField(_("reasons"), default=list)
    sent_at = models.DateTimeField(_("sent"))
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    delay = models.DurationField(_("sent after withdrawal by"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ("-sent_at",)
        verbose_name = _("violation")
        verbose_name_plural = _("violations")

    def __str__(self) -> str:
        return f"{self.client} {self.channel_id} {self.sent_at:%Y-%m-%d %H:%M}"


# --- feed readers: how far behind each sending system is, and push delivery ----------


class SenderFeedPosition(models.Model):
    """Where a sending system stands in the suppression feed: the cursor it last read
    up to and when (a pull, a snapshot or a delivered webhook), recorded at most once
    a minute. A sender that has not read for longer than its bound may be sending to
    people who said stop: it is *stale*, and compliance officers are alerted."""

    client = models.OneToOneField(
        ApiClient,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="feed_position",
    )
    cursor = models.BigIntegerField(_("last cursor"), default=0)
    read_at = models.DateTimeField(_("last read"), null=True, blank=True)
    max_lag_minutes = models.PositiveIntegerField(
        _("stale after (minutes)"),
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_(
            "If the client has not read the feed for longer than this, it is shown "
            "as stale and compliance officers are alerted."
        ),
    )
    stale_alerted_at = models.DateTimeField(
        _("stale alert raised"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("feed position")
        verbose_name_plural = _("feed positions")

    def __str__(self) -> str:
        return f"{self.client_id} @{self.cursor}"


class WebhookEndpoint(models.Model):
    """A sending system's webhook: feed rows on its channels are pushed to ``url`` in
    seq order, signed with the Standard Webhooks scheme, at least once. ``cursor`` is
    the last seq the receiver acknowledged (2xx); delivery resumes after it."""

    class IdentifierFormat(models.TextChoices):
        CLEAR = "clear", _("clear")
        HMAC = "hmac", _("HMAC-SHA256 under the client's key")

    client = models.OneToOneField(
        ApiClient,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="webhook",
    )
    url = models.URLField(_("URL"), max_length=500)
    secret_encrypted = models.TextField(_("signing secret (encrypted)"), editable=False)
    identifier_format = models.CharField(
        _("identifiers"),
        max_length=10,
        choices=IdentifierFormat.choices,
        default=IdentifierFormat.CLEAR,
    )
    batch_size = models.PositiveIntegerField(
        _("rows per message"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    is_paused = models.BooleanField(_("paused"), default=False)
    cursor = models.BigIntegerField(_("delivered up to seq"), default=0)
    failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_until = models.DateTimeField(
        _("leased until"), null=True, blank=True, editable=False
    )
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ("client",)
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return f"{self.client} → {self.url}"


class WebhookDelivery(AppendOnlyModel):
    """One attempt to deliver one batch of feed rows to a webhook: the delivery log.

    Append-only. ``message_id`` (the ``webhook-id`` header) names the batch, so a
    retry of the same rows carries the same id."""

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("webhook"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    message_id = models.CharField(_("message id"), max_length=80)
    first_seq = models.BigIntegerField(_("first seq"))
    last_seq = models.BigIntegerField(_("last seq"))
    rows = models.PositiveIntegerField(_("rows"))
    attempt = models.PositiveIntegerField(_("attempt"))
    status_code = models.PositiveIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    delivered = models.BooleanField(_("delivered"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    created_at = models.DateTimeField(_("attempted"), default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(
                fields=("endpoint", "-created_at"), name="webhook_delivery_log"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.attempt}"


class ConsentRequest(models.Model):
    """Asking a customer for a marketing consent they have not given: a sending
    system's request (API) shown to the customer as a prompt in the portal.

    No nagging: after the customer refused that consent (a withdrawal, "stop all
    marketing", or "no" to an earlier prompt), asking again is refused for
    ``CONSENT_REQUEST_QUIET_DAYS``. The customer's own grant is always allowed.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the customer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="consent_requests",
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="+"
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="+"
    )
    client = models.ForeignKey(
        ApiClient,
        verbose_name=_("asking system"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(_("asked"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answer_event = models.ForeignKey(
        ConsentEvent,
        verbose_name=_("answer in the ledger"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("consent request")
        verbose_name_plural = _("consent requests")
        constraints = [
            models.UniqueConstraint(
                fields=("customer", "channel", "topic"),
                condition=models.Q(status="pending"),
                name="consent_request_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel_id}/{self.topic_id} {self.status}"
