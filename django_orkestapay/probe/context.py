"""What every question of the probe works with: the run's configuration, the refusal of production, the client,
the probe-only raw calls (through the client's own transport and token handling) and the :class:`Question` that
turns an observation into a report row.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ..client import PRODUCTION_BASE_URL, SANDBOX_BASE_URL, CheckoutResult, OrkestaPayClient
from ..exceptions import OrkestaPayError
from .assumptions import DEFAULT_LOCALES
from .listener import ReturnListener
from .redaction import Redactor
from .report import Row, Verdict

logger = logging.getLogger("django_orkestapay.probe")

#: The question groups, in the order they run (``token`` always runs: the others need a token).
GROUPS = (
    "token",
    "auth",
    "checkout",
    "locale",
    "duplicates",
    "amounts",
    "return",
    "pending",
    "refund",
    "limits",
    "webhooks",
)
#: Groups asked only when chosen: a person pays by SPEI or cash and has a card declined (``pending``), the sandbox
#: payment is refunded (``refund``), a webhook endpoint reachable from OrkestaPay is registered (``webhooks``).
OPT_IN_GROUPS = ("pending", "refund", "webhooks")
DEFAULT_GROUPS = tuple(group for group in GROUPS if group not in OPT_IN_GROUPS)
#: The hosts the probe talks to without being told otherwise: OrkestaPay's sandbox and loopback (the fake gateway).
SANDBOX_HOSTS = frozenset({urlsplit(SANDBOX_BASE_URL).hostname or ""})
PRODUCTION_HOSTS = frozenset({urlsplit(PRODUCTION_BASE_URL).hostname or ""})
#: Locales asked about besides the shop's own, to learn which exist (nothing is assumed about them).
EXTRA_LOCALES = ("EN_US", "ES_MX", "EN", "ES", "PT_BR")
#: The flag that lets the probe run anywhere else. Its name is meant to make you stop and think.
PRODUCTION_FLAG = "--allow-production-real-money"


def number(value: Any) -> Decimal | None:
    """A JSON number or numeric string as a finite Decimal (as the client reads one), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    try:
        result = Decimal(str(value))
    except ArithmeticError:
        return None
    return result if result.is_finite() else None


class ProductionRefused(Exception):
    """The probe was pointed at production (or an unknown host) without :data:`PRODUCTION_FLAG`."""


def target_kind(base_url: str) -> str:
    """``sandbox``, ``loopback`` (the fake gateway on this machine), ``production`` or ``unknown``."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host in SANDBOX_HOSTS:
        return "sandbox"
    if host in PRODUCTION_HOSTS:
        return "production"
    if host == "localhost":
        return "loopback"
    try:
        return "loopback" if ipaddress.ip_address(host).is_loopback else "unknown"
    except ValueError:
        return "unknown"


def check_target(base_url: str, *, allow_production: bool) -> str:
    """The kind of ``base_url``; :class:`ProductionRefused` for production or an unknown host unless allowed."""
    kind = target_kind(base_url)
    if kind in ("production", "unknown") and not allow_production:
        what = "OrkestaPay's production API" if kind == "production" else "neither the sandbox nor loopback"
        raise ProductionRefused(
            f"{base_url} is {what}. The probe creates orders and, if you pay, takes real money there; it runs only "
            f"against {SANDBOX_BASE_URL} or a loopback fake unless you pass {PRODUCTION_FLAG}."
        )
    return kind


@dataclass(frozen=True)
class ProbeConfig:
    """One probe run: credentials, target, which questions, and how the return is waited for.

    ``locales`` are the checkout locales this shop sends (the package assumes OrkestaPay accepts them);
    ``extra_locales`` are asked too, with nothing assumed. ``returns`` names the sides a person is asked to try
    (``completed``, ``canceled``); ``return_base_url`` replaces the listener's own address in the return URLs and
    the webhook URL (a tunnel to it, when OrkestaPay refuses loopback URLs; webhooks always need one).
    ``expiry_lifetime`` is the life of the checkout the ``webhooks`` group lets expire, ``webhook_wait`` how long
    that group waits for deliveries at the end of the run.
    """

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    base_url: str = SANDBOX_BASE_URL
    allow_production: bool = False
    groups: tuple[str, ...] = DEFAULT_GROUPS
    locales: tuple[str, ...] = DEFAULT_LOCALES
    extra_locales: tuple[str, ...] = EXTRA_LOCALES
    returns: tuple[str, ...] = ("completed", "canceled")
    return_timeout: float = 900.0
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    return_base_url: str | None = None
    read_timeout: float = 20.0
    expiry_lifetime: float = 60.0
    webhook_wait: float = 120.0

    def __post_init__(self) -> None:
        unknown = set(self.groups) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown question groups: {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
        if set(self.returns) - {"completed", "canceled"}:
            raise ValueError("returns may name only 'completed' and 'canceled'")

    def with_groups(self, groups: tuple[str, ...]) -> ProbeConfig:
        """The same run with other question groups."""
        return replace(self, groups=groups)


@dataclass(frozen=True)
class Exchange:
    """One raw call's outcome: its status and JSON body, or what went wrong (``error``, secrets scrubbed)."""

    status: int | None
    body: Any
    error: str = ""
    validation_errors: tuple[dict[str, Any], ...] = ()
    retry_after: float | None = None  # a 429's or 503's Retry-After, in seconds

    @property
    def ok(self) -> bool:
        """Whether OrkestaPay answered 2xx with a JSON object."""
        return self.status is not None and 200 <= self.status < 300 and isinstance(self.body, dict)

    def describe(self) -> str:
        """``HTTP 200`` / ``refused: HTTP 400 (field: message)`` / ``no answer: APITimeoutError``."""
        if self.ok:
            return f"HTTP {self.status}"
        if self.status is None:
            return f"no answer ({self.error})"
        details = "; ".join(f"{e.get('field', '?')}: {e.get('message', '')}" for e in self.validation_errors)
        message = self.body.get("message") if isinstance(self.body, dict) else None
        reason = details or (message if isinstance(message, str) else "") or self.error
        return f"refused: HTTP {self.status}" + (f" ({reason})" if reason else "")

    def evidence(self) -> dict[str, Any]:
        """For the JSON report (redacted later): the status, and the body and error of a refusal."""
        if self.ok:
            return {"status": self.status}
        return {"status": self.status, "body": self.body, **({"error": self.error} if self.error else {})}


