"""Verify OrkestaPay webhook signatures (Svix / Standard Webhooks signing).

OrkestaPay delivers webhooks through Svix. Each request carries three headers: ``svix-id`` (unique per message and
the same on every retry), ``svix-timestamp`` (epoch seconds) and ``svix-signature``. The Standard Webhooks names
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` are accepted too; for each of the three, the
``svix-*`` name wins when both are present. Header names are matched case-insensitively, so a plain ``dict`` with
any casing and Django's ``request.headers`` both work.

The endpoint's secret is ``whsec_`` followed by base64; the decoded bytes are the HMAC-SHA256 key. The signed
content is ``b"{id}.{timestamp}." + raw_body`` and the signature header holds one or more space-separated
``v1,<base64 signature>`` entries. Entries of other versions (``v1a,...``) are ignored; any ``v1`` entry matching
any configured secret passes, so several secrets can be configured while one is being rotated.

The body is checked as the raw bytes that arrived, before anything parses it. A message that verifies once verifies
again while its timestamp is within the tolerance: **de-duplicating retries and replays on** ``message_id`` **is the
caller's job**.

This module is standard library only (no Django), so it can be used and tested on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from django_orkestapay.exceptions import WebhookVerificationError

__all__ = [
    "INVALID_TIMESTAMP",
    "MALFORMED_SIGNATURE",
    "MIN_SECRET_BYTES",
    "MISSING_HEADERS",
    "NO_MATCHING_SIGNATURE",
    "TIMESTAMP_TOO_NEW",
    "TIMESTAMP_TOO_OLD",
    "VerifiedWebhook",
    "WebhookVerifier",
    "decode_secret",
    "sign_payload",
]

#: The reasons :meth:`WebhookVerifier.verify` puts in ``WebhookVerificationError.message``.
#: A header is absent or empty.
MISSING_HEADERS = "missing_headers"
#: The timestamp header is not 1 to 12 ASCII digits.
INVALID_TIMESTAMP = "invalid_timestamp"
#: The timestamp is further in the past than the tolerance.
TIMESTAMP_TOO_OLD = "timestamp_too_old"
#: The timestamp is further in the future than the tolerance.
TIMESTAMP_TOO_NEW = "timestamp_too_new"
#: The headers are well formed but no ``v1`` signature matches any configured secret.
NO_MATCHING_SIGNATURE = "no_matching_signature"
#: The id or signature header is present but unusable: too long, not text, not valid UTF-8/ASCII, given twice with
#: different values, too many entries, an entry without a comma, or a ``v1`` signature that is not base64.
MALFORMED_SIGNATURE = "malformed_signature"

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
DEFAULT_TOLERANCE = 300
#: The shortest HMAC key a real secret decodes to: Svix issues 24 random bytes, and Standard Webhooks asks for 24 to
#: 64. The verifier accepts shorter keys; the system check ``orkestapay.E011`` reports them.
MIN_SECRET_BYTES = 24
MAX_HEADER_LENGTH = 2048
MAX_MESSAGE_ID_LENGTH = 255
MAX_SIGNATURE_ENTRIES = 10
MAX_TIMESTAMP_DIGITS = 12

_ID_HEADERS = ("svix-id", "webhook-id")
_TIMESTAMP_HEADERS = ("svix-timestamp", "webhook-timestamp")
_SIGNATURE_HEADERS = ("svix-signature", "webhook-signature")
_WANTED = frozenset(_ID_HEADERS + _TIMESTAMP_HEADERS + _SIGNATURE_HEADERS)
_CONFLICT = object()


@dataclass(frozen=True)
class VerifiedWebhook:
    """A webhook whose signature and timestamp checked out. ``body`` is the raw bytes, still unparsed."""

    message_id: str
    timestamp: int
    body: bytes


def decode_secret(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_<base64>`` (or bare base64) secret; ``ValueError`` if it is not one.

    The messages never repeat the secret.
    """
    if not isinstance(secret, str):
        raise ValueError("webhook secret must be a string")
    value = secret.strip()
    if value.startswith(SECRET_PREFIX):
        value = value[len(SECRET_PREFIX) :]
    if not value.isascii():
        raise ValueError("webhook secret must be 'whsec_' followed by base64")
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("webhook secret decodes to an empty key")
    return key


def _signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> bytes:
    content = f"{message_id}.{timestamp}.".encode() + body
    return hmac.new(key, content, hashlib.sha256).digest()


def _format(signature: bytes) -> str:
    return "v1," + base64.b64encode(signature).decode("ascii")


