"""What the probe's report and logs must never hold: secrets, tokens and buyer data.

:class:`Redactor` rewrites any JSON-like value or text: a value under a secret key (``access_token``,
``client_secret``, ...) or a buyer key (``email``, ``first_name``, ``last_name``, card and address fields) is
replaced whole; in every other string, the secrets this run knows (the client id and secret, each access token it
received or made up; one shorter than six characters wherever it stands alone as a word), anything shaped like a
JWT, an e-mail address or a card number (14 to 19 digits, spaces or dashes allowed) is replaced; a checkout redirect
URL keeps only its scheme and host (its path can carry a session key). The report is redacted as it is built and
once more, as text, before it is written."""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

SECRET = "<secret>"  # noqa: S105 - the placeholder, not a secret
TOKEN = "<token>"  # noqa: S105 - the placeholder, not a token
BUYER = "<buyer data>"
EMAIL = "<email>"
CARD = "<card number>"

#: Keys whose value is a secret wherever they appear.
SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "id_token", "token", "client_id", "client_secret", "secret", "password"}
)
#: Keys whose value is about the buyer (names, contact, address, card, bank account).
BUYER_KEYS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "phone",
        "phone_number",
        "holder_name",
        "holder_last_name",
        "line_1",
        "line_2",
        "zip_code",
        "card_number",
        "number",
        "bin",
        "last_four",
        "expiration_month",
        "expiration_year",
        "cvc",
        "cvv",
        "clabe",
        "merchant_customer_id",
    }
)
#: Keys holding a URL whose path or fragment may carry a session key: only the scheme and host are kept.
URL_KEYS = frozenset({"checkout_redirect_url", "three_ds_redirect_url"})

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){13,18}(?![\w-])")


#: A secret shorter than this is replaced only where it stands alone, not inside a longer word.
SHORT_SECRET = 6


def _standing_alone(secret: str) -> re.Pattern[str]:
    """``secret`` as a whole word: not preceded or followed by a letter, a digit, ``-`` or ``_``."""
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])")


def _is_secret_key(key: str) -> bool:
    key = key.lower()
    return key in SECRET_KEYS or key.endswith(("_token", "_secret")) or key == "authorization"


def url_host(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for the report (never its path, query or fragment)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unreadable URL>"
    return f"{parts.scheme}://{parts.netloc}/…" if parts.scheme and parts.netloc else "<not an absolute URL>"


class Redactor:
    """Removes secrets and buyer data from values and text. ``add_secret`` teaches it one more secret (a token)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._short: list[re.Pattern[str]] = []
        for secret in secrets or []:
            self.add_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        """Never let ``secret`` through again (ignored when empty). One of :data:`SHORT_SECRET` characters or fewer
        is replaced only where it stands alone (see :func:`_standing_alone`): everywhere, it would mangle the text."""
        if not secret:
            return
        with self._lock:
            if len(secret) < SHORT_SECRET:
                if secret not in (pattern.pattern for pattern in self._short):
                    self._short.append(_standing_alone(secret))
            elif secret not in self._secrets:
                self._secrets.append(secret)
                self._secrets.sort(key=len, reverse=True)  # a longer secret may contain a shorter one

    def text(self, value: str) -> str:
        """``value`` with every known secret, JWT, e-mail address and card number replaced."""
        with self._lock:
            secrets, short = list(self._secrets), list(self._short)
        for secret in secrets:
            value = value.replace(secret, SECRET)
        for pattern in short:
            value = pattern.sub(SECRET, value)
        value = _JWT.sub(TOKEN, value)
        value = _EMAIL.sub(EMAIL, value)
        return _CARD.sub(CARD, value)

    def value(self, value: Any, key: str | None = None) -> Any:
        """A redacted copy of a JSON-like value; ``key`` is the name it was found under."""
        if key is not None and value not in (None, "", [], {}):
            if _is_secret_key(key):
                return SECRET
            if key.lower() in BUYER_KEYS:
                return BUYER
            if key.lower() in URL_KEYS and isinstance(value, str):
                return url_host(value)
        if isinstance(value, dict):
            return {str(k): self.value(item, str(k)) for k, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value