#: How a person (or a test) is shown a hosted checkout: ``present(side, checkout)``; ``side`` is ``completed``,
#: ``canceled``, ``pending`` (pay by SPEI or cash, without paying) or ``declined`` (a declined card, then cancel).
Presenter = Callable[[str, CheckoutResult], None]
#: How a person (or a test) is told something to do that is not a checkout: ``announce(what, url)``; ``what`` is
#: ``webhook`` (register ``url`` as a webhook endpoint in OrkestaPay's portal).
Announcer = Callable[[str, str], None]


def _log_announcement(what: str, url: str) -> None:
    logger.info("Probe: %s %s", what, url)


class ProbeContext:
    """The client, the redactor and the memory of one run, plus the raw call every question uses. ``listener`` is
    the run's :class:`~.listener.ReturnListener` (``None`` when no group needs one); ``orders`` maps every order
    id this run created to the label of its merchant order id (``return-completed``, ``pending``...)."""

    def __init__(
        self,
        config: ProbeConfig,
        client: OrkestaPayClient,
        redactor: Redactor,
        present: Presenter,
        announce: Announcer | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.redactor = redactor
        self.present = present
        self.announce = announce or _log_announcement
        self.listener: ReturnListener | None = None
        self.orders: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self.run_id = run_id or uuid.uuid4().hex[:10]
        #: The buyer's e-mail in every checkout of this run (removed from the report like any e-mail).
        self.email = f"probe.{self.run_id}@example.com"
        self.memo: dict[str, Any] = {}
        self.statuses: dict[str, set[str]] = {"order": set(), "payment": set()}
        self._references = 0

    def merchant_order_id(self, label: str) -> str:
        """A merchant order id of its own for each checkout of this run: ``probe-<run>-<n>-<label>``."""
        self._references += 1
        reference = f"probe-{self.run_id}-{self._references}-{label}"
        self._labels[reference] = label
        return reference

    def label_for(self, order_id: Any, merchant_order_id: Any = None) -> str | None:
        """The label of this run's checkout that an order id (or merchant order id) belongs to, None if none."""
        if isinstance(order_id, str) and order_id in self.orders:
            return self.orders[order_id]
        return self._labels.get(merchant_order_id) if isinstance(merchant_order_id, str) else None

    def remember_order(self, merchant_order_id: Any, order_id: Any) -> None:
        """Note which of this run's checkouts an OrkestaPay order belongs to (for the webhook questions)."""
        label = self._labels.get(merchant_order_id) if isinstance(merchant_order_id, str) else None
        if label is not None and isinstance(order_id, str) and order_id:
            self.orders[order_id] = label

    def call(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        access_token: str | None = None,
        authorise: bool = True,
    ) -> Exchange:
        """One raw call through the client (``OrkestaPayClient.raw_request``); a refusal is an answer too."""
        try:
            status, body = self.client.raw_request(
                method, path, payload=payload, headers=headers, access_token=access_token, authorise=authorise
            )
        except OrkestaPayError as exc:
            logger.info("Probe: %s %s -> %s", method, path, exc.status_code or type(exc).__name__)
            return Exchange(
                exc.status_code,
                exc.response_body,
                f"{type(exc).__name__}: {exc.message}",
                tuple(exc.validation_errors),
                getattr(exc, "retry_after", None),
            )
        return Exchange(status, body)

    def note_status(self, kind: str, value: Any) -> None:
        """Remember a status seen on an order or a payment (for the ``statuses.known`` row)."""
        if isinstance(value, str) and value.strip():
            self.statuses[kind].add(value.strip().upper())


@dataclass(frozen=True)
class Question:
    """A question, what the package assumes about it, and what to do when OrkestaPay answers otherwise."""

    key: str
    text: str
    assumed: str
    advice: str = ""

    def answer(self, observed: str, *, matches: bool | None, evidence: dict[str, Any] | None = None) -> Row:
        """A row: ``matches`` True -> match, False -> mismatch, None -> info (nothing assumed)."""
        verdict = Verdict.INFO if matches is None else Verdict.MATCH if matches else Verdict.MISMATCH
        return Row(self.key, self.text, observed, self.assumed, verdict, self.advice, dict(evidence or {}))

    def error(self, observed: str, evidence: dict[str, Any] | None = None, advice: str = "") -> Row:
        """A row for a question that could not be answered."""
        return Row(self.key, self.text, observed, self.assumed, Verdict.ERROR, advice, dict(evidence or {}))

    def skip(self, why: str) -> Row:
        """A row for a question not asked."""
        return Row(self.key, self.text, f"not asked: {why}", self.assumed, Verdict.SKIPPED)

    def variant(self, suffix: str, text: str, assumed: str | None = None) -> Question:
        """The same question about one value (``locale.EN_US``)."""
        return replace(self, key=f"{self.key}.{suffix}", text=text, assumed=assumed or self.assumed)
