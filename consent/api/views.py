"""Suppression sync endpoints for sending systems (DESIGN.md, "Suppression sync")."""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from consent import feed_wait, selectors
from consent.api import snapshot
from consent.api.authentication import client_channel_ids, require_channel
from consent.api.base import ClientApiView
from consent.api.schema import (
    THROTTLED,
    UNAUTHENTICATED,
    documented_bad_request,
    documented_error,
)
from consent.api.serializers import (
    CheckResultSerializer,
    KeyStateSerializer,
)
from consent.catalogue import catalogue
from consent.feed_positions import sender_feed_read_record, sender_lag
from consent.models import Channel, Topic
from consent.replica import read_from_replica

MAX_PAGE = 10_000
DEFAULT_PAGE = 1_000
MAX_RECIPIENTS = 1_000

MSG_UNKNOWN_CHANNEL = _("Unknown channel.")
MSG_UNKNOWN_TOPIC = _("Unknown topic.")
MSG_TOO_MANY = _("At most %(max)d recipients per call.")

FORMAT_CHOICES = (("clear", _("clear")), ("hmac", _("HMAC-SHA256 under your key")))

SAMPLE_STATE = {
    "seq": 1042,
    "identifier": "+8613800138000",
    "channel": "sms",
    "suppressed": True,
    "permitted_topics": ["repayment_reminder", "security_alert"],
    "reasons": ["withdrawn"],
    "paused_until": None,
    "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Asia/Shanghai"},
    "max_per_week": 3,
    "personalisation": True,
    "updated_at": "2026-11-23T08:15:02.120000Z",
}


AUTH_ERRORS = {
    401: UNAUTHENTICATED,
    403: documented_error(
        "The key's client may not read this channel.",
        "permission_denied",
        "This client may not read the channel 'voice'.",
    ),
    429: THROTTLED,
}


