"""The service layer: the only code that calls the OrkestaPay client and the only code that changes statuses.

Views, webhooks, admin actions and management commands call these functions and nothing else. Every status change
goes through :func:`transition_order`, under a row lock, and sends its signals on commit.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone, translation

from . import adapters, conf, signals
from .client import CheckoutResult, OrkestaPayClient, RemoteOrder
from .exceptions import (
    APIConnectionError,
    InvalidTransitionError,
    MalformedResponseError,
    OrderNotPayableError,
    OrkestaPayError,
    RefundNotAllowedError,
    ServerError,
    UnexpectedRedirectError,
)
from .models import (
    PAID_STATUSES,
    PAYABLE_STATUSES,
    Checkout,
    CheckoutStatus,
    Event,
    EventStatus,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
)
from .signing import CANCELED, COMPLETED, RETURN_PARAM, ReturnLink, sign_return

logger = logging.getLogger("django_orkestapay.services")

CENT = Decimal("0.01")

#: The only checkout locale seen in OrkestaPay's documentation and integrations.
DEFAULT_LOCALE = "ES_LATAM"

# ---------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------

_clients = threading.local()


def get_client() -> OrkestaPayClient:
    """An API client for the current settings, reused per thread while the settings stay the same.

    The token lives in the Django cache named by ``TOKEN_CACHE_ALIAS`` so every worker shares it.
    """
    config = (
        conf.base_url(),
        str(conf.require("CLIENT_ID")),
        str(conf.require("CLIENT_SECRET")),
        float(conf.get("CONNECT_TIMEOUT")),
        float(conf.get("READ_TIMEOUT")),
        int(conf.get("MAX_RETRIES")),
        float(conf.get("TOKEN_EXPIRY_LEEWAY")),
        str(conf.get("TOKEN_CACHE_ALIAS")),
    )
    cached: tuple[tuple[Any, ...], OrkestaPayClient] | None = getattr(_clients, "current", None)
    if cached is not None and cached[0] == config:
        return cached[1]
    if cached is not None:
        cached[1].close()
    base_url, client_id, client_secret, connect_timeout, read_timeout, max_retries, leeway, alias = config
    client = OrkestaPayClient(
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_retries=max_retries,
        token_leeway=leeway,
        token_cache=caches[alias],
    )
    _clients.current = (config, client)
    return client


# ---------------------------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------------------------


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: f"{value!r} is not an amount."}) from exc
    if not amount.is_finite() or amount < 0:
        raise ValidationError({field: f"{value!r} is not a non-negative amount."})
    if amount != amount.quantize(CENT):
        raise ValidationError({field: f"{value!r} has more than 2 decimal places."})
    return amount.quantize(CENT)


def _normalize_items(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise ValidationError({"items": "An order needs at least one line item."})
    normalized = []
    for index, item in enumerate(items):
        try:
            name = str(item["name"]).strip()
            quantity = int(item.get("quantity", 1))
            unit_price = _money(item["unit_price"], f"items[{index}].unit_price")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError({"items": f"Line item {index} needs a name, a quantity and a unit_price."}) from exc
        if not name or quantity < 1:
            raise ValidationError({"items": f"Line item {index} needs a name and a positive quantity."})
        product_id = str(item.get("product_id") or item.get("id") or index + 1)
        entry = {"product_id": product_id, "name": name[:200], "quantity": quantity, "unit_price": str(unit_price)}
        if item.get("description"):
            entry["description"] = str(item["description"])[:250]
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
    save: bool = True,
) -> Order:
    """Create an :class:`Order` from shop data, validating every amount.

    ``items``: mappings with ``name``, ``quantity``, ``unit_price`` and optional ``product_id``/``description``.
    ``customer``: ``first_name``, ``last_name``, ``email`` and optional ``merchant_customer_id``.
    ``total_amount``, when given, must equal subtotal - discounts + shipping + taxes.
    ``success_url`` / ``cancel_url``: where this order's buyer lands after the return (paths on this site).
    """
    normalized = _normalize_items(items)
    subtotal = sum((Decimal(i["unit_price"]) * i["quantity"] for i in normalized), start=Decimal("0")).quantize(CENT)
    try:
        first_name, last_name, email = customer["first_name"], customer["last_name"], customer["email"]
    except KeyError as exc:
        raise ValidationError({"customer": f"The customer needs {exc.args[0]}."}) from exc
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
    )
    expected_total = compute_total(order)
    order.total_amount = expected_total if total_amount is None else _money(total_amount, "total_amount")
    if shop_object is not None:
        order.shop_object = shop_object
    validate_amounts(order)
    if not save:
        return order
    order.full_clean()
    order.save()
    return order


def linked_orders(shop_object: models.Model) -> models.QuerySet[Order]:
    """The orders generically linked to ``shop_object``."""
    content_type = ContentType.objects.get_for_model(type(shop_object))
    return Order.objects.filter(content_type=content_type, object_id=str(shop_object.pk))


def paid_order_for(shop_object: models.Model) -> Order | None:
    """The first paid order of ``shop_object``, if any."""
    return linked_orders(shop_object).filter(status__in=PAID_STATUSES).order_by("created_at").first()


def order_for(shop_object: models.Model) -> Order:
    """The order that pays for ``shop_object``: a paid one if it exists, an unpaid one whose amounts still match
    the object's description (see :mod:`django_orkestapay.adapters`), or a new one.

    The shop object's row is locked meanwhile, so two concurrent clicks make one order. When the object changed
    (say, a cart gained an item), a new order is created; the old one keeps its checkouts, so a payment that still
    arrives on it is recorded, never lost.
    """
    with transaction.atomic():
        type(shop_object)._default_manager.select_for_update().filter(pk=shop_object.pk).exists()
        linked = linked_orders(shop_object)
        paid = paid_order_for(shop_object)
        if paid is not None:
            return paid
        description = adapters.describe_payment(shop_object)
        candidate = _order_from_description(description, shop_object, merchant_order_id="ORD-CANDIDATE")
        for existing in linked.filter(status__in=PAYABLE_STATUSES).order_by("-created_at"):
            if _same_payment(existing, candidate):
                return existing
        reference = description.merchant_order_id
        attempt = linked.count() + 1
        while reference and Order.objects.filter(merchant_order_id=reference).exists():
            reference = f"{description.merchant_order_id}-{attempt}"
            attempt += 1
        return _order_from_description(description, shop_object, merchant_order_id=reference, save=True)


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
        save=save,
    )


_COMPARED_FIELDS = (
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
    "items",
)


def _same_payment(existing: Order, candidate: Order) -> bool:
    return all(getattr(existing, name) == getattr(candidate, name) for name in _COMPARED_FIELDS)


# ---------------------------------------------------------------------------------------------------------------
# Status transitions
# ---------------------------------------------------------------------------------------------------------------

#: Allowed moves. Money received is a fact: a canceled, failed or expired order can still become PAID when the API
#: says a payment completed. Nothing leaves the paid family except through refunds.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.CREATED: frozenset(
        {OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED}
    ),
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED}),
    OrderStatus.FAILED: frozenset({OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.EXPIRED}),
    OrderStatus.CANCELED: frozenset({OrderStatus.PENDING, OrderStatus.PAID}),
    OrderStatus.EXPIRED: frozenset({OrderStatus.PENDING, OrderStatus.PAID}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}

_STATUS_SIGNALS = {
    OrderStatus.PAID: signals.order_paid,
    OrderStatus.CANCELED: signals.order_canceled,
    OrderStatus.FAILED: signals.order_failed,
    OrderStatus.EXPIRED: signals.order_expired,
}


def can_transition(old: str, new: str) -> bool:
    """Whether ``old -> new`` is an allowed move (the same status is always allowed, as a no-op)."""
    return old == new or new in ALLOWED_TRANSITIONS.get(old, frozenset())


def transition_order(order: Order, new_status: str, *, reason: str = "") -> bool:
    """Move a *locked* order to ``new_status`` and save it; send signals on commit.

    Must run inside ``transaction.atomic()`` on an order fetched with ``select_for_update()``. Returns ``False`` for
    a no-op (already there) and raises :class:`InvalidTransitionError` for a move the state machine refuses.
    """
    old_status = order.status
    if old_status == new_status:
        return False
    if not can_transition(old_status, new_status):
        raise InvalidTransitionError(f"Order {order.merchant_order_id}: {old_status} -> {new_status} is not allowed")
    order.status = new_status
    if new_status == OrderStatus.PAID and order.paid_at is None:
        order.paid_at = timezone.now()
    order.save()
    logger.info("Order %s: %s -> %s (%s)", order.merchant_order_id, old_status, new_status, reason or "no reason")
    _send_on_commit(signals.order_status_changed, order, old_status=old_status, new_status=new_status)
    status_signal = _STATUS_SIGNALS.get(OrderStatus(new_status))
    if status_signal is not None:
        _send_on_commit(status_signal, order)
    return True


def _send_on_commit(signal: Any, order: Order, **kwargs: Any) -> None:
    def send() -> None:
        signal.send(sender=Order, order=order, shop_object=_shop_object(order), **kwargs)

    transaction.on_commit(send)


def _shop_object(order: Order) -> Any:
    if not order.content_type_id:
        return None
    try:
        return order.shop_object
    except Exception:  # noqa: BLE001 - the linked object may have been deleted or its model removed
        logger.warning("Order %s: linked shop object could not be loaded", order.merchant_order_id)
        return None


# ---------------------------------------------------------------------------------------------------------------
# Checkouts
# ---------------------------------------------------------------------------------------------------------------


def _to_number(amount: Decimal) -> Decimal | int:
    return int(amount) if amount == amount.to_integral_value() else amount


def checkout_locale(order: Order) -> str:
    """The locale sent to OrkestaPay: the order's, else the ``LOCALE`` setting, else the active language's
    entry in ``LANGUAGE_LOCALES`` (``es-mx`` -> ``es``), else ``ES_LATAM``."""
    if order.locale:
        return order.locale
    if conf.get("LOCALE"):
        return str(conf.get("LOCALE"))
    language = (translation.get_language() or "").lower()
    table: Mapping[str, str] = conf.get("LANGUAGE_LOCALES") or {}
    return table.get(language) or table.get(language.split("-")[0]) or DEFAULT_LOCALE


def build_checkout_payload(order: Order, checkout: Checkout) -> dict[str, Any]:
    """The ``POST /v1/checkouts`` body for one checkout of ``order``, in the documented shape."""
    payload_order: dict[str, Any] = {
        "merchant_order_id": checkout.merchant_reference,
        "currency": order.currency,
        "subtotal_amount": _to_number(order.subtotal_amount),
        "country_code": order.country_code,
    }
    if order.discount_amount:
        payload_order["discounts"] = [{"amount": _to_number(order.discount_amount)}]
    if order.shipping_amount:
        payload_order["shipping_details"] = {"amount": _to_number(order.shipping_amount)}
    if order.tax_amount:
        payload_order["taxes"] = [{"amount": _to_number(order.tax_amount)}]
    payload_order["total_amount"] = _to_number(order.total_amount)
    payload_order["products"] = [
        {
            "product_id": item["product_id"],
            "name": item["name"],
            "quantity": item["quantity"],
            "unit_price": _to_number(Decimal(item["unit_price"])),
            **({"description": item["description"]} if item.get("description") else {}),
        }
        for item in order.items
    ]
    customer = {
        "first_name": order.customer_first_name,
        "last_name": order.customer_last_name,
        "email": order.customer_email,
    }
    if order.merchant_customer_id:
        customer["merchant_customer_id"] = order.merchant_customer_id
    payload_order["customer"] = customer
    if checkout.expires_at is not None:
        payload_order["expires_at"] = int(checkout.expires_at.timestamp() * 1000)
    return {
        "completed_redirect_url": checkout.completed_url,
        "canceled_redirect_url": checkout.canceled_url,
        "allow_save_payment_methods": bool(conf.get("ALLOW_SAVE_PAYMENT_METHODS")),
        "locale": checkout.locale,
        "order": payload_order,
    }


def _return_url(build_absolute_uri: Callable[[str], str], order: Order, checkout: Checkout, side: str) -> str:
    path = reverse(f"orkestapay:{side}")
    query = urlencode({RETURN_PARAM: sign_return(order_id=order.pk, checkout_id=checkout.pk, side=side)})
    base = conf.get("RETURN_BASE_URL")
    if base:
        return f"{str(base).rstrip('/')}{path}?{query}"
    return build_absolute_uri(f"{path}?{query}")


def is_trusted_checkout_url(url: str) -> bool:
    """Whether ``url`` points at a host we send buyers to (https, or the overridden BASE_URL's own host)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[x" and other URLs Python cannot even split
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        return False
    # Browsers read "https://evil.example\@x.orkestapay.com" as evil.example; refuse user info, backslashes and
    # anything but plain (punycode) host characters, so we judge the same host the browser would visit.
    if "@" in parts.netloc or "\\" in url or not all(c in "abcdefghijklmnopqrstuvwxyz0123456789.-:" for c in host):
        return False
    base_host = urlsplit(conf.base_url()).hostname
    if parts.scheme == "http" and host != base_host:
        return False
    for allowed in conf.checkout_hosts():
        allowed = allowed.lower()
        if allowed.startswith(".") and (host.endswith(allowed) or host == allowed[1:]):
            return True
        if host == allowed:
            return True
    return False


def start_checkout(order: Order | uuid.UUID, *, build_absolute_uri: Callable[[str], str]) -> Checkout:
    """Return an open checkout for ``order``: an unexpired one already registered, or a new one.

    The order row stays locked while OrkestaPay is asked, so two concurrent clicks make one checkout. A failure is
    recorded on a ``FAILED`` checkout row and on ``order.last_error`` and then raised; the order stays payable.
    ``order`` may be the order's id: it is read once, locked. Raises ``Order.DoesNotExist``,
    :class:`OrderNotPayableError`, ``ValidationError`` (amounts) or an :class:`OrkestaPayError`.
    """
    failure: OrkestaPayError | None = None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk if isinstance(order, Order) else order)
        if not order.is_payable:
            raise OrderNotPayableError(f"Order {order.merchant_order_id} is {order.status}")
        validate_amounts(order)
        now = timezone.now()
        margin = float(conf.get("CHECKOUT_REUSE_MARGIN"))
        # One query for both the reuse check and the attempt number (an order has a handful of checkouts).
        checkouts = list(order.checkouts.order_by("-created_at"))
        open_checkouts = [existing for existing in checkouts if existing.status == CheckoutStatus.OPEN]
        for existing in open_checkouts:
            if existing.is_reusable(now=now, margin_seconds=margin):
                return existing
            if existing.expires_at is not None and existing.expires_at <= now + timedelta(seconds=margin):
                existing.status = CheckoutStatus.EXPIRED
                existing.save(update_fields=["status", "updated_at"])

        # Failed attempts count too: a timeout may have left a checkout at OrkestaPay under the previous reference,
        # and whether OrkestaPay refuses a repeated merchant_order_id is unknown.
        attempt = len(checkouts) + 1
        lifetime = conf.get("CHECKOUT_LIFETIME")
        checkout = Checkout(
            order=order,
            locale=checkout_locale(order),
            merchant_reference=order.merchant_order_id if attempt == 1 else f"{order.merchant_order_id}-{attempt}",
            expires_at=now + timedelta(seconds=float(lifetime)) if lifetime else None,
        )
        checkout.completed_url = _return_url(build_absolute_uri, order, checkout, COMPLETED)
        checkout.canceled_url = _return_url(build_absolute_uri, order, checkout, CANCELED)
        try:
            result = get_client().create_checkout(build_checkout_payload(order, checkout))
            _check_fits(result)
            if not is_trusted_checkout_url(result.redirect_url):
                raise UnexpectedRedirectError(
                    f"checkout_redirect_url host {urlsplit(result.redirect_url).hostname!r} is not trusted",
                    response_body=result.raw,
                )
        except OrkestaPayError as exc:
            failure = exc
            checkout.status = CheckoutStatus.FAILED
            checkout.error = str(exc)
            checkout.raw_response = exc.response_body if isinstance(exc.response_body, dict) else None
            checkout.save()
            order.last_error = f"{timezone.now():%Y-%m-%d %H:%M:%S} creating checkout: {exc}"
            order.save(update_fields=["last_error", "updated_at"])
            logger.error("Order %s: checkout could not be created: %s", order.merchant_order_id, exc)
        else:
            checkout.orkestapay_checkout_id = result.checkout_id
            checkout.orkestapay_order_id = result.order_id
            checkout.redirect_url = result.redirect_url
            checkout.expires_at = result.expires_at or checkout.expires_at
            checkout.raw_response = _jsonable(result.raw)
            checkout.save()
            order.orkestapay_order_id = result.order_id
            order.last_error = ""
            # transition_order saves the whole row, ids included; only a no-op transition needs its own save.
            if not transition_order(order, OrderStatus.PENDING, reason=f"checkout {result.checkout_id} created"):
                order.save(update_fields=["orkestapay_order_id", "last_error", "updated_at"])
            created = checkout
            transaction.on_commit(
                lambda: signals.checkout_created.send(
                    sender=Order, order=order, shop_object=_shop_object(order), checkout=created
                )
            )
            logger.info("Order %s: checkout %s created", order.merchant_order_id, result.checkout_id)
    if failure is not None:
        raise failure
    return checkout


