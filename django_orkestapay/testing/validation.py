"""Request validation for ``POST /v1/checkouts`` and refunds (reference section 13.2)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

DEFAULT_CURRENCIES = ("MXN", "USD", "COP", "PEN")
CENT = Decimal("0.01")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")

# code -> (English, Spanish); "{field}" and other names are filled in by str.format.
MESSAGES: dict[str, tuple[str, str]] = {
    "body": ("The request body must be a JSON object", "El cuerpo de la solicitud debe ser un objeto JSON"),
    "required": ("{field} is required", "{field} es obligatorio"),
    "object": ("{field} must be an object", "{field} debe ser un objeto"),
    "url": ("{field} must be an absolute http(s) URL", "{field} debe ser una URL http(s) absoluta"),
    "string": ("{field} must be a non-empty string", "{field} debe ser una cadena no vacía"),
    "currency": ("{field} must be one of {allowed}", "{field} debe ser una de {allowed}"),
    "country": ("{field} must be a 2-letter country code", "{field} debe ser un código de país de 2 letras"),
    "positive": (
        "{field} must be a number greater than 0 with at most 2 decimals",
        "{field} debe ser un número mayor a 0 con máximo 2 decimales",
    ),
    "non_negative": (
        "{field} must be a number greater than or equal to 0 with at most 2 decimals",
        "{field} debe ser un número mayor o igual a 0 con máximo 2 decimales",
    ),
    "list": ("{field} must be a list", "{field} debe ser una lista"),
    "non_empty": ("{field} must be a non-empty list", "{field} debe ser una lista no vacía"),
    "quantity": ("{field} must be a positive integer", "{field} debe ser un entero positivo"),
    "product_id": ("{field} needs product_id or id", "{field} requiere product_id o id"),
    "product_key": ("{field} needs {key}", "{field} requiere {key}"),
    "locale": ("{field} must be one of {allowed}", "{field} debe ser uno de {allowed}"),
    "duplicate": ("{field} has already been used", "{field} ya fue utilizado"),
    "email": ("{field} must be a valid email address", "{field} debe ser un correo electrónico válido"),
    "expires_at": ("The order expiration date is not valid", "La fecha de vencimiento de la orden no es válida"),
    "bool": ("{field} must be a boolean", "{field} debe ser un booleano"),
    "text": ("{field} must be a string", "{field} debe ser una cadena"),
    "subtotal_sum": (
        "{field} must equal the sum of quantity x unit_price ({expected})",
        "{field} debe ser igual a la suma de cantidad x precio unitario ({expected})",
    ),
    "total_sum": (
        "{field} must equal subtotal - discounts + shipping ({expected})",
        "{field} debe ser igual a subtotal - descuentos + envío ({expected})",
    ),
    "many": ("The request has validation errors", "La solicitud tiene errores de validación"),
}


@dataclass(frozen=True)
class FieldError:
    """One entry of ``validation_errors``."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The API shape ``{field, message}``."""
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class CheckoutRules:
    """The switchable parts of checkout validation."""

    now_ms: int
    currencies: tuple[str, ...] = DEFAULT_CURRENCIES
    numeric_strings: bool = False
    strict_amounts: bool = False
    language: str = "es"
    locales: tuple[str, ...] | None = None  # None: any string
    product_id_fields: tuple[str, ...] = ("product_id", "id")
    taken_merchant_order_ids: frozenset[str] = frozenset()  # refused as duplicates


def message(code: str, language: str, **values: Any) -> str:
    """Return the message ``code`` in ``language`` ("es" or anything else for English)."""
    english, spanish = MESSAGES[code]
    return (spanish if language == "es" else english).format(**values)


def summary_message(errors: list[FieldError], language: str) -> str:
    """The top-level ``message`` of a 400: the only error's message, or a generic one."""
    return errors[0].message if len(errors) == 1 else message("many", language)


