"""Run the fake OrkestaPay gateway as a standalone server: ``python -m django_orkestapay.testing --help``."""

from __future__ import annotations

import argparse
import base64
import errno
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .fake_gateway import FakeOrkestaPay
from .profiles import DEFAULT_PROFILE, ORDER_READ_FIELDS, PROFILES
from .recording import RecordedRequest
from .webhook_payloads import PAYLOAD_VERSIONS
from .webhooks import WEBHOOK_MODES, generate_secret


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m django_orkestapay.testing",
        description="Serve a fake OrkestaPay gateway (API, hosted checkout, webhooks) for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind (default 8765; 0 picks a free one)")
    parser.add_argument("--allow-non-loopback", action="store_true", help="allow binding a non-loopback address")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--webhook-url", action="append", default=[], help="webhook receiver URL (repeatable)")
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help="whsec_ secret signing the deliveries to every receiver registered without one (default: a new one, "
        "printed at start)",
    )
    parser.add_argument("--public-base-url", default=None, help="base URL browsers use to reach the hosted page")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=DEFAULT_PROFILE,
        help=f"evidence: answer only what OrkestaPay's public record shows; rich: more (default {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--order-read-fields",
        choices=ORDER_READ_FIELDS,
        default="guide",
        help="what GET /v1/orders/{id} carries in the evidence profile (default guide)",
    )
    parser.add_argument("--webhook-mode", choices=WEBHOOK_MODES, default="normal")
    parser.add_argument("--webhook-payload-version", choices=PAYLOAD_VERSIONS, default="v2026")
    parser.add_argument("--checkout-lifetime", type=float, default=3600, help="seconds (default 3600)")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser


def _log_line(record: RecordedRequest) -> None:
    query = "?" + "&".join(f"{k}={v}" for k, v in record.query.items()) if record.query else ""
    status = record.status if record.status is not None else "---"
    fault = f" [fault: {record.fault}]" if record.fault else ""
    print(f"{record.method} {record.path}{query} -> {status}{fault}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server, print how to use it, serve until SIGINT or SIGTERM."""
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host) and not args.allow_non_loopback:
        print(f"refusing to bind non-loopback host {args.host!r}; pass --allow-non-loopback", file=sys.stderr)
        return 2
    fake = build_fake(args)
    secret = args.webhook_secret or generate_secret()
    if not is_webhook_secret(secret):
        print(f"--webhook-secret {secret!r} is not a whsec_ secret (whsec_ and base64)", file=sys.stderr)
        return 2
    try:
        fake.start()
    except OSError as exc:
        print(bind_failure(args.host, args.port, exc), file=sys.stderr)
        return 1
    fake.webhooks.default_secret = secret
    for url in args.webhook_url:
        fake.add_webhook_endpoint(url)
    print_banner(fake, secret, args.webhook_url)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stop.wait(0.5):
        pass
    fake.stop()
    print("fake OrkestaPay stopped", flush=True)
    return 0


def build_fake(args: argparse.Namespace) -> FakeOrkestaPay:
    """The (not yet started) fake the parsed command line describes."""
    return FakeOrkestaPay(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        checkout_lifetime=args.checkout_lifetime,
        public_base_url=args.public_base_url,
        webhook_payload_version=args.webhook_payload_version,
        webhook_mode=args.webhook_mode,
        on_request=None if args.quiet else _log_line,
        profile=args.profile,
        order_read_fields=args.order_read_fields,
    )


def is_webhook_secret(value: str) -> bool:
    """Whether ``value`` is ``whsec_`` followed by base64 (the form OrkestaPay's portal shows)."""
    try:
        return value.startswith("whsec_") and bool(base64.b64decode(value.removeprefix("whsec_"), validate=True))
    except ValueError:
        return False


def bind_failure(host: str, port: int, exc: OSError) -> str:
    """One line saying why the server could not listen, and what to do."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: the port is already in use. Pick another with --port, or --port 0 for "
            "any free one (the banner says which)."
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def print_banner(fake: FakeOrkestaPay, webhook_secret: str, webhook_urls: Sequence[str]) -> None:
    """What a shop needs to talk to this fake: its URL, credentials and webhook secret, as ``ORKESTAPAY`` keys."""
    receivers = ", ".join(webhook_urls) or "none yet (--webhook-url http://127.0.0.1:8000/orkestapay/webhook/)"
    lines = [
        f"Fake OrkestaPay listening on {fake.base_url} (a test gateway: no real money)",
        f'  base URL        {fake.base_url:<48}  ORKESTAPAY["BASE_URL"]',
        f'  client id       {fake.client_id:<48}  ORKESTAPAY["CLIENT_ID"]',
        f'  client secret   {fake.client_secret:<48}  ORKESTAPAY["CLIENT_SECRET"]',
        f'  webhook secret  {webhook_secret:<48}  ORKESTAPAY["WEBHOOK_SECRETS"]',
        f"  webhooks to     {receivers}",
        f"  hosted page     {fake.page_base_url()}/checkout/<checkout_id>",
        f"  control routes  {fake.base_url}/_fake/health, /_fake/reset, /_fake/requests, ...",
        "Press Ctrl+C to stop.",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
