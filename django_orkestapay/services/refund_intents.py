"""One-time refund intents: what makes a refund confirmation page send its refunds exactly once.

When the admin renders a refund confirmation it asks for :func:`new_refund_intent`: a random key, signed (with a
salt of its own) together with the "version" of each order or payment on the page (how many refunds it had). The
page posts the intent back; each refund's idempotency key is derived from (intent key, payment id), so a double
submit or a resubmit of the same page finds the refund it already made and sends nothing. Another page (a second
tab) has another key, and its versions no longer match once the first page refunded: it is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core import signing
from django.db.models import Count, Model
from django.utils.translation import gettext as _

from ..exceptions import RefundNotAllowedError
from ..models import Order, Payment, Refund

INTENT_SALT = "django_orkestapay.refund-intent"
#: How long a confirmation page may stay open before its intent is refused (seconds).
INTENT_MAX_AGE = 60 * 60


@dataclass(frozen=True)
class RefundIntent:
    """A confirmation page's one-time intent: its key, the refund version of each order or payment it showed and,
    for each, the amount it showed as left to refund."""

    key: str
    versions: Mapping[str, int]
    shown: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def idempotency_key(self, orkestapay_payment_id: str) -> str:
        """The ``Idempotency-Key`` of this intent's refund of one payment (the same on every submit of the page)."""
        digest = hashlib.sha256(f"{self.key}:{orkestapay_payment_id}".encode()).hexdigest()
        return f"intent-{digest[:48]}"

    def version_of(self, target: Order | Payment) -> int | None:
        """The version ``target`` had when the page was shown; ``None`` when the page did not show it."""
        return self.versions.get(_label(target))

    def shown_amount(self, target: Order | Payment) -> Decimal | None:
        """What the page showed as left to refund of ``target``; ``None`` when it showed no amount for it."""
        shown = self.shown.get(_label(target))
        return None if shown is None else Decimal(shown)


def _label(target: Model) -> str:
    return f"{type(target).__name__.lower()}:{target.pk}"


def refund_versions(targets: Iterable[Order | Payment]) -> dict[str, int]:
    """Each target's refund version: how many refunds (any status, any origin) it has. One query per model."""
    items = list(targets)
    versions = {_label(target): 0 for target in items}
    orders = [target.pk for target in items if isinstance(target, Order)]
    payments = [target.pk for target in items if isinstance(target, Payment)]
    for field, pks, model in (("order", orders, "order"), ("payment", payments, "payment")):
        if not pks:
            continue
        rows = Refund.objects.filter(**{f"{field}__in": pks}).values(field).annotate(count=Count("id"))
        for row in rows:
            versions[f"{model}:{row[field]}"] = row["count"]
    return versions


def new_refund_intent(targets: Iterable[Order | Payment | tuple[Order | Payment, Decimal]]) -> str:
    """A signed one-time intent for a confirmation page that offers to refund ``targets``: orders or payments, or
    ``(target, amount shown as left)`` pairs, in which case a refund is refused once what is left differs."""
    rows = [target if isinstance(target, tuple) else (target, None) for target in targets]
    shown = {_label(target): str(amount) for target, amount in rows if amount is not None}
    payload = {"key": secrets.token_hex(16), "versions": refund_versions(t for t, _ in rows), "shown": shown}
    return signing.dumps(payload, salt=INTENT_SALT, compress=True)


def load_refund_intent(token: str | None) -> RefundIntent:
    """The intent a confirmation page posted back; :class:`RefundNotAllowedError` when missing, forged or stale."""
    try:
        payload = signing.loads(token or "", salt=INTENT_SALT, max_age=INTENT_MAX_AGE)
        intent = RefundIntent(
            key=str(payload["key"]), versions=dict(payload["versions"]), shown=dict(payload.get("shown", {}))
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise RefundNotAllowedError(
            _("This refund confirmation is missing, altered or older than an hour; review the refund again.")
        ) from exc
    return intent
