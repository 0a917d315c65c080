# The payment ledger: one Payment row per OrkestaPay payment, refunds that belong to a payment, review codes,
# content fingerprints. The data step builds Payment rows for existing installs from what 0001/0002 stored.

import uuid
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from django_orkestapay.models import content_fingerprint

PAID = ("paid", "partially_refunded", "refunded")


def build_ledger(apps, schema_editor):
    Order = apps.get_model("orkestapay", "Order")
    Checkout = apps.get_model("orkestapay", "Checkout")
    Payment = apps.get_model("orkestapay", "Payment")
    Refund = apps.get_model("orkestapay", "Refund")
    db = schema_editor.connection.alias

    def payment_for(order, payment_id):
        payment = Payment.objects.using(db).filter(orkestapay_payment_id=payment_id).first()
        if payment is not None:
            return payment
        attempts = Checkout.objects.using(db).filter(order_id=order.pk).exclude(orkestapay_order_id="")
        checkout = (
            attempts.filter(status="completed").order_by("-created_at").first()
            or attempts.order_by("-created_at").first()
        )
        paid = order.status in PAID
        return Payment.objects.using(db).create(
            order_id=order.pk,
            checkout_id=checkout.pk if checkout else None,
            orkestapay_payment_id=payment_id,
            orkestapay_order_id=(checkout.orkestapay_order_id if checkout else order.orkestapay_order_id) or "",
            status="completed" if paid else "pending",
            origin="migrated",  # corrected by the first API answer about it (the old code may have stored a declined id)
            remote_status="COMPLETED" if paid else "",
            amount=order.total_amount,
            currency=order.currency,
            completed_at=order.paid_at if paid else None,
            created_at=order.paid_at or order.updated_at,
        )

    for order in Order.objects.using(db).iterator():
        order.content_fingerprint = content_fingerprint(
            currency=order.currency,
            items=order.items,
            subtotal_amount=order.subtotal_amount,
            discount_amount=order.discount_amount,
            shipping_amount=order.shipping_amount,
            tax_amount=order.tax_amount,
            total_amount=order.total_amount,
        )
        order.status_changed_at = order.updated_at
        if order.needs_review:
            order.review_code = "amount_mismatch"
        order.save(update_fields=["content_fingerprint", "status_changed_at", "review_code"])
        if order.orkestapay_payment_id:
            payment_for(order, order.orkestapay_payment_id)

    for refund in Refund.objects.using(db).select_related("order").iterator():
        refund.payment_id = payment_for(refund.order, refund.orkestapay_payment_id).pk
        refund.attempts = 1
        refund.save(update_fields=["payment", "attempts"])

    for payment in Payment.objects.using(db).iterator():
        refunded = Refund.objects.using(db).filter(payment_id=payment.pk, status="succeeded")
        total = sum((refund.amount for refund in refunded), Decimal("0.00"))
        Payment.objects.using(db).filter(pk=payment.pk).update(refunded_amount=total)