def _check_fits(result: CheckoutResult) -> None:
    """Refuse a checkout whose ids or URL do not fit our columns (truncating an id would break every lookup)."""
    limits = {"checkout_id": 64, "order_id": 64, "redirect_url": 1000}
    for name, limit in limits.items():
        value = getattr(result, name) or ""
        if len(value) > limit:
            raise MalformedResponseError(
                f"{MalformedResponseError.default_message}: {name} is {len(value)} characters long (at most {limit})",
                response_body=result.raw,
            )


def _jsonable(value: Any) -> Any:
    """Decimals (from exact JSON parsing) become strings so the value fits a JSONField."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------------------------------
# Confirming with the API
# ---------------------------------------------------------------------------------------------------------------

#: How OrkestaPay order statuses map to ours. Anything not listed (CREATED, PROCESSING_PAYMENT,
#: PAYMENT_ACTION_REQUIRED, statuses we have never seen) counts as pending: never as paid.
REMOTE_STATUS_MAP: dict[str, str] = {
    "COMPLETED": OrderStatus.PAID,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "FAILED": OrderStatus.FAILED,
    "REJECTED": OrderStatus.FAILED,
    "EXPIRED": OrderStatus.EXPIRED,
    "PARTIALLY_REFUNDED": OrderStatus.PARTIALLY_REFUNDED,
    "REFUNDED": OrderStatus.REFUNDED,
}

_CHECKOUT_STATUS_FOR = {
    OrderStatus.PAID: CheckoutStatus.COMPLETED,
    OrderStatus.PARTIALLY_REFUNDED: CheckoutStatus.COMPLETED,
    OrderStatus.REFUNDED: CheckoutStatus.COMPLETED,
    OrderStatus.CANCELED: CheckoutStatus.CANCELED,
    OrderStatus.EXPIRED: CheckoutStatus.EXPIRED,
    OrderStatus.FAILED: CheckoutStatus.DECLINED,
}


def map_remote_status(remote_status: str) -> str:
    """Our status for an OrkestaPay order status (unknown means pending)."""
    return REMOTE_STATUS_MAP.get(remote_status.upper(), OrderStatus.PENDING)


def payment_mismatches(order: Order, checkout: Checkout, remote: RemoteOrder) -> list[str]:
    """What in the API's order disagrees with ours (amount, currency, reference); empty when it all matches."""
    problems = []
    if remote.total_amount is None or remote.total_amount.quantize(CENT) != order.total_amount:
        problems.append(f"amount: OrkestaPay {remote.total_amount}, ours {order.total_amount}")
    if (remote.currency or "").upper() != order.currency.upper():
        problems.append(f"currency: OrkestaPay {remote.currency}, ours {order.currency}")
    expected_reference = checkout.merchant_reference or order.merchant_order_id
    if remote.merchant_order_id != expected_reference:
        problems.append(f"merchant_order_id: OrkestaPay {remote.merchant_order_id!r}, ours {expected_reference!r}")
    if checkout.orkestapay_order_id and remote.order_id != checkout.orkestapay_order_id:
        problems.append(f"order_id: OrkestaPay {remote.order_id!r}, ours {checkout.orkestapay_order_id!r}")
    return problems


