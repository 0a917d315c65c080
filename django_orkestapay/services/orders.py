"""Orders and their amounts: money parsing, line-item normalization, :func:`create_order`, the checks that the
amounts add up, and the orders that pay for a shop's own objects (:func:`order_for`, through
:mod:`django_orkestapay.adapters`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

from .. import adapters, conf
from ..models import PAYABLE_STATUSES, Order, OrderStatus
from .locking import lock_shop_object, take_database_write_lock
from .money import check_fits, validate_amount, validate_quantity
from .text import validate_text

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

CENT = Decimal("0.01")

#: Statuses in which an order counts as its shop object's payment (a refunded order no longer does).
CURRENTLY_PAID = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


#: An amount, validated and bounded (finite, not negative, fits the column, the currency's places): see ``money``.
_money = validate_amount


def _normalize_items(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise ValidationError({"items": "An order needs at least one line item."})
    normalized = []
    for index, item in enumerate(items):
        try:
            name = str(item["name"]).strip()
            quantity = validate_quantity(item.get("quantity", 1), f"items[{index}].quantity")
            unit_price = _money(item["unit_price"], f"items[{index}].unit_price")
            check_fits(unit_price * quantity, f"items[{index}]")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError({"items": f"Line item {index} needs a name, a quantity and a unit_price."}) from exc
        if not name or quantity < 1:
            raise ValidationError({"items": f"Line item {index} needs a name and a positive quantity."})
        product_id = str(item.get("product_id") or item.get("id") or index + 1)
        validate_text(name, f"items[{index}].name", group="items")
        validate_text(product_id, f"items[{index}].product_id", group="items")
        entry = {"product_id": product_id, "name": name[:200], "quantity": quantity, "unit_price": str(unit_price)}
        if item.get("description"):
            entry["description"] = str(item["description"])[:250]
            validate_text(entry["description"], f"items[{index}].description", group="items", multiline=True)
        normalized.append(entry)
    return normalized


def compute_total(order: Order) -> Decimal:
    """total = subtotal - discounts + shipping + taxes."""
    return order.subtotal_amount - order.discount_amount + order.shipping_amount + order.tax_amount


def validate_amounts(order: Order) -> None:
    """Raise ``ValidationError`` unless the order's amounts add up (checked before any API call)."""
    items_sum = sum(
        (Decimal(str(item["unit_price"])) * int(item["quantity"]) for item in order.items), start=Decimal("0")
    )
    errors = {}
    for name in ("subtotal_amount", "discount_amount", "shipping_amount", "tax_amount", "total_amount"):
        check_fits(getattr(order, name), name)
    check_fits(items_sum, "items")
    if items_sum.quantize(CENT) != order.subtotal_amount:
        errors["subtotal_amount"] = f"Line items add up to {items_sum}, not {order.subtotal_amount}."
    if compute_total(order) != order.total_amount:
        errors["total_amount"] = (
            f"subtotal - discounts + shipping + taxes is {compute_total(order)}, not {order.total_amount}."
        )
    if order.total_amount <= 0:
        errors["total_amount"] = "The total must be positive."
    if errors:
        raise ValidationError(errors)


