"""The probe's command line, shared by ``python -m django_orkestapay.probe`` and ``manage.py orkestapay_probe``.

:func:`add_arguments` declares the options on any ``argparse`` parser (Django's command parser included);
:func:`config_from_options` turns them and the credentials into a :class:`~.context.ProbeConfig`; :func:`execute`
runs the probe, prints the text report and writes the JSON one, and returns the exit status (0: everything matched,
1: a mismatch or an error, 2: the probe could not run). Credentials never come from the command line (shell
history, ``ps``): ``python -m`` reads them from the environment, the management command from the settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..client import SANDBOX_BASE_URL, CheckoutResult
from .assumptions import DEFAULT_LOCALES
from .context import EXTRA_LOCALES, GROUPS, OPT_IN_GROUPS, PRODUCTION_FLAG, ProbeConfig, ProductionRefused
from .redaction import url_host
from .report import render_json, render_text
from .runner import client_id_hint, run_probe

CLIENT_ID_VARIABLE = "ORKESTAPAY_SANDBOX_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "ORKESTAPAY_SANDBOX_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret
BASE_URL_VARIABLE = "ORKESTAPAY_SANDBOX_BASE_URL"
RETURN_CHOICES = {"both": ("completed", "canceled"), "completed": ("completed",), "canceled": ("canceled",), "none": ()}
EXIT_CANNOT_RUN = 2


class Output(Protocol):
    """Where text goes: a file, ``sys.stdout`` or a management command's ``self.stdout``."""

    def write(self, text: str, /) -> object:
        """Write ``text``."""
        ...


INSTRUCTIONS = {
    "completed": "PAY with a sandbox test card (4242 4242 4242 4242, any CVC, a future expiry date)",
    "canceled": "CANCEL (use OrkestaPay's button that returns to the shop)",
    "pending": "choose SPEI (bank transfer) or CASH and create the payment reference, but do NOT pay it; the probe "
    "watches for the waiting payment",
    "declined": "PAY with a card the sandbox DECLINES (4000 0000 0000 0002, Stripe's test card for a decline; any "
    "CVC, a future expiry date), then CANCEL back to the shop",
}
#: The options that add an opt-in question group.
OPT_IN_OPTIONS = {"pending": "pending", "refund": "refund", "webhooks": "webhooks"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The probe's options (everything but the credentials)."""
    parser.add_argument(
        "--only", metavar="GROUP,...", help=f"ask only these question groups ({', '.join(GROUPS)}); token always runs"
    )
    parser.add_argument("--skip", metavar="GROUP,...", help="do not ask these question groups")
    parser.add_argument(
        "--return",
        dest="returns",
        choices=sorted(RETURN_CHOICES),
        default="both",
        help="which returns a person tries in a browser (default both; none for an unattended run)",
    )
    parser.add_argument("--wait", type=float, default=900.0, metavar="SECONDS", help="how long to wait for each return")
    parser.add_argument(
        "--listen", default="127.0.0.1:0", metavar="HOST:PORT", help="where the return listener binds (loopback)"
    )
    parser.add_argument(
        "--return-base-url",
        metavar="URL",
        help="a public https URL forwarding to --listen, if OrkestaPay refuses loopback",
    )
    parser.add_argument("--refund", action="store_true", help="also refund the sandbox payment (half, again, the rest)")
    parser.add_argument(
        "--pending",
        action="store_true",
        help="also try, in a browser, a SPEI or cash payment left waiting and a declined card",
    )
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="also record the webhooks OrkestaPay delivers (register the URL it prints; needs --return-base-url)",
    )
    parser.add_argument(
        "--webhook-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for webhook deliveries at the end of the run (default 120)",
    )
    parser.add_argument(
        "--locale", action="append", default=[], metavar="CODE", help="another checkout locale to try (repeatable)"
    )
    parser.add_argument("--json", dest="json_path", metavar="PATH", help="where to write the JSON report")
    parser.add_argument("--no-json", action="store_true", help="do not write the JSON report")
    parser.add_argument(
        PRODUCTION_FLAG,
        dest="allow_production",
        action="store_true",
        help="run against production or an unknown host: creates real orders, and paying moves real money",
    )


def _groups(options: Any) -> tuple[str, ...]:
    def names(value: str | None) -> list[str]:
        return [name.strip() for name in (value or "").split(",") if name.strip()]

    wanted = {group for option, group in OPT_IN_OPTIONS.items() if getattr(options, option, False)}
    chosen = names(options.only) or [group for group in GROUPS if group not in OPT_IN_GROUPS or group in wanted]
    chosen += sorted(wanted - set(chosen))
    return tuple(group for group in chosen if group not in names(options.skip))