@dataclass(frozen=True)
class SyncResult:
    """What confirming an order with the API did."""

    order: Order
    changed: bool
    remote_status: str
    flagged: bool = False


def apply_remote_order(checkout: Checkout, remote: RemoteOrder, *, canceled_by_buyer: bool = False) -> SyncResult:
    """Apply what the API says about ``checkout``'s OrkestaPay order, under row locks, exactly once.

    PAID is accepted only when amount, currency and reference match (otherwise the order is flagged for review and
    keeps its status). A buyer's cancel return cancels an order the API still reports open. A report that would
    move the order backwards (a late cancel after pay) is logged and ignored.
    """
    # No savepoint when nested (process_event): a failure here rolls the caller's whole transaction back anyway.
    with transaction.atomic(savepoint=False):
        order = Order.objects.select_for_update().get(pk=checkout.order_id)
        checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
        order.remote_status = remote.status[:40]
        order.last_synced_at = timezone.now()
        order.last_error = ""  # the API answered: an earlier "could not confirm" no longer describes the order
        target = map_remote_status(remote.status)
        flagged = False
        if target in PAID_STATUSES:
            problems = payment_mismatches(order, checkout, remote)
            if problems:
                flagged = True
                order.needs_review = True
                order.review_reason = "OrkestaPay reports the order paid but " + "; ".join(problems)
                logger.error("Order %s flagged for review: %s", order.merchant_order_id, order.review_reason)
                target = order.status
            elif remote.payment_ids and len(remote.payment_ids[-1]) <= 64:
                order.orkestapay_payment_id = remote.payment_ids[-1]
        elif target == OrderStatus.PENDING and canceled_by_buyer:
            target = OrderStatus.CANCELED
        if target == OrderStatus.PENDING and checkout.status != CheckoutStatus.OPEN:
            target = order.status  # a stale report about an attempt that is already over changes nothing
        new_checkout_status = _CHECKOUT_STATUS_FOR.get(OrderStatus(target))
        if new_checkout_status and checkout.status == CheckoutStatus.OPEN:
            checkout.status = new_checkout_status
            checkout.save(update_fields=["status", "updated_at"])
        try:
            changed = transition_order(order, target, reason=f"OrkestaPay reports {remote.status}")
        except InvalidTransitionError as exc:
            logger.warning("Ignored a stale report: %s", exc)
            changed = False
        if not changed:
            order.save(
                update_fields=[
                    "remote_status",
                    "last_synced_at",
                    "last_error",
                    "needs_review",
                    "review_reason",
                    "orkestapay_payment_id",
                    "updated_at",
                ]
            )
    return SyncResult(order=order, changed=changed, remote_status=remote.status, flagged=flagged)


