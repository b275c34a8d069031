"""System checks on secrets: production refuses weak or malformed keys."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def secrets_check(app_configs, **kwargs) -> list[Error]:
    from consent.crypto import KeyConfigError, parse_keys

    errors = []
    try:
        parse_keys(settings.FIELD_ENCRYPTION_KEYS)
    except KeyConfigError as exc:
        errors.append(Error(str(exc), id="config.E002"))
    if settings.PRODUCTION:
        if len(settings.SECRET_KEY) < 50:
            errors.append(
                Error("SECRET_KEY must be a long random value.", id="config.E001")
            )
        if len(settings.BLIND_INDEX_KEY) < 32:
            errors.append(
                Error(
                    "BLIND_INDEX_KEY must be at least 32 characters.", id="config.E003"
                )
            )
    return errors
