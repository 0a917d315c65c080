"""The payment ledger: one row per OrkestaPay payment, and the refunds that belong to each."""

from __future__ import annotations

import uuid

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .orders import MONEY, Checkout, Order


class PaymentStatus(models.TextChoices):
    """Where one OrkestaPay payment stands, as the API last reported it (normalized)."""

    PENDING = "pending", _("In progress")  # SPEI or cash awaiting the money, 3-D Secure, processing, unknown
    AUTHORIZED = "authorized", _("Authorized, not captured")
    COMPLETED = "completed", _("Completed")  # money received (refunds are tracked apart, in refunded_amount)
    FAILED = "failed", _("Failed")  # declined or rejected
    CANCELED = "canceled", _("Canceled")  # voided or canceled


class PaymentOrigin(models.TextChoices):
    """Where a ledger row came from. Only ``api`` rows are OrkestaPay's word about a payment."""

    API = "api", _("OrkestaPay's API")
    # OrkestaPay reported the attempt's order paid but listed no completed payment: a stand-in, replaced (its
    # refunds moved, the row deleted) when the real payment is listed; never refunded.
    PLACEHOLDER = "placeholder", _("Stand-in until OrkestaPay lists the payment")
    # Built by migration 0003 from the payment id the old code stored: corrected by the first API answer about it.
    MIGRATED = "migrated", _("Carried over from before the ledger")
    # OrkestaPay reported the payment completed without an amount, and its order paid for our total and currency:
    # the amount is the order's. A real payment (refundable); the first answer about it with an amount corrects it.
    ORDER_TOTAL = "order_total", _("Amount taken from OrkestaPay's order")


class Payment(models.Model):
    """One OrkestaPay payment (``pay_...``) on any attempt of an order: the ledger.

    One row per OrkestaPay payment id, upserted from every API read and every webhook, whether the attempt is open
    or closed. Nothing overwrites or absorbs a payment: an order paid twice has two completed rows. The order's
    status is derived from these rows and from its refunds.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    checkout = models.ForeignKey(
        Checkout,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("checkout"),
    )
    orkestapay_payment_id = models.CharField(_("OrkestaPay payment id"), max_length=64, unique=True)
    orkestapay_order_id = models.CharField(_("OrkestaPay order id"), max_length=64, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True
    )
    remote_status = models.CharField(_("OrkestaPay status"), max_length=40, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)  # type: ignore[arg-type]
    refunded_amount = models.DecimalField(
        _("refunded (as OrkestaPay reports)"),
        **MONEY,  # type: ignore[arg-type]
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    method_type = models.CharField(_("method"), max_length=32, blank=True)
    origin = models.CharField(
        _("origin"), max_length=16, choices=PaymentOrigin.choices, default=PaymentOrigin.API, db_index=True
    )
    raw = models.JSONField(_("OrkestaPay's last answer"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.orkestapay_payment_id} ({self.amount} {self.currency}, {self.get_status_display()})"


class RefundStatus(models.TextChoices):
    """Where one refund request stands. Only an explicit refusal is FAILED; anything unknown keeps the amount."""

    REQUESTED = "requested", _("Requested")  # recorded; sent, or about to be, with no answer yet (or no usable one)
    PENDING = "pending", _("Pending at OrkestaPay")  # OrkestaPay accepted it but has not finished it
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


#: A refund in one of these has no outcome yet: its amount is held (no one may refund it again) until it has one.
UNSETTLED_REFUNDS = (RefundStatus.REQUESTED, RefundStatus.PENDING)


class RefundOrigin(models.TextChoices):
    """Who asked for a refund."""

    SHOP = "shop", _("This shop")
    ORKESTAPAY = "orkestapay", _("OrkestaPay (portal or support)")


class Refund(models.Model):
    """One refund of one :class:`Payment`, recorded (committed) before the request is sent.

    ``idempotency_key`` is sent as the ``Idempotency-Key`` header, so resending this record can never refund twice;
    it is derived from the operator's one-time intent, so a double submit makes one record. Refunds that OrkestaPay
    reports but this shop did not send (made in its portal) are mirrored with ``origin = orkestapay``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    orkestapay_payment_id = models.CharField(_("OrkestaPay payment id"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    description = models.CharField(_("description"), max_length=250, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    origin = models.CharField(
        _("origin"), max_length=16, choices=RefundOrigin.choices, default=RefundOrigin.SHOP, db_index=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED, db_index=True
    )
    transaction_id = models.CharField(_("OrkestaPay transaction id"), max_length=64, blank=True, db_index=True)
    remote_status = models.CharField(_("OrkestaPay status"), max_length=40, blank=True)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        db_index=True,
        help_text=_(
            "Its outcome is unknown and OrkestaPay may have forgotten its idempotency key: it is not resent "
            "automatically. Check the payment in OrkestaPay's portal."
        ),
    )
    error = models.TextField(_("error"), blank=True)
    raw_response = models.JSONField(_("raw response"), null=True, blank=True)
    announced_at = models.DateTimeField(
        _("announced"),
        null=True,
        blank=True,
        help_text=_("When order_refunded was sent for this refund (once it succeeded); empty until then."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.amount} ({self.get_status_display()})"
