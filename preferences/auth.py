"""Portal sign-in state: a signed-in customer is a customer id in the session.

Customers are not Django users; staff are. Keeping them apart means a portal session
can never open the admin and a staff session never acts as a customer.
"""

from __future__ import annotations

from functools import wraps

from django.shortcuts import redirect
from django.urls import reverse

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
        return view(request, *args, **kwargs)

    return wrapper
