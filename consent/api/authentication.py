"""API key authentication, channel scopes and per-client rate limits for senders."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from consent.api_clients import api_key_hash
from consent.models import ApiClient, ApiKey

MSG_NO_KEY = _("Send your API key as 'Authorization: Bearer <key>'.")
MSG_BAD_KEY = _("The API key is not valid, has expired or was revoked.")
MSG_CHANNEL_SCOPE = _("This client may not read the channel '%(channel)s'.")
MSG_CHANNEL_WRITE = _("This client has no right to write to the channel '%(channel)s'.")

# Writing last_used_at on every call would put a write on every read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass
class _CachedKey:
    key_id: int
    client: ApiClient
    expires_at: datetime | None
    last_used_at: datetime | None
    fresh_until: float


# Keys looked up in this process, by hash, for API_KEY_CACHE_SECONDS: a key revoked
# or a client changed in another process stops working within that bound (this
# process forgets at once, see ``forget_cached_keys``).
_cache: dict[str, _CachedKey] = {}


def forget_cached_keys() -> None:
    _cache.clear()


def _lookup(key_hash: str, now: datetime) -> _CachedKey | None:
    cached = _cache.get(key_hash)
    if cached is not None and cached.fresh_until > time.monotonic():
        if cached.expires_at is None or cached.expires_at > now:
            return cached
        return None
    key = (
        ApiKey.objects.select_related("client")
        .filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            key_hash=key_hash,
            revoked_at__isnull=True,
            client__is_active=True,
        )
        .first()
    )
    if key is None:
        _cache.pop(key_hash, None)
        return None
    client_channel_ids(key.client)  # read the scope once, with the key
    cached = _CachedKey(
        key_id=key.pk,
        client=key.client,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        fresh_until=time.monotonic() + settings.API_KEY_CACHE_SECONDS,
    )
    _cache[key_hash] = cached
    return cached


class ClientPrincipal:
    """The request's user for a sending system: authenticated, never staff."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.pk = self.id = client.pk

    def __str__(self) -> str:
        return f"client:{self.client.name}"


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``, looked up by SHA-256: keys are never stored."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        if parts[0].lower() != self.keyword or len(parts) != 2:
            raise exceptions.AuthenticationFailed(MSG_BAD_KEY)
        try:
            clear = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(MSG_BAD_KEY) from exc
        now = timezone.now()
        key = _lookup(api_key_hash(clear), now)
        if key is None:
            raise exceptions.AuthenticationFailed(MSG_BAD_KEY)
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            key.last_used_at = now
            ApiKey.objects.filter(pk=key.key_id).update(last_used_at=now)
        return ClientPrincipal(key.client), key.client

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class IsApiClient(BasePermission):
    message = MSG_NO_KEY

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiClient)


def client_channel_ids(client: ApiClient) -> dict[str, int]:
    """The client's readable channels by code (cached on the instance per request)."""
    cached = getattr(client, "_channel_ids", None)
    if cached is None:
        cached = dict(client.channels.filter(is_active=True).values_list("code", "id"))
        client._channel_ids = cached
    return cached


class ChannelDenied(exceptions.PermissionDenied):
    """A channel outside the client's scope; the view says whether it was a read or
    a write (``ClientApiView.channel_access``)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        super().__init__(MSG_CHANNEL_SCOPE % {"channel": channel})

    def for_write(self) -> ChannelDenied:
        self.detail = exceptions.ErrorDetail(
            str(MSG_CHANNEL_WRITE % {"channel": self.channel}), self.default_code
        )
        return self


def require_channel(client: ApiClient, code: str) -> int:
    """The channel's id if the client may read it; 403 otherwise."""
    channel_id = client_channel_ids(client).get(code)
    if channel_id is None:
        raise ChannelDenied(code)
    return channel_id


class ApiClientRateThrottle(BaseThrottle):
    """A fixed one-minute window per client at its own ``rate_per_minute``.

    Fairness between sending systems, not a security control; the counter lives in
    the default cache (Redis in production, shared by every worker).
    """

    window = 60

    def allow_request(self, request, view) -> bool:
        from django.core.cache import cache

        client = request.auth
        if not isinstance(client, ApiClient):
            return True
        now = time.time()
        bucket = int(now // self.window)
        cache_key = f"api-throttle:{client.pk}:{bucket}"
        if cache.add(cache_key, 1, self.window + 5):
            count = 1
        else:
            try:
                count = cache.incr(cache_key)
            except ValueError:
                cache.set(cache_key, 1, self.window + 5)
                count = 1
        self._wait = (bucket + 1) * self.window - now
        # For the RateLimit-* headers on the response (ClientApiView).
        request._rate_limit = (
            client.rate_per_minute,
            max(0, client.rate_per_minute - count),
            max(1, int(self._wait + 0.999)),
        )
        return count <= client.rate_per_minute

    def wait(self) -> float:
        return max(1.0, self._wait)
