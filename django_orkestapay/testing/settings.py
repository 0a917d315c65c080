"""The fake gateway's settings: credentials, clock, request hook and the behaviour switches, as plain attributes.

``FakeSettings`` is the one object that holds what ``FakeOrkestaPay``'s constructor configures; the state, the API
routes and the control routes read it, and ``restore_defaults()`` (called by ``reset()``) puts every switch in
``RESETTABLE`` back to its constructor value. The webhook delivery switches are properties over the
``WebhookDispatcher`` that applies them. ``Setting`` is the descriptor through which ``FakeOrkestaPay`` exposes each
of these as its own attribute (``fake.latency = 0.2`` sets ``fake.settings.latency``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from .profiles import check_profile, preset
from .recording import RecordedRequest
from .refunds import REFUND_OUTCOMES
from .validation import normalize_currencies
from .variants import check_variant
from .webhook_payloads import PAYLOAD_VERSIONS
from .webhooks import WebhookDispatcher

T = TypeVar("T")

# Settings that reset() puts back to their constructor values (the profile first: it sets its preset switches).
RESETTABLE = (
    "profile",
    "order_read_fields",
    "token_lifetime",
    "checkout_lifetime",
    "public_base_url",
    "cancel_marks_order_canceled",
    "decline_marks_order_failed",
    "strict_amounts",
    "webhook_payload_version",
    "emit_cancel_events",
    "refunds_enabled",
    "refund_outcome",
    "allowed_currencies",
    "accept_numeric_strings",
    "error_language",
    "idempotent_checkouts",
    "idempotency_conflict_status",
    "idempotency_ttl",
    "payments_page_size",
    "webhook_mode",
    "webhook_delay",
    "webhook_retry_time_factor",
    "webhook_timeout",
    "webhook_tamper",
    "latency",
    # the answers to the API's open questions (see ``variants``)
    "return_params_completed",
    "return_params_canceled",
    "return_keeps_query",
    "accepted_locales",
    "reject_duplicate_merchant_order_ids",
    "auth_failure_status",
    "auth_failure_body",
    "checkout_read_shape",
    "product_id_fields",
    "token_claims_lifetime",
    "checkout_url_form",
)


class FakeSettings:
    """Credentials, clock, request hook and behaviour switches of one fake gateway.

    Every value is a plain attribute (the webhook ones delegate to the dispatcher); ``base_url`` asks the running
    server. The constructor takes every value by keyword: ``FakeOrkestaPay`` documents them and holds the defaults.
    """

    def __init__(
        self,
        *,
        base_url: Callable[[], str],
        webhooks: WebhookDispatcher,
        profile: str,
        order_read_fields: str,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float],
        on_request: Callable[[RecordedRequest], None] | None,
        token_lifetime: float,
        checkout_lifetime: float,
        public_base_url: str | None,
        cancel_marks_order_canceled: bool,
        decline_marks_order_failed: bool,
        strict_amounts: bool,
        webhook_payload_version: str,
        emit_cancel_events: bool,
        refunds_enabled: bool,
        refund_outcome: str,
        allowed_currencies: tuple[str, ...],
        accept_numeric_strings: bool,
        error_language: str,
        idempotent_checkouts: bool,
        idempotency_conflict_status: int,
        idempotency_ttl: float,
        payments_page_size: int | None,
        webhook_mode: str,
        webhook_delay: float,
        webhook_retry_time_factor: float,
        webhook_timeout: float,
        webhook_tamper: str | None,
        latency: float,
        return_params_completed: tuple[str, ...],
        return_params_canceled: tuple[str, ...],
        return_keeps_query: bool,
        accepted_locales: tuple[str, ...] | None,
        reject_duplicate_merchant_order_ids: bool,
        auth_failure_status: int,
        auth_failure_body: str,
        checkout_read_shape: str,
        product_id_fields: tuple[str, ...],
        token_claims_lifetime: float | None,
        checkout_url_form: str,
    ) -> None:
        self._base_url = base_url
        self.webhooks = webhooks
        self.profile = profile
        self.order_read_fields = order_read_fields
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.on_request = on_request
        self.token_lifetime = token_lifetime
        self.checkout_lifetime = checkout_lifetime
        self.public_base_url = public_base_url
        self.cancel_marks_order_canceled = cancel_marks_order_canceled
        self.decline_marks_order_failed = decline_marks_order_failed
        self.strict_amounts = strict_amounts
        self.webhook_payload_version = webhook_payload_version
        self.emit_cancel_events = emit_cancel_events
        self.refunds_enabled = refunds_enabled
        self.refund_outcome = refund_outcome
        self.allowed_currencies = allowed_currencies
        self.accept_numeric_strings = accept_numeric_strings
        self.error_language = error_language
        self.idempotent_checkouts = idempotent_checkouts
        self.idempotency_conflict_status = idempotency_conflict_status
        self.idempotency_ttl = idempotency_ttl
        # Payments per page of GET /v1/orders/{id}/payments (None: all of them on one page).
        self.payments_page_size = payments_page_size
        self.webhook_mode = webhook_mode
        self.webhook_delay = webhook_delay
        self.webhook_retry_time_factor = webhook_retry_time_factor
        self.webhook_timeout = webhook_timeout
        self.webhook_tamper = webhook_tamper
        # Seconds added before every API answer (a network round trip); the hosted page and /_fake/ are not slowed.
        self.latency = latency
        self.return_params_completed = return_params_completed
        self.return_params_canceled = return_params_canceled
        self.return_keeps_query = return_keeps_query
        self.accepted_locales = accepted_locales
        self.reject_duplicate_merchant_order_ids = reject_duplicate_merchant_order_ids
        self.auth_failure_status = auth_failure_status
        self.auth_failure_body = auth_failure_body
        self.checkout_read_shape = checkout_read_shape
        self.product_id_fields = product_id_fields
        self.token_claims_lifetime = token_claims_lifetime
        self.checkout_url_form = checkout_url_form
        self._defaults = {name: getattr(self, name) for name in RESETTABLE}

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "allowed_currencies":  # upper-cased however it is set (constructor, attribute, /_fake/settings)
            if isinstance(value, str):
                raise ValueError("allowed_currencies must be a list of currency codes")
            value = normalize_currencies(value)
        super().__setattr__(name, check_variant(name, value))

    @property
    def profile(self) -> str:
        """rich | evidence (``profiles``); setting it also sets the switches of its preset."""
        return self._profile

    @profile.setter
    def profile(self, value: str) -> None:
        switches = preset(value)
        self._profile = check_profile(value)
        for name, switch in switches.items():
            setattr(self, name, switch)

    def switches(self) -> dict[str, Any]:
        """Every switch in ``RESETTABLE`` and its current value (``GET /_fake/settings``)."""
        return {name: getattr(self, name) for name in RESETTABLE}

    def restore_defaults(self) -> None:
        """Put every switch in ``RESETTABLE`` back to its constructor value."""
        for name, value in self._defaults.items():
            setattr(self, name, value)

    # addresses -----------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base URL of the running server (RuntimeError when it is not started)."""
        return self._base_url()

    def page_base_url(self) -> str:
        """Where ``checkout_redirect_url`` points: ``public_base_url`` or the API base."""
        return (self.public_base_url or self.base_url).rstrip("/")

    def token_issuer(self) -> str:
        """The ``iss`` claim of issued tokens."""
        return f"{self.base_url}/auth/realms/orkestapay"

    # refund answers ------------------------------------------------------------------------------------------

    @property
    def refund_outcome(self) -> str:
        """How ``POST /v1/payments/{id}/refund`` answers: success | pending | declined."""
        return self._refund_outcome

    @refund_outcome.setter
    def refund_outcome(self, value: str) -> None:
        if value not in REFUND_OUTCOMES:
            raise ValueError(f"unknown refund outcome {value!r}; expected one of {', '.join(REFUND_OUTCOMES)}")
        self._refund_outcome = value

    @property
    def decline_refunds(self) -> bool:
        """The older switch for ``refund_outcome == "declined"`` (setting it False means "success")."""
        return self.refund_outcome == "declined"

    @decline_refunds.setter
    def decline_refunds(self, value: bool) -> None:
        self.refund_outcome = "declined" if value else "success"

    # webhook settings (delegated to the dispatcher) ----------------------------------------------------------

    @property
    def webhook_mode(self) -> str:
        """normal | delay | duplicate | out_of_order | drop | manual (see ``webhooks``)."""
        return self.webhooks.mode

    @webhook_mode.setter
    def webhook_mode(self, value: str) -> None:
        self.webhooks.mode = value

    @property
    def webhook_delay(self) -> float:
        return self.webhooks.delay

    @webhook_delay.setter
    def webhook_delay(self, value: float) -> None:
        self.webhooks.delay = value

    @property
    def webhook_retry_time_factor(self) -> float:
        return self.webhooks.retry_time_factor

    @webhook_retry_time_factor.setter
    def webhook_retry_time_factor(self, value: float) -> None:
        self.webhooks.retry_time_factor = value

    @property
    def webhook_timeout(self) -> float:
        return self.webhooks.timeout

    @webhook_timeout.setter
    def webhook_timeout(self, value: float) -> None:
        self.webhooks.timeout = value

    @property
    def webhook_tamper(self) -> str | None:
        """None, or "bad_signature" | "old_timestamp" | "rotated_secret" to test the receiver's verification."""
        return self.webhooks.tamper

    @webhook_tamper.setter
    def webhook_tamper(self, value: str | None) -> None:
        self.webhooks.tamper = value

    @property
    def webhook_payload_version(self) -> str:
        """v2026 | v2024-11 | v2024-07."""
        return self._payload_version

    @webhook_payload_version.setter
    def webhook_payload_version(self, value: str) -> None:
        if value not in PAYLOAD_VERSIONS:
            raise ValueError(f"unknown payload version {value!r}; expected one of {', '.join(PAYLOAD_VERSIONS)}")
        self._payload_version = value


class HasSettings(Protocol):
    """An object whose attributes forward to a ``FakeSettings`` (``FakeOrkestaPay``)."""

    settings: FakeSettings


class Setting(Generic[T]):
    """A class attribute that reads and writes the same-named attribute of the instance's ``settings``."""

    name: str

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Setting[T]: ...

    @overload
    def __get__(self, instance: HasSettings, owner: type[Any]) -> T: ...

    def __get__(self, instance: HasSettings | None, owner: type[Any]) -> Setting[T] | T:
        if instance is None:
            return self
        return cast(T, getattr(instance.settings, self.name))

    def __set__(self, instance: HasSettings, value: T) -> None:
        setattr(instance.settings, self.name, value)
