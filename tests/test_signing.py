import time
import uuid

import pytest
from django.core import signing as django_signing
from django.test import override_settings

from django_orkestapay.signing import (
    CANCELED,
    COMPLETED,
    SALT,
    InvalidReturnLink,
    load_return,
    sign_return,
)

ORDER = uuid.UUID("11111111-1111-4111-8111-111111111111")
CHECKOUT = uuid.UUID("22222222-2222-4222-8222-222222222222")


def test_round_trip_names_order_checkout_and_side():
    value = sign_return(order_id=ORDER, checkout_id=CHECKOUT, side=COMPLETED)
    link = load_return(value, expected_side=COMPLETED, max_age=60)
    assert (link.order_id, link.checkout_id, link.side) == (ORDER, CHECKOUT, COMPLETED)


@pytest.mark.parametrize("value", [None, "", "abc", "x" * 600, "eyJvIjoiMSJ9:1vX:bad"])
def test_missing_or_garbage_is_rejected(value):
    with pytest.raises(InvalidReturnLink):
        load_return(value, expected_side=COMPLETED, max_age=60)


def test_tampered_value_is_rejected():
    value = sign_return(order_id=ORDER, checkout_id=CHECKOUT, side=COMPLETED)
    other = sign_return(order_id=CHECKOUT, checkout_id=ORDER, side=COMPLETED)
    payload, rest = value.split(":", 1)
    other_payload = other.split(":", 1)[0]
    with pytest.raises(InvalidReturnLink) as excinfo:
        load_return(f"{other_payload}:{rest}", expected_side=COMPLETED, max_age=60)
    assert excinfo.value.reason == "bad_signature"
    assert payload != other_payload


def test_expired_value_is_rejected(monkeypatch):
    value = sign_return(order_id=ORDER, checkout_id=CHECKOUT, side=COMPLETED)
    real_time = time.time
    monkeypatch.setattr("django.core.signing.time.time", lambda: real_time() + 3600)
    with pytest.raises(InvalidReturnLink) as excinfo:
        load_return(value, expected_side=COMPLETED, max_age=60)
    assert excinfo.value.reason == "expired"


def test_canceled_link_cannot_be_used_as_completed():
    value = sign_return(order_id=ORDER, checkout_id=CHECKOUT, side=CANCELED)
    with pytest.raises(InvalidReturnLink) as excinfo:
        load_return(value, expected_side=COMPLETED, max_age=60)
    assert excinfo.value.reason == "wrong_side"


def test_value_signed_with_another_salt_is_rejected():
    value = django_signing.dumps({"o": ORDER.hex, "c": CHECKOUT.hex, "s": COMPLETED}, salt="someone-else")
    with pytest.raises(InvalidReturnLink):
        load_return(value, expected_side=COMPLETED, max_age=60)


def test_value_signed_by_another_project_is_rejected():
    with override_settings(SECRET_KEY="another-project-entirely"):
        value = sign_return(order_id=ORDER, checkout_id=CHECKOUT, side=COMPLETED)
    with pytest.raises(InvalidReturnLink):
        load_return(value, expected_side=COMPLETED, max_age=60)


def test_signed_payload_without_our_fields_is_malformed():
    value = django_signing.dumps({"o": "not-a-uuid"}, salt=SALT)
    with pytest.raises(InvalidReturnLink) as excinfo:
        load_return(value, expected_side=COMPLETED, max_age=60)
    assert excinfo.value.reason == "malformed"
