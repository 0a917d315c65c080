"""The hostile-input catalogue: what a buyer, a forger or a broken proxy can send, each rejected with a clear answer
and no state change, through the real views (Django's test client) and the real fake gateway.

* the signed return parameter (property-based: random text, non-UTF-8 bytes, truncations, swapped parts, one
  changed character, very long values; and named cases: another order's link, the other side's link, a link signed
  without our salt, a duplicated parameter);
* the webhook endpoint's signature check and body parser (property-based: unsigned garbage, signed garbage, signed
  JSON of any shape; and named cases: swapped signatures, NUL bytes, huge bodies, absurd nesting);
* the pay view (GET, other methods, a missing or wrong CSRF token, a foreign origin, hostile order ids);
* an amount, currency or reference mismatch reported by the API (flagged for review, never paid), and an answer
  missing its amount or currency (malformed: applied not at all).

"No state change" is checked with :func:`tests.test_fault_catalogue.db_snapshot` (every row of every model, every
field). The one thing the contract records is a refused webhook: ``services.reject_webhook`` stores it as a REJECTED
``Event`` (unverified, ``message_id`` empty so a forger cannot occupy a real id; the claimed id kept aside) for the
admin to see and counts it (``RejectedWebhookCount``), and a signed JSON object we cannot match to an order is
stored as IGNORED; the tests assert exactly that one new row (and that count) and nothing else.

The verifier itself is property-tested without Django in tests/test_webhook_verification.py, and the signing module
in tests/test_signing.py; these tests add the views and the database around them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_orkestapay import services, signals
from django_orkestapay.models import Checkout, EventStatus, Order, OrderStatus, PaymentStatus, ReviewCode
from django_orkestapay.services.webhooks import parse_webhook_payload
from django_orkestapay.signing import CANCELED, COMPLETED, RETURN_PARAM, sign_return
from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.webhook_verification import sign_payload
from django_orkestapay.webhooks import MAX_BODY_BYTES
from tests.conftest import hosted_page_post, local_path, make_order, pay_form
from tests.test_fault_catalogue import (
    ERROR_TEMPLATE,
    WEBHOOK_SECRET,
    assert_db_unchanged,
    db_snapshot,
    new_rows,
    pay,
    post_webhook,
    purchase_event_body,
    remote_checkout_id,
)

pytestmark = pytest.mark.django_db(transaction=True)

PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

#: Text as a WSGI server hands it over (header values are latin-1), control characters and NUL included.
latin1_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=300)
#: Any Unicode text that can be URL-encoded (no lone surrogates), short or very long.
short_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
any_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=450, max_size=3000),
)


@pytest.fixture
def webhook_settings(settings: Any, orkestapay_settings: dict[str, Any]) -> dict[str, Any]:
    """The fake gateway's settings plus our webhook signing secret. Every rejected delivery is kept, so a property
    test's examples never prune each other's (the cap has its own tests: tests/test_rejected_webhooks.py)."""
    settings.ORKESTAPAY = {
        **orkestapay_settings,
        "WEBHOOK_SECRETS": [WEBHOOK_SECRET],
        "REJECTED_WEBHOOKS_KEPT": 1_000_000,
    }
    return dict(settings.ORKESTAPAY)


@pytest.fixture
def paid_at_gateway(client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay) -> Order:
    """An order whose buyer paid on the hosted page, not yet confirmed by us: a valid return would mark it PAID, so
    "nothing changed" means something."""
    order = make_order()
    pay(client, order)
    fake_orkestapay.pay(remote_checkout_id(order))
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    return order


def genuine_link(order: Order, side: str = COMPLETED) -> str:
    """The signed value the app itself put in ``order``'s return URL for ``side``."""
    checkout = Checkout.objects.get(order=order)
    return sign_return(order_id=order.pk, checkout_id=checkout.pk, side=side)


