"""Shapes shared by several endpoints (documented once in the schema)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from consent.contactability import Reason


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Machine-readable error code."))
    message = serializers.CharField(help_text=_("Human-readable explanation."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_("Messages per input field (dotted paths for nested items)."),
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of every 4xx response."""

    error = ErrorDetailSerializer()


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="HH:MM")
    end = serializers.CharField(help_text="HH:MM")
    tz = serializers.CharField(help_text=_("IANA time zone of the window."))


class KeyStateSerializer(serializers.Serializer):
    """The full state of one (identifier, channel) key."""

    seq = serializers.IntegerField(help_text=_("Feed sequence of this state."))
    identifier = serializers.CharField(
        help_text=_("E.164 phone, lower-cased e-mail, token; or HMAC-SHA256 hex.")
    )
    channel = serializers.CharField()
    suppressed = serializers.BooleanField(
        help_text=_("True when no marketing topic may be sent.")
    )
    permitted_topics = serializers.ListField(child=serializers.CharField())
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=Reason.ALL),
        help_text=_("Why marketing is suppressed (empty when not suppressed)."),
    )
    paused_until = serializers.DateTimeField(allow_null=True)
    quiet_hours = QuietHoursSerializer(allow_null=True)
    max_per_week = serializers.IntegerField(allow_null=True)
    personalisation = serializers.BooleanField(
        help_text=_("False: no marketing selected by profiling.")
    )
    updated_at = serializers.DateTimeField()


class CheckItemErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CheckResultSerializer(serializers.Serializer):
    """The answer for one recipient of a check."""

    recipient = serializers.CharField(help_text=_("As sent."))
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=Reason.ALL))
    error = CheckItemErrorSerializer(
        allow_null=True, help_text=_("Set when the recipient is badly formed.")
    )
