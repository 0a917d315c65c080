"""Orders and their checkouts (attempts): what the shop asks the buyer to pay, frozen once offered."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
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
    PENDING = "pending", _("Payment in progress")  # a payment on it has not finished (SPEI, cash, 3-D Secure)
    COMPLETED = "completed", _("Completed")
    CANCELED = "canceled", _("Canceled")
    EXPIRED = "expired", _("Expired")
    DECLINED = "declined", _("Payment failed")
    FAILED = "failed", _("Could not be created")


class ReviewCode(models.TextChoices):
    """Why an order needs a person to look at it (``Order.needs_review``)."""

    AMOUNT_MISMATCH = "amount_mismatch", _("Paid amount, currency or reference differs")
    PAID_TWICE = "paid_twice", _("Paid more than once")
    PARTIALLY_PAID = "partially_paid", _("Paid less than the total")
    STALE_CONTENTS = "stale_contents", _("Paid for contents that changed")
    MALFORMED_ANSWER = "malformed_answer", _("OrkestaPay's answer could not be used")
    REFUND_UNKNOWN = "refund_unknown", _("Refund outcome to check")
    # The ledger required a move the state machine does not make (money after a full refund, money that no
    # longer counts): the ledger won, and a person looks at why.
    LEDGER_OVERRIDE = "ledger_override", _("Status set by the ledger against the usual flow")


def content_fingerprint(
    *,
    currency: str,
    items: Any,
    subtotal_amount: Any,
    discount_amount: Any,
    shipping_amount: Any,
    tax_amount: Any,
    total_amount: Any,
) -> str:
    """A stable hash of what an order asks the buyer to pay: its lines (in any order), amounts and currency.

    Two orders (or an order and a shop object's current description) with the same fingerprint ask for the same
    money for the same things; customer details, references and descriptions do not count.
    """

    def amount(value: Any) -> str:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))

    lines = sorted(
        [str(item.get("product_id", "")), str(item.get("name", "")), int(item["quantity"]), amount(item["unit_price"])]
        for item in items
    )
    canonical = {
        "currency": str(currency).upper(),
        "lines": lines,
        "amounts": [amount(v) for v in (subtotal_amount, discount_amount, shipping_amount, tax_amount, total_amount)],
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


#: The fields that say what an order asks the buyer to pay. They cannot change once a checkout exists
#: (:class:`FrozenOrderError` from :meth:`Order.save`).
FROZEN_ORDER_FIELDS = (
    "merchant_order_id",
    "currency",
    "country_code",
    "subtotal_amount",
    "discount_amount",
    "shipping_amount",
    "tax_amount",
    "total_amount",
    "customer_first_name",
    "customer_last_name",
    "customer_email",
    "merchant_customer_id",
    "items",
    "content_type_id",
    "object_id",
    "content_fingerprint",
)


class FrozenOrderError(ValidationError):
    """An order's items, amounts, currency or customer were changed after a checkout was offered for it."""


class Order(models.Model):
    """A shop order to be paid through OrkestaPay. Amounts are Decimal in major units (pesos, not centavos).

    Once a checkout exists the fields in :data:`FROZEN_ORDER_FIELDS` are frozen: :meth:`save` refuses to change
    them (``QuerySet.update()`` bypasses this guard, as it bypasses every ``save()``). A changed cart gets a new order.
    """

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
    review_code = models.CharField(
        _("review kind"), max_length=24, choices=ReviewCode.choices, blank=True, db_index=True
    )
    review_reason = models.TextField(_("review reason"), blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    stale_payment = models.BooleanField(
        _("paid for stale contents"),
        default=False,
        help_text=_(
            "Money arrived for contents its shop object no longer has: this order never counts as the object's "
            "payment. For a person: refund it, or ship it by hand."
        ),
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True, db_index=True)
    content_fingerprint = models.CharField(
        _("content fingerprint"),
        max_length=64,
        blank=True,
        db_index=True,
        help_text=_("A hash of the items, amounts and currency: what this order asks the buyer to pay."),
    )
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
    paid_once = models.BooleanField(
        _("its shop object is paid once"),
        default=True,
        help_text=_(
            "The linked object is one purchase (a cart, a booking, an invoice): another order paying the same "
            "contents of it is a payment twice. Off for an object bought again and again (a catalogue item)."
        ),
    )
    _frozen_snapshot: dict[str, Any]

    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        permissions = [("refund_order", _("Can refund orders through OrkestaPay"))]

    def __str__(self) -> str:
        return f"{self.merchant_order_id} ({self.total_amount} {self.currency}, {self.get_status_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, refusing to change what the buyer is asked to pay once a checkout exists for this order."""
        changed = self.frozen_changes() if not self._state.adding else []
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            changed = [name for name in changed if name in update_fields or name.removesuffix("_id") in update_fields]
        if changed and Checkout.objects.filter(order_id=self.pk).exists():
            raise FrozenOrderError(
                _("Order %(reference)s was offered to the buyer; %(fields)s can no longer change.")
                % {"reference": self.merchant_order_id, "fields": ", ".join(changed)}
            )
        super().save(*args, **kwargs)
        self._frozen_snapshot = self._frozen_values()

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any, *args: Any, **kwargs: Any) -> Order:
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._frozen_snapshot = instance._frozen_values()
        return instance

    def _frozen_values(self) -> dict[str, Any]:
        # A deep copy: line items changed in place (``order.items[0]["unit_price"] = ...``) must differ from it.
        return copy.deepcopy({name: getattr(self, name) for name in FROZEN_ORDER_FIELDS if name in self.__dict__})

    def frozen_changes(self) -> list[str]:
        """The frozen fields whose value differs from what was loaded from the database; a frozen field that was
        deferred when the order was loaded (``only()``, ``defer()``) and set since is compared with the database."""
        snapshot: dict[str, Any] = getattr(self, "_frozen_snapshot", {})
        current = self._frozen_values()
        changed = [name for name, value in snapshot.items() if name in current and current[name] != value]
        unloaded = [name for name in current if name not in snapshot]
        if unloaded and self.pk is not None:
            stored = type(self)._default_manager.filter(pk=self.pk).values(*unloaded).first() or {}
            changed += [name for name in unloaded if name in stored and stored[name] != current[name]]
        return changed

    @property
    def is_paid(self) -> bool:
        """Whether money was received for this order."""
        return self.status in PAID_STATUSES

    @property
    def is_payable(self) -> bool:
        """Whether the buyer may (re)start a checkout."""
        return self.status in PAYABLE_STATUSES

    def compute_fingerprint(self) -> str:
        """The :func:`content_fingerprint` of this order's current items, amounts and currency."""
        return content_fingerprint(
            currency=self.currency,
            items=self.items,
            subtotal_amount=self.subtotal_amount,
            discount_amount=self.discount_amount,
            shipping_amount=self.shipping_amount,
            tax_amount=self.tax_amount,
            total_amount=self.total_amount,
        )

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
    disputed = models.BooleanField(
        _("disputed"),
        default=False,
        help_text=_(
            "OrkestaPay's order for this attempt disagrees with ours (amount, currency or reference): its payments "
            "are recorded but never count as paying the order. Set once, never cleared automatically."
        ),
    )
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
