"""Overhead of the pay view and the completed return through a real server (gunicorn on loopback), against a bare
``requests`` call of the same thing to the fake gateway, with the fake answering at once or after a fixed latency.

pay:        POST /orkestapay/pay/ (CSRF cookie and token, a new order each time)  vs  bare POST /v1/checkouts
            with the same body and a valid token.
completed:  GET of the signed completed URL after the fake "paid"                   vs  bare GET /v1/orders/{id}.
floor:      GET of a trivial Django view (a CSRF token: no database, no gateway)   vs  GET /_fake/health (the
            fake's trivial route, never delayed): what any Django view costs through gunicorn here.

Pairs are measured alternately (which one goes first flips every pair) so drift hits both sides alike. Each run
gives a median per side; the ratio of a run is median(view) / median(bare).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from django_orkestapay.testing import FakeOrkestaPay

from .common import PayButton, gateway_checkout_id, make_order, median, timed_ms

if TYPE_CHECKING:
    from django_orkestapay.models import Order


@dataclass
class SideBySide:
    """Per-run medians (ms) of one view and its bare baseline."""

    view_ms: list[float] = field(default_factory=list)
    bare_ms: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [view / bare for view, bare in zip(self.view_ms, self.bare_ms, strict=True)]

    @property
    def overheads_ms(self) -> list[float]:
        return [view - bare for view, bare in zip(self.view_ms, self.bare_ms, strict=True)]


@dataclass
class OverheadResult:
    """``pay`` and ``completed`` for one latency."""

    latency_ms: float
    pay: SideBySide = field(default_factory=SideBySide)
    completed: SideBySide = field(default_factory=SideBySide)
    floor: SideBySide = field(default_factory=SideBySide)


class ShopBuyer(PayButton):
    """Drives the shop through gunicorn like a browser would, and the fake like a bare API client."""

    def __init__(self, fake: FakeOrkestaPay, server_url: str) -> None:
        super().__init__(server_url)
        self.fake = fake
        token = requests.post(
            f"{fake.base_url}/v1/oauth/tokens",
            json={"client_id": fake.client_id, "client_secret": fake.client_secret, "grant_type": "client_credentials"},
            timeout=10,
        )
        token.raise_for_status()
        self.bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        self.checkout_body = b""

    # the shop, through gunicorn (pay: PayButton.pay)

    def completed(self, url: str) -> None:
        response = requests.get(url, allow_redirects=False, timeout=30)
        if response.status_code not in (200, 302):
            raise RuntimeError(f"completed answered {response.status_code}: {response.text[:300]}")

    # the same work as bare calls to the gateway

    def remember_checkout_body(self) -> None:
        """The exact JSON body of the last checkout the app sent, reused by :meth:`bare_checkout`."""
        from django_orkestapay.client import encode_json

        sent = [r for r in self.fake.request_log if r.method == "POST" and r.path == "/v1/checkouts"]
        self.checkout_body = encode_json(sent[-1].json_body)

    def bare_checkout(self) -> None:
        response = requests.post(
            f"{self.fake.base_url}/v1/checkouts",
            data=self.checkout_body,
            headers={**self.bearer, "Content-Type": "application/json"},
            timeout=30,
        )
        response.raise_for_status()

    def trivial_view(self) -> None:
        requests.get(f"{self.server_url}/bench/csrf/", timeout=30).raise_for_status()

    def bare_trivial(self) -> None:
        requests.get(f"{self.fake.base_url}/_fake/health", timeout=30).raise_for_status()

    def bare_get_order(self, order_id: str) -> None:
        requests.get(f"{self.fake.base_url}/v1/orders/{order_id}", headers=self.bearer, timeout=30).raise_for_status()


def _pair(first: Callable[[], object], second: Callable[[], object], flip: bool) -> tuple[float, float]:
    """Time two zero-argument calls, in the given order or flipped; return their times in call order given."""
    a, b = (second, first) if flip else (first, second)
    time_a, _ = timed_ms(a)
    time_b, _ = timed_ms(b)
    return (time_b, time_a) if flip else (time_a, time_b)


def _one_run(buyer: ShopBuyer, orders: list[Order]) -> dict[str, tuple[float, float]]:
    """Pay every order, then return from every payment, then the floor; medians (view, bare) of each."""
    from django_orkestapay.models import Checkout, Order, OrderStatus

    pay_view, pay_bare, done_view, done_bare, floor_view, floor_bare = [], [], [], [], [], []
    for index, order in enumerate(orders):
        view, bare = _pair(functools.partial(buyer.pay, order), buyer.bare_checkout, flip=index % 2 == 1)
        pay_view.append(view)
        pay_bare.append(bare)
    checkouts = {c.order_id: c for c in Checkout.objects.filter(order__in=orders)}
    for index, order in enumerate(orders):
        checkout = checkouts[order.pk]
        url = buyer.fake.pay(gateway_checkout_id(checkout))
        remote_id = checkout.orkestapay_order_id
        view, bare = _pair(
            functools.partial(buyer.completed, url),
            functools.partial(buyer.bare_get_order, remote_id),
            flip=index % 2 == 1,
        )
        done_view.append(view)
        done_bare.append(bare)
    for index in range(len(orders)):
        view, bare = _pair(buyer.trivial_view, buyer.bare_trivial, flip=index % 2 == 1)
        floor_view.append(view)
        floor_bare.append(bare)
    paid = Order.objects.filter(pk__in=[o.pk for o in orders], status=OrderStatus.PAID).count()
    if paid != len(orders):
        raise RuntimeError(f"only {paid} of {len(orders)} orders ended paid")
    return {
        "pay": (median(pay_view), median(pay_bare)),
        "completed": (median(done_view), median(done_bare)),
        "floor": (median(floor_view), median(floor_bare)),
    }


def measure(
    fake: FakeOrkestaPay, server_url: str, *, latencies_ms: tuple[float, ...], runs: int, samples: int
) -> list[OverheadResult]:
    """For each latency: a warm-up, then ``runs`` runs of ``samples`` pairs each for pay and for completed."""
    buyer = ShopBuyer(fake, server_url)
    fake.latency = 0.0
    buyer.pay(make_order())
    buyer.remember_checkout_body()
    results = []
    for latency_ms in latencies_ms:
        fake.latency = latency_ms / 1000
        result = OverheadResult(latency_ms=latency_ms)
        _one_run(buyer, [make_order(i) for i in range(10)])  # warm-up: every worker gets a token and a connection
        for _ in range(runs):
            medians = _one_run(buyer, [make_order(i) for i in range(samples)])
            for name, side_by_side in (("pay", result.pay), ("completed", result.completed), ("floor", result.floor)):
                view, bare = medians[name]
                side_by_side.view_ms.append(view)
                side_by_side.bare_ms.append(bare)
        results.append(result)
    fake.latency = 0.0
    return results
