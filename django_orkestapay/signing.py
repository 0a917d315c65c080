"""Signed values: the return links we hand to OrkestaPay and the pay references our pay forms post.

Every value is signed with the project's ``SECRET_KEY`` (``django.core.signing``), under a salt of its own (so a
value made for one purpose is refused for another) and with a timestamp (so it expires).

* The completed and canceled URLs carry one query parameter, :data:`RETURN_PARAM`, naming the order, the checkout
  and the side (completed or canceled), valid ``RETURN_LINK_MAX_AGE`` seconds. It says *which* order; whether it is
  paid is always asked of the API.
* The pay form (``{% orkestapay_button %}``) posts :data:`PAY_FIELD`, a reference naming the order, valid
  ``PAY_LINK_MAX_AGE`` seconds; a bare order id is refused. Shop-object references
  (:func:`django_orkestapay.adapters.sign_shop_object`) share that lifetime and :func:`load_pay_payload`.

A pay reference binds the order and its purpose, nothing else (no session, no user): a pay page may be opened in
another browser, after a login (which changes the session key) or by someone the buyer forwarded it to, and the page
that shows the button is where the shop decides who may see it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing

from . import conf

RETURN_PARAM = "orkestapay"
SALT = "django_orkestapay.return"
COMPLETED = "completed"
CANCELED = "canceled"
SIDES = (COMPLETED, CANCELED)

#: The pay form's field holding the signed order reference, and its salt.
PAY_FIELD = "order"
PAY_SALT = "django_orkestapay.pay"

#: Longer values are refused before any cryptography (ours are about 100 characters).
MAX_SIGNED_LENGTH = 500


class InvalidSignedValue(Exception):
    """A signed value is ``missing``, ``malformed``, has a ``bad_signature`` (forged, tampered, another salt or
    project) or is ``expired`` (genuine but too old). ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class InvalidReturnLink(InvalidSignedValue):
    """The signed return parameter is invalid, or (``wrong_side``) for the other side."""


class InvalidPayReference(InvalidSignedValue):
    """The pay form's signed reference (an order's or a shop object's) is invalid."""


def unsign(value: str | None, *, salt: str, max_age: float, error: type[InvalidSignedValue]) -> Any:
    """The payload of a signed value, or ``error(reason)``. An expired value is told apart from a forged one only
    when its signature is genuine."""
    if not value:
        raise error("missing")
    if len(value) > MAX_SIGNED_LENGTH:
        raise error("malformed")
    try:
        return signing.loads(value, salt=salt, max_age=timedelta(seconds=max_age))
    except signing.SignatureExpired as exc:
        raise error("expired") from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise error("bad_signature") from exc


@dataclass(frozen=True)
class ReturnLink:
    """What a valid signed return parameter names."""

    order_id: uuid.UUID
    checkout_id: uuid.UUID
    side: str


def sign_return(*, order_id: uuid.UUID, checkout_id: uuid.UUID, side: str) -> str:
    """The signed value for one side's return URL."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}")
    payload = {"o": order_id.hex, "c": checkout_id.hex, "s": side}
    return signing.dumps(payload, salt=SALT, compress=False)


def load_return(value: str | None, *, expected_side: str, max_age: float) -> ReturnLink:
    """Verify a signed return value and return what it names, or raise :class:`InvalidReturnLink`."""
    payload = unsign(value, salt=SALT, max_age=max_age, error=InvalidReturnLink)
    try:
        link = ReturnLink(
            order_id=uuid.UUID(hex=payload["o"]), checkout_id=uuid.UUID(hex=payload["c"]), side=payload["s"]
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidReturnLink("malformed") from exc
    if link.side != expected_side:
        raise InvalidReturnLink("wrong_side")
    return link


def sign_pay_reference(order_id: uuid.UUID) -> str:
    """The signed reference to an order that the pay form posts as :data:`PAY_FIELD`."""
    return signing.dumps({"o": order_id.hex}, salt=PAY_SALT, compress=False)


def load_pay_payload(value: str | None, *, salt: str) -> Any:
    """The payload of a pay-form reference signed under ``salt``, at most ``PAY_LINK_MAX_AGE`` seconds old, or
    :class:`InvalidPayReference`."""
    return unsign(value, salt=salt, max_age=float(conf.get("PAY_LINK_MAX_AGE")), error=InvalidPayReference)


def load_pay_reference(value: str | None) -> uuid.UUID:
    """The order id a pay reference names, or :class:`InvalidPayReference` (a bare order id is ``bad_signature``)."""
    payload = load_pay_payload(value, salt=PAY_SALT)
    try:
        return uuid.UUID(hex=payload["o"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidPayReference("malformed") from exc
