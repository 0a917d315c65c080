"""services.status: the status the ledger gives is applied from every status, always (the ledger wins). Where the
state machine has no move for it, the move is made all the same, flagged ``ledger_override`` and announced by
``order_needs_review``; PAID (and ``paid_at``, ``order_paid``) only when the total arrived."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from django_orkestapay.models import PAID_STATUSES, Order, OrderStatus, ReviewCode
from django_orkestapay.services.derive import Derived
from django_orkestapay.services.status import apply_status, ledger_path
from django_orkestapay.services.transitions import can_transition
from tests.conftest import make_order
from tests.ledger_helpers import signal_log

TOTAL = Decimal("990.00")
HELD = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


def derived(status: str, *, partial: bool = False) -> Derived:
    """What a ledger giving ``status`` says (``partial``: less than the total arrived, all of it refunded)."""
    received = Decimal("500.00") if partial else TOTAL
    if status == OrderStatus.REFUNDED:
        return Derived(status, received=received, refunded=received)
    if status == OrderStatus.PARTIALLY_REFUNDED:
        return Derived(status, received=received, refunded=Decimal("90.00"))
    if status == OrderStatus.PAID:
        return Derived(status, received=received)
    return Derived(status)


CASES = [
    (old, new, partial)
    for old, new in itertools.product(OrderStatus.values, OrderStatus.values)
    for partial in ([False, True] if new == OrderStatus.REFUNDED else [False])
    if old != new
]


@pytest.mark.django_db
@pytest.mark.parametrize(("old", "new", "partial"), CASES)
def test_the_ledger_wins_from_every_status(old: str, new: str, partial: bool, django_capture_on_commit_callbacks: Any):
    order = make_order()
    Order.objects.filter(pk=order.pk).update(status=old)
    order = Order.objects.get(pk=order.pk)
    verdict = derived(new, partial=partial)
    path = ledger_path(old, verdict, TOTAL)
    forced = any(not can_transition(a, b) for a, b in itertools.pairwise([old, *path]))

    with signal_log() as log, django_capture_on_commit_callbacks(execute=True):
        assert apply_status(order, verdict)

    order.refresh_from_db()
    assert order.status == new
    assert (ReviewCode.LEDGER_OVERRIDE in [kw["code"] for kw in log.of("order_needs_review")]) == forced
    assert (order.review_code == ReviewCode.LEDGER_OVERRIDE) == forced
    assert [kw["new_status"] for kw in log.of("order_status_changed")] == path
    entered_paid = old not in HELD and any(step in HELD for step in path)
    assert (order.paid_at is not None) == entered_paid
    assert log.names().count("order_paid") == (1 if entered_paid and new != OrderStatus.REFUNDED else 0)
    if partial:  # less than the total arrived: never paid
        assert OrderStatus.PAID not in path
        assert order.paid_at is None


def test_the_usual_flow_forces_nothing():
    """Only the moves the issue names are forced: money after a full refund, money or refunds that no longer count
    (leaving the paid family, or partially refunded back to paid), and a registered order said to have no attempt
    (CREATED again: should never happen). Between unpaid statuses the attempts decide, as the table allows."""
    forced = {
        (old, new)
        for old, new in itertools.product(OrderStatus.values, OrderStatus.values)
        if old != new
        and any(not can_transition(a, b) for a, b in itertools.pairwise([old, *ledger_path(old, derived(new), TOTAL)]))
    }
    unpaid = set(OrderStatus.values) - PAID_STATUSES
    assert forced == (
        {(old, new) for old in PAID_STATUSES for new in unpaid}
        | {(old, OrderStatus.CREATED) for old in unpaid - {OrderStatus.CREATED}}
        | {
            (OrderStatus.REFUNDED, OrderStatus.PAID),
            (OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED),
            (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.PAID),
        }
    )