def assert_rejected_return(response: Any, fake: FakeOrkestaPay, api_calls_before: int) -> None:
    """A clear 400 page, and the API was not even asked (the query string decides nothing)."""
    assert response.status_code == 400
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    assert "Traceback" not in response.content.decode("utf-8", "replace")
    assert fake.count_requests() == api_calls_before


# ---------------------------------------------------------------------------------------------------------------
# The signed return parameter
# ---------------------------------------------------------------------------------------------------------------


def mutations_of(value: str) -> st.SearchStrategy[str]:
    """Everything a forger can derive from a genuine value without the key: each differs from ``value``."""
    parts = value.split(":")
    swapped = st.permutations(parts).map(":".join)
    truncated = st.integers(0, len(value) - 1).map(lambda n: value[:n])
    one_changed = st.tuples(st.integers(0, len(value) - 1), st.characters(exclude_categories=["Cs"])).map(
        lambda change: value[: change[0]] + change[1] + value[change[0] + 1 :]
    )
    extended = st.text(min_size=1, max_size=2000).map(lambda junk: value + junk)
    return st.one_of(swapped, truncated, one_changed, extended).filter(lambda mutated: mutated != value)


@PROPERTY
@given(data=st.data(), side=st.sampled_from([COMPLETED, CANCELED]))
def test_property_any_forged_return_value_is_400_and_changes_nothing(
    client: Client, fake_orkestapay: FakeOrkestaPay, paid_at_gateway: Order, data: st.DataObject, side: str
) -> None:
    value = data.draw(st.one_of(any_text, mutations_of(genuine_link(paid_at_gateway, side))), label="value")
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = client.get(reverse(f"orkestapay:{side}"), {RETURN_PARAM: value})
    assert_rejected_return(response, fake_orkestapay, api_calls)
    assert_db_unchanged(before)


@PROPERTY
@given(raw=st.binary(max_size=600), side=st.sampled_from([COMPLETED, CANCELED]))
def test_property_non_utf8_return_value_is_400_and_changes_nothing(
    client: Client, fake_orkestapay: FakeOrkestaPay, paid_at_gateway: Order, raw: bytes, side: str
) -> None:
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = client.get(f"{reverse(f'orkestapay:{side}')}?{RETURN_PARAM}={quote_from_bytes(raw)}")
    assert_rejected_return(response, fake_orkestapay, api_calls)
    assert_db_unchanged(before)


def other_order_pair(client: Client, fake: FakeOrkestaPay) -> tuple[Order, Order]:
    """Two orders with open checkouts, both paid on the hosted page."""
    first, second = make_order(merchant_order_id="HOSTILE-A"), make_order(merchant_order_id="HOSTILE-B")
    for order in (first, second):
        pay(client, order)
        fake.pay(remote_checkout_id(order))
    return first, second


