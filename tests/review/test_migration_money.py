"""Review of issue 11 (money truth), migrations 0003/0004 (and 0008) on realistic old data, then the new code
against the fake gateway: the defects the review found, each now asserted fixed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from django_orkestapay import services
from django_orkestapay.models import Order, PaymentStatus, Refund
from django_orkestapay.services.locking import lock_order
from tests.conftest import make_paid_order, payment_ids_at, refunded_at
from tests.ledger_helpers import signal_log

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("orkestapay", "0002_refunds_and_return_pages")]
ITEMS = [{"product_id": "1", "name": "TV", "quantity": 1, "unit_price": "1000.00"}]
CUSTOMER = {"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"}


def remote_checkout(reference: str) -> Any:
    """A checkout registered at the fake for 1000 MXN, as the old code registered it (no local rows needed)."""
    return services.get_client().create_checkout(
        {
            "completed_redirect_url": "https://shop.example/c",
            "canceled_redirect_url": "https://shop.example/k",
            "order": {
                "merchant_order_id": reference,
                "currency": "MXN",
                "country_code": "MX",
                "subtotal_amount": 1000,
                "total_amount": 1000,
                "products": [{"product_id": "1", "name": "TV", "quantity": 1, "unit_price": 1000}],
                "customer": CUSTOMER,
            },
        }
    )


@pytest.fixture
def old_schema() -> Iterator[Any]:
    """The database at 0002 (what an install had before issue 11); yields its models; ends at the leaf."""
    executor = MigrationExecutor(connection)
    leaf = executor.loader.graph.leaf_nodes("orkestapay")
    executor.migrate(BEFORE)
    try:
        yield executor.loader.project_state(BEFORE).apps
    finally:
        MigrationExecutor(connection).migrate(leaf)


def upgrade() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("orkestapay"))


def old_paid_order(apps: Any, reference: str, checkout: Any, stored_payment_id: str) -> Any:
    order = apps.get_model("orkestapay", "Order").objects.create(
        merchant_order_id=reference,
        status="paid",
        items=ITEMS,
        subtotal_amount=Decimal("1000"),
        total_amount=Decimal("1000"),
        customer_first_name="Ana",
        customer_last_name="López",
        customer_email="ana@example.mx",
        orkestapay_order_id=checkout.order_id,
        orkestapay_payment_id=stored_payment_id,
        paid_at=timezone.now() - timedelta(days=30),
    )
    apps.get_model("orkestapay", "Checkout").objects.create(
        order=order,
        orkestapay_checkout_id=checkout.checkout_id,
        orkestapay_order_id=checkout.order_id,
        merchant_reference=reference,
        redirect_url=checkout.redirect_url,
        completed_url="https://shop.example/c",
        canceled_url="https://shop.example/k",
        status="completed",
    )
    return order


def test_an_old_order_that_stored_its_declined_payment_is_not_paid_twice_after_upgrading(
    orkestapay_settings: Any, fake_orkestapay: Any, old_schema: Any
) -> None:
    """The issue's bug 4: after a declined card and then a successful payment the old code stored the *declined*
    payment's id on the paid order. 0003 turns that id into a completed Payment of 1000 (a completed row never goes
    back to failed), and the first refresh (admin, webhook, sync) records the real completed payment beside it:
    the order is flagged ``paid_twice``, ``order_paid_twice`` tells the shop to refund one, and 2000 is offered."""
    checkout = remote_checkout("OLD-DECLINED")
    fake_orkestapay.decline(checkout.checkout_id)
    fake_orkestapay.pay(checkout.checkout_id)
    declined, completed = payment_ids_at(fake_orkestapay, checkout.order_id)
    old = old_paid_order(old_schema, "OLD-DECLINED", checkout, stored_payment_id=declined)

    upgrade()
    order = Order.objects.get(pk=old.pk)
    services.sync_order(order)

    order = Order.objects.get(pk=old.pk)
    completed_ids = set(
        order.payments.filter(status=PaymentStatus.COMPLETED).values_list("orkestapay_payment_id", flat=True)
    )
    assert completed_ids == {completed}
    assert not order.needs_review
    assert services.refundable_amount(order) == Decimal("1000.00")


def test_upgrading_does_not_resend_old_refunds_whose_outcome_was_lost(
    orkestapay_settings: Any, fake_orkestapay: Any, old_schema: Any
) -> None:
    """The old code left a refund ``requested`` when its answer was lost (a timeout): the money may well have left.
    Months later the shop upgrades; issue 11's ``orkestapay_sync`` now reconciles refunds and resends every
    REQUESTED one with its old key, which OrkestaPay no longer remembers (24 h in the fake): 300 more leave."""
    checkout = remote_checkout("OLD-REFUND")
    fake_orkestapay.pay(checkout.checkout_id)
    payment_id = payment_ids_at(fake_orkestapay, checkout.order_id)[-1]
    old = old_paid_order(old_schema, "OLD-REFUND", checkout, stored_payment_id=payment_id)
    fake_orkestapay.refund_from_portal(payment_id, 300)  # the old refund went through; its answer was lost
    OldRefund = old_schema.get_model("orkestapay", "Refund")
    OldRefund.objects.create(
        order=old, payment_id=payment_id, amount=Decimal("300"), status="requested", idempotency_key="old-key-1"
    )
    OldRefund.objects.update(
        created_at=timezone.now() - timedelta(days=60), updated_at=timezone.now() - timedelta(days=60)
    )

    upgrade()
    if fake_orkestapay.profile == "rich":
        call_command("orkestapay_sync")  # the payment's refunded amount shows the 300 left: settled, not resent
    else:  # the evidence profile shows no refunded amount: no proof either way, so it is left for a person
        with pytest.raises(CommandError, match="1 refund"):
            call_command("orkestapay_sync")
        assert Refund.objects.get(idempotency_key="old-key-1").needs_review

    assert refunded_at(fake_orkestapay, payment_id) == Decimal("300")


def test_upgrading_announces_no_refund_that_succeeded_before(orkestapay_settings: Any, fake_orkestapay: Any) -> None:
    """Migration 0008: refunds that succeeded before ``order_refunded`` existed are marked announced, so the first
    apply after the upgrade does not announce them (a receiver would take back a shipment long settled)."""
    paid = make_paid_order(fake_orkestapay)
    refund = services.refund_order(paid, amount=Decimal("100"))
    Refund.objects.filter(pk=refund.pk).update(announced_at=None)  # as 0005 left it
    executor = MigrationExecutor(connection)
    leaf = executor.loader.graph.leaf_nodes("orkestapay")
    executor.migrate([("orkestapay", "0007_payment_links")])
    MigrationExecutor(connection).migrate(leaf)

    assert Refund.objects.get(pk=refund.pk).announced_at is not None
    with signal_log() as log, transaction.atomic():
        services.refresh_order_status(lock_order(paid.pk))
    assert "order_refunded" not in log.names()
