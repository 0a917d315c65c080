"""The buyer-facing views: pay (POST), and the completed and canceled returns. Thin: the work is in services."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.db import OperationalError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import conf, services
from .exceptions import OrkestaPayError, is_unusable_answer
from .models import Checkout, Order, OrderStatus
from .paying import Refusal, is_local, start_payment
from .signing import CANCELED, COMPLETED, RETURN_PARAM, InvalidReturnLink, load_return

logger = logging.getLogger("django_orkestapay.views")

_LINK_ERRORS = {
    "missing": gettext_lazy("This payment link is incomplete."),
    "malformed": gettext_lazy("This payment link is not valid."),
    "bad_signature": gettext_lazy("This payment link is not valid."),
    "wrong_side": gettext_lazy("This payment link is not valid."),
    "expired": gettext_lazy("This payment link has expired. Your order is safe: please return to the shop."),
    "unknown": gettext_lazy("This payment link does not match any order."),
}
#: Seconds after which the "we are confirming your payment" page (OrkestaPay could not be asked, or the database
#: was busy) and the pending page of a return that found no payment in progress check again, one after the other;
#: after the last they stop and offer a button. The count travels in the URL (``check``) and only changes the page:
#: how often OrkestaPay is asked is bounded by ``RETURN_SYNC_INTERVAL`` whatever the URL says.
RECHECK_DELAYS = (5, 10, 30)
#: The same for the pending page while a payment is in progress (a SPEI transfer, cash): the money can take hours,
#: so the page checks less and less often for about three and a half hours, then stops. The webhook, or
#: ``orkestapay_sync``, confirms the order whether or not the page is open.
TRANSFER_RECHECK_DELAYS = (30, 60, 120, 300, 600, 900, *(1800,) * 6)
CHECK_PARAM = "check"


def _error_page(
    request: HttpRequest,
    *,
    title: str,
    message: str,
    status: int,
    order: Order | None = None,
    reload_url: str = "",
    retry: bool = True,
    recheck: dict[str, object] | None = None,
) -> HttpResponse:
    context = {"title": title, "message": message, "order": order, "reload_url": reload_url, "retry": retry}
    return render(request, "django_orkestapay/error.html", {**context, **(recheck or {})}, status=status)


def _recheck(request: HttpRequest, delays: tuple[int, ...] = RECHECK_DELAYS) -> dict[str, object]:
    """When the page checks again (``recheck_in`` seconds, said as ``recheck_after``: "30 seconds", "5 minutes", at
    ``recheck_url``), or that it stopped (``recheck_in`` None; ``recheck_url`` is then the "Check again" button's
    link)."""
    try:
        done = min(max(int(request.GET.get(CHECK_PARAM, "0")), 0), len(delays))
    except ValueError:
        done = 0
    query = request.GET.copy()
    query[CHECK_PARAM] = str(min(done + 1, len(delays)))
    delay = delays[done] if done < len(delays) else None
    return {
        "recheck_in": delay,
        "recheck_after": _duration(delay) if delay else "",
        "recheck_url": f"{request.path}?{query.urlencode()}",
    }


def _duration(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = seconds // 60
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _refreshing(response: HttpResponse, recheck: dict[str, object]) -> HttpResponse:
    if recheck.get("recheck_in"):
        response["Refresh"] = f"{recheck['recheck_in']}; url={recheck['recheck_url']}"
    return response


@transaction.non_atomic_requests  # the service layer owns its transactions (a Checkout row survives a failed call)
@require_POST
@never_cache
def pay(request: HttpRequest) -> HttpResponse:
    """Start (or reuse) the order's hosted checkout and send the buyer there (302)."""
    outcome = start_payment(request, request.POST)
    if not isinstance(outcome, Refusal):
        return HttpResponseRedirect(outcome.redirect_url)
    response = _error_page(
        request,
        title=outcome.title,
        message=outcome.message,
        status=outcome.status,
        order=outcome.order,
        reload_url=outcome.reload_url,
        retry=outcome.retry,
    )
    if outcome.retry_after is not None:
        response["Retry-After"] = str(outcome.retry_after)
    return response