def forged_value(case: str, first: Order, second: Order) -> str:
    checkout_a, checkout_b = Checkout.objects.get(order=first), Checkout.objects.get(order=second)
    if case == "order-a-with-checkout-b":
        return sign_return(order_id=first.pk, checkout_id=checkout_b.pk, side=COMPLETED)
    if case == "checkout-of-no-order":
        return sign_return(order_id=uuid.uuid4(), checkout_id=uuid.uuid4(), side=COMPLETED)
    if case == "canceled-side-on-completed-view":
        return sign_return(order_id=first.pk, checkout_id=checkout_a.pk, side=CANCELED)
    payload = {"o": first.pk.hex, "c": checkout_a.pk.hex, "s": COMPLETED}
    if case == "signed-without-our-salt":  # e.g. a value another part of the site signed with signing.dumps()
        return signing.dumps(payload)
    if case == "signed-with-another-salt":
        return signing.dumps(payload, salt="shop.newsletter")
    if case == "valid-then-garbage-duplicate-param":
        return sign_return(order_id=first.pk, checkout_id=checkout_a.pk, side=COMPLETED) + f"&{RETURN_PARAM}=x"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "order-a-with-checkout-b",
        "checkout-of-no-order",
        "canceled-side-on-completed-view",
        "signed-without-our-salt",
        "signed-with-another-salt",
        "valid-then-garbage-duplicate-param",
    ],
)
def test_forged_or_foreign_link_is_400_and_changes_nothing(
    case: str, client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    first, second = other_order_pair(client, fake_orkestapay)
    value = forged_value(case, first, second)
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = client.get(f"{reverse('orkestapay:completed')}?{RETURN_PARAM}={value}")
    assert_rejected_return(response, fake_orkestapay, api_calls)
    assert_db_unchanged(before)


def order_row(order: Order) -> dict[str, Any]:
    """Every field of ``order``'s row as stored now."""
    (row,) = [row for row in db_snapshot()["Order"] if row["id"] == order.pk]
    return row


def test_another_buyers_genuine_link_only_ever_touches_that_order(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    """A return link is a bearer token for *its* order: used by anyone it confirms that order with the API, and
    cannot reach any other order (the checkout id and the order id are signed together)."""
    first, second = other_order_pair(client, fake_orkestapay)
    second_before = order_row(second)
    response = Client().get(reverse("orkestapay:completed"), {RETURN_PARAM: genuine_link(first)})
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.status == OrderStatus.PAID  # because the API says so, not because of the link
    assert order_row(second) == second_before
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{second.orkestapay_order_id}") == 0


def test_query_string_claims_are_ignored(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    """A genuine link for an unpaid order, with a made-up order_id, payment_id and status: still not paid."""
    order = make_order()
    pay(client, order)
    url = local_path(Checkout.objects.get(order=order).completed_url)
    forged = "&order_id=ord_" + "f" * 32 + "&payment_id=pay_" + "f" * 32 + "&status=COMPLETED&paid=true"
    response = client.get(url + forged)
    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.status, order.orkestapay_payment_id) == (OrderStatus.PENDING, "")
    assert fake_orkestapay.count_requests("GET", "/v1/orders/ord_" + "f" * 32) == 0  # we asked about ours only


# ---------------------------------------------------------------------------------------------------------------
# The webhook endpoint: signature check and body parser
# ---------------------------------------------------------------------------------------------------------------

WEBHOOK_HEADER_NAMES = ["svix-id", "svix-timestamp", "svix-signature", "webhook-id", "webhook-timestamp"]


def assert_one_rejected_event(before: Any, *, verified: bool) -> dict[str, Any]:
    """Exactly one new row, a REJECTED event (and the day's count of refused deliveries, one up); orders, checkouts
    and older events untouched."""
    assert_db_unchanged(
        before,
        added=["Event", "RejectedWebhookCount"],
        allowed={"RejectedWebhookCount": ("count", "last_received_at")},
    )
    (event,) = new_rows(before, "Event")
    assert event["status"] == EventStatus.REJECTED
    assert event["verified"] is verified
    assert event["message_id"] is None  # only verified, accepted deliveries occupy a message id
    assert event["order_id"] is None
    return event


@PROPERTY
@given(
    body=st.binary(max_size=2048),
    headers=st.dictionaries(st.sampled_from(WEBHOOK_HEADER_NAMES), latin1_text, max_size=5),
)
def test_property_unsigned_garbage_is_400_and_stored_rejected(
    client: Client, webhook_settings: dict[str, Any], paid_at_gateway: Order, fake_orkestapay: FakeOrkestaPay,
    body: bytes, headers: dict[str, str],
) -> None:  # fmt: skip
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = client.post(reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid signature"}
    event = assert_one_rejected_event(before, verified=False)
    assert "\x00" not in event["raw_body"]
    assert fake_orkestapay.count_requests() == api_calls


def not_a_json_object(body: bytes) -> bool:
    try:
        return not isinstance(json.loads(body.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError):
        return True


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), short_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=10,
)


@PROPERTY
@given(data=st.data())
def test_property_signed_body_that_is_not_a_json_object_is_400_and_stored_rejected(
    client: Client, webhook_settings: dict[str, Any], paid_at_gateway: Order, fake_orkestapay: FakeOrkestaPay,
    data: st.DataObject,
) -> None:  # fmt: skip
    genuine = purchase_event_body(paid_at_gateway)
    body = data.draw(
        st.one_of(
            st.binary(max_size=2048),  # random bytes, mostly not UTF-8
            st.integers(0, len(genuine) - 1).map(lambda n: genuine[:n]),  # a genuine event, truncated
            st.lists(json_values, max_size=3).map(lambda value: json.dumps(value).encode()),  # JSON, not an object
            json_scalars.map(lambda value: json.dumps(value).encode()),
        ).filter(not_a_json_object),
        label="body",
    )
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = post_webhook(client, body, message_id=f"msg_{uuid.uuid4().hex}")
    assert response.status_code == 400
    assert response.json() == {"error": "malformed body"}
    event = assert_one_rejected_event(before, verified=True)
    assert event["error"].startswith("malformed body")
    assert fake_orkestapay.count_requests() == api_calls


def storable(payload: Any) -> bool:
    """No NUL character anywhere (those bodies are refused, see the named cases)."""
    return "\\u0000" not in json.dumps(payload)


handled_or_not = st.one_of(st.sampled_from(sorted(services.HANDLED_EVENT_TYPES)), any_text, json_values)
envelopes = st.fixed_dictionaries(
    {"type_event": handled_or_not},
    optional={
        "event_type": handled_or_not,
        "data": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "order_id": st.one_of(any_text, json_values),
                    "merchant_order_id": st.one_of(any_text, json_values),
                    "payment": st.dictionaries(st.sampled_from(["order_id", "orderId", "payment_id"]), any_text),
                },
            ),
        ),
    },
)
#: The envelope OrkestaPay sends today, with hostile ids (empty, huge, any script) where ours would be.
hostile_payment = st.fixed_dictionaries(
    {"order_id": any_text}, optional={"merchant_order_id": any_text, "payment_id": any_text}
)
current_envelopes = st.fixed_dictionaries(
    {
        "type_event": st.sampled_from(sorted(services.HANDLED_EVENT_TYPES)),
        "data": st.fixed_dictionaries({"payment": hostile_payment}),
    }
)