class Migration(migrations.Migration):
    dependencies = [
        ("orkestapay", "0002_refunds_and_return_pages"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "ordering": ["-created_at"],
                "permissions": [("refund_order", "Can refund orders through OrkestaPay")],
                "verbose_name": "order",
                "verbose_name_plural": "orders",
            },
        ),
        migrations.AddField(
            model_name="order",
            name="content_fingerprint",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="A hash of the items, amounts and currency: what this order asks the buyer to pay.",
                max_length=64,
                verbose_name="content fingerprint",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="review_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("amount_mismatch", "Paid amount, currency or reference differs"),
                    ("paid_twice", "Paid more than once"),
                    ("partially_paid", "Paid less than the total"),
                    ("stale_contents", "Paid for contents that changed"),
                    ("malformed_answer", "OrkestaPay's answer could not be used"),
                    ("refund_unknown", "Refund outcome to check"),
                ],
                db_index=True,
                max_length=24,
                verbose_name="review kind",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="status_changed_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="status changed"),
        ),
        migrations.AddField(
            model_name="order",
            name="stale_payment",
            field=models.BooleanField(
                default=False,
                help_text="Money arrived for contents its shop object no longer has: this order never counts as the "
                "object's payment. For a person: refund it, or ship it by hand.",
                verbose_name="paid for stale contents",
            ),
        ),
        migrations.CreateModel(
            name="Payment",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                (
                    "orkestapay_payment_id",
                    models.CharField(max_length=64, unique=True, verbose_name="OrkestaPay payment id"),
                ),
                (
                    "orkestapay_order_id",
                    models.CharField(blank=True, db_index=True, max_length=64, verbose_name="OrkestaPay order id"),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "In progress"),
                            ("authorized", "Authorized, not captured"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("canceled", "Canceled"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("remote_status", models.CharField(blank=True, max_length=40, verbose_name="OrkestaPay status")),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("0.00"),
                        max_digits=14,
                        validators=[django.core.validators.MinValueValidator(0)],
                        verbose_name="amount",
                    ),
                ),
                (
                    "refunded_amount",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("0.00"),
                        max_digits=14,
                        validators=[django.core.validators.MinValueValidator(0)],
                        verbose_name="refunded (as OrkestaPay reports)",
                    ),
                ),
                ("currency", models.CharField(blank=True, max_length=3, verbose_name="currency")),
                ("method_type", models.CharField(blank=True, max_length=32, verbose_name="method")),
                (
                    "origin",
                    models.CharField(
                        choices=[
                            ("api", "OrkestaPay's API"),
                            ("placeholder", "Stand-in until OrkestaPay lists the payment"),
                            ("migrated", "Carried over from before the ledger"),
                        ],
                        db_index=True,
                        default="api",
                        max_length=16,
                        verbose_name="origin",
                    ),
                ),
                ("raw", models.JSONField(blank=True, null=True, verbose_name="OrkestaPay's last answer")),
                ("completed_at", models.DateTimeField(blank=True, null=True, verbose_name="completed at")),
                (
                    "created_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="created"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated")),
                (
                    "checkout",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="orkestapay.checkout",
                        verbose_name="checkout",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="orkestapay.order",
                        verbose_name="order",
                    ),
                ),
            ],
            options={
                "verbose_name": "payment",
                "verbose_name_plural": "payments",
                "ordering": ["created_at"],
            },
        ),
        migrations.RenameField(model_name="refund", old_name="payment_id", new_name="orkestapay_payment_id"),
        migrations.AddField(
            model_name="refund",
            name="payment",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds",
                to="orkestapay.payment",
                verbose_name="payment",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="origin",
            field=models.CharField(
                choices=[("shop", "This shop"), ("orkestapay", "OrkestaPay (portal or support)")],
                db_index=True,
                default="shop",
                max_length=16,
                verbose_name="origin",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="attempts",
            field=models.PositiveIntegerField(default=0, verbose_name="attempts"),
        ),
        migrations.AddField(
            model_name="refund",
            name="needs_review",
            field=models.BooleanField(
                db_index=True,
                default=False,
                help_text="Its outcome is unknown and OrkestaPay may have forgotten its idempotency key: it is not "
                "resent automatically. Check the payment in OrkestaPay's portal.",
                verbose_name="needs review",
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="status",
            field=models.CharField(
                choices=[
                    ("requested", "Requested"),
                    ("pending", "Pending at OrkestaPay"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                ],
                db_index=True,
                default="requested",
                max_length=16,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="transaction_id",
            field=models.CharField(blank=True, db_index=True, max_length=64, verbose_name="OrkestaPay transaction id"),
        ),
        migrations.AlterField(
            model_name="checkout",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Open"),
                    ("pending", "Payment in progress"),
                    ("completed", "Completed"),
                    ("canceled", "Canceled"),
                    ("expired", "Expired"),
                    ("declined", "Payment failed"),
                    ("failed", "Could not be created"),
                ],
                db_index=True,
                default="open",
                max_length=20,
                verbose_name="status",
            ),
        ),
        migrations.AddField(
            model_name="checkout",
            name="disputed",
            field=models.BooleanField(
                default=False,
                help_text="OrkestaPay's order for this attempt disagrees with ours (amount, currency or reference): "
                "its payments are recorded but never count as paying the order. Set once, never cleared "
                "automatically.",
                verbose_name="disputed",
            ),
        ),
        migrations.RunPython(build_ledger, migrations.RunPython.noop),
    ]
