"""Signed return parameters.

The completed and canceled URLs we hand to OrkestaPay carry one query parameter, :data:`RETURN_PARAM`, whose value
is signed with the project's ``SECRET_KEY`` (``django.core.signing``, a dedicated salt, a timestamp for the max age).
It names the order, the checkout and the side (completed or canceled), so a link for one side, one order or one
project cannot be used for another. It says *which* order; whether it is paid is always asked of the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing

RETURN_PARAM = "orkestapay"
SALT = "django_orkestapay.return"
COMPLETED = "completed"
CANCELED = "canceled"
SIDES = (COMPLETED, CANCELED)


class InvalidReturnLink(Exception):
    """The signed parameter is missing, tampered with, expired, or for the other side. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


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
    if not value:
        raise InvalidReturnLink("missing")
    if len(value) > 500:
        raise InvalidReturnLink("malformed")
    try:
        payload = signing.loads(value, salt=SALT, max_age=timedelta(seconds=max_age))
    except signing.SignatureExpired as exc:
        raise InvalidReturnLink("expired") from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise InvalidReturnLink("bad_signature") from exc
    try:
        link = ReturnLink(
            order_id=uuid.UUID(hex=payload["o"]), checkout_id=uuid.UUID(hex=payload["c"]), side=payload["s"]
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidReturnLink("malformed") from exc
    if link.side != expected_side:
        raise InvalidReturnLink("wrong_side")
    return link