def confirm_return(link: ReturnLink, *, reported_order_id: str | None = None) -> SyncResult:
    """Handle a buyer's signed return: ask the API for the order's real status and apply it.

    Raises ``Checkout.DoesNotExist`` when the link names no checkout of ours and an :class:`OrkestaPayError` when
    the API cannot be asked (the order is left unchanged; the buyer can reload).
    """
    checkout = Checkout.objects.select_related("order").get(pk=link.checkout_id, order_id=link.order_id)
    if reported_order_id and reported_order_id != checkout.orkestapay_order_id:
        logger.warning(
            "Order %s: return carried order_id=%r, ours is %r; using ours",
            checkout.order.merchant_order_id,
            reported_order_id[:80],
            checkout.orkestapay_order_id,
        )
    return sync_checkout(checkout, canceled_by_buyer=link.side == CANCELED)


def sync_checkout(checkout: Checkout, *, canceled_by_buyer: bool = False) -> SyncResult:
    """Read ``checkout``'s OrkestaPay order from the API and apply its status."""
    if not checkout.orkestapay_order_id:
        return SyncResult(order=checkout.order, changed=False, remote_status="")
    try:
        remote = get_client().get_order(checkout.orkestapay_order_id)
    except OrkestaPayError as exc:
        Order.objects.filter(pk=checkout.order_id).update(
            last_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} confirming status: {exc}", updated_at=timezone.now()
        )
        logger.error("Order %s: status could not be confirmed: %s", checkout.order_id, exc)
        raise
    return apply_remote_order(checkout, remote, canceled_by_buyer=canceled_by_buyer)


