"""Orders and checkouts as the shop's database records them. No HTTP here: see :mod:`django_orkestapay.services`."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2, "default": Decimal("0.00"), "validators": [MinValueValidator(0)]}


class OrderStatus(models.TextChoices):
    """Our record of where an order stands. Only the service layer moves it."""

    CREATED = "created", _("Created")
    PENDING = "pending", _("Pending payment")
    PAID = "paid", _("Paid")
    CANCELED = "canceled", _("Canceled")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


#: Statuses in which money was received (a payment exists that completed).
PAID_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})

#: Statuses from which the buyer may start a new checkout.
PAYABLE_STATUSES = frozenset(
    {OrderStatus.CREATED, OrderStatus.PENDING, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED}
)


class CheckoutStatus(models.TextChoices):
    """One attempt at the hosted checkout."""

    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    CANCELED = "canceled", _("Canceled")
    EXPIRED = "expired", _("Expired")
    DECLINED = "declined", _("Payment failed")
    FAILED = "failed", _("Could not be created")


class Order(models.Model):
    """A shop order to be paid through OrkestaPay. Amounts are Decimal in major units (pesos, not centavos)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant_order_id = models.CharField(_("merchant order id"), max_length=64, unique=True)
    environment = models.CharField(_("environment"), max_length=16, default="sandbox", db_index=True)
    currency = models.CharField(_("currency"), max_length=3, default="MXN")
    country_code = models.CharField(_("country"), max_length=2, default="MX")
    subtotal_amount = models.DecimalField(_("subtotal"), **MONEY)  # type: ignore[arg-type]
    discount_amount = models.DecimalField(_("discounts"), **MONEY)  # type: ignore[arg-type]
    shipping_amount = models.DecimalField(_("shipping"), **MONEY)  # type: ignore[arg-type]
    tax_amount = models.DecimalField(_("taxes"), **MONEY)  # type: ignore[arg-type]
    total_amount = models.DecimalField(_("total"), **MONEY)  # type: ignore[arg-type]
    customer_first_name = models.CharField(_("customer first name"), max_length=100)
    customer_last_name = models.CharField(_("customer last name"), max_length=100)
    customer_email = models.EmailField(_("customer email"), db_index=True)
    merchant_customer_id = models.CharField(_("merchant customer id"), max_length=64, blank=True)
    items = models.JSONField(_("line items"), default=list, blank=True)
    locale = models.CharField(_("checkout locale"), max_length=16, blank=True)

    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED, db_index=True
    )
    remote_status = models.CharField(_("OrkestaPay status"), max_length=40, blank=True)
    orkestapay_order_id = models.CharField(_("OrkestaPay order id"), max_length=64, blank=True, db_index=True)
    orkestapay_payment_id = models.CharField(_("OrkestaPay payment id"), max_length=64, blank=True, db_index=True)
    needs_review = models.BooleanField(_("needs review"), default=False, db_index=True)
    review_reason = models.TextField(_("review reason"), blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    last_synced_at = models.DateTimeField(_("last synced with OrkestaPay"), null=True, blank=True)
    success_url = models.CharField(
        _("success page"),
        max_length=500,
        blank=True,
        help_text=_("Where the buyer lands after paying (a path on this site); empty: the SUCCESS_URL setting."),
    )
    cancel_url = models.CharField(
        _("cancel page"),
        max_length=500,
        blank=True,
        help_text=_("Where the buyer lands after canceling (a path on this site); empty: the CANCEL_URL setting."),
    )

    content_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    object_id = models.CharField(max_length=64, blank=True)
    shop_object = GenericForeignKey("content_type", "object_id")

    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.merchant_order_id} ({self.total_amount} {self.currency}, {self.get_status_display()})"

    @property
    def is_paid(self) -> bool:
        """Whether money was received for this order."""
        return self.status in PAID_STATUSES

    @property
    def is_payable(self) -> bool:
        """Whether the buyer may (re)start a checkout."""
        return self.status in PAYABLE_STATUSES

    @property
    def customer_name(self) -> str:
        return f"{self.customer_first_name} {self.customer_last_name}".strip()

    def line_items(self) -> list[dict[str, Any]]:
        """The stored line items with Decimal unit prices."""
        return [{**item, "unit_price": Decimal(str(item["unit_price"]))} for item in self.items]


class Checkout(models.Model):
    """One hosted-checkout session registered with OrkestaPay for an order."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="checkouts", verbose_name=_("order"))
    orkestapay_checkout_id = models.CharField(
        _("OrkestaPay checkout id"), max_length=64, unique=True, null=True, blank=True
    )
    orkestapay_order_id = models.CharField(_("OrkestaPay order id"), max_length=64, blank=True, db_index=True)
    merchant_reference = models.CharField(_("merchant order id sent"), max_length=80, blank=True)
    redirect_url = models.URLField(_("checkout URL"), max_length=1000, blank=True)
    completed_url = models.URLField(_("completed return URL"), max_length=1000)
    canceled_url = models.URLField(_("canceled return URL"), max_length=1000)
    locale = models.CharField(_("locale"), max_length=16, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN, db_index=True
    )
    raw_response = models.JSONField(_("raw response"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("checkout")
        verbose_name_plural = _("checkouts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.orkestapay_checkout_id or f"checkout {self.id}"

    def is_reusable(self, *, now: Any, margin_seconds: float) -> bool:
        """An open checkout with a redirect URL and enough time left can be shown to the buyer again."""
        if self.status != CheckoutStatus.OPEN or not self.redirect_url:
            return False
        if self.expires_at is None:
            return True
        return bool((self.expires_at - now).total_seconds() > margin_seconds)


class EventStatus(models.TextChoices):
    """What happened to one webhook delivery."""

    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed (will be retried)")
    REJECTED = "rejected", _("Rejected")


class Event(models.Model):
    """One webhook delivery from OrkestaPay, stored before anything acts on it.

    ``message_id`` (the ``svix-id``) is unique for verified deliveries, so a retry or a duplicate is recognised.
    Rejected deliveries (bad signature, malformed body) keep the id they claimed in ``claimed_message_id`` and leave
    ``message_id`` empty: a forger cannot occupy the id of a real event.
    """

    message_id = models.CharField(_("message id"), max_length=255, unique=True, null=True, blank=True)
    claimed_message_id = models.CharField(_("claimed message id"), max_length=255, blank=True)
    event_type = models.CharField(_("event type"), max_length=64, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED, db_index=True
    )
    verified = models.BooleanField(_("signature verified"), default=False)
    raw_body = models.TextField(_("raw body"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    payload = models.JSONField(_("payload"), null=True, blank=True)
    orkestapay_order_id = models.CharField(_("OrkestaPay order id"), max_length=64, blank=True, db_index=True)
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="events", verbose_name=_("order")
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} {self.message_id or self.claimed_message_id or self.pk}"


class RefundStatus(models.TextChoices):
    """Where one refund request stands."""

    REQUESTED = "requested", _("Requested")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Refund(models.Model):
    """One refund asked of OrkestaPay, recorded before the request is sent.

    ``idempotency_key`` is sent as the ``Idempotency-Key`` header, so retrying this record can never refund twice.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    payment_id = models.CharField(_("OrkestaPay payment id"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    description = models.CharField(_("description"), max_length=250, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED, db_index=True
    )
    transaction_id = models.CharField(_("OrkestaPay transaction id"), max_length=64, blank=True)
    remote_status = models.CharField(_("OrkestaPay status"), max_length=40, blank=True)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    error = models.TextField(_("error"), blank=True)
    raw_response = models.JSONField(_("raw response"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.amount} ({self.get_status_display()})"