def create_order(
    *,
    items: Sequence[Mapping[str, Any]],
    customer: Mapping[str, str],
    merchant_order_id: str | None = None,
    currency: str | None = None,
    country_code: str | None = None,
    discount_amount: Any = 0,
    shipping_amount: Any = 0,
    tax_amount: Any = 0,
    total_amount: Any = None,
    locale: str = "",
    shop_object: models.Model | None = None,
    success_url: str = "",
    cancel_url: str = "",
    paid_once: bool = True,
    save: bool = True,
) -> Order:
    """Create an :class:`Order` from shop data, validating every amount.

    ``items``: mappings with ``name``, ``quantity``, ``unit_price`` and optional ``product_id``/``description``.
    No text may hold a NUL or another control character (tab and newlines only in descriptions): see
    :mod:`.text`.
    ``customer``: ``first_name``, ``last_name``, ``email`` and optional ``merchant_customer_id``.
    ``total_amount``, when given, must equal subtotal - discounts + shipping + taxes.
    ``success_url`` / ``cancel_url``: where this order's buyer lands after the return (paths on this site).
    ``paid_once``: whether ``shop_object`` is one purchase (a cart, a booking: the default), so that another order
    paying the same contents of it is a payment twice; ``False`` for an object bought again and again (a product).
    """
    normalized = _normalize_items(items)
    subtotal = sum((Decimal(i["unit_price"]) * i["quantity"] for i in normalized), start=Decimal("0")).quantize(CENT)
    try:
        first_name, last_name, email = customer["first_name"], customer["last_name"], customer["email"]
    except KeyError as exc:
        raise ValidationError({"customer": f"The customer needs {exc.args[0]}."}) from exc
    for key in ("first_name", "last_name", "email", "merchant_customer_id"):
        validate_text(customer.get(key), f"customer.{key}", group="customer")
    for field, value in {
        "merchant_order_id": merchant_order_id,
        "currency": currency,
        "country_code": country_code,
        "locale": locale,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }.items():
        validate_text(value, field)
    order = Order(
        merchant_order_id=merchant_order_id or f"ORD-{uuid.uuid4().hex[:16].upper()}",
        environment=conf.environment_label(),
        currency=(currency or conf.get("CURRENCY")).upper(),
        country_code=(country_code or conf.get("COUNTRY_CODE")).upper(),
        subtotal_amount=subtotal,
        discount_amount=_money(discount_amount, "discount_amount"),
        shipping_amount=_money(shipping_amount, "shipping_amount"),
        tax_amount=_money(tax_amount, "tax_amount"),
        customer_first_name=first_name,
        customer_last_name=last_name,
        customer_email=email,
        merchant_customer_id=str(customer.get("merchant_customer_id") or ""),
        items=normalized,
        locale=locale,
        success_url=success_url,
        cancel_url=cancel_url,
        paid_once=paid_once,
    )
    expected_total = compute_total(order)
    order.total_amount = expected_total if total_amount is None else _money(total_amount, "total_amount")
    if shop_object is not None:
        order.shop_object = shop_object
    validate_amounts(order)
    order.content_fingerprint = order.compute_fingerprint()
    if not save:
        return order
    order.full_clean()
    order.save()
    return order


def linked_orders(shop_object: models.Model) -> models.QuerySet[Order]:
    """The orders generically linked to ``shop_object``."""
    content_type = ContentType.objects.get_for_model(type(shop_object))
    return Order.objects.filter(content_type=content_type, object_id=str(shop_object.pk))


def current_fingerprint(shop_object: models.Model) -> str | None:
    """The content fingerprint of what ``shop_object`` asks to be paid now; ``None`` when its description does not
    add up (``ValidationError``). A broken adapter setting still raises ``ImproperlyConfigured``."""
    try:
        return _describe(shop_object)[1].content_fingerprint
    except ValidationError:
        return None


def paid_order_for(shop_object: models.Model) -> Order | None:
    """The newest order that pays for ``shop_object`` as it is now: PAID or PARTIALLY_REFUNDED (not REFUNDED), with
    the content fingerprint of the object's current description. Money paid for contents that changed since does
    not count, not even once the object is changed back (that order is flagged ``stale_contents``, marked
    ``stale_payment`` and announced by ``stale_order_paid``: it is for a person). An object that
    nothing describes (only linked to its orders) has no contents to compare: its newest paid order counts. An
    object bought again and again (``paid_once=False``: a catalogue item) is never paid: ``None``."""
    if not _describable(shop_object):
        return _paid_order(linked_orders(shop_object), None)
    try:
        candidate = _describe(shop_object)[1]
    except ValidationError:
        return None
    return _paid_order(linked_orders(shop_object), candidate.content_fingerprint) if candidate.paid_once else None


def _paid_order(linked: models.QuerySet[Order], fingerprint: str | None) -> Order | None:
    paid = linked.filter(status__in=CURRENTLY_PAID, stale_payment=False, paid_once=True)
    if fingerprint is not None:
        paid = paid.filter(content_fingerprint=fingerprint)
    return paid.order_by("-created_at").first()


def paid_twin(order: Order) -> Order | None:
    """Another order of ``order``'s shop object with the same contents (fingerprint) that is already paid (paid or
    partially refunded) and was not paid for stale contents: when ``order`` is paid too, the object is paid twice.
    ``None`` for an order linked to nothing, or to an object bought again and again (``paid_once=False``).

    For a *locked* order, in its transaction: the shop object's row is locked first (:func:`.locking.lock_shop_object`),
    so two orders of one object paid at the same moment are decided one after the other, each seeing the other's
    committed payment (the lock order is always order, then its shop object)."""
    if not order.paid_once or not order.content_type_id or not order.content_fingerprint:
        return None
    lock_shop_object(ContentType.objects.get_for_id(order.content_type_id).model_class(), order.object_id)
    return (
        Order.objects.filter(
            content_type_id=order.content_type_id,
            object_id=order.object_id,
            content_fingerprint=order.content_fingerprint,
            status__in=CURRENTLY_PAID,
            stale_payment=False,
            paid_once=True,
        )
        .exclude(pk=order.pk)
        .order_by("created_at")
        .first()
    )


