"""``POST /api/v1/events``: what sending systems tell us (replies, unsubscribes,
bounces, spam complaints, sends)."""

from __future__ import annotations

import copy
import functools
from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from consent import inbound
from consent.api.authentication import require_channel
from consent.api.base import ClientApiView
from consent.api.serializers import ErrorSerializer
from consent.catalogue import catalogue
from consent.contactability import Reason
from consent.identifiers import AddressKind, normalise
from consent.ledger import Evidence
from consent.models import Channel, InboundEvent, Topic
from consent.services import UnsubscribeScope

MSG_UNKNOWN_CHANNEL = _("Unknown channel '%(code)s'.")
MSG_CHANNEL_KIND = _("Events of this type need a channel for %(kind)s addresses.")
MSG_UNKNOWN_TOPIC = _("Unknown topic '%(code)s'.")
MSG_SERVICE_TOPIC = _("Service topics cannot be unsubscribed from.")
MSG_IN_FUTURE = _("The time is in the future.")
MSG_TOO_OLD = _("The time is more than a year ago.")
MSG_BLANK_EVENT_ID = _("The event id must not be blank.")

# Senders' clocks drift; a little ahead is accepted, more is a bad timestamp.
CLOCK_SKEW = timedelta(minutes=5)
# A backlog replayed after an outage is accepted; older is a bad timestamp.
MAX_AGE = timedelta(days=365)

Type = InboundEvent.Type


class _EventInput(serializers.Serializer):
    """Fields every event carries. ``channel`` defaults per type; the recipient is
    normalised for the channel's kind of address (E.164, lower-cased e-mail)."""

    default_channel: str | None = "email"
    address_kind: str | None = None
    topic_required = False
    marketing_topic_only = False

    type = serializers.ChoiceField(choices=Type.choices)
    event_id = serializers.CharField(
        max_length=100,
        help_text=_("The sender's own id for the event; a repeat is answered once."),
    )
    recipient = serializers.CharField(
        max_length=512,
        help_text=_("Phone (E.164 or national, CN by default) or e-mail address."),
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text=_("When it happened; defaults to now.")
    )

    def get_fields(self):
        # Plain fields, never changed per request: a copy each, bound to this
        # serializer, instead of DRF's re-instantiation of every field (a STOP
        # storm validates thousands of these a second). Fields with children
        # keep DRF's deep copy.
        return {
            name: copy.deepcopy(field) if hasattr(field, "child") else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    def validate_event_id(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError(MSG_BLANK_EVENT_ID)
        return value

    def validate_occurred_at(self, value):
        now = timezone.now()
        if value > now + CLOCK_SKEW:
            raise serializers.ValidationError(MSG_IN_FUTURE)
        if value < now - MAX_AGE:
            raise serializers.ValidationError(MSG_TOO_OLD)
        return value

    def _channel(self, attrs) -> Channel:
        code = attrs.get("channel") or self.default_channel
        channel = catalogue().channel(code)
        if channel is None:
            raise serializers.ValidationError(
                {"channel": [MSG_UNKNOWN_CHANNEL % {"code": code}]}
            )
        if self.address_kind and channel.address_kind != self.address_kind:
            raise serializers.ValidationError(
                {"channel": [MSG_CHANNEL_KIND % {"kind": self.address_kind}]}
            )
        return channel

    def _topic(self, attrs) -> Topic | None:
        code = attrs.get("topic")
        if not code:
            return None
        topic = catalogue().topic(code)
        if topic is None:
            raise serializers.ValidationError(
                {"topic": [MSG_UNKNOWN_TOPIC % {"code": code}]}
            )
        if self.marketing_topic_only and not topic.is_marketing:
            raise serializers.ValidationError({"topic": [MSG_SERVICE_TOPIC]})
        return topic

    def validate(self, attrs):
        channel = self._channel(attrs)
        topic = self._topic(attrs)
        try:
            identifier = normalise(channel.address_kind, attrs["recipient"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"recipient": exc.messages}) from exc
        return inbound.InboundEventIn(
            type=attrs["type"],
            event_id=attrs["event_id"],
            channel=channel,
            identifier=identifier,
            occurred_at=attrs.get("occurred_at") or timezone.now(),
            occurred_at_given="occurred_at" in attrs,
            topic=topic,
            text=attrs.get("text", ""),
            bounce_type=attrs.get("bounce_type", ""),
            detail={k: attrs[k] for k in ("diagnostic", "scope") if attrs.get(k)},
            scope=attrs.get("scope") or UnsubscribeScope.PRODUCT,
        )


@extend_schema_serializer(component_name="InboundEventViolation")
class ViolationSerializer(serializers.Serializer):
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=Reason.ALL))
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    delay_seconds = serializers.IntegerField(
        allow_null=True, help_text=_("How long after the withdrawal it was sent.")
    )