@PROPERTY
@given(
    payload=st.one_of(current_envelopes, envelopes, st.dictionaries(short_text, json_values, max_size=5)).filter(
        storable
    )
)
def test_property_signed_json_object_about_no_order_of_ours_is_ignored_and_changes_nothing(
    client: Client, webhook_settings: dict[str, Any], paid_at_gateway: Order, fake_orkestapay: FakeOrkestaPay,
    payload: dict[str, Any],
) -> None:  # fmt: skip
    """Any shape, wrong types, very long ids: stored as IGNORED, answered 200 (OrkestaPay must not retry it)."""
    body = json.dumps(payload).encode()
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = post_webhook(client, body, message_id=f"msg_{uuid.uuid4().hex}")
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert_db_unchanged(before, added=["Event"])
    (event,) = new_rows(before, "Event")
    assert (event["status"], event["verified"], event["order_id"]) == (EventStatus.IGNORED, True, None)
    assert len(event["orkestapay_order_id"]) <= 64
    assert fake_orkestapay.count_requests() == api_calls


@PROPERTY
@given(payload=json_values)
def test_property_payload_parser_accepts_objects_only_and_bounds_every_field(payload: Any) -> None:
    try:
        parsed = parse_webhook_payload(payload)
    except ValueError:
        assert not isinstance(payload, dict)
        return
    assert isinstance(payload, dict)
    assert isinstance(parsed.event_type, str)
    assert len(parsed.event_type) <= 64
    for value in (parsed.order_id, parsed.merchant_order_id, parsed.payment_id):
        assert value is None or (isinstance(value, str) and 0 < len(value) <= 255)


