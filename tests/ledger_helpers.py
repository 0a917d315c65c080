"""Helpers of the ledger and money-truth tests (tests/test_ledger.py, tests/test_money_truth.py): starting attempts
the buyer can come back from, the buyer's returns, and a log of every signal the app sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.dispatch import Signal
from django.test import Client

from django_orkestapay import services, signals
from django_orkestapay.models import Checkout, Order
from tests.conftest import local_path

SIGNALS = {
    name: getattr(signals, name)
    for name in (
        "order_paid",
        "stale_order_paid",
        "order_paid_twice",
        "order_canceled",
        "order_failed",
        "order_expired",
        "order_status_changed",
        "checkout_created",
        "order_refunded",
        "order_needs_review",
    )
}


def testserver(path: str) -> str:
    """Return URLs on Django's test client host, so a test can follow them."""
    return f"http://testserver{path}"


def start(order: Order) -> Checkout:
    """Start (or reuse) a checkout for ``order``, as the pay view does."""
    return services.start_checkout(order, build_absolute_uri=testserver)


def come_back(client: Client, url: str) -> Any:
    """The buyer's browser follows a return URL the fake gateway redirected to."""
    return client.get(local_path(url))


class SignalLog:
    """Every signal sent (after commit), in order: ``(name, order pk, keyword arguments)``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, dict[str, Any]]] = []

    def names(self, order: Order | None = None) -> list[str]:
        return [name for name, pk, _ in self.sent if order is None or pk == order.pk]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for sent, _, kwargs in self.sent if sent == name]

    def _receiver(self, name: str) -> Any:
        def receive(sender: Any, order: Order, **kwargs: Any) -> None:
            self.sent.append((name, order.pk, kwargs))

        return receive


@contextmanager
def signal_log() -> Iterator[SignalLog]:
    """Record every signal of the app while the block runs."""
    log = SignalLog()
    connected: list[tuple[Signal, str]] = []
    for name, signal in SIGNALS.items():
        uid = f"ledger-tests-{name}"
        signal.connect(log._receiver(name), weak=False, dispatch_uid=uid)
        connected.append((signal, uid))
    try:
        yield log
    finally:
        for signal, uid in connected:
            signal.disconnect(dispatch_uid=uid)