def reference_taken(reference: str, *, order: Order | None = None) -> bool:
    """Whether ``reference`` already names an order (other than ``order``) or an attempt (one query): OrkestaPay is
    never sent one merchant reference for two orders or two attempts."""
    named = Q(merchant_order_id=reference) & ~Q(pk=order.pk) if order is not None else Q(merchant_order_id=reference)
    return Order.objects.filter(named | Q(checkouts__merchant_reference=reference)).exists()


#: ``Order.merchant_order_id``'s length.
_REFERENCE_LENGTH = 64


def next_order_reference(base: str, number: int) -> str:
    """The reference of a shop object's next order: ``base`` itself, else ``base-<number>``, ``base-<number+1>``...
    (``base`` cut to fit the column), the first that names no order and no attempt yet."""
    candidate = base[:_REFERENCE_LENGTH]
    number = max(number, 2)
    while reference_taken(candidate):
        suffix = f"-{number}"
        candidate = base[: _REFERENCE_LENGTH - len(suffix)] + suffix
        number += 1
    return candidate


def _describable(shop_object: models.Model) -> bool:
    """Whether anything describes ``shop_object``'s payment (the ADAPTER setting, or its own method)."""
    return adapters.get_adapter() is not None or isinstance(shop_object, adapters.Payable)


def order_for(shop_object: models.Model) -> Order:
    """The order that pays for ``shop_object`` as it is now: a paid one for its current contents (see
    :func:`paid_order_for`), an unpaid one with the same contents and customer, or a new one.

    An object bought again and again (``paid_once=False``) never returns a paid order: each buyer's is their own.
    The shop object's row is locked meanwhile, so two concurrent clicks make one order. When the object changed
    (say, a cart gained an item), a new order is created; the old one keeps its checkouts, so a payment that still
    arrives on it is recorded, never lost (and flagged, never taken for the new contents).
    """
    with transaction.atomic():
        take_database_write_lock()  # SQLite, where select_for_update does nothing (see services.locking)
        lock_shop_object(type(shop_object), shop_object.pk)
        description, candidate = _describe(shop_object)
        linked = linked_orders(shop_object)
        paid = _paid_order(linked, candidate.content_fingerprint) if candidate.paid_once else None
        if paid is not None:
            return paid
        payable = linked.filter(status__in=PAYABLE_STATUSES, content_fingerprint=candidate.content_fingerprint)
        for existing in payable.order_by("-created_at"):
            if _same_customer(existing, candidate):
                return existing
        base = description.merchant_order_id
        reference = next_order_reference(base, linked.count() + 1) if base else None
        return _order_from_description(description, shop_object, merchant_order_id=reference, save=True)


def paid_contents_changed(order: Order) -> tuple[bool, str | None]:
    """Whether money for ``order`` pays for contents its shop object no longer has; and the object's current
    fingerprint. An object that is gone or whose description fails counts as changed (``None``); one that nothing
    describes (only linked) has no contents to compare. Never raises: the shop's adapter is called from a payment's
    confirmation, which must not fail because of it."""
    if not order.content_type_id:
        return False, None
    try:
        shop_object = order.shop_object
        if shop_object is not None and not _describable(shop_object):
            return False, None
        current = None if shop_object is None else current_fingerprint(shop_object)
    except Exception:  # a broken adapter or a removed model must not lose the payment
        logger.exception("Order %s: its shop object could not be described", order.merchant_order_id)
        current = None
    return current != (order.content_fingerprint or order.compute_fingerprint()), current


def _describe(shop_object: models.Model) -> tuple[adapters.PaymentDescription, Order]:
    """``shop_object``'s current description and an unsaved order made from it (``ValidationError`` when its
    amounts do not add up)."""
    description = adapters.describe_payment(shop_object)
    return description, _order_from_description(description, shop_object, merchant_order_id="ORD-CANDIDATE")


def _order_from_description(
    description: adapters.PaymentDescription,
    shop_object: models.Model,
    *,
    merchant_order_id: str | None,
    save: bool = False,
) -> Order:
    return create_order(
        items=description.items,
        customer=description.customer,
        merchant_order_id=merchant_order_id,
        currency=description.currency,
        country_code=description.country_code,
        discount_amount=description.discount_amount,
        shipping_amount=description.shipping_amount,
        tax_amount=description.tax_amount,
        locale=description.locale,
        shop_object=shop_object,
        success_url=description.success_url,
        cancel_url=description.cancel_url,
        paid_once=description.paid_once,
        save=save,
    )


_CUSTOMER_FIELDS = ("country_code", "customer_first_name", "customer_last_name", "customer_email")


def _same_customer(existing: Order, candidate: Order) -> bool:
    return all(getattr(existing, name) == getattr(candidate, name) for name in _CUSTOMER_FIELDS)