class _Collector:
    """Accumulates field errors in one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.errors: list[FieldError] = []

    def add(self, field: str, code: str, **values: Any) -> None:
        self.errors.append(FieldError(field, message(code, self.language, field=field, **values)))


def parse_amount(value: Any, numeric_strings: bool = False) -> Decimal | None:
    """Return a JSON amount as a Decimal, or None when it is not a finite number with at most 2 decimals."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and numeric_strings:
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(str(value))
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    return value if value == value.quantize(CENT) else None


def _amount(c: _Collector, field: str, value: Any, rules: CheckoutRules, positive: bool) -> Decimal | None:
    """Check one amount; record an error and return None when it is invalid."""
    amount = parse_amount(value, rules.numeric_strings)
    if amount is None or amount < 0 or (positive and amount == 0):
        c.add(field, "positive" if positive else "non_negative")
        return None
    return amount


def _non_empty_string(c: _Collector, field: str, value: Any) -> bool:
    if isinstance(value, str) and value.strip():
        return True
    c.add(field, "required" if value is None else "string")
    return False


def _url(c: _Collector, field: str, value: Any) -> None:
    if value is None:
        c.add(field, "required")
        return
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        c.add(field, "url")


def validate_checkout(body: Any, rules: CheckoutRules) -> list[FieldError]:
    """Validate a ``POST /v1/checkouts`` body; an empty list means it is acceptable. Unknown fields are ignored."""
    c = _Collector(rules.language)
    if not isinstance(body, dict):
        c.add("body", "body")
        return c.errors
    _url(c, "completed_redirect_url", body.get("completed_redirect_url"))
    _url(c, "canceled_redirect_url", body.get("canceled_redirect_url"))
    if "allow_save_payment_methods" in body and not isinstance(body["allow_save_payment_methods"], bool):
        c.add("allow_save_payment_methods", "bool")
    if "locale" in body and not isinstance(body["locale"], str):
        c.add("locale", "text")
    elif rules.locales is not None and body.get("locale", "ES_LATAM") not in rules.locales:
        c.add("locale", "locale", allowed=", ".join(rules.locales))
    order = body.get("order")
    if order is None:
        c.add("order", "required")
    elif not isinstance(order, dict):
        c.add("order", "object")
    else:
        _order(c, order, rules)
    return c.errors


def _order(c: _Collector, order: dict[str, Any], rules: CheckoutRules) -> None:
    if _non_empty_string(c, "order.merchant_order_id", order.get("merchant_order_id")) and (
        order["merchant_order_id"] in rules.taken_merchant_order_ids
    ):
        c.add("order.merchant_order_id", "duplicate")
    currency = order.get("currency")
    if currency is None:
        c.add("order.currency", "required")
    elif currency not in rules.currencies:
        c.add("order.currency", "currency", allowed=", ".join(rules.currencies))
    country = order.get("country_code")
    if country is None:
        c.add("order.country_code", "required")
    elif not isinstance(country, str) or not _COUNTRY.match(country.upper()):
        c.add("order.country_code", "country")
    subtotal = _amount(c, "order.subtotal_amount", order.get("subtotal_amount"), rules, positive=True)
    total = _amount(c, "order.total_amount", order.get("total_amount"), rules, positive=True)
    discounts = _discounts(c, order.get("discounts"), rules)
    shipping = _shipping(c, order.get("shipping_details"), rules)
    lines = _products(c, order.get("products"), rules)
    _customer(c, order.get("customer"))
    _expires_at(c, order, rules.now_ms)
    if rules.strict_amounts:
        _strict_sums(c, subtotal, total, discounts, shipping, lines)


def _discounts(c: _Collector, value: Any, rules: CheckoutRules) -> Decimal | None:
    """Validate ``order.discounts``; return their sum (None when some are invalid)."""
    if value is None:
        return Decimal(0)
    if not isinstance(value, list):
        c.add("order.discounts", "list")
        return None
    amounts = [_discount(c, f"order.discounts[{i}]", item, rules) for i, item in enumerate(value)]
    return None if any(a is None for a in amounts) else sum((a for a in amounts if a is not None), Decimal(0))


def _discount(c: _Collector, field: str, item: Any, rules: CheckoutRules) -> Decimal | None:
    if not isinstance(item, dict):
        c.add(field, "object")
        return None
    return _amount(c, f"{field}.amount", item.get("amount"), rules, positive=False)