def _channel_param(required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(
        "channel",
        str,
        required=required,
        description="Channel code (sms, email, push, voice, wechat, post). "
        "Default: every channel the key may read.",
    )


IDENTIFIER_FORMAT = OpenApiParameter(
    "identifier_format",
    str,
    enum=["clear", "hmac"],
    description="clear (E.164, lower-cased e-mail) or hmac (HMAC-SHA256 hex of the "
    "normalised identifier under your client's HMAC key).",
)


class RecipientsField(serializers.Field):
    """A list of up to 1,000 strings, checked in one pass: a ListField of CharFields
    runs a dozen validator calls per item, which showed in the check's server time.
    A badly formed single recipient is answered per item, not here."""

    default_error_messages = {
        "not_a_list": _("Expected a list of strings."),
        "empty": _("Send at least one recipient."),
        "too_many": MSG_TOO_MANY,
        "bad_item": _("Each recipient is a string of at most 512 characters."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > MAX_RECIPIENTS:
            raise serializers.ValidationError(MSG_TOO_MANY % {"max": MAX_RECIPIENTS})
        for item in data:
            if not isinstance(item, str) or len(item) > 512 or "\x00" in item:
                self.fail("bad_item")
        return [item.strip() for item in data]

    def to_representation(self, value):
        return value


class ScopedQuery(serializers.Serializer):
    channel = serializers.CharField(required=False, max_length=20)
    identifier_format = serializers.ChoiceField(choices=FORMAT_CHOICES, default="clear")


def _scope(request, channel: str | None) -> dict[int, str]:
    """Channel ids (to codes) the request reads: one channel, or all in scope."""
    client = request.auth
    in_scope = client_channel_ids(client)
    if not channel:
        return {pk: code for code, pk in in_scope.items()}
    if channel not in in_scope and not Channel.objects.filter(code=channel).exists():
        # Looked up only off the common path: a poll costs one scope query.
        raise serializers.ValidationError({"channel": [MSG_UNKNOWN_CHANNEL]})
    return {require_channel(client, channel): channel}


def _hmac_key(request, fmt: str) -> bytes | None:
    return request.auth.hmac_key if fmt == "hmac" else None


class SuppressionChangesApi(ClientApiView):
    """Follow the feed: keyset pages in seq order, each row a key's full new state."""

    class InputSerializer(ScopedQuery):
        after = serializers.IntegerField(required=False, default=0, min_value=0)
        limit = serializers.IntegerField(
            required=False, default=DEFAULT_PAGE, min_value=1, max_value=MAX_PAGE
        )
        wait = serializers.IntegerField(
            required=False, default=0, min_value=0, max_value=feed_wait.MAX_WAIT
        )

    @extend_schema_serializer(component_name="ChangesPage")
    class OutputSerializer(serializers.Serializer):
        results = KeyStateSerializer(many=True)
        next = serializers.URLField(
            allow_null=True, help_text=_("The next page, when this one was full.")
        )
        last_seq = serializers.IntegerField(
            help_text=_("Pass as after= next time (the given after when empty).")
        )

    @extend_schema(
        operation_id="suppression_changes",
        tags=["suppression"],
        summary="Follow suppression changes",
        description="Feed rows after `after` in sequence order. The cursor is the "
        "integer `seq` of the last row you applied: rows are numbered as they "
        "commit, so asking again with `after=last_seq` never skips a row, and "
        "applying pages in order leaves exactly the latest state of every key. "
        "Start from a snapshot's `X-Feed-Seq`. With `wait=N` (up to 30 s) an empty "
        "page is held until a row commits or N seconds pass (long polling). Fail "
        "closed when stale: if you cannot read the feed for longer than your bound "
        "(`max_lag_seconds` in "
        "`suppression/status`), stop marketing sends until you have caught up.",
        parameters=[
            _channel_param(),
            OpenApiParameter("after", int, description="Last seq you have (0: start)."),
            OpenApiParameter("limit", int, description="1..10000, default 1000."),
            OpenApiParameter(
                "wait",
                int,
                description="Seconds to hold an empty page for the next row (0..30).",
            ),
            IDENTIFIER_FORMAT,
        ],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[
                    OpenApiExample(
                        "page",
                        value={
                            "results": [SAMPLE_STATE],
                            "next": None,
                            "last_seq": 1042,
                        },
                    )
                ],
            ),
            400: documented_bad_request({"after": ["A valid integer is required."]}),
            **AUTH_ERRORS,
        },
    )
    def get(self, request):
        query = self.InputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        if data["wait"]:
            # On the primary: a standby does not deliver NOTIFY.
            feed_wait.feed_wait(
                after=data["after"],
                channel_ids=_scope(request, data.get("channel")),
                seconds=data["wait"],
            )
        # Read replica (consent/replica.py): the page is read there when it is
        # fresh enough; the cursor is valid on either.
        with read_from_replica():
            response, last_seq = self._page(request, data)
        # Sender lag: written to the primary, at most once a minute per client.
        sender_feed_read_record(client=request.auth, cursor=last_seq)
        return response

    def _page(self, request, data) -> tuple[HttpResponse | Response, int]:
        channel_ids = _scope(request, data.get("channel"))
        page = {
            "channel_ids": channel_ids,
            "after": data["after"],
            "limit": data["limit"],
            "hmac_key": _hmac_key(request, data["identifier_format"]),
        }
        if connection.vendor == "postgresql":
            rows, last = selectors.suppression_changes_json(**page)
            last_seq = data["after"] if last is None else last
            tail = {"next": self._next(request, rows, data, last_seq)}
            tail["last_seq"] = last_seq
            # Rows arrive as JSON text: splice them in rather than decode and
            # re-encode up to 10,000 objects.
            body = '{"results":[' + ",".join(rows) + "]," + json.dumps(tail)[1:]
            return HttpResponse(body, content_type="application/json"), last_seq
        rows = selectors.suppression_changes(**page)
        last_seq = rows[-1]["seq"] if rows else data["after"]
        response = Response(
            {
                "results": rows,
                "next": self._next(request, rows, data, last_seq),
                "last_seq": last_seq,
            }
        )
        return response, last_seq

    @staticmethod
    def _next(request, rows, data, last_seq) -> str | None:
        if len(rows) < data["limit"]:
            return None
        params = {k: v for k, v in request.query_params.items() if k != "after"}
        params["after"] = last_seq
        return request.build_absolute_uri(
            f"{reverse('api:suppression-changes')}?{urlencode(params)}"
        )


class SuppressionSnapshotApi(ClientApiView):
    """Every key's current state, streamed, read in one consistent snapshot."""

    class InputSerializer(ScopedQuery):
        format = serializers.ChoiceField(
            choices=(("ndjson", "ndjson"), ("csv", "csv")), default="ndjson"
        )

    @extend_schema(
        operation_id="suppression_snapshot",
        tags=["suppression"],
        summary="Download the full suppression state",
        description="Streams one line per key: NDJSON (one KeyState object per line) "
        "or CSV with a header (`permitted_topics` and `reasons` space-separated, "
        "booleans as t/f). The `X-Feed-Seq` header is the feed position the snapshot "
        "was read at: continue with `changes?after=<X-Feed-Seq>` and nothing is "
        "missed. The CSV is for machines: identifiers are byte-exact, as stored, "
        "so a value may start with `=`, `+`, `-` or `@`. Do not open it in a "
        "spreadsheet, which would read such a value as a formula.",
        parameters=[
            _channel_param(),
            OpenApiParameter("format", str, enum=["ndjson", "csv"]),
            IDENTIFIER_FORMAT,
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One JSON object (KeyState) per line. Header X-Feed-Seq.",
                examples=[
                    OpenApiExample(
                        "ndjson",
                        value='{"seq":1042,"identifier":"+8613800138000","channel":"sms",'
                        '"suppressed":true,"permitted_topics":["security_alert"],'
                        '"reasons":["withdrawn"],"paused_until":null,"quiet_hours":null,'
                        '"max_per_week":null,"personalisation":true,'
                        '"updated_at":"2026-11-23T08:15:02.120000Z"}\n',
                    )
                ],
            ),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="CSV with a header line. Header X-Feed-Seq.",
                examples=[
                    OpenApiExample(
                        "csv",
                        value=selectors.CSV_HEADER
                        + "1042,+8613800138000,sms,t,security_alert,withdrawn,,,,t,"
                        "2026-11-23T08:15:02.120000Z\n",
                    )
                ],
            ),
            400: documented_bad_request({"format": ['"xml" is not a valid choice.']}),
            **AUTH_ERRORS,
        },
    )
    def get(self, request):
        query = self.InputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        # Read replica: the snapshot's own connection is opened on the chosen server.
        with read_from_replica():
            channel_ids = _scope(request, data.get("channel"))
            stream = snapshot.snapshot_open(
                channel_ids=channel_ids,
                fmt=data["format"],
                hmac_key=_hmac_key(request, data["identifier_format"]),
            )
        # Sender lag: a snapshot brings the client's copy up to its X-Feed-Seq.
        sender_feed_read_record(client=request.auth, cursor=stream.feed_seq)
        content_type = (
            "text/csv; charset=utf-8"
            if data["format"] == "csv"
            else "application/x-ndjson; charset=utf-8"
        )
        response = StreamingHttpResponse(stream.blocks, content_type=content_type)
        response["X-Feed-Seq"] = str(stream.feed_seq)
        response["Cache-Control"] = "no-store"
        return response

    def perform_content_negotiation(self, request, force=False):
        # ``format`` is this endpoint's own parameter, not DRF's renderer override.
        return super().perform_content_negotiation(request, force=True)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, StreamingHttpResponse):
            return response  # DRF's renderer negotiation does not apply to a stream
        return super().finalize_response(request, response, *args, **kwargs)


