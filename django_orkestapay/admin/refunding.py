"""The "Refund" action of the order and payment admins, and the order page's Refund button: exactly once per
confirmation page.

The confirmation page carries a one-time intent (see ``services.new_refund_intent``): submitting it twice, or again
after going back, finds the refund already made and sends nothing; a page shown before another refund of the same
order or payment is refused. With one row the page asks for an amount, read in the operator's language; an amount
that cannot be read, is not above zero or is more than is left to refund shows the page again with the error beside
the field and the same intent. Each result names the order and the amount; a failure says whether it is recorded on
the order's *last error* (the service records those OrkestaPay answered or could not answer).
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
from .display import money

Target = Order | Payment
RefundOne = Callable[[Any, Decimal | None, services.RefundIntent, str], Refund]

QUESTION = gettext_lazy(
    "Refund these through OrkestaPay? Each is refunded by the amount shown (what is left to refund). This returns "
    "money to the buyer and cannot be undone."
)


def refund_action(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    selected: Sequence[Target],
    *,
    left_of: Callable[[Any], Decimal],
    refund_one: RefundOne,
    cancel_url: str = "",
) -> TemplateResponse | None:
    """Show the refund confirmation for ``selected`` (those with something left), or, on the confirming POST, refund
    the rows that page showed, once. ``cancel_url``: where the page's *No* leads (the list by default)."""
    if request.POST.get("confirm") != "yes":
        rows = [(target, left) for target in selected if (left := left_of(target)) > 0]
        if not rows:
            _left_out(modeladmin, request, len(selected))
            return None
        return _confirmation(modeladmin, request, rows, intent=services.new_refund_intent(rows), cancel_url=cancel_url)
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
        left = left_of(shown[0])
        try:
            amount = _read_amount(typed, left, _currency(shown[0]))
        except ValidationError as exc:
            token = request.POST.get("intent", "")
            return _confirmation(
                modeladmin,
                request,
                [(shown[0], left)],
                intent=token,
                amount=typed,
                error=" ".join(exc.messages),
                cancel_url=cancel_url,
            )
    _refund_each(modeladmin, request, shown, amount, intent, refund_one, left_of)
    return None


def _read_amount(typed: str, left: Decimal, currency: str) -> Decimal:
    """The amount typed on the page, refused (``ValidationError``, shown beside the field) when it cannot be read,
    is zero or negative, or is more than is left to refund."""
    if typed.startswith("-"):
        raise ValidationError(_("A refund cannot be negative: enter the amount to return to the buyer."))
    amount = services.parse_localized_amount(typed, currency=currency)
    if amount <= 0:
        raise ValidationError(_("Enter an amount above zero."))
    if amount > left:
        text = _("%(asked)s is more than is left to refund: at most %(left)s.")
        raise ValidationError(text % {"asked": money(amount, currency), "left": money(left, currency)})
    return amount


def _refund_each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    targets: Sequence[Target],
    amount: Decimal | None,
    intent: services.RefundIntent,
    refund_one: RefundOne,
    left_of: Callable[[Any], Decimal],
) -> None:
    summary = services.BatchSummary()
    requested_by = request.user.get_username()
    for target in targets:
        asked = amount if amount is not None else (intent.shown_amount(target) or left_of(target))
        try:
            refund = refund_one(target, amount, intent, requested_by)
        except RefundAlreadySentError as exc:
            modeladmin.message_user(request, _already_sent(target, exc), messages.WARNING)
        except (OrkestaPayError, ValidationError) as exc:
            summary.failed += 1
            made = _refund_made(target, intent)
            text = _failure(target, money(asked, _currency(target)), exc, made)
            if made is not None:  # the service recorded the answer (or its absence) on the order
                text += " " + _("It is recorded on the order's last error.")
            modeladmin.message_user(request, text, messages.ERROR)
        else:
            summary.succeeded += 1
            modeladmin.message_user(request, _success(target, refund), _level(refund))
    if len(targets) > 1:
        report_counts(modeladmin, request, summary)


def _success(target: Target, refund: Refund) -> str:
    values = {"target": _title(target), "amount": money(refund.amount, _currency(target))}
    if refund.status == RefundStatus.PENDING:
        text = _(
            "%(target)s: OrkestaPay accepted the refund of %(amount)s but has not finished it; the amount stays "
            "reserved until it settles (the Resend refund action checks on it)."
        )
        return text % values
    return _("%(target)s: refunded %(amount)s.") % values


def _already_sent(target: Target, exc: RefundAlreadySentError) -> str:
    refund = exc.refund
    if not isinstance(refund, Refund):
        return exc.message
    text = _("Already sent: this page made the refund of %(amount)s for %(target)s (%(status)s); nothing new was sent.")
    values = {"amount": money(refund.amount, _currency(target)), "target": _title(target)}
    return text % {**values, "status": refund.get_status_display()}


def _level(refund: Refund) -> int:
    return messages.WARNING if refund.status == RefundStatus.PENDING else messages.SUCCESS


def _failure(target: Target, amount: str, exc: OrkestaPayError | ValidationError, made: Refund | None) -> str:
    """What went wrong, naming the order and the amount once (the service's reason often names the order already):
    not made (refused here, or by OrkestaPay), or sent with no answer yet (``made`` still unsettled)."""
    reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    values = {"target": _title(target), "amount": amount, "reason": reason}
    refused = made is None or made.status == RefundStatus.FAILED
    if _name(target) in reason:
        text = (
            _("Refund of %(amount)s not made: %(reason)s")
            if refused
            else _(
                "Refund of %(amount)s not confirmed by OrkestaPay: %(reason)s. Its amount stays reserved; the Resend "
                "refund action checks on it."
            )
        )
    else:
        text = (
            _("%(target)s: refund of %(amount)s not made: %(reason)s")
            if refused
            else _(
                "%(target)s: refund of %(amount)s not confirmed by OrkestaPay: %(reason)s. Its amount stays reserved; "
                "the Resend refund action checks on it."
            )
        )
    return text % values


def _confirmation(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    rows: Sequence[tuple[Target, Decimal]],
    *,
    intent: str,
    amount: str | None = None,
    error: str = "",
    cancel_url: str = "",
) -> TemplateResponse:
    single = rows[0][0] if len(rows) == 1 else None
    if single is not None and amount is None:
        amount = services.format_amount_for_input(rows[0][1], _currency(single))
    return confirmation_page(
        modeladmin,
        request,
        title=_("Refund"),
        question=str(QUESTION),
        rows=[(target, _left_text(target, left)) for target, left in rows],
        cancel_url=cancel_url,
        extra_fields="amount" if single is not None else "",
        amount=amount,
        amount_error=error,
        intent=intent,
    )


def _left_text(target: Target, left: Decimal) -> str:
    return _("%(target)s: %(left)s left to refund") % {"target": _title(target), "left": money(left, _currency(target))}


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


def _title(target: Target) -> str:
    """``Order CART-3``, or ``Payment pay_1 of order CART-3``."""
    if isinstance(target, Order):
        return _("Order %(order)s") % {"order": target.merchant_order_id}
    text = _("Payment %(payment)s of order %(order)s")
    return text % {"payment": target.orkestapay_payment_id, "order": target.order.merchant_order_id}


def _refund_made(target: Target, intent: services.RefundIntent) -> Refund | None:
    """The refund this confirmation recorded for ``target``, if it got that far (its key comes from the intent)."""
    payments = [target] if isinstance(target, Payment) else list(target.payments.all())
    keys = [intent.idempotency_key(payment.orkestapay_payment_id) for payment in payments]
    return Refund.objects.filter(idempotency_key__in=keys).first() if keys else None