def sync_order(order: Order) -> SyncResult:
    """Confirm ``order`` with the API through its most recent registered checkout."""
    checkout = (
        order.checkouts.exclude(orkestapay_order_id="")
        .exclude(status=CheckoutStatus.FAILED)
        .order_by("-created_at")
        .first()
    )
    if checkout is None:
        return SyncResult(order=order, changed=False, remote_status="")
    return sync_checkout(checkout)


_Item = TypeVar("_Item")


@dataclass
class BatchSummary:
    """How a batch (sync, expiry, reprocessing) went."""

    succeeded: int = 0
    failed: int = 0
    changed: int = 0


def run_batch(items: Iterable[_Item], action: Callable[[_Item], Any]) -> BatchSummary:
    """Apply ``action`` to each item, counting successes and :class:`OrkestaPayError` failures (each action records
    its own failure on its row). ``changed`` counts results that are ``True`` or carry ``changed=True``."""
    summary = BatchSummary()
    for item in items:
        try:
            result = action(item)
        except OrkestaPayError:
            summary.failed += 1
        else:
            summary.succeeded += 1
            summary.changed += int(bool(getattr(result, "changed", result)))
    return summary


def sync_orders(orders: Iterable[Order]) -> BatchSummary:
    """Sync several orders. Failures are logged and recorded on each order, and counted."""
    return run_batch(orders, sync_order)


