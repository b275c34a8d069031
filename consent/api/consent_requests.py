"""``POST /api/v1/consent-requests``: a sending system asks a customer for a
marketing consent; the customer answers in the portal. Refused for a quiet period
after the customer refused that consent (no nagging)."""

from __future__ import annotations

from django.utils.http import http_date
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from consent import consent_requests
from consent.api.authentication import require_channel
from consent.api.base import ClientApiView
from consent.api.errors import error_body
from consent.api.schema import UNAUTHENTICATED, documented_bad_request, documented_error
from consent.catalogue import catalogue
from consent.errors import ApplicationError
from consent.models import ConsentRequest, Customer

MSG_UNKNOWN_CUSTOMER = _("No customer has this reference.")
MSG_UNKNOWN_CHANNEL = _("Unknown channel '%(code)s'.")
MSG_UNKNOWN_TOPIC = _("Unknown topic '%(code)s'.")
MSG_MARKETING_ONLY = _("Consent can only be asked for a marketing topic.")


class ConsentRequestCreateApi(ClientApiView):
    """Ask a customer for one marketing consent (channel × product)."""

    channel_access = "write"

    class InputSerializer(serializers.Serializer):
        customer_ref = serializers.CharField(
            max_length=64, help_text=_("The bank's customer reference.")
        )
        channel = serializers.SlugField()
        topic = serializers.SlugField(help_text=_("A marketing topic (product)."))

        def validate_customer_ref(self, value: str) -> Customer:
            customer = Customer.objects.filter(external_ref=value.strip()).first()
            if customer is None:
                raise serializers.ValidationError(MSG_UNKNOWN_CUSTOMER)
            return customer

        def validate_channel(self, value: str):
            channel = catalogue().channel(value)
            if channel is None:
                raise serializers.ValidationError(MSG_UNKNOWN_CHANNEL % {"code": value})
            return channel

        def validate_topic(self, value: str):
            topic = catalogue().topic(value)
            if topic is None:
                raise serializers.ValidationError(MSG_UNKNOWN_TOPIC % {"code": value})
            if not topic.is_marketing:
                raise serializers.ValidationError(MSG_MARKETING_ONLY)
            return topic

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        customer_ref = serializers.CharField(source="customer.external_ref")
        channel = serializers.CharField(source="channel.code")
        topic = serializers.CharField(source="topic.code")
        status = serializers.ChoiceField(choices=ConsentRequest.Status.choices)
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="consent_requests_create",
        summary="Ask a customer for a marketing consent",
        description=(
            "The customer sees the request as a prompt in the self-service portal "
            "and answers yes (a grant) or no (a withdrawal). One pending request per "
            "customer, channel and product: asking again returns it (200).\n\n"
            "**No nagging:** after the customer refused this consent (a withdrawal "
            "of it, of its channel or product, stop all marketing, or no to an "
            "earlier request), asking again is refused with **409** `quiet_period` "
            "for `CONSENT_REQUEST_QUIET_DAYS` (180 days by default); `Retry-After` "
            "gives the date from which asking is allowed. The customer's own grant "
            "in the portal is never held back."
        ),
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            200: OpenApiResponse(
                OutputSerializer, description="Already asked, still pending."
            ),
            400: documented_bad_request(
                {"topic": ["Consent can only be asked for a marketing topic."]}
            ),
            401: UNAUTHENTICATED,
            403: documented_error(
                "Channel not in the client's scope.",
                "permission_denied",
                "This client may not write the channel 'voice'.",
            ),
            409: documented_error(
                "Within the quiet period after a refusal (`quiet_period`), the "
                "consent is already given (`already_granted`), or the customer "
                "stopped all marketing (`opted_out`).",
                "quiet_period",
                "The customer refused this consent on 2026-11-02. Asking again is "
                "not allowed before 2027-05-01.",
            ),
        },
        tags=["consent requests"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        require_channel(request.auth, data["channel"].code)
        try:
            asked, created = consent_requests.consent_request_create(
                customer=data["customer_ref"],
                channel=data["channel"],
                topic=data["topic"],
                client=request.auth,
            )
        except ApplicationError as exc:
            if exc.code != "quiet_period":
                raise
            until = consent_requests.asking_allowed_from(
                customer=data["customer_ref"],
                channel=data["channel"],
                topic=data["topic"],
            )
            response = Response(
                error_body(exc.code, exc.message), status=status.HTTP_409_CONFLICT
            )
            response["Retry-After"] = http_date(until.timestamp())
            return response
        return Response(
            self.OutputSerializer(asked).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
