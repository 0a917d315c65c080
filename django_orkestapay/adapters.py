"""Paying for a shop's own objects (a cart, a booking, an invoice) without subclassing our models.

A shop object describes what is to be paid in one of two ways:

* it implements :class:`Payable`: a method ``orkestapay_payment(self) -> PaymentDescription``; or
* the ``ADAPTER`` setting names a callable (a dotted path) ``adapter(shop_object) -> PaymentDescription``, which
  wins over the method, so a shop can describe models it does not own.

The order is linked to the object generically (content type and primary key), so no migration of ours depends on
a shop app. See :func:`django_orkestapay.services.order_for`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.apps import apps
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from . import conf
from .models import Order
from .signing import PAY_FIELD, load_pay_payload, sign_pay_reference


@dataclass(frozen=True)
class PaymentDescription:
    """What a shop object asks to be paid, in the terms of :func:`django_orkestapay.services.create_order`.

    ``items``: mappings with ``name``, ``quantity``, ``unit_price`` (and optional ``product_id``, ``description``).
    ``customer``: ``first_name``, ``last_name``, ``email`` (and optional ``merchant_customer_id``).
    ``success_url`` / ``cancel_url``: paths on this site where the buyer lands after paying or canceling (the
    order's public id is appended as ``?order=<uuid>``); empty means the ``SUCCESS_URL`` / ``CANCEL_URL`` settings.
    ``merchant_order_id``: the shop's reference; when an earlier order (or attempt) used it, ``-2``, ``-3``... is
    appended (see :func:`django_orkestapay.services.order_for`).
    ``paid_once``: ``True`` (the default, the safe choice) when the object is one purchase, paid once: a cart, a
    booking, an invoice; a second order paying the same contents of it is a payment twice (``paid_twice``,
    ``order_paid_twice``). ``False`` for an object many buyers buy again and again, a catalogue item: each order is
    a purchase of its own, never a duplicate, and the object itself is never "paid" (``paid_order_for`` is
    ``None``). Better still, link orders to a purchase row of your own (a cart, an order of your shop).
    """

    items: Sequence[Mapping[str, Any]]
    customer: Mapping[str, str]
    currency: str | None = None
    country_code: str | None = None
    discount_amount: Any = 0
    shipping_amount: Any = 0
    tax_amount: Any = 0
    merchant_order_id: str | None = None
    locale: str = ""
    success_url: str = ""
    cancel_url: str = ""
    paid_once: bool = True


@runtime_checkable
class Payable(Protocol):
    """A shop model that knows how to describe its own payment."""

    def orkestapay_payment(self) -> PaymentDescription: ...


def get_adapter() -> Callable[[models.Model], PaymentDescription] | None:
    """The callable named by the ``ADAPTER`` setting, or ``None``."""
    return conf.callable_setting("ADAPTER")


def describe_payment(shop_object: models.Model) -> PaymentDescription:
    """Ask the adapter (or the object itself) what paying for ``shop_object`` means."""
    adapter = get_adapter()
    if adapter is not None:
        description = adapter(shop_object)
    elif isinstance(shop_object, Payable):
        description = shop_object.orkestapay_payment()
    else:
        raise ImproperlyConfigured(
            f"{type(shop_object).__name__} cannot be paid: give it an orkestapay_payment() method or set "
            "ORKESTAPAY['ADAPTER'] to a callable that describes it"
        )
    if not isinstance(description, PaymentDescription):
        raise ImproperlyConfigured(
            f"The payment adapter returned {type(description).__name__}, not a PaymentDescription"
        )
    return description


#: Salt of the signed shop-object reference that the pay button posts, and the form field (or JSON member) holding it.
SHOP_OBJECT_SALT = "django_orkestapay.shop_object"
OBJECT_FIELD = "object"


def sign_shop_object(shop_object: models.Model) -> str:
    """A signed, timestamped reference to ``shop_object`` for the pay form (buyers cannot forge another one)."""
    return signing.dumps({"m": shop_object._meta.label_lower, "k": str(shop_object.pk)}, salt=SHOP_OBJECT_SALT)


def pay_fields(target: models.Model) -> dict[str, str]:
    """What pays for ``target`` (an :class:`~django_orkestapay.models.Order` or a shop object): the pay button's
    field, ``{"order": <signed order reference>}`` or ``{"object": <signed shop-object reference>}``; also the body
    the JSON pay endpoint takes, for a shop's own API to hand to its front end."""
    if isinstance(target, Order):
        return {PAY_FIELD: sign_pay_reference(target.pk)}
    return {OBJECT_FIELD: sign_shop_object(target)}


def load_shop_object(value: str | None) -> models.Model | None:
    """The shop object a signed reference names, or ``None`` when it names nothing that exists (any more).

    Raises :class:`~django_orkestapay.signing.InvalidPayReference` when the reference is missing, forged, or
    older than ``PAY_LINK_MAX_AGE`` (``reason == "expired"``); nothing is read from the database then."""
    payload = load_pay_payload(value, salt=SHOP_OBJECT_SALT)
    try:
        model = apps.get_model(str(payload["m"]))
        return model._default_manager.filter(pk=payload["k"]).first()  # type: ignore[no-any-return]
    except (LookupError, KeyError, TypeError, ValueError):
        return None