# ---------------------------------------------------------------------------------------------------------------
# Refunds
# ---------------------------------------------------------------------------------------------------------------


def refundable_amount(order: Order) -> Decimal:
    """What is left to refund: the total minus refunds that succeeded or are still in flight."""
    if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        return Decimal("0.00")
    taken = order.refunds.exclude(status=RefundStatus.FAILED).aggregate(total=models.Sum("amount"))["total"]
    return max(order.total_amount - (taken or Decimal("0")), Decimal("0.00")).quantize(CENT)


def refund_order(
    order: Order, *, amount: Decimal | None = None, description: str = "", requested_by: str = ""
) -> Refund:
    """Refund ``amount`` (default: everything left) of a paid order through OrkestaPay.

    The :class:`Refund` row is committed, under the order's row lock, *before* the API is called, so two concurrent
    requests cannot refund more than was paid and the idempotency key survives a crash. The API call carries that
    key; a failure marks the refund FAILED (its amount becomes refundable again) and is raised. A success moves the
    order to PARTIALLY_REFUNDED or REFUNDED. Raises :class:`RefundNotAllowedError` or an :class:`OrkestaPayError`.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not order.orkestapay_payment_id:
            raise RefundNotAllowedError(f"Order {order.merchant_order_id} has no OrkestaPay payment to refund")
        available = refundable_amount(order)
        wanted = available if amount is None else _money(amount, "amount")
        if wanted <= 0 or wanted > available:
            raise RefundNotAllowedError(
                f"Order {order.merchant_order_id}: {wanted} {order.currency} asked, {available} can be refunded"
            )
        refund = Refund.objects.create(
            order=order,
            payment_id=order.orkestapay_payment_id,
            amount=wanted,
            description=(description or f"Refund of order {order.merchant_order_id}")[:250],
            idempotency_key=uuid.uuid4().hex,
            requested_by=requested_by[:150],
        )
    return _send_refund(refund)


def _send_refund(refund: Refund) -> Refund:
    try:
        result = get_client().refund_payment(
            refund.payment_id,
            amount=refund.amount,
            description=refund.description,
            idempotency_key=refund.idempotency_key,
        )
        if not result.succeeded:
            raise RefundNotAllowedError(
                f"OrkestaPay answered {result.status}: {result.message or 'no message'}", response_body=result.raw
            )
    except OrkestaPayError as exc:
        # A timeout, a dropped connection, a 5xx or an unreadable answer leaves the outcome unknown: the refund
        # stays REQUESTED (its amount stays reserved) and retry_refund() resends it with the same idempotency key.
        outcome_unknown = isinstance(exc, APIConnectionError | ServerError | MalformedResponseError)
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.REQUESTED if outcome_unknown else RefundStatus.FAILED,
                error=str(exc),
                raw_response=_jsonable(exc.response_body) if isinstance(exc.response_body, dict) else None,
                updated_at=timezone.now(),
            )
            Order.objects.filter(pk=refund.order_id).update(
                last_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} refunding {refund.amount}: {exc}",
                updated_at=timezone.now(),
            )
        logger.error("Order %s: refund of %s failed: %s", refund.order_id, refund.amount, exc)
        raise
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        refund.status = RefundStatus.SUCCEEDED
        refund.transaction_id = result.transaction_id or ""
        refund.remote_status = result.status
        refund.raw_response = _jsonable(result.raw)
        refund.save(update_fields=["status", "transaction_id", "remote_status", "raw_response", "updated_at"])
        refunded = order.refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(total=models.Sum("amount"))["total"]
        target = OrderStatus.REFUNDED if refunded >= order.total_amount else OrderStatus.PARTIALLY_REFUNDED
        try:
            transition_order(order, target, reason=f"refund {refund.transaction_id or refund.pk} of {refund.amount}")
        except InvalidTransitionError as exc:  # already fully refunded by a webhook that arrived first
            logger.warning("Refund recorded without a status change: %s", exc)
        order.last_error = ""
        order.save(update_fields=["last_error", "updated_at"])
    logger.info("Order %s: refunded %s %s", order.merchant_order_id, refund.amount, order.currency)
    return refund


def retry_refund(refund: Refund) -> Refund:
    """Resend a refund whose outcome is unknown (still REQUESTED), with its original idempotency key."""
    if refund.status != RefundStatus.REQUESTED:
        raise RefundNotAllowedError(f"Refund {refund.pk} is {refund.status}; only a requested refund is resent")
    return _send_refund(refund)


def retry_refunds(refunds: Iterable[Refund]) -> BatchSummary:
    """Resend several refunds whose outcome is unknown; failures are recorded and counted."""
    return run_batch(refunds, lambda refund: bool(retry_refund(refund)))


def refund_orders(orders: Iterable[Order], *, requested_by: str = "") -> BatchSummary:
    """Refund what is left of each order (the admin's bulk action); failures are recorded and counted."""
    return run_batch(orders, lambda order: bool(refund_order(order, requested_by=requested_by)))


def orders_to_reconcile(*, older_than: timedelta = timedelta(0)) -> models.QuerySet[Order]:
    """Orders whose outcome we may not know yet: created or pending, with a registered checkout."""
    return (
        Order.objects.filter(status__in=[OrderStatus.CREATED, OrderStatus.PENDING])
        .filter(created_at__lte=timezone.now() - older_than)
        .exclude(orkestapay_order_id="")
        .order_by("created_at")
    )


def expire_checkouts() -> BatchSummary:
    """Close open checkouts past their ``expires_at``: ask the API first (a late payment still counts), then mark
    the checkout expired, and the order too when it has no other open checkout."""
    summary = BatchSummary()
    now = timezone.now()
    for checkout in Checkout.objects.filter(status=CheckoutStatus.OPEN, expires_at__lte=now).select_related("order"):
        try:
            result = sync_checkout(checkout)
        except OrkestaPayError:
            summary.failed += 1
            continue
        summary.succeeded += 1
        changed = result.changed
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=checkout.order_id)
            locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
            if locked.status == CheckoutStatus.OPEN:
                locked.status = CheckoutStatus.EXPIRED
                locked.save(update_fields=["status", "updated_at"])
                still_open = order.checkouts.filter(status=CheckoutStatus.OPEN).exists()
                if order.status == OrderStatus.PENDING and not still_open:
                    changed = transition_order(order, OrderStatus.EXPIRED, reason="checkout expired") or changed
        summary.changed += int(changed)
    return summary


