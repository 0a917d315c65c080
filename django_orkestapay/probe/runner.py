"""Running the probe: refuse production, build the client, ask each question group in turn, and collect the rows
(redacted as they arrive) into a :class:`~.report.Report`, ending with the statuses seen."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import requests

from .. import __version__
from ..client import OrkestaPayClient
from .assumptions import KNOWN_ORDER_STATUSES, KNOWN_PAYMENT_STATUSES
from .context import GROUPS, Announcer, Presenter, ProbeConfig, ProbeContext, Question, check_target
from .listener import ReturnListener
from .questions_auth import ask_auth, ask_token
from .questions_checkout import ask_checkout
from .questions_limits import ask_limits
from .questions_pending import ask_pending
from .questions_refund import ask_refunds
from .questions_requests import ask_amounts, ask_duplicates, ask_locales
from .questions_return import ask_returns
from .questions_webhooks import ask_webhooks, prepare
from .redaction import Redactor
from .report import Report, Row

logger = logging.getLogger("django_orkestapay.probe")

ASK: dict[str, Callable[[ProbeContext], Iterator[Row]]] = {
    "token": ask_token,
    "auth": ask_auth,
    "checkout": ask_checkout,
    "locale": ask_locales,
    "duplicates": ask_duplicates,
    "amounts": ask_amounts,
    "return": ask_returns,
    "pending": ask_pending,
    "refund": ask_refunds,
    "limits": ask_limits,
    "webhooks": ask_webhooks,
}
#: The groups that need the listener (the browser's returns, webhook deliveries): one serves the whole run.
LISTENING_GROUPS = frozenset({"return", "pending", "webhooks"})
STATUSES_Q = Question(
    "statuses.known",
    "Are the order and payment statuses seen in this run all known to the package?",
    "every one is known (an unknown order status counts as pending: never paid)",
    "Tell us what the unknown status means (attach the JSON report); until then the package treats such an order "
    "as pending, and orkestapay_sync keeps asking.",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def client_id_hint(client_id: str) -> str:
    """Enough of the client id to tell two runs apart, never all of it."""
    return f"{client_id[:4]}… ({len(client_id)} characters)" if len(client_id) > 8 else "… (short)"


def run_probe(
    config: ProbeConfig,
    *,
    present: Presenter,
    session: requests.Session | None = None,
    announce: Announcer | None = None,
) -> tuple[Report, Redactor]:
    """Ask every chosen question of the API at ``config.base_url``; return the report and the redactor that knows
    every secret of the run (for rendering). ``present`` shows a person a checkout, ``announce`` tells them the
    webhook URL to register. Raises :class:`~.context.ProductionRefused` before any call."""
    kind = check_target(config.base_url, allow_production=config.allow_production)
    redactor = Redactor([config.client_secret, config.client_id])
    report = Report(config.base_url, kind, client_id_hint(config.client_id), __version__, _now())
    client = OrkestaPayClient(
        client_id=config.client_id,
        client_secret=config.client_secret,
        base_url=config.base_url,
        read_timeout=config.read_timeout,
        session=session,
        user_agent=f"django-orkestapay-probe/{__version__}",
    )
    groups = ["token", *(group for group in GROUPS if group in config.groups and group != "token")]
    run_id = uuid.uuid4().hex[:10]
    with client, _listener(config, groups, run_id) as listener:
        ctx = ProbeContext(config, client, redactor, present, announce, run_id=run_id)
        ctx.listener = listener
        for index, group in enumerate(groups):
            try:
                report.rows.extend(_redacted(row, redactor, group) for row in _ask(ctx, group))
            except KeyboardInterrupt:
                report.rows.extend(_skipped(group, "interrupted") for group in groups[index:])
                break
            if group == "token" and "token" not in ctx.memo:
                report.rows.extend(_skipped(rest, "no token") for rest in groups[1:])
                break
            if group == "token" and "webhooks" in groups:
                prepare(ctx)  # the URL to register, and a checkout left to expire, as early as possible
        report.rows.append(_statuses_row(ctx))
    report.finished_at = _now()
    return report, redactor


@contextmanager
def _listener(config: ProbeConfig, groups: list[str], run_id: str) -> Iterator[ReturnListener | None]:
    """One listener for the whole run when a chosen group needs it (so a webhook caused by a return arrives)."""
    if not LISTENING_GROUPS & set(groups):
        yield None
        return
    with ReturnListener(
        run_id, host=config.listen_host, port=config.listen_port, public_base_url=config.return_base_url
    ) as listener:
        yield listener


def _ask(ctx: ProbeContext, group: str) -> Iterator[Row]:
    logger.info("Probe: asking the %s questions", group)
    try:
        yield from ASK[group](ctx)
    except Exception as exc:  # noqa: BLE001 - one failing group must not lose the rest of the report
        logger.warning("Probe: the %s questions failed: %s", group, type(exc).__name__)
        failed = Question(f"{group}.failed", f"Could the {group} questions be asked?", "yes")
        yield failed.error(f"{type(exc).__name__}: {ctx.redactor.text(str(exc))}")


def _skipped(group: str, why: str) -> Row:
    return replace(Question(group, f"The {group} questions", "asked").skip(why), group=group)


def _redacted(row: Row, redactor: Redactor, group: str) -> Row:
    return replace(row, observed=redactor.text(row.observed), evidence=redactor.value(row.evidence), group=group)


def _statuses_row(ctx: ProbeContext) -> Row:
    seen = {kind: sorted(values) for kind, values in ctx.statuses.items()}
    if not any(seen.values()):
        return replace(STATUSES_Q.skip("no status was seen"), group="statuses")
    unknown = sorted(set(seen["order"]) - KNOWN_ORDER_STATUSES) + sorted(
        f"payment {status}" for status in set(seen["payment"]) - KNOWN_PAYMENT_STATUSES
    )
    observed = "; ".join(f"{kind}s: {', '.join(values)}" for kind, values in seen.items() if values)
    if unknown:
        observed += f" (unknown: {', '.join(unknown)})"
    row = STATUSES_Q.answer(observed, matches=not unknown, evidence={**seen, "unknown": unknown})
    return replace(row, group="statuses")