def sign_payload(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Sign ``body`` as Svix does and return the ``svix-signature`` value, ``"v1,<base64>"``."""
    return _format(_signature(decode_secret(secret), message_id, str(int(timestamp)), bytes(body)))


def _fail(reason: str) -> WebhookVerificationError:
    return WebhookVerificationError(reason)


def _collect_headers(headers: Mapping[str, str]) -> dict[str, object]:
    """The wanted headers under lower-case names; a name given twice with different values maps to ``_CONFLICT``."""
    found: dict[str, object] = {}
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        lower = name.lower()
        if lower not in _WANTED:
            continue
        if lower in found and not _same(found[lower], value):
            found[lower] = _CONFLICT
        else:
            found[lower] = value
    return found


def _same(first: object, second: object) -> bool:
    if first is second:
        return True
    text = (str, bytes)
    return isinstance(first, text) and isinstance(second, text) and type(first) is type(second) and first == second


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, (str, bytes, bytearray)) and len(value) == 0)


def _pick(found: Mapping[str, object], names: tuple[str, str]) -> object:
    for name in names:
        if name in found:
            return found[name]
    return None


def _as_text(value: object) -> str:
    """A header value as ``str``, or ``malformed_signature`` if it is too long, not text, or not valid UTF-8."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(MALFORMED_SIGNATURE) from None
    if not isinstance(value, str):
        raise _fail(MALFORMED_SIGNATURE)
    if len(value) > MAX_HEADER_LENGTH:
        raise _fail(MALFORMED_SIGNATURE)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from surrogateescape decoding
        raise _fail(MALFORMED_SIGNATURE) from None
    return value


def _parse_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a signature header; other versions are skipped."""
    if not header.isascii():
        raise _fail(MALFORMED_SIGNATURE)
    entries = [entry for entry in header.split(" ") if entry]
    if not entries:
        raise _fail(MISSING_HEADERS)
    if len(entries) > MAX_SIGNATURE_ENTRIES:
        raise _fail(MALFORMED_SIGNATURE)
    signatures = []
    for entry in entries:
        version, comma, encoded = entry.partition(",")
        if not comma or not version:
            raise _fail(MALFORMED_SIGNATURE)
        if version != "v1":
            continue
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise _fail(MALFORMED_SIGNATURE) from None
    return signatures


class WebhookVerifier:
    """Checks the signature and timestamp of OrkestaPay webhooks.

    ``secrets`` are the endpoint's ``whsec_...`` secrets: usually one, two while rotating (a message signed with any
    of them passes). A single string is taken as one secret. An empty list or a secret that is not base64 raises
    ``ValueError`` here, since that is a configuration problem and not a bad webhook. ``tolerance`` is how many
    seconds the timestamp may differ from ``clock()``, in either direction.
    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance: int = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(secrets, str):
            secrets = [secrets]
        self._keys = tuple(decode_secret(secret) for secret in secrets)
        if not self._keys:
            raise ValueError("at least one webhook secret is required")
        if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
            raise ValueError("tolerance must be a non-negative number of seconds")
        self.tolerance = tolerance
        self._clock = clock

    def __repr__(self) -> str:
        return f"<WebhookVerifier secrets={len(self._keys)} tolerance={self.tolerance}>"

    def sign(self, message_id: str, timestamp: int, body: bytes) -> str:
        """Sign with the first secret and return ``"v1,<base64>"`` (for tests and the fake gateway)."""
        return _format(_signature(self._keys[0], message_id, str(int(timestamp)), bytes(body)))

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedWebhook:
        """Check ``body`` (the raw request bytes) against ``headers`` and return what was verified.

        Raises :class:`~django_orkestapay.exceptions.WebhookVerificationError` whose ``message`` is one of
        ``missing_headers``, ``invalid_timestamp``, ``timestamp_too_old``, ``timestamp_too_new``,
        ``malformed_signature`` or ``no_matching_signature``. Passing ``str`` instead of the raw bytes is a
        programming error and raises ``TypeError``.
        """
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError("verify() needs the raw request body as bytes")
        raw = bytes(body)

        found = _collect_headers(headers)
        raw_id = _pick(found, _ID_HEADERS)
        raw_timestamp = _pick(found, _TIMESTAMP_HEADERS)
        raw_signature = _pick(found, _SIGNATURE_HEADERS)
        if _is_empty(raw_id) or _is_empty(raw_timestamp) or _is_empty(raw_signature):
            raise _fail(MISSING_HEADERS)

        message_id = _as_text(raw_id)
        if len(message_id) > MAX_MESSAGE_ID_LENGTH:
            raise _fail(MALFORMED_SIGNATURE)
        signature_header = _as_text(raw_signature)
        try:
            timestamp_text = _as_text(raw_timestamp)
        except WebhookVerificationError:
            raise _fail(INVALID_TIMESTAMP) from None

        if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= MAX_TIMESTAMP_DIGITS):
            raise _fail(INVALID_TIMESTAMP)
        timestamp = int(timestamp_text)
        now = self._clock()
        if now - timestamp > self.tolerance:
            raise _fail(TIMESTAMP_TOO_OLD)
        if timestamp - now > self.tolerance:
            raise _fail(TIMESTAMP_TOO_NEW)

        signatures = _parse_signatures(signature_header)
        for key in self._keys:
            expected = _signature(key, message_id, timestamp_text, raw)
            for candidate in signatures:
                if hmac.compare_digest(expected, candidate):
                    return VerifiedWebhook(message_id=message_id, timestamp=timestamp, body=raw)
        raise _fail(NO_MATCHING_SIGNATURE)