# ---------------------------------------------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------------------------------------------

#: Event types that make us re-read the order from the API. Anything else is stored and ignored (answered 2xx).
HANDLED_EVENT_TYPES = frozenset(
    {
        "payment.purchase",
        "payment.capture",
        "payment.authorize",
        "payment.cancel",
        "payment.refund",
        "payment.update",
        "order.update",
    }
)

#: Request headers kept on a stored event (everything else, cookies and credentials included, is dropped).
KEPT_WEBHOOK_HEADERS = (
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "user-agent",
)

MAX_STORED_BODY = 64 * 1024


@dataclass(frozen=True)
class WebhookPayload:
    """What we read from a webhook body, tolerant of the envelope's several shapes."""

    event_type: str
    order_id: str | None
    merchant_order_id: str | None
    payment_id: str | None


def _first_str(mapping: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value:
            return value[:255]
    return None


def parse_webhook_payload(payload: Any) -> WebhookPayload:
    """Read event type, order id, merchant order id and payment id from any known envelope version.

    The event name comes from ``type_event``, else ``event_type``, else ``eventType``; the payment from
    ``data.payment``, else ``data``. Raises ``ValueError`` for a body that is not a JSON object.
    """
    if not isinstance(payload, dict):
        raise ValueError("the webhook body is not a JSON object")
    event_type = _first_str(payload, "type_event", "event_type", "eventType") or ""
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    payment = data.get("payment")
    payment = payment if isinstance(payment, dict) else data
    return WebhookPayload(
        event_type=event_type[:64],
        order_id=_first_str(payment, "order_id", "orderId"),
        merchant_order_id=_first_str(payment, "merchant_order_id", "merchantOrderId"),
        payment_id=_first_str(payment, "payment_id", "paymentId"),
    )


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The webhook headers worth keeping, truncated; never cookies or credentials."""
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    # NUL characters are dropped: PostgreSQL cannot store them in text or jsonb.
    return {name: lowered[name][:1000].replace("\x00", "") for name in KEPT_WEBHOOK_HEADERS if name in lowered}


def reject_webhook(*, body: bytes, headers: Mapping[str, str], reason: str, verified: bool = False) -> Event:
    """Store a delivery we refused (bad signature, malformed body) for the admin to see."""
    kept = kept_headers(headers)
    event = Event.objects.create(
        claimed_message_id=(kept.get("svix-id") or kept.get("webhook-id") or "")[:255],
        status=EventStatus.REJECTED,
        verified=verified,
        raw_body=body[:MAX_STORED_BODY].decode("utf-8", "replace").replace("\x00", "\ufffd"),  # PostgreSQL: no NUL
        headers=kept,
        error=reason[:1000],
    )
    logger.warning("Rejected a webhook delivery (%s)", reason)
    return event


def find_checkout_for(parsed: WebhookPayload) -> Checkout | None:
    """The checkout an event is about: by OrkestaPay order id, else by the merchant reference we sent."""
    if parsed.order_id:
        checkout = (
            Checkout.objects.select_related("order")
            .filter(orkestapay_order_id=parsed.order_id)
            .order_by("-created_at")
            .first()
        )
        if checkout is not None:
            return checkout
    if parsed.merchant_order_id:
        return (
            Checkout.objects.select_related("order")
            .filter(merchant_reference=parsed.merchant_order_id)
            .exclude(orkestapay_order_id="")
            .order_by("-created_at")
            .first()
        )
    return None


def _refuse_json_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (and PostgreSQL's jsonb refuses them)."""
    raise ValueError(f"JSON constant {name} is not allowed")


def _contains_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds a NUL character in any key or string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def receive_webhook(*, message_id: str, body: bytes, headers: Mapping[str, str]) -> tuple[Event, str]:
    """Store a *verified* delivery and process it once. Returns the event and one of ``processed``,
    ``duplicate``, ``ignored`` or ``rejected`` (malformed body). Raises when processing failed: the event is then
    ``FAILED`` and reprocessable, and the caller answers 5xx so OrkestaPay retries.
    """
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_refuse_json_constant)
        parse_webhook_payload(payload)
        if _contains_nul(payload):  # a "\u0000" escape: PostgreSQL's jsonb cannot store it
            raise ValueError("the body contains a NUL character")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return reject_webhook(body=body, headers=headers, reason=f"malformed body: {exc}", verified=True), "rejected"
    try:  # get_or_create makes its own transaction (no savepoint) and handles a concurrent insert itself
        event, created = Event.objects.get_or_create(
            message_id=message_id,
            defaults={
                "claimed_message_id": message_id,
                "verified": True,
                "raw_body": body[:MAX_STORED_BODY].decode("utf-8", "replace"),
                "headers": kept_headers(headers),
                "payload": payload,
            },
        )
    except IntegrityError:  # the same message is being stored concurrently
        return Event.objects.get(message_id=message_id), "duplicate"
    if not created and event.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
        return event, "duplicate"
    return event, process_event(event)


