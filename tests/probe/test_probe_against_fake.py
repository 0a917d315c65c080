"""The probe against the fake gateway: every question matches the fake's default answers, and each switchable
variant of an open question turns exactly the rows that ask it into mismatches (and nothing else)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses

from django_orkestapay.client import AUTH_PATH, SANDBOX_BASE_URL, CheckoutResult
from django_orkestapay.probe import GROUPS, ProbeConfig, Report, Verdict, run_probe, runner
from django_orkestapay.testing import FakeOrkestaPay

from .conftest import config_for, hosted_page_buyer, probe

# The probe's expectations are the rich profile's answers (the evidence profile's minimal ones are mismatches to it).
pytestmark = pytest.mark.orkestapay_profile("rich")


def problems(report: Report) -> dict[str, Verdict]:
    """The rows that did not match (mismatch or error)."""
    return {row.key: row.verdict for row in report.rows if row.verdict in (Verdict.MISMATCH, Verdict.ERROR)}


def test_every_question_matches_the_fake_by_default(fake: FakeOrkestaPay) -> None:
    report, _ = probe(fake, *GROUPS)

    assert problems(report) == {}
    assert report.exit_code == 0
    verdicts = report.verdicts()
    assert {key for key, verdict in verdicts.items() if verdict is Verdict.INFO} == {
        "amounts.taxes_counted",  # the fake checks no sums: whether taxes count cannot tell
        "locale.EN_US",
        "locale.ES_MX",
        "locale.EN",
        "locale.ES",
        "locale.PT_BR",
        "pending.payment",
        "limits.burst",  # no 429
        "limits.paging",  # one page: the fake ignores ?page unless payments_page_size splits the list
        "webhook.events.canceled",
        "webhook.events.declined",
        "webhook.events.pending",
        "webhook.events.expired",
    }
    assert {key for key, verdict in verdicts.items() if verdict is Verdict.SKIPPED} == {"refund.setting_off"}
    groups = {row.group for row in report.rows}
    assert groups == {*GROUPS, "statuses"}
    assert report.row("return.completed.params").observed == "order_id, payment_id, checkout_id"
    assert report.row("return.canceled.params").observed == "order_id, checkout_id"
    assert report.row("return.completed.params").evidence["value_shapes"] == {
        "order_id": "ord_<32 hex>",
        "payment_id": "pay_<32 hex>",
        "checkout_id": "chk_<32 hex>",
    }
    assert report.row("statuses.known").evidence["order"] == [
        "CANCELED",
        "COMPLETED",
        "CREATED",
        "EXPIRED",
        "PARTIALLY_REFUNDED",
        "PAYMENT_ACTION_REQUIRED",
        "REFUNDED",
    ]
    # The probe paid and refunded for real on the fake: one payment, refunded in two parts (the replay was one,
    # the same key with another amount was refused).
    (payment,) = (p for p in fake.payments.values() if p["status"] == "REFUNDED")
    assert [t["type"] for t in payment["transactions"]] == ["PURCHASE", "REFUND", "REFUND"]
    # What the webhooks told: the envelope, the headers, and which checkout got which event.
    assert report.row("webhook.envelope").observed == "name under type_event, payment at data.payment"
    assert report.row("webhook.headers").evidence["families"] == ["svix"]
    # the half and the rest: the replay and the refused other body emit nothing
    paid_events = report.row("webhook.events.paid").evidence["events"]
    assert paid_events == ["payment.purchase", "payment.refund", "payment.refund"]
    assert report.row("webhook.events.declined").evidence["events"] == ["payment.cancel", "payment.cancel"]
    assert report.row("pending.order").evidence["payments"] == ["PAYMENT_ACTION_REQUIRED"]


def _set(**switches: Any) -> Callable[[FakeOrkestaPay], None]:
    def apply(fake: FakeOrkestaPay) -> None:
        for name, value in switches.items():
            setattr(fake, name, value)

    return apply


COMPLETED = {"returns": ("completed",)}
CANCELED = {"returns": ("canceled",)}

#: (switches, question groups, run options, the rows expected to mismatch)
VARIANTS: list[Any] = [
    pytest.param(_set(token_claims_lifetime=180), ("token",), {}, {"token.lifetime"}, id="jwt-lives-180-s"),
    pytest.param(_set(token_lifetime=3600), ("token",), {}, {"token.lifetime"}, id="expires-in-3600"),
    pytest.param(
        _set(auth_failure_status=403), ("auth",), {}, {"auth.garbage_token", "auth.tampered_token"}, id="bad-token-403"
    ),
    pytest.param(
        _set(auth_failure_body="oauth"), ("auth",), {}, {"auth.garbage_token", "auth.tampered_token"}, id="oauth-body"
    ),
    pytest.param(
        _set(auth_failure_body="empty"), ("auth",), {}, {"auth.garbage_token", "auth.tampered_token"}, id="empty-401"
    ),
    pytest.param(
        _set(checkout_lifetime=86400), ("checkout",), {}, {"checkout.default_lifetime"}, id="24-h-default-lifetime"
    ),
    pytest.param(
        _set(checkout_read_shape="without_order"), ("checkout",), {}, {"checkout.read_back"}, id="read-without-order"
    ),
    pytest.param(
        _set(checkout_read_shape="without_redirect_url"),
        ("checkout",),
        {},
        {"checkout.read_back"},
        id="read-without-redirect-url",
    ),
    pytest.param(
        _set(checkout_read_shape="unsupported"), ("checkout",), {}, {"checkout.read_back"}, id="checkout-reads-405"
    ),
    pytest.param(
        _set(product_id_fields=("id",)),
        ("checkout",),
        {},
        {"products.product_id", "checkout.package_shape"},
        id="only-products-id",
    ),
    pytest.param(_set(product_id_fields=("product_id",)), ("checkout",), {}, {"checkout.sample"}, id="only-product-id"),
    pytest.param(
        _set(public_base_url="https://pay.example.net"),
        ("checkout",),
        {},
        {"checkout.redirect_host"},
        id="untrusted-checkout-host",
    ),
    pytest.param(_set(strict_amounts=True), ("checkout",), {}, set(), id="sums-checked-the-packages-folded-taxes-pass"),
    pytest.param(_set(accepted_locales=("EN_US",)), ("locale",), {}, {"locale.ES_LATAM"}, id="es-latam-refused"),
    pytest.param(
        _set(reject_duplicate_merchant_order_ids=True),
        ("duplicates",),
        {},
        {"checkout.duplicate_merchant_order_id"},
        id="duplicates-refused",
    ),
    pytest.param(
        _set(idempotent_checkouts=True),
        ("duplicates",),
        {},
        {"checkout.idempotency_key"},
        id="idempotency-key-honoured",
    ),
    pytest.param(
        _set(reject_duplicate_merchant_order_ids=True, idempotent_checkouts=True),
        ("duplicates",),
        {},
        {"checkout.duplicate_merchant_order_id", "checkout.idempotency_key"},
        id="duplicates-refused-and-idempotency-key-honoured",
    ),
    pytest.param(
        _set(strict_amounts=True),
        ("amounts",),
        {},
        {"amounts.total", "amounts.subtotal", "amounts.taxes", "amounts.taxes_counted"},
        id="sums-checked-without-taxes",
    ),
    pytest.param(
        _set(return_params_completed=("orderId", "paymentId")),
        ("return",),
        COMPLETED,
        {"return.completed.params"},
        id="camel-case-return-params",
    ),
    pytest.param(
        _set(return_params_completed=("order_id", "payment_id", "signature")),
        ("return",),
        COMPLETED,
        set(),
        id="an-extra-return-param-is-fine",
    ),
    pytest.param(
        _set(return_params_canceled=()), ("return",), CANCELED, {"return.canceled.params"}, id="no-cancel-params"
    ),
    pytest.param(
        _set(return_keeps_query=False),
        ("return",),
        {},
        {"return.completed.query_kept", "return.canceled.query_kept"},
        id="own-query-dropped",
    ),
    pytest.param(
        _set(cancel_marks_order_canceled=False),
        ("return",),
        CANCELED,
        {"return.canceled.order"},
        id="cancel-leaves-order-created",
    ),
    pytest.param(
        _set(webhook_payload_version="v2024-07"), ("return", "webhooks"), COMPLETED, set(), id="webhooks-of-july-2024"
    ),
    pytest.param(
        _set(webhook_payload_version="v2024-11"), ("return", "webhooks"), COMPLETED, set(), id="webhooks-of-nov-2024"
    ),
    pytest.param(_set(decline_marks_order_failed=True), ("pending",), {}, set(), id="a-decline-fails-the-order"),
    pytest.param(
        _set(emit_cancel_events=False), ("return", "webhooks"), {}, set(), id="no-events-for-a-cancel-or-decline"
    ),
    pytest.param(
        _set(refunds_enabled=False),
        ("return", "refund"),
        COMPLETED,
        {"refund.setting"},  # refund.setting_off matches: a refund with the setting off is refused
        id="refunds-off",
    ),
    pytest.param(
        _set(decline_refunds=True),
        ("return", "refund"),
        COMPLETED,
        {"refund.partial", "refund.rest"},
        id="refunds-declined",
    ),
    pytest.param(
        _set(idempotency_ttl=-1),
        ("return", "refund"),
        COMPLETED,
        {"refund.replay", "refund.rest"},
        id="refund-replay-refunds-twice",
    ),
]


@pytest.mark.parametrize(("switch", "groups", "options", "expected"), VARIANTS)
def test_each_variant_is_reported_as_a_mismatch(
    fake: FakeOrkestaPay,
    switch: Callable[[FakeOrkestaPay], None],
    groups: tuple[str, ...],
    options: dict[str, Any],
    expected: set[str],
) -> None:
    switch(fake)

    report, _ = probe(fake, *groups, **options)

    assert problems(report) == dict.fromkeys(expected, Verdict.MISMATCH)
    assert report.exit_code == (1 if expected else 0)
    for key in expected:
        assert report.row(key).advice  # every mismatch says what to do


def test_what_the_api_says_after_the_return_is_checked(fake: FakeOrkestaPay) -> None:
    def settle_as_unknown_status(side: str, checkout: CheckoutResult) -> None:
        fake.set_order_status(checkout.order_id, "SETTLED")

    report, _ = probe(fake, "return", returns=("completed",), present=hosted_page_buyer(settle_as_unknown_status))

    assert problems(report) == {"return.completed.order": Verdict.MISMATCH, "statuses.known": Verdict.MISMATCH}
    assert report.row("statuses.known").evidence["unknown"] == ["SETTLED"]


def test_an_amount_that_differs_after_the_return_is_a_mismatch(fake: FakeOrkestaPay) -> None:
    def change_total(side: str, checkout: CheckoutResult) -> None:
        fake.tamper_order(checkout.order_id, total_amount=1)

    report, _ = probe(fake, "return", returns=("completed",), present=hosted_page_buyer(change_total))

    assert problems(report) == {"return.completed.order": Verdict.MISMATCH}
    assert report.row("return.completed.order").observed == "status COMPLETED; differs: total_amount"


def test_nobody_comes_back(fake: FakeOrkestaPay) -> None:
    report, _ = probe(fake, "return", "refund", present=lambda side, checkout: None, return_timeout=0.2)

    assert problems(report) == {"return.completed.arrived": Verdict.ERROR, "return.canceled.arrived": Verdict.ERROR}
    assert report.row("return.completed.arrived").observed == "nobody came back within 0 s"
    assert report.row("refund.partial").verdict is Verdict.SKIPPED
    assert fake.payments == {}


def test_the_buyer_cancels_when_asked_to_pay(fake: FakeOrkestaPay) -> None:
    def cancel(side: str, checkout: CheckoutResult) -> None:
        hosted_page_buyer()("canceled", checkout)

    report, _ = probe(fake, "return", returns=("completed",), present=cancel)

    assert problems(report) == {"return.completed.arrived": Verdict.ERROR}
    assert report.row("return.completed.arrived").observed == (
        "came back to the canceled URL instead, with orkestapay, order_id, checkout_id"
    )


def test_return_urls_refused(fake: FakeOrkestaPay) -> None:
    fake.inject_fault("POST", "/v1/checkouts", "status", status=400)

    report, _ = probe(fake, "return", returns=("completed",))

    assert problems(report) == {"return.completed.checkout": Verdict.MISMATCH}
    assert "--return-base-url" in report.row("return.completed.checkout").advice
    assert fake.orders == {}


def test_a_refused_token_stops_the_run(fake: FakeOrkestaPay) -> None:
    fake.inject_fault("POST", "/v1/oauth/tokens", "status", status=400, times=5)

    report, _ = probe(fake, "auth", "checkout")

    assert [(row.key, row.verdict) for row in report.rows] == [
        ("token.fields", Verdict.ERROR),
        ("token.lifetime", Verdict.SKIPPED),
        ("auth", Verdict.SKIPPED),
        ("checkout", Verdict.SKIPPED),
        ("statuses.known", Verdict.SKIPPED),
    ]
    assert fake.count_requests(prefix="/v1/checkouts") == 0


@pytest.mark.parametrize("expires_in", ["NaN", "Infinity", "-Infinity"])
def test_a_token_lifetime_that_is_not_a_finite_number_is_a_mismatch(expires_in: str) -> None:
    # As the client reads expires_in: NaN and infinities are no number of seconds (they broke the comparisons).
    token = "eyJhbGciOiJub25lIn0.eyJleHAiOjE4MDAsImlhdCI6MH0.c2lnbmF0dXJl"
    config = ProbeConfig(client_id="probe-client-id", client_secret="probe-client-secret", groups=("token",))
    with responses.RequestsMock() as mock:
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
        mock.add("POST", f"{SANDBOX_BASE_URL}{AUTH_PATH}", json=answer)
        report, _ = run_probe(config, present=hosted_page_buyer())

    assert report.verdicts() == {
        "token.fields": Verdict.MISMATCH,
        "token.lifetime": Verdict.ERROR,
        "statuses.known": Verdict.SKIPPED,
    }


def test_a_failing_question_group_does_not_lose_the_others(fake: FakeOrkestaPay, monkeypatch: Any) -> None:
    def broken(ctx: Any) -> Any:
        yield from ()
        raise RuntimeError(f"bug near {ctx.config.client_secret}")

    monkeypatch.setitem(runner.ASK, "locale", broken)

    report, _ = probe(fake, "locale", "amounts")

    assert report.row("locale.failed").verdict is Verdict.ERROR
    assert report.row("locale.failed").observed == "RuntimeError: bug near <secret>"
    assert report.row("amounts.total").verdict is Verdict.MATCH


def test_payments_paged_one_by_one_are_counted_from_0(fake: FakeOrkestaPay) -> None:
    fake.payments_page_size = 1

    report, _ = probe(fake, "return", "limits", returns=("completed",))

    assert report.row("limits.paging").verdict is Verdict.MATCH
    assert report.row("limits.paging").evidence["page_1"] == {"status": 200, "items": 0, "page_number": 1}


def test_webhooks_nobody_registered_are_an_error_and_the_expiry_is_still_asked(fake: FakeOrkestaPay) -> None:
    told: list[tuple[str, str]] = []
    config = config_for(fake, "webhooks")

    report, _ = run_probe(config, present=hosted_page_buyer(), announce=lambda what, url: told.append((what, url)))

    [(what, url)] = told
    assert what == "webhook"
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/webhook")
    assert report.row("webhook.delivered").verdict is Verdict.ERROR
    assert "nothing arrived within 2 s" in report.row("webhook.delivered").observed
    assert report.row("expiry.order").verdict is Verdict.MATCH
    assert not [row for row in report.rows if row.key.startswith("webhook.events")]