def _shipping(c: _Collector, value: Any, rules: CheckoutRules) -> Decimal | None:
    if value is None:
        return Decimal(0)
    if not isinstance(value, dict):
        c.add("order.shipping_details", "object")
        return None
    return _amount(c, "order.shipping_details.amount", value.get("amount"), rules, positive=False)


def _products(c: _Collector, value: Any, rules: CheckoutRules) -> Decimal | None:
    """Validate ``order.products``; return Σ(quantity x unit_price) (None when some are invalid)."""
    if value is None:
        c.add("order.products", "required")
        return None
    if not isinstance(value, list) or not value:
        c.add("order.products", "non_empty")
        return None
    lines = [_product(c, f"order.products[{i}]", item, rules) for i, item in enumerate(value)]
    return None if any(line is None for line in lines) else sum((v for v in lines if v is not None), Decimal(0))


def _product(c: _Collector, field: str, item: Any, rules: CheckoutRules) -> Decimal | None:
    if not isinstance(item, dict):
        c.add(field, "object")
        return None
    before = len(c.errors)
    _non_empty_string(c, f"{field}.name", item.get("name"))
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        c.add(f"{field}.quantity", "quantity")
    price = _amount(c, f"{field}.unit_price", item.get("unit_price"), rules, positive=False)
    if all(item.get(key) in (None, "") for key in rules.product_id_fields):
        if len(rules.product_id_fields) == 1:
            c.add(field, "product_key", key=rules.product_id_fields[0])
        else:
            c.add(field, "product_id")
    if len(c.errors) > before or price is None or not isinstance(quantity, int):
        return None
    return price * quantity


def _customer(c: _Collector, value: Any) -> None:
    if value is None:
        c.add("order.customer", "required")
        return
    if not isinstance(value, dict):
        c.add("order.customer", "object")
        return
    _non_empty_string(c, "order.customer.first_name", value.get("first_name"))
    _non_empty_string(c, "order.customer.last_name", value.get("last_name"))
    email = value.get("email")
    if email is None:
        c.add("order.customer.email", "required")
    elif not isinstance(email, str) or not _EMAIL.match(email):
        c.add("order.customer.email", "email")


def _expires_at(c: _Collector, order: dict[str, Any], now_ms: int) -> None:
    if "expires_at" not in order:
        return
    value = order["expires_at"]
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= now_ms:
        c.add("order.expires_at", "expires_at")


def _strict_sums(
    c: _Collector,
    subtotal: Decimal | None,
    total: Decimal | None,
    discounts: Decimal | None,
    shipping: Decimal | None,
    lines: Decimal | None,
) -> None:
    """Strict mode: Σ lines == subtotal and total == subtotal - discounts + shipping (within 0.01)."""
    if subtotal is not None and lines is not None and abs(lines - subtotal) > CENT:
        c.add("order.subtotal_amount", "subtotal_sum", expected=lines)
    if None in (subtotal, total, discounts, shipping):
        return
    expected = (subtotal or 0) - (discounts or 0) + (shipping or 0)
    if total is not None and abs(expected - total) > CENT:
        c.add("order.total_amount", "total_sum", expected=expected)


def validate_refund(body: Any, language: str) -> list[FieldError]:
    """Validate a refund body ``{amount, description?}`` (the balance is checked by the state)."""
    c = _Collector(language)
    if not isinstance(body, dict):
        c.add("body", "body")
        return c.errors
    amount = parse_amount(body.get("amount"))
    if body.get("amount") is None:
        c.add("amount", "required")
    elif amount is None or amount <= 0:
        c.add("amount", "positive")
    if "description" in body and body["description"] is not None and not isinstance(body["description"], str):
        c.add("description", "text")
    return c.errors


def normalize_currencies(currencies: Iterable[str]) -> tuple[str, ...]:
    """Upper-case and de-duplicate a currency list, keeping its order."""
    return tuple(dict.fromkeys(code.upper() for code in currencies))
