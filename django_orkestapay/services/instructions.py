"""What a buyer needs to finish a payment in progress (a SPEI transfer, cash at a store): the CLABE, the reference,
the bank, the amount and the deadline, read from the ledger (``Payment.raw``, OrkestaPay's last answer about the
payment) so the shop's own pages can show them.

**The keys are assumed.** OrkestaPay's SPEI guide says registering a SPEI payment gives "CLABE + reference for the
buyer", but no public source shows where they sit in the payment object. This module reads them tolerantly, from
``payment_source.<type>`` (``payment_source.spei``, ``payment_source.cash``; the fake gateway invents
``payment_source.spei.clabe``), from ``payment_source`` itself, and from ``user_action_required`` (where OrkestaPay
puts what the buyer must do for 3-D Secure), under the names in :data:`KEYS`; it keeps only values that look like
what they claim to be (a CLABE is 18 digits), and shows nothing rather than guess. No queries here except in
:func:`payment_instructions`; no HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from ..models import Order, Payment
from .derive import IN_PROGRESS_PAYMENTS
from .payability import LIVE_ATTEMPTS

#: The names each detail is read under, first found wins (assumed: no public source shows them).
KEYS: dict[str, tuple[str, ...]] = {
    "clabe": ("clabe",),
    "reference": ("reference", "reference_number", "payment_reference"),
    "bank": ("bank", "bank_name"),
    "expires_at": ("expires_at", "expiration_date", "due_date"),
}
#: ``payment_source.type`` (or the ledger's ``method_type``) values meaning a bank transfer, and cash at a store.
TRANSFER_TYPES = frozenset({"SPEI", "BANK_TRANSFER"})
CASH_TYPES = frozenset({"CASH", "EFECTIVO", "OXXO", "STORE"})
TRANSFER = "transfer"
CASH = "cash"
CLABE = re.compile(r"\d{18}")
#: A reference or a bank name: letters, digits and a little punctuation, bounded (anything else is not shown).
SHOWABLE = re.compile(r"[\w .,/#-]{1,60}")
#: Deadlines outside these years are not believed.
_PLAUSIBLE_YEARS = range(2000, 2101)


@dataclass(frozen=True)
class PaymentInstructions:
    """How to finish a payment in progress. ``kind`` is :data:`TRANSFER`, :data:`CASH` or ``""`` (another method,
    or 3-D Secure); every detail is empty (or ``None``) unless OrkestaPay's answer gave it in a recognisable form.
    ``amount`` is the payment's amount as the ledger has it, else the order's total (what was sent to OrkestaPay)."""

    kind: str
    amount: Decimal
    currency: str
    clabe: str = ""
    reference: str = ""
    bank: str = ""
    expires_at: datetime | None = None

    @property
    def has_details(self) -> bool:
        """Whether there is anything to show beyond the amount."""
        return bool(self.clabe or self.reference or self.bank or self.expires_at)


def payment_instructions(order: Order) -> PaymentInstructions | None:
    """The instructions of the order's newest payment in progress on a live attempt (one query), or ``None``."""
    payment = (
        Payment.objects.filter(order=order, status__in=IN_PROGRESS_PAYMENTS, checkout__status__in=LIVE_ATTEMPTS)
        .order_by("-created_at")
        .first()
    )
    return instructions_from_payment(payment, order) if payment is not None else None


def instructions_from_payment(payment: Payment, order: Order) -> PaymentInstructions:
    """What ``payment``'s stored answer says the buyer must do (pure: no queries)."""
    raw: Mapping[str, Any] = payment.raw if isinstance(payment.raw, Mapping) else {}
    source = raw.get("payment_source")
    source = source if isinstance(source, Mapping) else {}
    method = str(source.get("type") or payment.method_type or "").strip().upper()
    found = {name: _first(_containers(raw, source, method), names) for name, names in KEYS.items()}
    clabe = _digits(found["clabe"])
    amount = Decimal(payment.amount) if payment.amount and Decimal(payment.amount) > 0 else Decimal(order.total_amount)
    return PaymentInstructions(
        kind=TRANSFER if method in TRANSFER_TYPES else CASH if method in CASH_TYPES else "",
        amount=amount,
        currency=(payment.currency or order.currency).upper(),
        clabe=clabe if CLABE.fullmatch(clabe) else "",
        reference=_text(found["reference"]),
        bank=_text(found["bank"]),
        expires_at=_moment(found["expires_at"]),
    )


def _containers(raw: Mapping[str, Any], source: Mapping[str, Any], method: str) -> Iterator[Mapping[str, Any]]:
    action = raw.get("user_action_required")
    action = action if isinstance(action, Mapping) else {}
    action_type = str(action.get("type") or "").lower()
    for container in (source.get(method.lower()), source, action.get(action_type), action.get(method.lower()), action):
        if isinstance(container, Mapping):
            yield container


def _first(containers: Iterator[Mapping[str, Any]], names: tuple[str, ...]) -> Any:
    for container in containers:
        for name in names:
            value = container.get(name)
            if value not in (None, "") and not isinstance(value, (Mapping, list, bool)):
                return value
    return None


def _digits(value: Any) -> str:
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    return re.sub(r"[\s-]", "", text)


def _text(value: Any) -> str:
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    return text if SHOWABLE.fullmatch(text) else ""


def _moment(value: Any) -> datetime | None:
    """A deadline given as epoch milliseconds (OrkestaPay's way with ``expires_at``), epoch seconds, or an ISO 8601
    text with its offset; anything else, or an implausible year, is ``None``."""
    moment: datetime | None = None
    if isinstance(value, str) and re.fullmatch(r"\d{9,13}", value.strip()):
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            return None
        if moment is not None and moment.tzinfo is None:
            return None  # a time without its offset: which day it ends is a guess
    if moment is None or moment.year not in _PLAUSIBLE_YEARS:
        return None
    return moment
