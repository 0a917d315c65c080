"""The "Refund" action of the order and payment admins: exactly once per confirmation page.

The confirmation page carries a one-time intent (see ``services.new_refund_intent``): submitting it twice, or again
after going back, finds the refund already made and sends nothing; a page shown before another refund of the same
order or payment is refused. With one row the page asks for an amount, read in the operator's language; an amount
that cannot be read shows the page again with the error beside it and the same intent. When OrkestaPay says the
portal has refunds turned off, the page says so plainly (and the refund services refuse to send).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import services
from ..exceptions import OrkestaPayError, RefundAlreadySentError, RefundNotAllowedError
from ..models import Order, Payment, Refund, RefundStatus
from .common import confirmation_page, report_counts

Target = Order | Payment
RefundOne = Callable[[Any, Decimal | None, services.RefundIntent, str], Refund]

QUESTION = gettext_lazy(
    "Refund these through OrkestaPay? Each is refunded by the amount shown (what is left to refund). This returns "
    "money to the buyer and cannot be undone."
)
REFUNDS_OFF = gettext_lazy(
    "Refunds are turned off in your OrkestaPay portal (its AVAILABLE_REFUND_BY_ECOMMERCE setting is false): "
    "OrkestaPay does not accept refunds from this shop, so confirming sends nothing. Turn on refunds from "
    "e-commerce in the portal first, or refund in the portal itself."
)


def refund_action(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    selected: Sequence[Target],
    *,
    left_of: Callable[[Any], Decimal],
    refund_one: RefundOne,
) -> TemplateResponse | None:
    """Show the refund confirmation for ``selected`` (those with something left), or, on the confirming POST, refund
    the rows that page showed, once."""
    if request.POST.get("confirm") != "yes":
        rows = [(target, left) for target in selected if (left := left_of(target)) > 0]
        if not rows:
            _left_out(modeladmin, request, len(selected))
            return None
        return _confirmation(modeladmin, request, rows, intent=services.new_refund_intent(rows))
    try:
        intent = services.load_refund_intent(request.POST.get("intent"))
    except RefundNotAllowedError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return None
    shown = [target for target in selected if intent.version_of(target) is not None]
    if len(shown) < len(selected):
        _left_out(modeladmin, request, len(selected) - len(shown))
    amount = None
    typed = request.POST.get("amount", "").strip() if len(shown) == 1 else ""
    if typed:
        try:
            amount = services.parse_localized_amount(typed, currency=_currency(shown[0]))
        except ValidationError as exc:
            rows = [(shown[0], left_of(shown[0]))]
            token = request.POST.get("intent", "")
            return _confirmation(modeladmin, request, rows, intent=token, amount=typed, error=" ".join(exc.messages))
    _refund_each(modeladmin, request, shown, amount, intent, refund_one)
    return None


def _refund_each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    targets: Sequence[Target],
    amount: Decimal | None,
    intent: services.RefundIntent,
    refund_one: RefundOne,
) -> None:
    summary = services.BatchSummary()
    requested_by = request.user.get_username()
    for target in targets:
        try:
            refund = refund_one(target, amount, intent, requested_by)
        except RefundAlreadySentError as exc:
            modeladmin.message_user(request, exc.message, messages.WARNING)
        except (OrkestaPayError, ValidationError) as exc:
            summary.failed += 1
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            modeladmin.message_user(request, f"{_name(target)}: {text}", messages.ERROR)
        else:
            summary.succeeded += 1
            if refund.status == RefundStatus.PENDING:
                text = _(
                    "%(name)s: OrkestaPay accepted the refund of %(amount)s but has not finished it; the amount "
                    "stays reserved until it settles (the Resend refund action checks on it)."
                )
                modeladmin.message_user(request, text % {"name": _name(target), "amount": refund.amount})
    report_counts(modeladmin, request, summary)


def _confirmation(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    rows: Sequence[tuple[Target, Decimal]],
    *,
    intent: str,
    amount: str | None = None,
    error: str = "",
) -> TemplateResponse:
    single = rows[0][0] if len(rows) == 1 else None
    if single is not None and amount is None:
        amount = services.format_amount_for_input(rows[0][1], _currency(single))
    return confirmation_page(
        modeladmin,
        request,
        title=_("Refund"),
        question=str(QUESTION),
        rows=[(target, f"{left} {_currency(target)}") for target, left in rows],
        extra_fields="amount" if single is not None else "",
        amount=amount,
        amount_error=error,
        intent=intent,
        refunds_off=str(REFUNDS_OFF)
        if services.refund_availability() == services.RefundAvailability.UNAVAILABLE
        else "",
    )


def _left_out(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, count: int) -> None:
    text = ngettext(
        "%(count)d selected row has nothing to refund and was left out.",
        "%(count)d selected rows have nothing to refund and were left out.",
        count,
    )
    modeladmin.message_user(request, text % {"count": count}, messages.WARNING)


def _currency(target: Target) -> str:
    return target.currency


def _name(target: Target) -> str:
    return target.merchant_order_id if isinstance(target, Order) else target.orkestapay_payment_id
