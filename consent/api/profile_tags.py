"""Profile tags for personalisation: a bank system replaces and reads the tags it
pushed for one customer (``consent.profile_tags``)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from consent import profile_tags
from consent.api.authentication import IsApiClient
from consent.api.base import ClientApiView
from consent.api.schema import (
    THROTTLED,
    UNAUTHENTICATED,
    documented_bad_request,
    documented_error,
)
from consent.models import ApiClient, Customer

MSG_TAGS_SCOPE = _("This client may not push or read profile tags.")
MSG_DUPLICATE_CODE = _("Each tag code may appear once.")


class MayPushProfileTags(BasePermission):
    message = MSG_TAGS_SCOPE

    def has_permission(self, request, view) -> bool:
        client = request.auth
        return isinstance(client, ApiClient) and client.may_push_profile_tags


ERRORS = {
    401: UNAUTHENTICATED,
    403: documented_error(
        "The client has no profile-tags scope.",
        "permission_denied",
        str(MSG_TAGS_SCOPE),
    ),
    404: documented_error(
        "No active customer with this reference.", "not_found", "Not found."
    ),
    429: THROTTLED,
}

SAMPLE = {
    "customer": "C-000123",
    "personalisation": True,
    "tags": [
        {
            "code": "young_family",
            "label": "Young family",
            "set_at": "2026-11-23T08:15:02.120000Z",
        }
    ],
}


class ProfileTagInSerializer(serializers.Serializer):
    code = serializers.SlugField(
        max_length=64, help_text=_("Your code for the tag (letters, digits, _ and -).")
    )
    label = serializers.CharField(
        max_length=200, help_text=_("What the customer sees in the portal.")
    )


class ProfileTagOutSerializer(ProfileTagInSerializer):
    set_at = serializers.DateTimeField(help_text=_("When you last set it."))


class CustomerProfileTagsApi(ClientApiView):
    """GET reads, PUT replaces the tags this client pushed for the customer named
    by ``external_ref``. Another client's tags are neither shown nor touched."""

    permission_classes = (IsApiClient, MayPushProfileTags)

    @extend_schema_serializer(component_name="ProfileTagsInput")
    class InputSerializer(serializers.Serializer):
        tags = ProfileTagInSerializer(
            many=True,
            allow_empty=True,
            max_length=profile_tags.MAX_TAGS,
            help_text=_("The complete new set of your tags; [] removes them all."),
        )

        def validate_tags(self, tags):
            codes = [tag["code"] for tag in tags]
            if len(codes) != len(set(codes)):
                raise serializers.ValidationError(MSG_DUPLICATE_CODE)
            return tags

    @extend_schema_serializer(component_name="ProfileTags")
    class OutputSerializer(serializers.Serializer):
        customer = serializers.CharField(help_text=_("The customer reference."))
        personalisation = serializers.BooleanField(
            help_text=_("False: the customer refused personalised marketing.")
        )
        tags = ProfileTagOutSerializer(many=True)

    def _customer(self, external_ref: str) -> Customer:
        return get_object_or_404(
            Customer, external_ref=external_ref, status=Customer.Status.ACTIVE
        )

    def _answer(self, customer: Customer, tags) -> Response:
        data = {
            "customer": customer.external_ref,
            "personalisation": profile_tags.personalisation_allowed(customer),
            "tags": [
                {"code": t.code, "label": t.label, "set_at": t.set_at} for t in tags
            ],
        }
        return Response(self.OutputSerializer(data).data)

    @extend_schema(
        operation_id="profile_tags_read",
        tags=["profile tags"],
        summary="Your profile tags for one customer",
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("tags", value=SAMPLE)]
            ),
            **ERRORS,
        },
    )
    def get(self, request, external_ref: str):
        customer = self._customer(external_ref)
        tags = profile_tags.profile_tags_of_client(
            customer=customer, client=request.auth
        )
        return self._answer(customer, tags)

    @extend_schema(
        operation_id="profile_tags_replace",
        tags=["profile tags"],
        summary="Replace your profile tags for one customer",
        description=(
            "The body is the complete new set of this client's tags. Refused with "
            "409 `personalisation_refused` (nothing stored) when the customer "
            "refused personalised marketing (PIPL art. 24)."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("tags", value=SAMPLE)]
            ),
            400: documented_bad_request({"tags.0.code": ["Enter a valid “slug”."]}),
            409: documented_error(
                "The customer refused personalisation; nothing was stored.",
                "personalisation_refused",
                str(profile_tags.MSG_PERSONALISATION_REFUSED),
            ),
            **ERRORS,
        },
    )
    def put(self, request, external_ref: str):
        customer = self._customer(external_ref)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tags = profile_tags.profile_tags_replace(
            customer=customer,
            client=request.auth,
            tags=[
                profile_tags.TagInput(code=t["code"], label=t["label"])
                for t in body.validated_data["tags"]
            ],
        )
        return self._answer(customer, tags)