def _destination(request: HttpRequest, setting: str, order_url: str, order: Order) -> str | None:
    """Where to send the buyer: the order's own page (only a URL on this site), else the setting's, else None."""
    local = bool(order_url) and is_local(request, order_url)
    if order_url and not local:
        logger.warning("Ignored an order return page that is not on this site: %r", order_url[:200])
    target = order_url if local else conf.get(setting)
    if not target:
        return None
    url = resolve_url(target)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'order': str(order.pk)})}"


def _handle_return(request: HttpRequest, side: str) -> HttpResponse:
    try:
        link = load_return(
            request.GET.get(RETURN_PARAM), expected_side=side, max_age=float(conf.get("RETURN_LINK_MAX_AGE"))
        )
    except InvalidReturnLink as exc:
        logger.warning("Rejected a %s return link: %s", side, exc.reason)
        return _error_page(request, title=_("Invalid link"), message=str(_LINK_ERRORS[exc.reason]), status=400)
    reported_payment_id = request.GET.get("payment_id") or request.GET.get("paymentId")
    try:
        result = services.confirm_return(
            link, reported_order_id=request.GET.get("order_id"), reported_payment_id=reported_payment_id
        )
    except Checkout.DoesNotExist:
        logger.warning("A signed %s return named no checkout of ours (order %s)", side, link.order_id)
        return _error_page(request, title=_("Invalid link"), message=str(_LINK_ERRORS["unknown"]), status=400)
    except OrkestaPayError as exc:
        # An answer we cannot use is no outage: 200, the order flagged for a person; a 503 only when a retry helps.
        status = 200 if is_unusable_answer(exc) else 503
        return _confirming(request, Order.objects.filter(pk=link.order_id).first(), status=status)
    except OperationalError:  # the database stayed busy: what was read is not applied; a later check applies it
        logger.warning("A %s return for order %s: the database is busy; answered 503", side, link.order_id)
        return _confirming(request, None)
    order = result.order
    if order.is_paid:
        destination = _destination(request, "SUCCESS_URL", order.success_url, order)
    elif order.status in (OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED):
        destination = _destination(request, "CANCEL_URL", order.cancel_url, order)
    else:
        destination = None  # still pending: our own page, which re-checks
    if destination:
        return HttpResponseRedirect(destination)
    pending = order.status in (OrderStatus.PENDING, OrderStatus.CREATED)
    state = services.payment_state(order) if pending else None
    in_progress = state is not None and state.in_progress
    recheck = _recheck(request, TRANSFER_RECHECK_DELAYS if in_progress else RECHECK_DELAYS) if pending else {}
    context = {
        "order": order,
        "side": side,
        "pending": pending,
        "state": state,
        "in_progress": in_progress,
        "flagged": result.flagged,
        **recheck,
    }
    return _refreshing(render(request, "django_orkestapay/return.html", context), recheck)


def _confirming(request: HttpRequest, order: Order | None, *, status: int = 503) -> HttpResponse:
    """ "We are confirming your payment": OrkestaPay could not be asked, or the database stayed busy (503, with
    ``Retry-After``), or OrkestaPay's answer could not be used (200: the order is flagged for a person, and asking
    again at once would not help). The page checks again by itself (backing off), then offers a button."""
    recheck = _recheck(request)
    message = _("We could not reach the payment service to confirm your payment. Nothing is lost.")
    title = _("We are confirming your payment")
    response = _error_page(
        request, title=title, message=message, status=status, order=order, retry=False, recheck=recheck
    )
    if status == 503:
        response["Retry-After"] = str(recheck["recheck_in"] or RECHECK_DELAYS[-1])
    return _refreshing(response, recheck)


@transaction.non_atomic_requests
@require_GET
@never_cache
def completed(request: HttpRequest) -> HttpResponse:
    """Where OrkestaPay sends the buyer after paying: confirm with the API, then show or redirect."""
    return _handle_return(request, COMPLETED)


@transaction.non_atomic_requests
@require_GET
@never_cache
def canceled(request: HttpRequest) -> HttpResponse:
    """Where OrkestaPay sends the buyer after canceling: confirm with the API, then show or redirect."""
    return _handle_return(request, CANCELED)
