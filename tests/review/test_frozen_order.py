"""Review of issue 11 (money truth), the frozen-order guard: the ways past it the review found, now closed."""

from __future__ import annotations

from typing import Any

import pytest

from django_orkestapay.models import FrozenOrderError, Order
from tests.conftest import make_order
from tests.ledger_helpers import start

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def offered(orkestapay_settings: Any, fake_orkestapay: Any) -> Order:
    """An order a checkout was registered for: what the buyer is asked to pay is frozen."""
    order = make_order()
    start(order)
    return Order.objects.get(pk=order.pk)


def test_line_items_changed_in_place_are_refused(offered: Order) -> None:
    """``order.items[0]["unit_price"] = ...`` (or ``items.append``) changes the very list the snapshot holds, so
    ``frozen_changes()`` sees nothing and ``save()`` stores items the buyer was never offered (the fingerprint and
    the amounts stay as they were, so the order no longer says what was paid for)."""
    offered.items[0]["unit_price"] = "1.00"
    offered.items.append({"product_id": "x", "name": "Television", "quantity": 1, "unit_price": "9999.00"})
    with pytest.raises(FrozenOrderError):
        offered.save()
    assert Order.objects.get(pk=offered.pk).items[0]["unit_price"] == "1000.00"


def test_a_deferred_amount_cannot_change_either(offered: Order) -> None:
    """``Order.objects.only("status")`` (or ``defer``) leaves the amounts out of the snapshot; set one and save: the
    guard compares only what was loaded, and the new total is written."""
    order = Order.objects.only("id", "status").get(pk=offered.pk)
    order.total_amount = 1
    with pytest.raises(FrozenOrderError):
        order.save()
    assert Order.objects.get(pk=offered.pk).total_amount == offered.total_amount