def svix_headers(message_id: str, timestamp: int, body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """The three Svix headers of a genuine delivery."""
    signature = sign_payload(secret, message_id, timestamp, body)
    return {"svix-id": message_id, "svix-timestamp": str(timestamp), "svix-signature": signature}


def swapped_delivery(case: str, first: Order, second: Order) -> tuple[bytes, dict[str, str]]:
    """A delivery built from two genuine, signed deliveries (one per order) by swapping or altering parts."""
    now = int(time.time())
    body_a, body_b = purchase_event_body(first), purchase_event_body(second)
    signed_a, signed_b = svix_headers("msg_a", now, body_a), svix_headers("msg_b", now, body_b)
    if case == "body-of-order-b-with-signature-of-order-a":
        return body_b, signed_a
    if case == "signature-of-b-on-a-with-id-of-a":
        return body_a, {**signed_a, "svix-signature": signed_b["svix-signature"]}
    if case == "id-and-timestamp-swapped":
        return body_a, {**signed_a, "svix-id": str(now), "svix-timestamp": "msg_a"}
    if case == "order-id-in-body-replaced-after-signing":
        return body_a.replace(first.orkestapay_order_id.encode(), second.orkestapay_order_id.encode()), signed_a
    if case == "body-with-a-trailing-newline":
        return body_a + b"\n", signed_a
    if case == "signature-of-a-with-the-secret-of-another-endpoint":
        other = "whsec_" + "YW5vdGhlci1lbmRwb2ludC1zZWNyZXQtMTIzNA=="
        return body_a, svix_headers("msg_a", now, body_a, secret=other)
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "body-of-order-b-with-signature-of-order-a",
        "signature-of-b-on-a-with-id-of-a",
        "id-and-timestamp-swapped",
        "order-id-in-body-replaced-after-signing",
        "body-with-a-trailing-newline",
        "signature-of-a-with-the-secret-of-another-endpoint",
    ],
)
def test_swapped_or_altered_signed_delivery_is_400_and_changes_nothing(
    case: str, client: Client, webhook_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    first, second = other_order_pair(client, fake_orkestapay)
    for order in (first, second):
        order.refresh_from_db()
    body, headers = swapped_delivery(case, first, second)
    before, api_calls = db_snapshot(), fake_orkestapay.count_requests()
    response = client.post(reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid signature"}
    assert_one_rejected_event(before, verified=False)
    assert fake_orkestapay.count_requests() == api_calls
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PENDING}


def named_webhook_delivery(case: str) -> tuple[bytes, dict[str, str] | None]:
    """(body, headers): headers None means "sign the body properly as msg_<case>"."""
    if case == "unsigned-body-with-a-nul-byte":
        headers = {"svix-id": "msg_nul", "svix-timestamp": "1", "svix-signature": "v1,AAAA"}
        return b'{"type_event":"payment.purchase"}\x00', headers
    if case == "nul-byte-in-the-headers":
        return b"{}", {"svix-id": "msg\x00nul", "svix-timestamp": "1\x00", "svix-signature": "v1,\x00"}
    if case == "signed-json-with-an-escaped-nul":
        return json.dumps({"type_event": "payment.purchase", "data": {"order_id": "ord_\u0000"}}).encode(), None
    if case == "signed-raw-nul-byte":
        return b'{"type_event": "payment.purchase\x00"}', None
    if case == "signed-invalid-utf8":
        return b'{"type_event": "payment.purchase", "x": "\xff\xfe"}', None
    if case == "signed-absurdly-deep-nesting":
        return b'{"data":' + b"[" * 5000 + b"]" * 5000 + b"}", None
    if case == "signed-utf16-json":
        return json.dumps({"type_event": "payment.purchase"}).encode("utf-16"), None
    if case == "signed-json-with-a-bom":
        return b"\xef\xbb\xbf" + json.dumps({"type_event": "payment.purchase"}).encode(), None
    if case == "svix-id-longer-than-255":
        return b"{}", None
    if case == "signed-json-with-nan-and-infinity":
        return b'{"type_event": "payment.purchase", "data": {"amount": NaN, "fee": Infinity}}', None
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "verified"),
    [
        ("unsigned-body-with-a-nul-byte", False),
        ("nul-byte-in-the-headers", False),
        ("signed-json-with-an-escaped-nul", True),
        ("signed-raw-nul-byte", True),
        ("signed-invalid-utf8", True),
        ("signed-absurdly-deep-nesting", True),
        ("signed-utf16-json", True),
        ("signed-json-with-a-bom", True),
        ("svix-id-longer-than-255", False),
        ("signed-json-with-nan-and-infinity", True),
    ],
)
def test_named_hostile_webhook_is_400_and_stored_rejected(
    case: str, verified: bool, client: Client, webhook_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    body, headers = named_webhook_delivery(case)
    before = db_snapshot()
    if headers is None:
        message_id = "msg_" + ("x" * 300 if case == "svix-id-longer-than-255" else case)
        response = post_webhook(client, body, message_id=message_id)
    else:
        response = client.post(
            reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers
        )
    assert response.status_code == 400
    assert response.json() == {"error": "malformed body" if verified else "invalid signature"}
    event = assert_one_rejected_event(before, verified=verified)
    assert "\x00" not in event["raw_body"]
    assert len(event["claimed_message_id"]) <= 255
    assert fake_orkestapay.count_requests() == 0


def test_signed_event_with_a_very_long_order_id_is_ignored_and_stored(
    client: Client, webhook_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    """A 255-character order id (the parser's limit) does not overflow the event's 64-character column."""
    body = json.dumps({"type_event": "payment.purchase", "data": {"payment": {"order_id": "o" * 1000}}}).encode()
    before = db_snapshot()
    response = post_webhook(client, body, message_id="msg_long_order_id")
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    (event,) = new_rows(before, "Event")
    assert (event["status"], event["orkestapay_order_id"]) == (EventStatus.IGNORED, "o" * 64)
    assert_db_unchanged(before, added=["Event"])


def test_body_over_the_size_limit_is_413_and_stores_nothing(
    client: Client, webhook_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    body = b'{"type_event":"payment.purchase","pad":"' + b"A" * MAX_BODY_BYTES + b'"}'
    before = db_snapshot()
    response = post_webhook(client, body, message_id="msg_huge")
    assert response.status_code == 413
    assert_db_unchanged(before)


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_webhook_other_methods_are_405_and_store_nothing(
    method: str, client: Client, webhook_settings: dict[str, Any]
) -> None:
    before = db_snapshot()
    assert getattr(client, method)(reverse("orkestapay:webhook")).status_code == 405
    assert_db_unchanged(before)


# ---------------------------------------------------------------------------------------------------------------
# The pay view
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_pay_with_another_method_is_405_and_changes_nothing(
    method: str, client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    before = db_snapshot()
    response = getattr(client, method)(reverse("orkestapay:pay"), pay_form(order))
    assert response.status_code == 405
    assert_db_unchanged(before)
    assert fake_orkestapay.count_requests() == 0


def csrf_cookie_client() -> tuple[Client, str]:
    """A CSRF-enforcing client holding a valid CSRF cookie, and the form token that goes with it."""
    browser = Client(enforce_csrf_checks=True)
    request = RequestFactory().get("/")
    token = get_token(request)
    browser.cookies[django_settings.CSRF_COOKIE_NAME] = request.META["CSRF_COOKIE"]
    return browser, token


@pytest.mark.parametrize(
    "case", ["no-token-no-cookie", "cookie-but-no-token", "wrong-token", "https-from-a-foreign-origin"]
)
def test_pay_without_a_valid_csrf_token_is_403_and_changes_nothing(
    case: str, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    browser, token = csrf_cookie_client()
    data: dict[str, str] = pay_form(order)
    extra: dict[str, Any] = {}
    if case == "no-token-no-cookie":
        browser = Client(enforce_csrf_checks=True)
    elif case == "wrong-token":
        data["csrfmiddlewaretoken"] = "x" * 64
    elif case == "https-from-a-foreign-origin":
        data["csrfmiddlewaretoken"] = token
        extra = {"secure": True, "headers": {"Origin": "https://evil.example", "Referer": "https://evil.example/"}}
    before = db_snapshot()
    response = browser.post(reverse("orkestapay:pay"), data, **extra)
    assert response.status_code == 403
    assert_db_unchanged(before)
    assert fake_orkestapay.count_requests() == 0


def test_pay_with_a_valid_csrf_token_works(
    orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    """The control for the CSRF cases above: the same client with the right token gets through."""
    order = make_order()
    browser, token = csrf_cookie_client()
    response = browser.post(reverse("orkestapay:pay"), {**pay_form(order), "csrfmiddlewaretoken": token})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-uuid",
        "' OR 1=1 --",
        "1",
        "../../admin/",
        "0" * 10_000,
        str(uuid.UUID(int=0)),
        "11111111-1111-4111-8111-111111111111",
        "\u202eevil",
    ],
    ids=["empty", "garbage", "sql", "sequential-id", "path", "very-long", "nil-uuid", "unknown-uuid", "bidi"],
)
def test_pay_without_a_signed_reference_of_ours_is_400_and_changes_nothing(
    value: str, client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    make_order()
    before = db_snapshot()
    response = client.post(reverse("orkestapay:pay"), {"order": value})
    assert response.status_code == 400
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    assert_db_unchanged(before)
    assert fake_orkestapay.count_requests() == 0


def test_pay_with_a_non_utf8_body_is_400_and_changes_nothing(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    make_order()
    before = db_snapshot()
    response = client.post(
        reverse("orkestapay:pay"), data=b"order=%ff%fe\xff\xfe", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert_db_unchanged(before)
    assert fake_orkestapay.count_requests() == 0


def test_pay_for_an_order_whose_amounts_were_tampered_is_400_and_calls_nothing(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    Order.objects.filter(pk=order.pk).update(total_amount="1.00")  # e.g. someone edited the row
    before = db_snapshot()
    response = pay(client, order)
    assert response.status_code == 400
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    assert_db_unchanged(before)
    assert fake_orkestapay.count_requests() == 0


def test_pay_for_a_paid_order_is_409_and_creates_nothing(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    client.get(local_path(hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]))
    before, posts = db_snapshot(), fake_orkestapay.count_requests("POST", "/v1/checkouts")
    response = pay(client, order)
    assert response.status_code == 409
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    assert_db_unchanged(before)
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == posts


# ---------------------------------------------------------------------------------------------------------------
# The API reports another amount, currency or reference
# ---------------------------------------------------------------------------------------------------------------

#: What a disagreeing answer may change: the order's review flag and sync fields, and the attempt (closed as what
#: OrkestaPay reports, marked disputed so its payments never count). Its payment is recorded in the ledger.
REVIEW_FIELDS = {
    "Order": {"needs_review", "review_code", "review_reason", "remote_status", "last_synced_at", "updated_at"},
    "Checkout": {"status", "error", "disputed", "updated_at"},
}


class PaidRecorder:
    """Collects the orders ``order_paid`` was sent for."""

    def __init__(self) -> None:
        self.orders: list[uuid.UUID] = []

    def __call__(self, sender: Any, order: Order, **kwargs: Any) -> None:
        self.orders.append(order.pk)


@pytest.fixture
def paid_signal() -> Iterator[PaidRecorder]:
    recorder = PaidRecorder()
    signals.order_paid.connect(recorder, dispatch_uid="test-hostile-input")
    yield recorder
    signals.order_paid.disconnect(dispatch_uid="test-hostile-input")


MISMATCHES = {
    "amount-lower": ({"total_amount": 1.0}, "amount"),
    "amount-one-centavo-off": ({"total_amount": 989.99}, "amount"),
    "currency": ({"currency": "USD"}, "currency"),
    "merchant-reference-of-another-order": ({"merchant_order_id": "SOMEONE-ELSE"}, "merchant_order_id"),
}


@pytest.mark.parametrize(("fields", "reason"), list(MISMATCHES.values()), ids=list(MISMATCHES))
@pytest.mark.parametrize("channel", ["return", "webhook"])
def test_api_mismatch_is_flagged_for_review_and_never_paid(
    fields: dict[str, Any],
    reason: str,
    channel: str,
    client: Client,
    webhook_settings: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
    paid_signal: PaidRecorder,
) -> None:
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    order.refresh_from_db()
    fake_orkestapay.tamper_order(order.orkestapay_order_id, **fields)
    before = db_snapshot()

    if channel == "return":
        response = client.get(local_path(completed_url))
        assert response.status_code == 200
        assert "django_orkestapay/return.html" in [template.name for template in response.templates]
        assert 'class="orkestapay-warning"' in response.content.decode()  # "we need to review this payment"
        assert 'data-testid="orkestapay-paid"' not in response.content.decode()
        assert_db_unchanged(before, allowed=REVIEW_FIELDS, added=["Payment"])
    else:
        response = post_webhook(client, purchase_event_body(order), message_id=f"msg_{uuid.uuid4().hex}")
        assert response.status_code == 200
        assert_db_unchanged(before, allowed=REVIEW_FIELDS, added=["Event", "Payment"])
        (event,) = new_rows(before, "Event")
        assert (event["status"], event["order_id"]) == (EventStatus.PROCESSED, order.pk)

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.paid_at is None
    assert order.orkestapay_payment_id == ""
    assert (order.needs_review, order.review_code) == (True, ReviewCode.AMOUNT_MISMATCH)
    assert reason in order.review_reason
    assert paid_signal.orders == []
    (payment,) = new_rows(before, "Payment")  # recorded, never counted as paying the order
    assert (payment["status"], payment["order_id"]) == (PaymentStatus.COMPLETED, order.pk)
    disputed = order.checkouts.get()
    assert disputed.disputed
    assert disputed.error.startswith("OrkestaPay's order disagrees with ours")


@pytest.mark.parametrize(
    ("field", "channel"), [(f, c) for f in ("total_amount", "currency") for c in ("return", "webhook")]
)
def test_an_answer_without_its_amount_or_currency_is_not_a_disagreement(
    field: str,
    channel: str,
    client: Client,
    webhook_settings: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
    paid_signal: PaidRecorder,
) -> None:
    """No public source shows the order's total or currency on a read: an answer without them is no
    disagreement (the attempt not disputed, the order not flagged) and no unreadable answer either: the payment's own
    amount and currency are compared with ours, and the order is paid at once, announced once."""
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    order.refresh_from_db()
    fake_orkestapay.tamper_order(order.orkestapay_order_id, **{field: None})

    if channel == "return":
        assert client.get(local_path(completed_url)).status_code == 200
    else:
        message_id = f"msg_{uuid.uuid4().hex}"
        response = post_webhook(client, purchase_event_body(order), message_id=message_id)
        assert response.json() == {"status": "processed"}

    order.refresh_from_db()
    assert (order.status, order.needs_review, order.last_error) == (OrderStatus.PAID, False, "")
    assert not Checkout.objects.get(order=order).disputed
    assert paid_signal.orders == [order.pk]


def test_quoted_return_value_round_trip_still_works(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay, paid_at_gateway: Order
) -> None:
    """The control for the forged-value properties: the genuine value, percent-encoded, is accepted."""
    response = client.get(f"{reverse('orkestapay:completed')}?{RETURN_PARAM}={quote(genuine_link(paid_at_gateway))}")
    assert response.status_code == 200
    paid_at_gateway.refresh_from_db()
    assert paid_at_gateway.status == OrderStatus.PAID