class InboundEventCreateApi(ClientApiView):
    """Receive one event from a sending system and apply it in one transaction."""

    class SmsReplyInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.SMS_REPLY])
        default_channel = "sms"
        address_kind = AddressKind.PHONE

        channel = serializers.SlugField(required=False, default="sms")
        text = serializers.CharField(
            max_length=1600,
            allow_blank=True,
            trim_whitespace=False,
            help_text=_("The reply as received (STOP, 退订, TD, START, HELP, …)."),
        )

    class EmailUnsubscribeInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.EMAIL_UNSUBSCRIBE])
        address_kind = AddressKind.EMAIL
        marketing_topic_only = True

        channel = serializers.SlugField(required=False, default="email")
        topic = serializers.SlugField(
            required=False,
            allow_blank=True,
            help_text=_("The marketing topic of the list, when known; else all."),
        )
        scope = serializers.ChoiceField(
            choices=UnsubscribeScope.choices,
            required=False,
            help_text=_(
                "product (default, and the meaning of an RFC 8058 one-click POST): "
                "the product of the list the message came from, or all marketing "
                "e-mail when the list's product is not given; channel: all "
                "marketing e-mail; all: all marketing on every channel."
            ),
        )

    class WechatReplyInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.WECHAT_REPLY])
        default_channel = "wechat"
        address_kind = AddressKind.WECHAT

        channel = serializers.SlugField(required=False, default="wechat")
        recipient = serializers.CharField(
            max_length=512,
            help_text=_("The follower's OpenID for the official account."),
        )
        text = serializers.CharField(
            max_length=1600,
            allow_blank=True,
            trim_whitespace=False,
            help_text=_("The message as received (TD, 退订, STOP, START, HELP, …)."),
        )

    class WechatUnsubscribeInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.WECHAT_UNSUBSCRIBE])
        default_channel = "wechat"
        address_kind = AddressKind.WECHAT
        marketing_topic_only = True

        channel = serializers.SlugField(required=False, default="wechat")
        recipient = serializers.CharField(
            max_length=512,
            help_text=_("The follower's OpenID for the official account."),
        )
        topic = serializers.SlugField(
            required=False,
            allow_blank=True,
            help_text=_(
                "The marketing topic of the refused template messages, when known; "
                "else all marketing on WeChat (the follower left the account)."
            ),
        )

    class BounceInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.BOUNCE])
        channel = serializers.SlugField(required=False, default="email")
        bounce_type = serializers.ChoiceField(
            choices=(inbound.HARD, inbound.SOFT),
            help_text=_("hard: the address does not exist; soft: try again later."),
        )
        diagnostic = serializers.CharField(
            max_length=300,
            required=False,
            allow_blank=True,
            help_text=_("The remote server's diagnostic code, if any."),
        )

    class SpamComplaintInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.SPAM_COMPLAINT])
        marketing_topic_only = True

        channel = serializers.SlugField(required=False, default="email")
        topic = serializers.SlugField(required=False, allow_blank=True)

    class SentInput(_EventInput):
        type = serializers.ChoiceField(choices=[Type.SENT])
        default_channel = None

        channel = serializers.SlugField()
        topic = serializers.SlugField(help_text=_("What the message was about."))

    class TypeInput(serializers.Serializer):
        type = serializers.ChoiceField(choices=Type.choices)

    @extend_schema_serializer(component_name="InboundEventResult")
    class OutputSerializer(serializers.Serializer):
        event_id = serializers.CharField()
        type = serializers.ChoiceField(choices=Type.choices)
        channel = serializers.CharField()
        effect = serializers.ChoiceField(
            choices=inbound.EFFECTS,
            help_text=_(
                "not_me, stop, start, help or none for SMS and WeChat replies "
                "(not_me: the reply says the number is not the addressee's, and "
                "everything to it stops); withdraw "
                "(unsubscribes, spam complaints); invalidate (hard bounce); "
                "recorded or violation for sends."
            ),
        )
        needs_review = serializers.BooleanField(
            help_text=_(
                "A stop or not-me read from plain language rather than a keyword: "
                "applied now, and reviewed by staff within one business day."
            )
        )
        customers = serializers.IntegerField(
            help_text=_("Customers linked to the recipient.")
        )
        consents_changed = serializers.IntegerField(
            help_text=_(
                "Consent cells (customer, channel, product) actually changed: a "
                "withdrawal of what was already withdrawn changes none."
            )
        )
        contact_points_changed = serializers.IntegerField(
            help_text=_(
                "Contact points marked invalid by a hard bounce, or marked not-me "
                "by a reply saying the number is not the addressee's."
            )
        )
        reply_text = serializers.CharField(
            allow_null=True,
            help_text=_(
                "At most one text to send back to the recipient (no marketing)."
            ),
        )
        reply_withheld = serializers.ChoiceField(
            choices=[inbound.REPLY_ALREADY_CONFIRMED],
            allow_null=True,
            required=False,
            help_text=_(
                "Why no reply text is to be sent: already_confirmed (this opt-out "
                "was confirmed in the last 24 hours)."
            ),
        )
        violation = ViolationSerializer(allow_null=True)
        complaints = serializers.ListField(child=serializers.CharField())
        feed_seq = serializers.IntegerField(
            allow_null=True,
            help_text=_("The feed position that carries the change, if any."),
        )

    @classmethod
    @functools.cache
    def _output_fields(cls) -> tuple[str, ...]:
        return tuple(cls.OutputSerializer().fields)

    INPUTS = {
        Type.SMS_REPLY: SmsReplyInput,
        Type.EMAIL_UNSUBSCRIBE: EmailUnsubscribeInput,
        Type.BOUNCE: BounceInput,
        Type.SPAM_COMPLAINT: SpamComplaintInput,
        Type.SENT: SentInput,
        Type.WECHAT_REPLY: WechatReplyInput,
        Type.WECHAT_UNSUBSCRIBE: WechatUnsubscribeInput,
    }

    @extend_schema(
        operation_id="events_create",
        summary="Push an inbound event",
        description=(
            "Idempotent by `event_id` per client: a repeat returns the first result "
            "(same status, header `Idempotent-Replayed: true`) and changes nothing. "
            "The change is in the suppression feed when the response arrives."
        ),
        request=PolymorphicProxySerializer(
            component_name="InboundEventInput",
            serializers={str(k): v for k, v in INPUTS.items()},
            resource_type_field_name="type",
        ),
        responses={
            201: OutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad input."),
            401: OpenApiResponse(ErrorSerializer, description="No or bad API key."),
            403: OpenApiResponse(ErrorSerializer, description="Channel not in scope."),
            429: OpenApiResponse(ErrorSerializer, description="Rate limit."),
        },
        examples=[
            OpenApiExample(
                "STOP reply",
                request_only=True,
                value={
                    "type": "sms_reply",
                    "event_id": "gw-7f3a1",
                    "recipient": "+8613800138000",
                    "text": "退订",
                    "occurred_at": "2026-11-23T09:30:00+08:00",
                },
            ),
            OpenApiExample(
                "START reply",
                request_only=True,
                value={
                    "type": "sms_reply",
                    "event_id": "gw-7f3a2",
                    "recipient": "+8613800138000",
                    "text": "START",
                },
            ),
            OpenApiExample(
                "One-click unsubscribe",
                request_only=True,
                value={
                    "type": "email_unsubscribe",
                    "event_id": "esp-901",
                    "recipient": "li.wei@example.com",
                    "topic": "credit_card",
                },
            ),
            OpenApiExample(
                "Unsubscribe from all marketing e-mail",
                request_only=True,
                value={
                    "type": "email_unsubscribe",
                    "event_id": "esp-904",
                    "recipient": "li.wei@example.com",
                    "topic": "credit_card",
                    "scope": "channel",
                },
            ),
            OpenApiExample(
                "WeChat reply",
                request_only=True,
                value={
                    "type": "wechat_reply",
                    "event_id": "wx-5521",
                    "recipient": "oQ1xv5Zp3K8mW2dHfE7tYcN4bLsA",
                    "text": "TD",
                },
            ),
            OpenApiExample(
                "WeChat unsubscribe",
                request_only=True,
                value={
                    "type": "wechat_unsubscribe",
                    "event_id": "wx-5522",
                    "recipient": "oQ1xv5Zp3K8mW2dHfE7tYcN4bLsA",
                },
            ),
            OpenApiExample(
                "Hard bounce",
                request_only=True,
                value={
                    "type": "bounce",
                    "event_id": "esp-902",
                    "recipient": "li.wei@example.com",
                    "bounce_type": "hard",
                    "diagnostic": "550 5.1.1 user unknown",
                },
            ),
            OpenApiExample(
                "Spam complaint",
                request_only=True,
                value={
                    "type": "spam_complaint",
                    "event_id": "esp-903",
                    "recipient": "li.wei@example.com",
                },
            ),
            OpenApiExample(
                "Sent",
                request_only=True,
                value={
                    "type": "sent",
                    "event_id": "gw-8812",
                    "channel": "sms",
                    "recipient": "+8613800138000",
                    "topic": "credit_card",
                    "occurred_at": "2026-11-23T10:00:00+08:00",
                },
            ),
            OpenApiExample(
                "Stop applied",
                response_only=True,
                status_codes=["201"],
                value={
                    "event_id": "gw-7f3a1",
                    "type": "sms_reply",
                    "channel": "sms",
                    "effect": "stop",
                    "needs_review": False,
                    "customers": 1,
                    "consents_changed": 1,
                    "contact_points_changed": 0,
                    "reply_text": "您已退订营销短信，将不再收到此类信息。"
                    "如需恢复，请回复START。",
                    "reply_withheld": None,
                    "violation": None,
                    "complaints": [],
                    "feed_seq": 1042,
                },
            ),
            OpenApiExample(
                "Send after a withdrawal",
                response_only=True,
                status_codes=["201"],
                value={
                    "event_id": "gw-8812",
                    "type": "sent",
                    "channel": "sms",
                    "effect": "violation",
                    "needs_review": False,
                    "customers": 1,
                    "consents_changed": 0,
                    "contact_points_changed": 0,
                    "reply_text": None,
                    "violation": {
                        "reasons": ["withdrawn"],
                        "withdrawn_at": "2026-11-22T08:00:00+00:00",
                        "delay_seconds": 7200,
                    },
                    "complaints": [],
                    "feed_seq": None,
                },
            ),
            OpenApiExample(
                "Bad recipient",
                response_only=True,
                status_codes=["400"],
                value={
                    "error": {
                        "code": "invalid",
                        "message": "The request is not valid; see the fields.",
                        "fields": {
                            "recipient": [
                                "Enter a valid phone number, e.g. 138 0013 8000 "
                                "or +44 7911 123456."
                            ]
                        },
                    }
                },
            ),
            OpenApiExample(
                "Unknown unsubscribe scope",
                response_only=True,
                status_codes=["400"],
                value={
                    "error": {
                        "code": "invalid",
                        "message": "The request is not valid; see the fields.",
                        "fields": {"scope": ['"everything" is not a valid choice.']},
                    }
                },
            ),
            OpenApiExample(
                "No key",
                response_only=True,
                status_codes=["401"],
                value={
                    "error": {
                        "code": "not_authenticated",
                        "message": "Send your API key as "
                        "'Authorization: Bearer <key>'.",
                        "fields": {},
                    }
                },
            ),
            OpenApiExample(
                "Channel out of scope",
                response_only=True,
                status_codes=["403"],
                value={
                    "error": {
                        "code": "permission_denied",
                        "message": "This client may not read the channel 'email'.",
                        "fields": {},
                    }
                },
            ),
            OpenApiExample(
                "Too many requests",
                response_only=True,
                status_codes=["429"],
                value={
                    "error": {
                        "code": "throttled",
                        "message": "Request was throttled. Expected "
                        "available in 12 seconds.",
                        "fields": {},
                    }
                },
            ),
        ],
        tags=["events"],
    )
    def post(self, request):
        body = request.data
        kind = body.get("type") if isinstance(body, dict) else None
        input_class = self.INPUTS.get(kind) if isinstance(kind, str) else None
        if input_class is None:  # the type's own error, in the documented shape
            checked = self.TypeInput(data=body)
            checked.is_valid(raise_exception=True)
            input_class = self.INPUTS[checked.validated_data["type"]]
        serializer = input_class(data=body)
        serializer.is_valid(raise_exception=True)
        data: inbound.InboundEventIn = serializer.validated_data
        require_channel(request.auth, data.channel.code)
        event, replayed = inbound.inbound_event_handle(
            client=request.auth, data=data, evidence=Evidence.from_request(request)
        )
        # The stored result is JSON already, in the documented shape: passed on as
        # it is, limited to the documented fields (the serializer documents it).
        result = event.result
        response = Response(
            {name: result[name] for name in self._output_fields() if name in result},
            status=status.HTTP_201_CREATED,
        )
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response