class SuppressionCheckApi(ClientApiView):
    """Check a batch of recipients for one channel and topic before a send."""

    class InputSerializer(serializers.Serializer):
        channel = serializers.CharField(max_length=20)
        topic = serializers.CharField(max_length=40)
        at = serializers.DateTimeField(
            required=False,
            help_text=_("Planned send time (default now), for quiet hours and caps."),
        )
        identifier_format = serializers.ChoiceField(
            choices=FORMAT_CHOICES, default="clear"
        )
        recipients = RecipientsField()

        def validate_channel(self, value: str) -> Channel:
            channel = catalogue().channel(value)
            if channel is None:
                raise serializers.ValidationError(MSG_UNKNOWN_CHANNEL)
            return channel

        def validate_topic(self, value: str) -> Topic:
            topic = catalogue().topic(value)
            if topic is None:
                raise serializers.ValidationError(MSG_UNKNOWN_TOPIC)
            return topic

    @extend_schema_serializer(component_name="CheckAnswer")
    class OutputSerializer(serializers.Serializer):
        channel = serializers.CharField()
        topic = serializers.CharField()
        at = serializers.DateTimeField(help_text=_("The time the answers hold for."))
        results = CheckResultSerializer(
            many=True, help_text=_("One per recipient, in order.")
        )

    @extend_schema(
        operation_id="suppression_check",
        tags=["suppression"],
        summary="Check recipients before a send",
        description="Up to 1,000 recipients for one channel and topic. Each gets "
        "`allowed` and reason codes; a badly formed recipient gets an `error` and the "
        "rest of the batch is still answered. Unknown recipients are `no_consent` for "
        "marketing topics. Quiet hours are evaluated at `at` in the key's time zone; "
        "the frequency cap counts `sent` events of the last 7 days.",
        request={
            "application/json": {
                "type": "object",
                "required": ["channel", "topic", "recipients"],
                "properties": {
                    "channel": {"type": "string", "example": "sms"},
                    "topic": {"type": "string", "example": "credit_card"},
                    "at": {"type": "string", "format": "date-time"},
                    "identifier_format": {"type": "string", "enum": ["clear", "hmac"]},
                    "recipients": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 512},
                        "minItems": 1,
                        "maxItems": MAX_RECIPIENTS,
                    },
                },
            }
        },
        examples=[
            OpenApiExample(
                "batch",
                request_only=True,
                value={
                    "channel": "sms",
                    "topic": "credit_card",
                    "at": "2026-11-23T10:00:00Z",
                    "recipients": ["+8613800138000", "13900139000", "not-a-number"],
                },
            )
        ],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[
                    OpenApiExample(
                        "answers",
                        value={
                            "channel": "sms",
                            "topic": "credit_card",
                            "at": "2026-11-23T10:00:00.000000Z",
                            "results": [
                                {
                                    "recipient": "+8613800138000",
                                    "allowed": True,
                                    "reasons": [],
                                    "error": None,
                                },
                                {
                                    "recipient": "13900139000",
                                    "allowed": False,
                                    "reasons": ["withdrawn"],
                                    "error": None,
                                },
                                {
                                    "recipient": "not-a-number",
                                    "allowed": False,
                                    "reasons": [],
                                    "error": {
                                        "code": "phone_invalid",
                                        "message": "Enter a valid phone number.",
                                    },
                                },
                            ],
                        },
                    )
                ],
            ),
            # Documentation text, built at import: keep it out of the translated
            # message so no request language is frozen into it.
            400: documented_bad_request(
                {"recipients": [f"At most {MAX_RECIPIENTS} recipients per call."]}
            ),
            **AUTH_ERRORS,
        },
    )
    def post(self, request):
        # Read replica, causal: only a replica that holds the primary's newest feed
        # row as of this request (every STOP already acknowledged) answers a check.
        with read_from_replica(causal=True):
            return self._check(request)

    def _check(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        channel: Channel = data["channel"]
        require_channel(request.auth, channel.code)
        items = selectors.recipients_resolve(
            kind=channel.address_kind,
            recipients=data["recipients"],
            channel_id=channel.pk,
            hmac_key=_hmac_key(request, data["identifier_format"]),
        )
        at = data.get("at") or timezone.now()
        results = selectors.recipients_check(
            channel=channel, topic=data["topic"], items=items, at=at
        )
        return Response(
            {
                "channel": channel.code,
                "topic": data["topic"].code,
                "at": selectors.iso(at),
                "results": results,
            }
        )


FAIL_CLOSED = (
    "**Fail closed when stale.** Your copy of the suppression list is only as good "
    "as your last successful read. `last_read_at` is when the centre last saw you "
    "read the feed (a `changes` page, a snapshot or a delivered webhook; recorded "
    "at most once a minute) and `cursor` the seq you had then. If you cannot read "
    "the feed for longer than `max_lag_seconds` after your last successful read, "
    "stop every marketing send until you have caught up: a refusal may be waiting "
    "in the feed. Past that bound the centre shows you as `stale` to compliance "
    "officers and alerts them. Service messages (security alerts, repayment "
    "reminders) are not held by this rule; check them with `check`."
)


class SuppressionStatusApi(ClientApiView):
    """How fresh the feed is, and how far behind it this client is."""

    @extend_schema_serializer(component_name="FeedStatus")
    class OutputSerializer(serializers.Serializer):
        last_seq = serializers.IntegerField(
            help_text=_("Newest feed seq on the channels the key may read.")
        )
        last_change_at = serializers.DateTimeField(allow_null=True)
        channels = serializers.ListField(child=serializers.CharField())
        cursor = serializers.IntegerField(
            allow_null=True,
            help_text=_("The seq you had read up to when last recorded (null: never)."),
        )
        last_read_at = serializers.DateTimeField(
            allow_null=True, help_text=_("When you last read the feed (null: never).")
        )
        lag_seconds = serializers.IntegerField(
            allow_null=True, help_text=_("Seconds since your last recorded read.")
        )
        max_lag_seconds = serializers.IntegerField(
            help_text=_(
                "Your bound: past this long without a successful read, stop "
                "marketing sends until you have caught up."
            )
        )
        status = serializers.ChoiceField(
            choices=("never", "current", "stale"),
            help_text=_("stale: you are past your bound and must fail closed."),
        )

    @extend_schema(
        operation_id="suppression_status",
        tags=["suppression"],
        summary="Newest feed position and your own lag",
        description=FAIL_CLOSED,
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[
                    OpenApiExample(
                        "status",
                        value={
                            "last_seq": 1042,
                            "last_change_at": "2026-11-23T08:15:02.120000Z",
                            "channels": ["email", "sms"],
                            "cursor": 1040,
                            "last_read_at": "2026-11-23T08:14:40.000000Z",
                            "lag_seconds": 25,
                            "max_lag_seconds": 900,
                            "status": "current",
                        },
                    )
                ],
            ),
            401: AUTH_ERRORS[401],
            429: AUTH_ERRORS[429],
        },
    )
    def get(self, request):
        channel_ids = _scope(request, None)
        status = selectors.suppression_status(channel_ids=list(channel_ids))
        lag = sender_lag(client=request.auth)
        lag_seconds = None if lag.lag is None else int(lag.lag.total_seconds())
        return Response(
            {
                "last_seq": status.last_seq,
                "last_change_at": selectors.iso(status.last_change_at),
                "channels": sorted(channel_ids.values()),
                "cursor": lag.cursor,
                "last_read_at": selectors.iso(lag.read_at),
                "lag_seconds": lag_seconds,
                "max_lag_seconds": int(lag.max_lag.total_seconds()),
                "status": lag.status,
            }
        )
