"""Sending systems' access: clients, their API keys and their HMAC keys.

A key is shown once, when it is made, and stored only as its SHA-256; rotation keeps
the old key valid for an overlap so a sender can switch without downtime.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import crypto
from consent.errors import ApplicationError
from consent.models import ApiClient, ApiKey, Channel

KEY_PREFIX = "ck_"
DEFAULT_ROTATION_OVERLAP = timedelta(days=7)

MSG_NAME_TAKEN = _("A client with this name already exists.")
MSG_UNKNOWN_CHANNELS = _("Unknown channel(s): %(codes)s.")
MSG_NO_CHANNELS = _("A client needs at least one channel.")
MSG_KEY_REVOKED = _("This key is already revoked.")


@dataclass(frozen=True)
class IssuedKey:
    """A freshly made key: ``clear`` is the only time the secret is available."""

    key: ApiKey
    clear: str


def api_key_hash(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def _channels_for(codes: Iterable[str]) -> list[Channel]:
    wanted = {c.strip() for c in codes if c and c.strip()}
    if not wanted:
        raise ValidationError({"channels": MSG_NO_CHANNELS}, code="no_channels")
    found = list(Channel.objects.filter(code__in=wanted))
    missing = wanted - {c.code for c in found}
    if missing:
        raise ValidationError(
            {"channels": MSG_UNKNOWN_CHANNELS % {"codes": ", ".join(sorted(missing))}},
            code="unknown_channel",
        )
    return found


def _issue_key(client: ApiClient) -> IssuedKey:
    prefix = secrets.token_hex(4)
    clear = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        client=client, prefix=prefix, key_hash=api_key_hash(clear)
    )
    return IssuedKey(key=key, clear=clear)


@transaction.atomic
def api_client_create(
    *,
    name: str,
    channel_codes: Iterable[str],
    rate_per_minute: int = 600,
    may_push_profile_tags: bool = False,
) -> tuple[ApiClient, IssuedKey]:
    """Register a sending system with its channels, an HMAC key and a first API key.
    ``may_push_profile_tags``: the profile-tags scope (personalisation)."""
    name = (name or "").strip()
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationError({"name": MSG_NAME_TAKEN}, code="name_taken")
    channels = _channels_for(channel_codes)
    hmac_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    client = ApiClient(
        name=name,
        hmac_key_encrypted=crypto.encrypt(hmac_key),
        rate_per_minute=rate_per_minute,
        may_push_profile_tags=may_push_profile_tags,
    )
    client.full_clean()
    client.save()
    client.channels.set(channels)
    return client, _issue_key(client)


@transaction.atomic
def api_key_rotate(
    *, client: ApiClient, overlap: timedelta = DEFAULT_ROTATION_OVERLAP
) -> IssuedKey:
    """Issue a new key; every current key stays valid for ``overlap`` more."""
    ends = timezone.now() + overlap
    live = client.keys.filter(revoked_at__isnull=True)
    live.filter(expires_at__isnull=True).update(expires_at=ends)
    live.filter(expires_at__gt=ends).update(expires_at=ends)
    return _issue_key(client)


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Stop a key at once (leaked, or the sender has switched)."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise ApplicationError(MSG_KEY_REVOKED, code="key_revoked")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def api_client_set_channels(*, client: ApiClient, channel_codes: Iterable[str]) -> None:
    """Change which channels' suppression data the client may read."""
    client.channels.set(_channels_for(channel_codes))