def config_from_options(
    options: Any,
    *,
    client_id: str,
    client_secret: str,
    base_url: str,
    locales: Sequence[str] = DEFAULT_LOCALES,
) -> ProbeConfig:
    """The run the options describe; ``locales`` are those this shop sends (the package assumes they work)."""
    host, _, port = str(options.listen).rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("--listen must be HOST:PORT, e.g. 127.0.0.1:8899")
    extras = (*options.locale, *EXTRA_LOCALES)
    return ProbeConfig(
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        allow_production=bool(options.allow_production),
        groups=_groups(options),
        locales=tuple(dict.fromkeys(locales)),
        extra_locales=tuple(locale for locale in dict.fromkeys(extras) if locale not in locales),
        returns=RETURN_CHOICES[options.returns],
        return_timeout=float(options.wait),
        listen_host=host.strip("[]"),
        listen_port=int(port),
        return_base_url=options.return_base_url,
        webhook_wait=float(options.webhook_wait),
    )


def _tell(out: Output, text: str) -> None:
    """Write ``text`` and flush it at once: the person reads it while the probe waits."""
    out.write(text)
    flush = getattr(out, "flush", None)
    if callable(flush):
        flush()


def terminal_presenter(out: Output, wait: float) -> Callable[[str, CheckoutResult], None]:
    """Show a person the hosted checkout to open in their own browser, and what to do there."""

    def present(side: str, checkout: CheckoutResult) -> None:
        _tell(
            out,
            f"\n>>> Open this OrkestaPay checkout in your browser and {INSTRUCTIONS[side]}:\n\n"
            f"    {checkout.redirect_url}\n\n"
            f"    Waiting up to {wait:.0f} s for the browser to come back (Ctrl-C to give up)...\n",
        )

    return present


def terminal_announcer(out: Output, wait: float) -> Callable[[str, str], None]:
    """Tell a person the webhook URL to register in OrkestaPay's portal."""

    def announce(what: str, url: str) -> None:
        _tell(
            out,
            f"\n>>> Register this URL as a webhook endpoint in the OrkestaPay portal (Developers > Webhooks, every "
            f"event), or send it a sample from the portal's Testing tab:\n\n    {url}\n\n"
            f"    It must reach this machine (--return-base-url). Deliveries are recorded until the end of the run "
            f"(then up to {wait:.0f} s more).\n",
        )

    return announce


def execute(
    config: ProbeConfig,
    *,
    json_path: str | None,
    out: Output,
    err: Output,
    present: Callable[[str, CheckoutResult], None] | None = None,
) -> int:
    """Run the probe, print its text report on ``out``, write the JSON report; return the exit status."""
    try:
        report, redactor = run_probe(
            config,
            present=present or terminal_presenter(out, config.return_timeout),
            announce=terminal_announcer(out, config.webhook_wait),
        )
    except ProductionRefused as exc:
        err.write(f"Refused: {exc}\n")
        return EXIT_CANNOT_RUN
    out.write("\n" + render_text(report, redactor))
    if json_path:
        Path(json_path).write_text(render_json(report, redactor), encoding="utf-8")
        out.write(f"JSON report (secrets, tokens and buyer data removed; attach it to a bug report): {json_path}\n")
    return report.exit_code


def json_path(options: Any) -> str | None:
    """Where the options say the JSON report goes: none with ``--no-json``, else ``--json`` or
    ``orkestapay-probe-<UTC time>.json`` in the current directory."""
    if options.no_json:
        return None
    return str(options.json_path or f"orkestapay-probe-{datetime.now(UTC):%Y%m%d-%H%M%S}.json")


def main(argv: Sequence[str] | None = None, *, environ: dict[str, str] | None = None) -> int:
    """``python -m django_orkestapay.probe``: credentials and base URL from the environment."""
    parser = argparse.ArgumentParser(
        prog="python -m django_orkestapay.probe",
        description="Ask OrkestaPay's sandbox what its docs leave open and compare the answers with what "
        "django-orkestapay assumes. One row per question: match, MISMATCH (with what to change), info, ERROR or "
        f"skipped. Credentials come from {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}.",
    )
    parser.add_argument("--base-url", help=f"the API base URL (default ${BASE_URL_VARIABLE}, else {SANDBOX_BASE_URL})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each call (method, path, status)")
    add_arguments(parser)
    options = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    client_id, client_secret = env.get(CLIENT_ID_VARIABLE, ""), env.get(CLIENT_SECRET_VARIABLE, "")
    if not client_id or not client_secret:
        sys.stderr.write(f"Set {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE} (sandbox credentials).\n")
        return EXIT_CANNOT_RUN
    if options.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    base_url = options.base_url or env.get(BASE_URL_VARIABLE) or SANDBOX_BASE_URL
    try:
        config = config_from_options(options, client_id=client_id, client_secret=client_secret, base_url=base_url)
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write(f"Probing {url_host(base_url)} with client id {client_id_hint(client_id)}\n")
    return execute(config, json_path=json_path(options), out=sys.stdout, err=sys.stderr)
