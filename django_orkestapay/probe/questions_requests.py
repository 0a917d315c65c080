"""What OrkestaPay accepts in a checkout request: locales, a reused ``merchant_order_id``, the same request twice
under one ``Idempotency-Key``, amounts that do not add up, and ``order.taxes`` (which the package sends only when
``SEND_UNCONFIRMED_FIELDS`` names it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from .assumptions import GUIDE_TAXES, guide_checkout_body, taxes_checkout_body
from .context import Exchange, ProbeContext, Question, number
from .questions_checkout import create
from .report import Row

LOCALE_Q = Question(
    "locale",
    "Is the checkout locale accepted?",
    "accepted and kept",
    "The package sends this locale (from LOCALE, LANGUAGE_LOCALES or an order's own): set ORKESTAPAY['LOCALE'] to "
    "an accepted one, or map each language to one in LANGUAGE_LOCALES (for example {'es': 'ES_LATAM', 'en': "
    "'ES_LATAM'} until an English locale is known), and tell us which locales OrkestaPay accepts.",
)
DUPLICATE_Q = Question(
    "checkout.duplicate_merchant_order_id",
    "Is a second checkout with a merchant_order_id already used accepted?",
    "accepted as a new order (the package does not rely on it: it sends a fresh reference per attempt, -2, -3...)",
    "Harmless: the package never reuses a merchant_order_id. Tell us so the fake can answer the same "
    "(reject_duplicate_merchant_order_ids).",
)
IDEMPOTENCY_Q = Question(
    "checkout.idempotency_key",
    "Does POST /v1/checkouts honour an Idempotency-Key (the same request twice under one key)?",
    "ignored: two checkouts (the package never repeats a checkout creation, so it does not rely on a key)",
    "Harmless, and good news: the package could retry a checkout creation that timed out. Tell us (the fake's "
    "idempotent_checkouts switch answers the same way).",
)
TOTAL_Q = Question(
    "amounts.total",
    "Is a checkout whose total_amount is not subtotal - discounts accepted?",
    "accepted (OrkestaPay does not check sums; the package checks its own before calling)",
    "Harmless: the package never sends sums that do not add up. Tell us so the fake's strict_amounts can follow.",
)
SUBTOTAL_Q = Question(
    "amounts.subtotal",
    "Is a checkout whose products do not add up to subtotal_amount accepted?",
    TOTAL_Q.assumed,
    TOTAL_Q.advice,
)
TAXES_Q = Question(
    "amounts.taxes",
    "Is order.taxes: [{amount}] accepted beside a subtotal without it and a total with it, and echoed?",
    "nothing by default (the package folds taxes into the line prices); SEND_UNCONFIRMED_FIELDS ['order.taxes'] "
    "needs: accepted, order.taxes and total_amount echoed as sent",
    "Leave order.taxes out of ORKESTAPAY['SEND_UNCONFIRMED_FIELDS'] (the default): the package then folds the taxes "
    "into the prices, which OrkestaPay accepts (checkout.package_shape).",
)
TAXES_COUNTED_Q = Question(
    "amounts.taxes_counted",
    "Does OrkestaPay count order.taxes in its sums (is the same request with a total leaving them out refused)?",
    "nothing (asked to learn it): refused means counted; both totals accepted means sums are not checked",
    "OrkestaPay's sums leave order.taxes out: never name it in SEND_UNCONFIRMED_FIELDS. Tell us.",
)


def ask_locales(ctx: ProbeContext) -> Iterator[Row]:
    """``locale.<LOCALE>`` for the locales this shop sends (assumed accepted) and a few others (nothing assumed)."""
    asked = list(dict.fromkeys((*ctx.config.locales, *ctx.config.extra_locales)))
    for locale in asked:
        ours = locale in ctx.config.locales
        question = LOCALE_Q.variant(
            locale,
            f"Is the checkout locale {locale} accepted?",
            "accepted and kept (this shop sends it)" if ours else "nothing: asked to learn which locales exist",
        )
        body = guide_checkout_body(ctx.merchant_order_id(f"locale-{locale}"), ctx.email)
        body["locale"] = locale
        answer = create(ctx, body)
        if not answer.ok:
            yield question.answer(answer.describe(), matches=False if ours else None, evidence=answer.evidence())
            continue
        kept = answer.body.get("locale")
        observed = "accepted" + ("" if kept == locale else f", but answered with locale {kept!r}")
        yield question.answer(observed, matches=kept == locale if ours else None, evidence={"answered_locale": kept})


def ask_duplicates(ctx: ProbeContext) -> Iterator[Row]:
    """``checkout.duplicate_merchant_order_id`` and ``checkout.idempotency_key``."""
    body = guide_checkout_body(ctx.merchant_order_id("duplicate"), ctx.email)
    first, second = create(ctx, body), create(ctx, body)
    if not first.ok:
        yield DUPLICATE_Q.error(f"the first checkout was refused: {first.describe()}", first.evidence())
    elif not second.ok:
        ctx.memo["duplicates_refused"] = True
        yield DUPLICATE_Q.answer(second.describe(), matches=False, evidence=second.evidence())
    else:
        orders = [answer.body.get("order", {}).get("order_id") for answer in (first, second)]
        same = orders[0] == orders[1]
        observed = "answered with the same order again" if same else "accepted as a second order"
        yield DUPLICATE_Q.answer(observed, matches=not same, evidence={"same_order": same})

    key = uuid.uuid4().hex
    body = guide_checkout_body(ctx.merchant_order_id("idempotency"), ctx.email)
    first, repeat = (create(ctx, body, headers={"Idempotency-Key": key}) for _ in range(2))
    if not first.ok:
        yield IDEMPOTENCY_Q.error(f"the first checkout was refused: {first.describe()}", first.evidence())
        return
    if repeat.ok:
        ignored = first.body.get("checkout_id") != repeat.body.get("checkout_id")
    elif ctx.memo.get("duplicates_refused"):
        # The repeat may have been refused for its merchant_order_id alone: the same key on a new reference tells.
        other = guide_checkout_body(ctx.merchant_order_id("idempotency-other"), ctx.email)
        fresh = create(ctx, other, headers={"Idempotency-Key": key})
        ignored = fresh.ok and fresh.body.get("checkout_id") != first.body.get("checkout_id")
    else:
        ignored = False
    if ignored and not repeat.ok:
        observed = "ignored: the repeat was refused as a duplicate reference, the same key on a new one made a checkout"
    elif ignored:
        observed = "ignored: two checkouts"
    elif repeat.ok:
        observed = "honoured: the same checkout answered twice"
    else:
        observed = f"honoured: the repeat was {repeat.describe()}"
    yield IDEMPOTENCY_Q.answer(observed, matches=ignored, evidence=repeat.evidence())


def ask_amounts(ctx: ProbeContext) -> Iterator[Row]:
    """``amounts.total`` and ``amounts.subtotal``: sums that do not add up."""
    total = guide_checkout_body(ctx.merchant_order_id("bad-total"), ctx.email, total_amount=1234)
    answer = create(ctx, total)
    yield TOTAL_Q.answer("accepted" if answer.ok else answer.describe(), matches=answer.ok, evidence=answer.evidence())
    subtotal = guide_checkout_body(ctx.merchant_order_id("bad-subtotal"), ctx.email)
    subtotal["order"]["products"][0]["unit_price"] = 500
    answer = create(ctx, subtotal)
    yield SUBTOTAL_Q.answer(
        "accepted" if answer.ok else answer.describe(), matches=answer.ok, evidence=answer.evidence()
    )
    yield from _taxes_rows(ctx)


def _taxes_rows(ctx: ProbeContext) -> Iterator[Row]:
    """``amounts.taxes`` and ``amounts.taxes_counted``: ``order.taxes`` with a total that counts it, then without."""
    counted = create(ctx, taxes_checkout_body(ctx.merchant_order_id("taxes"), ctx.email))
    uncounted = create(ctx, taxes_checkout_body(ctx.merchant_order_id("taxes-uncounted"), ctx.email, counted=False))
    if not counted.ok:
        yield TAXES_Q.answer(counted.describe(), matches=False, evidence=counted.evidence())
    else:
        echoed, total = _echoed_taxes(counted), number(_as_dict(counted.body.get("order")).get("total_amount"))
        sent_total = Decimal(990) + GUIDE_TAXES
        observed = f"accepted; order.taxes echoed as {echoed}, total_amount {total} (sent {GUIDE_TAXES}, {sent_total})"
        matches = echoed == GUIDE_TAXES and total == sent_total
        yield TAXES_Q.answer(observed, matches=matches, evidence={"taxes": echoed, "total_amount": total})
    if counted.ok and not uncounted.ok:
        row = TAXES_COUNTED_Q.answer(f"counted: a total without them was {uncounted.describe()}", matches=True)
    elif counted.ok:
        row = TAXES_COUNTED_Q.answer("not told: both totals were accepted (sums are not checked)", matches=None)
    elif uncounted.ok:
        row = TAXES_COUNTED_Q.answer("not counted: only the total without them was accepted", matches=False)
    else:
        row = TAXES_COUNTED_Q.error(f"both were refused: {uncounted.describe()}", uncounted.evidence())
    yield row


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _echoed_taxes(answer: Exchange) -> Decimal | None:
    """The sum of the answer's ``order.taxes`` amounts, None when it has none."""
    taxes = _as_dict(answer.body.get("order")).get("taxes")
    if not isinstance(taxes, list) or not taxes:
        return None
    amounts = [number(_as_dict(tax).get("amount")) for tax in taxes]
    return None if None in amounts else sum((a for a in amounts if a is not None), Decimal(0))
