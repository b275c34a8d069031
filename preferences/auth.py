"""Portal sign-in state: a signed-in customer is a customer id in the session.

Customers are not Django users; staff are. Keeping them apart means a portal session
can never open the admin and a staff session never acts as a customer.
"""

from __future__ import annotations

from functools import wraps

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from consent.models import Customer

SESSION_KEY = "portal_customer_id"


def portal_login(request, customer: Customer) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = customer.pk


def portal_logout(request) -> None:
    request.session.flush()


def current_customer(request) -> Customer | None:
    customer_id = request.session.get(SESSION_KEY)
    if customer_id is None:
        return None
    return Customer.objects.filter(
        pk=customer_id, status=Customer.Status.ACTIVE
    ).first()


def customer_login_required(view):
    """Give the view ``request.customer`` or send the visitor to sign in."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        customer = current_customer(request)
        if customer is None:
            return redirect(f"{reverse('portal:sign_in')}")
        request.customer = customer
        response = view(request, *args, **kwargs)
        # Pages with personal data stay out of shared and back-button caches.
        add_never_cache_headers(response)
        return response

    return wrapper


def client_ip(request) -> str:
    """The visitor's address for throttling.

    Behind ``PORTAL_TRUSTED_PROXIES`` reverse proxies (0 by default: the socket
    address is used), the address is read from ``X-Forwarded-For``, counting from the
    right so a client cannot spoof it by sending its own header.
    """
    from django.conf import settings

    proxies = int(getattr(settings, "PORTAL_TRUSTED_PROXIES", 0) or 0)
    remote = request.META.get("REMOTE_ADDR", "") or "-"
    if proxies <= 0:
        return remote
    chain = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    return chain[-proxies] if len(chain) >= proxies else remote