def _finish_event(event: Event, status: str, *, error: str = "", order: Order | None = None) -> None:
    event.status = status
    event.error = error[:2000]
    event.attempts += 1
    if order is not None:
        event.order = order
    if status in (EventStatus.PROCESSED, EventStatus.IGNORED):
        event.processed_at = timezone.now()
    event.save()


def process_event(event: Event) -> str:
    """Apply one stored event: re-read its order from the API and apply the status, marking the event processed in
    the same transaction. Returns ``processed``, ``ignored`` or ``duplicate``; raises (event left ``FAILED``) when
    the API or the processing failed."""
    parsed = parse_webhook_payload(event.payload)
    event.event_type = parsed.event_type
    event.orkestapay_order_id = (parsed.order_id or "")[:64]  # the field's length
    if parsed.event_type not in HANDLED_EVENT_TYPES:
        _finish_event(event, EventStatus.IGNORED, error=f"unhandled event type {parsed.event_type!r}")
        return "ignored"
    checkout = find_checkout_for(parsed)
    if checkout is None:
        _finish_event(event, EventStatus.IGNORED, error="no order of ours matches this event")
        return "ignored"
    try:
        remote = get_client().get_order(checkout.orkestapay_order_id)
        with transaction.atomic():
            locked = Event.objects.select_for_update().get(pk=event.pk)
            if locked.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
                return "duplicate"
            apply_remote_order(checkout, remote)
            locked.event_type = event.event_type
            locked.orkestapay_order_id = event.orkestapay_order_id
            _finish_event(locked, EventStatus.PROCESSED, order=checkout.order)
    except Exception as exc:
        event.refresh_from_db()  # the rolled-back transaction may have left this copy stale
        event.event_type = parsed.event_type
        event.orkestapay_order_id = (parsed.order_id or "")[:64]
        _finish_event(event, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}", order=checkout.order)
        logger.error("Webhook event %s failed: %s", event.message_id, exc)
        raise
    return "processed"


def reprocess_events(events: Iterable[Event]) -> BatchSummary:
    """Process failed (or never processed) events again."""
    summary = BatchSummary()
    for event in events:
        try:
            outcome = process_event(event)
        except Exception:  # noqa: BLE001 - recorded on the event by process_event
            summary.failed += 1
        else:
            summary.succeeded += 1
            summary.changed += int(outcome == "processed")
    return summary
