"""Tests of :mod:`django_orkestapay.webhook_verification`.

The verifier is checked against the published Svix docs example (a known-answer vector) and against the ``svix``
and ``standardwebhooks`` packages used as oracles. Note that the installed ``svix`` package delegates to
``standardwebhooks`` (``svix.webhooks.Webhook`` wraps ``standardwebhooks.webhooks.Webhook``), so those two are not
independent of each other; the docs vector is.

Runs without Django settings: ``pytest tests/test_webhook_verification.py -p no:django --noconftest``.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import svix.webhooks
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from django_orkestapay.exceptions import WebhookVerificationError
from django_orkestapay.webhook_verification import (
    MAX_HEADER_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    MAX_SIGNATURE_ENTRIES,
    VerifiedWebhook,
    WebhookVerifier,
    sign_payload,
)

REASONS = {
    "missing_headers",
    "invalid_timestamp",
    "timestamp_too_old",
    "timestamp_too_new",
    "no_matching_signature",
    "malformed_signature",
}

SECRET = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"an older key that is rotating out").decode()
NOW = 1_700_000_000
MSG_ID = "msg_2abcDEFghiJKLmnoPQRstu"
BODY = b'{"type_event":"payment.purchase","data":{"payment":{"order_id":"ord_1","amount":"10.00"}}}'

# The example on docs.svix.com ("Verifying Webhooks Manually" / "How to Verify").
DOCS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DOCS_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
DOCS_TIMESTAMP = 1614265330
DOCS_BODY = b'{"test": 2432232314}'
DOCS_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def make_verifier(*secrets: str, now: float = NOW, tolerance: int = 300) -> WebhookVerifier:
    return WebhookVerifier(list(secrets) or [SECRET], tolerance=tolerance, clock=lambda: now)


def make_headers(
    msg_id: str = MSG_ID, timestamp: int | str = NOW, signature: str | None = None, prefix: str = "svix"
) -> dict[str, str]:
    if signature is None:
        signature = sign_payload(SECRET, msg_id, int(timestamp), BODY)
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(timestamp), f"{prefix}-signature": signature}


def reason_of(body: bytes, headers: object, verifier: WebhookVerifier | None = None) -> str:
    with pytest.raises(WebhookVerificationError) as info:
        (verifier or make_verifier()).verify(body, headers)  # type: ignore[arg-type]
    return info.value.message


def as_datetime(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# --- known answer and oracles ---------------------------------------------------------------------------------------


def test_docs_vector_signs_and_verifies():
    assert sign_payload(DOCS_SECRET, DOCS_ID, DOCS_TIMESTAMP, DOCS_BODY) == DOCS_SIGNATURE
    verifier = make_verifier(DOCS_SECRET, now=DOCS_TIMESTAMP)
    assert verifier.sign(DOCS_ID, DOCS_TIMESTAMP, DOCS_BODY) == DOCS_SIGNATURE
    headers = {"svix-id": DOCS_ID, "svix-timestamp": str(DOCS_TIMESTAMP), "svix-signature": DOCS_SIGNATURE}
    assert verifier.verify(DOCS_BODY, headers) == VerifiedWebhook(DOCS_ID, DOCS_TIMESTAMP, DOCS_BODY)


def test_docs_vector_rejects_tampered_body():
    headers = {"svix-id": DOCS_ID, "svix-timestamp": str(DOCS_TIMESTAMP), "svix-signature": DOCS_SIGNATURE}
    verifier = make_verifier(DOCS_SECRET, now=DOCS_TIMESTAMP)
    assert reason_of(b'{"test": 2432232315}', headers, verifier) == "no_matching_signature"


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_our_signature_verifies_with_svix(prefix):
    now = int(time.time())
    signature = WebhookVerifier([SECRET]).sign(MSG_ID, now, BODY)
    headers = make_headers(timestamp=now, signature=signature, prefix=prefix)
    svix.webhooks.Webhook(SECRET).verify(BODY, headers)  # raises on failure


def test_our_signature_verifies_with_standardwebhooks():
    now = int(time.time())
    signature = sign_payload(SECRET, MSG_ID, now, BODY)
    headers = make_headers(timestamp=now, signature=signature, prefix="webhook")
    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_oracles_reject_what_they_should():
    """The oracles are not vacuous: they reject a signature made with another key."""
    now = int(time.time())
    headers = make_headers(timestamp=now, signature=sign_payload(OLD_SECRET, MSG_ID, now, BODY), prefix="webhook")
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(SECRET).verify(BODY, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(BODY, headers)


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_svix_signature_verifies_with_ours(prefix):
    now = int(time.time())
    signature = svix.webhooks.Webhook(SECRET).sign(MSG_ID, as_datetime(now), BODY.decode())
    result = WebhookVerifier([SECRET]).verify(BODY, make_headers(timestamp=now, signature=signature, prefix=prefix))
    assert result == VerifiedWebhook(MSG_ID, now, BODY)


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_standardwebhooks_signature_verifies_with_ours(prefix):
    now = int(time.time())
    signature = standardwebhooks.Webhook(SECRET).sign(msg_id=MSG_ID, timestamp=as_datetime(now), data=BODY.decode())
    result = WebhookVerifier([SECRET]).verify(BODY, make_headers(timestamp=now, signature=signature, prefix=prefix))
    assert result == VerifiedWebhook(MSG_ID, now, BODY)


_key = st.binary(min_size=1, max_size=64)
_msg_id = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=MAX_MESSAGE_ID_LENGTH
).filter(lambda s: len(s.encode()) <= MAX_HEADER_LENGTH)


@settings(max_examples=75, deadline=None)
@given(key=_key, msg_id=_msg_id, text_body=st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_property_interoperates_with_both_oracles(key, msg_id, text_body):
    secret = "whsec_" + base64.b64encode(key).decode()
    body = text_body.encode()
    now = int(time.time())
    ours = WebhookVerifier([secret]).sign(msg_id, now, body)
    theirs = standardwebhooks.Webhook(secret).sign(msg_id=msg_id, timestamp=as_datetime(now), data=text_body)
    assert ours == theirs == svix.webhooks.Webhook(secret).sign(msg_id, as_datetime(now), text_body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": ours}
    standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)
    assert WebhookVerifier([secret]).verify(body, headers).body == body


# --- single cases ----------------------------------------------------------------------------------------------------


def test_valid_webhook_returns_id_timestamp_and_raw_body():
    result = make_verifier().verify(BODY, make_headers())
    assert result == VerifiedWebhook(message_id=MSG_ID, timestamp=NOW, body=BODY)
    assert type(result.body) is bytes


def test_body_is_verified_as_raw_bytes_without_parsing():
    body = b"\xff\xfe not json, not even UTF-8 \x00"
    headers = make_headers(signature=sign_payload(SECRET, MSG_ID, NOW, body))
    assert make_verifier().verify(body, headers).body == body
    # A re-serialized (parsed and dumped) body no longer matches.
    reserialized = json.dumps(json.loads(BODY)).encode()
    assert reserialized != BODY
    assert reason_of(reserialized, make_headers()) == "no_matching_signature"


def test_bytearray_and_memoryview_bodies_are_accepted():
    verifier = make_verifier()
    assert verifier.verify(bytearray(BODY), make_headers()).body == BODY  # type: ignore[arg-type]
    assert verifier.verify(memoryview(BODY), make_headers()).body == BODY  # type: ignore[arg-type]


def test_str_body_is_a_programming_error():
    with pytest.raises(TypeError, match="raw request body"):
        make_verifier().verify(BODY.decode(), make_headers())  # type: ignore[arg-type]


def test_replayed_message_still_verifies_dedup_is_the_callers_job():
    """The verifier is stateless: a retry (or a replay within the tolerance) verifies again. Callers de-duplicate
    on ``message_id``, which Svix keeps the same on every retry."""
    verifier = make_verifier()
    first = verifier.verify(BODY, make_headers())
    second = verifier.verify(BODY, make_headers())
    assert first == second
    assert first.message_id == MSG_ID


def test_wrong_secret():
    headers = make_headers(signature=sign_payload(OLD_SECRET, MSG_ID, NOW, BODY))
    assert reason_of(BODY, headers) == "no_matching_signature"


def test_body_altered_by_one_byte():
    altered = bytearray(BODY)
    altered[10] ^= 0x01
    assert reason_of(bytes(altered), make_headers()) == "no_matching_signature"


@pytest.mark.parametrize("altered", [b"", BODY + b" ", BODY[:-1], b" " + BODY])
def test_body_truncated_extended_or_emptied(altered):
    assert reason_of(altered, make_headers()) == "no_matching_signature"


def test_id_altered():
    headers = make_headers()
    headers["svix-id"] = MSG_ID + "x"
    assert reason_of(BODY, headers) == "no_matching_signature"


@pytest.mark.parametrize("delta", [1, -1])
def test_timestamp_altered_within_tolerance(delta):
    headers = make_headers()
    headers["svix-timestamp"] = str(NOW + delta)
    assert reason_of(BODY, headers) == "no_matching_signature"


def test_timestamp_with_leading_zero_is_a_different_signed_value():
    headers = make_headers()
    headers["svix-timestamp"] = "0" + str(NOW)
    assert reason_of(BODY, headers) == "no_matching_signature"


def test_stale_timestamp_rejected():
    stale = NOW - 301
    assert reason_of(BODY, make_headers(timestamp=stale)) == "timestamp_too_old"


def test_future_timestamp_rejected():
    future = NOW + 301
    assert reason_of(BODY, make_headers(timestamp=future)) == "timestamp_too_new"


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_timestamp_at_the_edge_of_tolerance_accepted(offset):
    assert make_verifier().verify(BODY, make_headers(timestamp=NOW + offset)).timestamp == NOW + offset


def test_custom_tolerance_and_clock():
    verifier = make_verifier(now=NOW + 11, tolerance=10)
    assert reason_of(BODY, make_headers(), verifier) == "timestamp_too_old"
    assert make_verifier(now=NOW + 10, tolerance=10).verify(BODY, make_headers()).timestamp == NOW


def test_default_clock_is_real_time():
    assert reason_of(BODY, make_headers(), WebhookVerifier([SECRET])) == "timestamp_too_old"


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
@pytest.mark.parametrize("field", ["id", "timestamp", "signature"])
def test_missing_header(prefix, field):
    headers = make_headers(prefix=prefix)
    del headers[f"{prefix}-{field}"]
    assert reason_of(BODY, headers) == "missing_headers"


@pytest.mark.parametrize("field", ["id", "timestamp", "signature"])
def test_empty_header(field):
    headers = make_headers()
    headers[f"svix-{field}"] = ""
    assert reason_of(BODY, headers) == "missing_headers"


def test_signature_header_of_only_spaces_is_missing():
    assert reason_of(BODY, make_headers(signature="   ")) == "missing_headers"


def test_no_headers_at_all():
    assert reason_of(BODY, {}) == "missing_headers"


def test_webhook_header_names():
    assert make_verifier().verify(BODY, make_headers(prefix="webhook")).message_id == MSG_ID


def test_svix_names_win_over_webhook_names():
    headers = make_headers() | {"webhook-id": "msg_other", "webhook-signature": "v1,AAAA"}
    assert make_verifier().verify(BODY, headers).message_id == MSG_ID


def test_mixed_case_header_names():
    headers = {
        "Svix-Id": MSG_ID,
        "SVIX-TIMESTAMP": str(NOW),
        "sViX-SiGnAtUrE": sign_payload(SECRET, MSG_ID, NOW, BODY),
        "Content-Type": "application/json",
    }
    assert make_verifier().verify(BODY, headers).message_id == MSG_ID


def test_django_request_headers():
    from django.http.request import HttpHeaders

    signature = sign_payload(SECRET, MSG_ID, NOW, BODY)
    meta = {"HTTP_SVIX_ID": MSG_ID, "HTTP_SVIX_TIMESTAMP": str(NOW), "HTTP_SVIX_SIGNATURE": signature}
    assert make_verifier().verify(BODY, HttpHeaders(meta)).message_id == MSG_ID


def test_same_header_twice_with_the_same_value_is_fine():
    headers = make_headers() | {"SVIX-ID": MSG_ID}
    assert make_verifier().verify(BODY, headers).message_id == MSG_ID


@pytest.mark.parametrize("field", ["id", "signature"])
def test_same_header_twice_with_different_values_is_malformed(field):
    headers = make_headers()
    headers[f"SVIX-{field.upper()}"] = "v1,AAAA"
    assert reason_of(BODY, headers) == "malformed_signature"


def test_several_signatures_one_valid():
    valid = sign_payload(SECRET, MSG_ID, NOW, BODY)
    wrong = sign_payload(OLD_SECRET, MSG_ID, NOW, BODY)
    other = "v1," + base64.b64encode(b"\x00" * 32).decode()
    for header in (f"{wrong} {valid}", f"{valid} {wrong}", f"{other} {wrong}  {valid} "):
        assert make_verifier().verify(BODY, make_headers(signature=header)).message_id == MSG_ID
    assert reason_of(BODY, make_headers(signature=f"{wrong} {other}")) == "no_matching_signature"


def test_rotation_accepts_old_and_new_secret():
    verifier = make_verifier(SECRET, OLD_SECRET)
    old_signed = make_headers(signature=sign_payload(OLD_SECRET, MSG_ID, NOW, BODY))
    new_signed = make_headers(signature=sign_payload(SECRET, MSG_ID, NOW, BODY))
    assert verifier.verify(BODY, old_signed).message_id == MSG_ID
    assert verifier.verify(BODY, new_signed).message_id == MSG_ID
    assert reason_of(BODY, old_signed, make_verifier(SECRET)) == "no_matching_signature"


def test_sign_uses_the_first_secret():
    assert make_verifier(SECRET, OLD_SECRET).sign(MSG_ID, NOW, BODY) == sign_payload(SECRET, MSG_ID, NOW, BODY)
    assert make_verifier(OLD_SECRET, SECRET).sign(MSG_ID, NOW, BODY) == sign_payload(OLD_SECRET, MSG_ID, NOW, BODY)


def test_v1a_entries_are_ignored():
    correct = sign_payload(SECRET, MSG_ID, NOW, BODY).removeprefix("v1,")
    assert reason_of(BODY, make_headers(signature=f"v1a,{correct}")) == "no_matching_signature"
    assert reason_of(BODY, make_headers(signature=f"v2,{correct} v1a,{correct}")) == "no_matching_signature"
    # An unknown version's payload is not validated, and a valid v1 entry next to it passes.
    header = f"v1a,not~base64 v1,{correct}"
    assert make_verifier().verify(BODY, make_headers(signature=header)).message_id == MSG_ID


@pytest.mark.parametrize(
    "secret",
    ["", "whsec_", "   ", "whsec_!!!!", "whsec_ab cd", "whsec_abcde", "whsec_ñandú", "whsec_AA==AA", None, b"abcd"],
)
def test_malformed_secret_raises_value_error(secret):
    with pytest.raises(ValueError, match="webhook secret") as info:
        WebhookVerifier([secret])
    if isinstance(secret, str) and secret.removeprefix("whsec_").strip():
        assert secret.removeprefix("whsec_") not in str(info.value)


def test_malformed_secret_in_sign_payload_raises_value_error():
    with pytest.raises(ValueError, match="webhook secret"):
        sign_payload("whsec_!!!!", MSG_ID, NOW, BODY)


def test_malformed_second_secret_raises_value_error():
    with pytest.raises(ValueError, match="webhook secret"):
        WebhookVerifier([SECRET, "whsec_$$$$"])


def test_no_secrets_raises_value_error():
    with pytest.raises(ValueError, match="at least one"):
        WebhookVerifier([])


@pytest.mark.parametrize("tolerance", [-1, True, 1.5, "300"])
def test_bad_tolerance_raises_value_error(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        WebhookVerifier([SECRET], tolerance=tolerance)


def test_secret_without_prefix_unpadded_or_single_string():
    bare = SECRET.removeprefix("whsec_")
    unpadded = "whsec_" + base64.b64encode(b"12345").decode().rstrip("=")
    assert "=" in base64.b64encode(b"12345").decode()
    assert make_verifier(bare).verify(BODY, make_headers()).message_id == MSG_ID
    assert WebhookVerifier(SECRET, clock=lambda: NOW).verify(BODY, make_headers()).message_id == MSG_ID
    assert sign_payload(unpadded, MSG_ID, NOW, BODY) == sign_payload(
        "whsec_" + base64.b64encode(b"12345").decode(), MSG_ID, NOW, BODY
    )
    assert sign_payload(f"  {SECRET}\n", MSG_ID, NOW, BODY) == sign_payload(SECRET, MSG_ID, NOW, BODY)


def test_secret_and_expected_signature_never_leak():
    verifier = make_verifier()
    expected = sign_payload(SECRET, MSG_ID, NOW, BODY)
    wrong = make_headers(signature=sign_payload(OLD_SECRET, MSG_ID, NOW, BODY))
    with pytest.raises(WebhookVerificationError) as info:
        verifier.verify(BODY, wrong)
    shown = " ".join([str(info.value), repr(info.value), repr(info.value.args), repr(vars(info.value))])
    assert info.value.message == "no_matching_signature"
    for secret_text in (SECRET.removeprefix("whsec_"), expected.removeprefix("v1,")):
        assert secret_text not in shown
        assert secret_text not in repr(verifier)


# --- limits against hostile input ------------------------------------------------------------------------------------


def test_message_id_length_limit():
    longest = "m" * MAX_MESSAGE_ID_LENGTH
    assert make_verifier().verify(BODY, make_headers(msg_id=longest)).message_id == longest
    assert reason_of(BODY, make_headers(msg_id=longest + "m")) == "malformed_signature"


@pytest.mark.parametrize("field", ["id", "signature"])
def test_header_longer_than_2_kib_is_malformed(field):
    headers = make_headers()
    headers[f"svix-{field}"] = "v1," + "A" * MAX_HEADER_LENGTH
    assert reason_of(BODY, headers) == "malformed_signature"


def test_timestamp_longer_than_2_kib_is_invalid():
    assert reason_of(BODY, make_headers(timestamp="1" * (MAX_HEADER_LENGTH + 1))) == "invalid_timestamp"


def test_header_of_2_kib_is_rejected_before_decoding_base64():
    headers = make_headers()
    headers["svix-signature"] = "v1," + "A" * (MAX_HEADER_LENGTH - 4) + " "  # exactly 2 KiB: parsed, no match
    assert len(headers["svix-signature"]) == MAX_HEADER_LENGTH
    assert reason_of(BODY, headers) == "no_matching_signature"
    headers["svix-signature"] = "v1," + "A" * MAX_HEADER_LENGTH  # valid base64, but over 2 KiB
    assert reason_of(BODY, headers) == "malformed_signature"


def test_signature_entry_limit():
    valid = sign_payload(SECRET, MSG_ID, NOW, BODY)
    filler = "v1," + base64.b64encode(b"\x01" * 32).decode()
    at_limit = " ".join([filler] * (MAX_SIGNATURE_ENTRIES - 1) + [valid])
    assert make_verifier().verify(BODY, make_headers(signature=at_limit)).message_id == MSG_ID
    over = " ".join([filler] * MAX_SIGNATURE_ENTRIES + [valid])
    assert reason_of(BODY, make_headers(signature=over)) == "malformed_signature"


@pytest.mark.parametrize(
    "timestamp",
    [
        f"+{NOW}",
        f"-{NOW}",
        f" {NOW}",
        f"{NOW} ",
        f"{NOW}.0",
        "1.7e9",
        "1_700_000_000",
        "\uff11\uff17\uff10\uff10",  # full-width digits
        "¹⁷",  # superscripts count as digits for str.isdigit()
        "0x6553f100",
        "1" * 13,
        "now",
        "\udcff",
    ],
)
def test_invalid_timestamp(timestamp):
    assert reason_of(BODY, make_headers(timestamp=timestamp, signature="v1,AAAA")) == "invalid_timestamp"


def test_twelve_digit_timestamp_is_parsed_then_rejected_as_too_new():
    assert reason_of(BODY, make_headers(timestamp="9" * 12, signature="v1,AAAA")) == "timestamp_too_new"


@pytest.mark.parametrize(
    "signature",
    [
        "v1",
        "v1;AAAA",
        ",AAAA",
        "v1,not base64!",
        "v1,AAA",
        "v1,ÄÖÜ",
        "v1,AAAA\udcff",
        "v1,AAAA v1,%%%%",
        "v1,AAAA vé,AAAA",
    ],
)
def test_malformed_signature_header(signature):
    assert reason_of(BODY, make_headers(signature=signature)) == "malformed_signature"


@pytest.mark.parametrize("msg_id", ["msg_\udcff", "\ud800"])
def test_non_utf8_message_id_is_malformed(msg_id):
    headers = make_headers(signature="v1,AAAA")
    headers["svix-id"] = msg_id
    assert reason_of(BODY, headers) == "malformed_signature"


@pytest.mark.parametrize("value", [b"\xff\xfe", 12345, ["v1,AAAA"], object()])
def test_header_values_of_the_wrong_type_are_malformed(value):
    headers: dict[str, object] = dict(make_headers())
    headers["svix-signature"] = value
    assert reason_of(BODY, headers) == "malformed_signature"


def test_utf8_bytes_header_values_are_decoded():
    headers = {key: value.encode() for key, value in make_headers().items()}
    assert make_verifier().verify(BODY, headers).message_id == MSG_ID  # type: ignore[arg-type]


def test_non_text_header_names_are_ignored():
    headers: dict[object, str] = {key: value for key, value in make_headers().items()}
    headers[b"svix-id"] = "msg_other"
    headers[7] = "x"
    assert make_verifier().verify(BODY, headers).message_id == MSG_ID  # type: ignore[arg-type]


# --- property tests --------------------------------------------------------------------------------------------------

_timestamp = st.integers(min_value=NOW - 300, max_value=NOW + 300)


@settings(max_examples=200, deadline=None)
@given(key=_key, msg_id=_msg_id, timestamp=_timestamp, body=st.binary(max_size=4096))
def test_property_signed_bodies_always_verify(key, msg_id, timestamp, body):
    secret = "whsec_" + base64.b64encode(key).decode()
    verifier = make_verifier(secret)
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": verifier.sign(msg_id, timestamp, body),
    }
    assert verifier.verify(body, headers) == VerifiedWebhook(msg_id, timestamp, body)


@settings(max_examples=200, deadline=None)
@given(key=_key, body=st.binary(min_size=1, max_size=2048), data=st.data())
def test_property_any_single_byte_change_fails(key, body, data):
    secret = "whsec_" + base64.b64encode(key).decode()
    verifier = make_verifier(secret)
    headers = make_headers(signature=verifier.sign(MSG_ID, NOW, body))
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    delta = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    altered = bytearray(body)
    altered[index] ^= delta
    assert reason_of(bytes(altered), headers, verifier) == "no_matching_signature"


@settings(max_examples=200, deadline=None)
@given(key=_key, msg_id=_msg_id, other_id=_msg_id, body=st.binary(max_size=512))
def test_property_any_change_to_the_id_fails(key, msg_id, other_id, body):
    assume(msg_id != other_id)
    secret = "whsec_" + base64.b64encode(key).decode()
    verifier = make_verifier(secret)
    headers = make_headers(msg_id=other_id, signature=verifier.sign(msg_id, NOW, body))
    assert reason_of(body, headers, verifier) in {"no_matching_signature", "malformed_signature"}


_surrogate_text = st.binary(max_size=64).map(lambda b: b.decode("utf-8", "surrogateescape"))
_long_text = st.tuples(st.text(min_size=1, max_size=8), st.integers(min_value=200, max_value=1200)).map(
    lambda pair: pair[0] * pair[1]
)
_garbage_value = st.one_of(
    st.text(),
    _surrogate_text,
    _long_text,
    st.binary(max_size=64),
    st.sampled_from([str(NOW), "v1,AAAA", "v1a,AAAA", "v1," + "A" * 44, "msg_1"]),
    st.lists(st.sampled_from(["v1", "v1a", ",", " ", "AAAA", "====", "é", "\udcff", "+1", "9" * 12]), max_size=40).map(
        "".join
    ),
)
_wanted_name = st.sampled_from(
    ["svix-id", "svix-timestamp", "svix-signature", "webhook-id", "webhook-timestamp", "webhook-signature"]
).flatmap(
    lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))
    )
)
_garbage_headers = st.dictionaries(st.one_of(_wanted_name, st.text(max_size=20)), _garbage_value, max_size=10)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(headers=_garbage_headers, body=st.binary(max_size=256))
def test_property_garbage_headers_only_raise_verification_errors(headers, body):
    with pytest.raises(WebhookVerificationError) as info:
        make_verifier().verify(body, headers)
    assert info.value.message in REASONS


@settings(max_examples=300, deadline=None)
@given(timestamp=_garbage_value, signature=_garbage_value, msg_id=_garbage_value)
def test_property_garbage_values_next_to_valid_ones_only_raise_verification_errors(timestamp, signature, msg_id):
    verifier = make_verifier()
    genuine = make_headers()
    for headers in (
        genuine | {"svix-timestamp": timestamp},
        genuine | {"svix-signature": signature},
        genuine | {"svix-id": msg_id},
    ):
        outcome: object
        try:
            outcome = verifier.verify(BODY, headers)
        except WebhookVerificationError as error:
            outcome = error.message
        # Either a known reason, or the genuine message (when the garbage happens to equal the genuine value).
        assert outcome in REASONS or outcome == VerifiedWebhook(MSG_ID, NOW, BODY)
