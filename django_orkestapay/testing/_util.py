"""Small helpers shared by the fake gateway: identifiers, times, JSON that keeps numbers exactly as sent."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

SECRET_KEYS = frozenset({"client_secret", "secret", "password", "access_token"})


def new_id(prefix: str) -> str:
    """Return an identifier in OrkestaPay's format: ``<prefix>_<32 lowercase hex>``."""
    return f"{prefix}_{uuid.uuid4().hex}"


def epoch_ms(seconds: float) -> int:
    """Convert epoch seconds to integer epoch milliseconds."""
    return int(seconds * 1000)


def _reject_constant(name: str) -> Any:
    """Refuse ``NaN`` and ``Infinity``, which are not JSON."""
    raise ValueError(f"{name} is not a valid JSON number")


def loads(data: bytes | str) -> Any:
    """Parse JSON with every non-integer number as a :class:`~decimal.Decimal` (so its text survives)."""
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: Any) -> str:
    """Serialize compact JSON; a ``Decimal`` is written as its own text (``100.5`` stays ``100.5``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return str(value)
    if isinstance(value, float):
        return json.dumps(value, allow_nan=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(key))}:{dumps(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps_bytes(value: Any) -> bytes:
    """:func:`dumps`, encoded as UTF-8."""
    return dumps(value).encode("utf-8")


def redact(value: Any) -> Any:
    """Return a copy of a JSON value with secret-looking keys replaced by ``"[REDACTED]"``."""
    if isinstance(value, dict):
        return {key: "[REDACTED]" if str(key).lower() in SECRET_KEYS else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def append_query(url: str, params: list[tuple[str, str]]) -> str:
    """Append ``params`` to ``url``'s query string, leaving the parameters it already has untouched."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = "&".join(part for part in (parts.query, extra) if part)
    return urlunsplit(parts._replace(query=query))


def to_decimal(value: Any) -> Decimal:
    """Return a JSON number (int or Decimal) as a Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
