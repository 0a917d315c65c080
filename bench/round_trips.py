"""Round trips per checkout in steady state, counted from the fake gateway's request log.

Ours: ``services.create_order`` + ``services.start_checkout`` (the token is cached and reused until shortly before
it expires). Naive: what OrkestaPay's checkout guide shows, with plain ``requests``: ``POST /v1/oauth/tokens``
then ``POST /v1/checkouts``, for every checkout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

from django_orkestapay.testing import FakeOrkestaPay

from .common import make_order, shop_uri

TOKEN_PATH = "/v1/oauth/tokens"  # noqa: S105 - a URL path, not a password
CHECKOUT_PATH = "/v1/checkouts"


@dataclass(frozen=True)
class FlowCount:
    """Gateway requests made by one flow for ``checkouts`` checkouts."""

    checkouts: int
    tokens: int
    checkout_posts: int
    total: int

    @property
    def per_checkout(self) -> float:
        return self.total / self.checkouts


@dataclass(frozen=True)
class RoundTrips:
    """Ours (cold first checkout, then steady state) against the naive flow."""

    ours_cold: FlowCount
    ours: FlowCount
    naive: FlowCount


def _count(fake: FakeOrkestaPay, checkouts: int, before: tuple[int, int, int]) -> FlowCount:
    tokens = fake.count_requests("POST", TOKEN_PATH) - before[0]
    posts = fake.count_requests("POST", CHECKOUT_PATH) - before[1]
    total = fake.count_requests() - before[2]
    return FlowCount(checkouts=checkouts, tokens=tokens, checkout_posts=posts, total=total)


def _snapshot(fake: FakeOrkestaPay) -> tuple[int, int, int]:
    return fake.count_requests("POST", TOKEN_PATH), fake.count_requests("POST", CHECKOUT_PATH), fake.count_requests()


def naive_checkout(base_url: str, client_id: str, client_secret: str) -> dict[str, Any]:
    """One checkout exactly as the guide shows it: a fresh token, then the checkout with that token."""
    token_response = requests.post(
        f"{base_url}{TOKEN_PATH}",
        json={"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"},
        timeout=10,
    )
    token_response.raise_for_status()
    access_token = token_response.json()["access_token"]
    body = {
        "completed_redirect_url": shop_uri("/checkout/completed"),
        "canceled_redirect_url": shop_uri("/checkout/canceled"),
        "allow_save_payment_methods": False,
        "locale": "ES_LATAM",
        "order": {
            "merchant_order_id": f"NAIVE-{uuid.uuid4().hex[:16].upper()}",
            "currency": "MXN",
            "subtotal_amount": 1000,
            "country_code": "MX",
            "discounts": [{"amount": 10}],
            "total_amount": 990,
            "products": [{"product_id": "7197", "name": "Pantalla TCL 40", "quantity": 1, "unit_price": 1000}],
            "customer": {"first_name": "John", "last_name": "Doe", "email": "john@example.com"},
        },
    }
    response = requests.post(
        f"{base_url}{CHECKOUT_PATH}", json=body, headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def measure(fake: FakeOrkestaPay, *, checkouts: int = 1000) -> RoundTrips:
    """Count gateway requests: our first checkout with an empty token cache, then ``checkouts`` more (steady
    state), then ``checkouts`` naive ones. Every checkout must succeed."""
    from django.core.cache import caches

    from django_orkestapay import services
    from django_orkestapay.models import Checkout, CheckoutStatus

    fake.latency = 0.0
    caches["default"].clear()
    before = _snapshot(fake)
    first = services.start_checkout(make_order(), build_absolute_uri=shop_uri)
    ours_cold = _count(fake, 1, before)

    before = _snapshot(fake)
    started = [services.start_checkout(make_order(i), build_absolute_uri=shop_uri) for i in range(checkouts)]
    ours = _count(fake, checkouts, before)
    opened = Checkout.objects.filter(pk__in=[c.pk for c in [first, *started]], status=CheckoutStatus.OPEN).count()
    if opened != checkouts + 1 or not all(c.redirect_url for c in started):
        raise RuntimeError(f"only {opened} of {checkouts + 1} checkouts were opened")

    before = _snapshot(fake)
    for _ in range(checkouts):
        if not naive_checkout(fake.base_url, fake.client_id, fake.client_secret).get("checkout_redirect_url"):
            raise RuntimeError("a naive checkout came back without checkout_redirect_url")
    naive = _count(fake, checkouts, before)
    return RoundTrips(ours_cold=ours_cold, ours=ours, naive=naive)


def rows(result: RoundTrips) -> list[list[object]]:
    """Table rows: flow, checkouts, token requests, checkout requests, round trips per checkout."""
    return [
        [label, count.checkouts, count.tokens, count.checkout_posts, f"{count.per_checkout:.2f}"]
        for label, count in (
            ("ours, first checkout (empty token cache)", result.ours_cold),
            ("ours, steady state", result.ours),
            ("naive (guide: token + checkout each time)", result.naive),
        )
    ]
