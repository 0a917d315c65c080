from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_migrations_are_in_sync_with_models():
    out = StringIO()
    call_command("makemigrations", "orkestapay", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_no_migration_depends_on_a_shop_app():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, _name), migration in loader.disk_migrations.items():
        if app == "orkestapay":
            assert {dep[0] for dep in migration.dependencies} <= {"orkestapay", "contenttypes", "__setting__"}


@pytest.mark.django_db(transaction=True)
def test_ledger_migration_builds_payments_and_links_refunds_for_existing_installs():
    """0003/0004 turn what 0002 stored (one payment id on the order, refunds naming it) into Payment rows."""
    from decimal import Decimal

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from django_orkestapay.models import content_fingerprint

    before = [("orkestapay", "0002_refunds_and_return_pages")]
    executor = MigrationExecutor(connection)
    leaf = executor.loader.graph.leaf_nodes("orkestapay")
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        Order = old.get_model("orkestapay", "Order")
        Checkout = old.get_model("orkestapay", "Checkout")
        Refund = old.get_model("orkestapay", "Refund")
        items = [{"product_id": "1", "name": "TV", "quantity": 1, "unit_price": "1000.00"}]
        common = {"items": items, "subtotal_amount": Decimal("1000"), "total_amount": Decimal("1000")}
        paid = Order.objects.create(
            merchant_order_id="OLD-1", status="partially_refunded", orkestapay_payment_id="pay_old1", **common
        )
        Checkout.objects.create(
            order=paid,
            orkestapay_order_id="ord_old1",
            status="completed",
            completed_url="https://x/c",
            canceled_url="https://x/k",
        )
        unpaid = Order.objects.create(merchant_order_id="OLD-2", status="pending", **common)
        Refund.objects.create(
            order=paid, payment_id="pay_old1", amount=Decimal("300"), status="succeeded", idempotency_key="k1"
        )
        Refund.objects.create(
            order=paid, payment_id="pay_old1", amount=Decimal("50"), status="failed", idempotency_key="k2"
        )

        executor = MigrationExecutor(connection)
        executor.migrate(leaf)
        new = executor.loader.project_state(leaf).apps
        Payment = new.get_model("orkestapay", "Payment")
        NewRefund = new.get_model("orkestapay", "Refund")
        NewOrder = new.get_model("orkestapay", "Order")

        payment = Payment.objects.get()
        assert payment.orkestapay_payment_id == "pay_old1"
        assert payment.order_id == paid.pk
        assert payment.status == "completed"
        assert payment.origin == "migrated"  # corrected by the first API answer about it
        assert payment.amount == Decimal("1000.00")
        assert payment.orkestapay_order_id == "ord_old1"
        assert payment.refunded_amount == Decimal("300.00")
        assert set(NewRefund.objects.values_list("payment_id", flat=True)) == {payment.pk}
        assert NewRefund.objects.filter(orkestapay_payment_id="pay_old1").count() == 2
        migrated = NewOrder.objects.get(pk=paid.pk)
        assert migrated.content_fingerprint == content_fingerprint(
            currency="MXN",
            items=items,
            subtotal_amount=1000,
            discount_amount=0,
            shipping_amount=0,
            tax_amount=0,
            total_amount=1000,
        )
        assert NewOrder.objects.get(pk=unpaid.pk).payments.count() == 0
        assert not migrated.stale_payment
        assert not NewRefund.objects.filter(needs_review=True).exists()
    finally:
        MigrationExecutor(connection).migrate(leaf)
