"""Run the fake OrkestaPay gateway as a standalone server: ``python -m django_orkestapay.testing --help``."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .fake_gateway import FakeOrkestaPay
from .recording import RecordedRequest
from .webhooks import PAYLOAD_VERSIONS, WEBHOOK_MODES


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
    parser.add_argument("--webhook-secret", default=None, help="whsec_ secret for the webhook URLs (else generated)")
    parser.add_argument("--public-base-url", default=None, help="base URL browsers use to reach the hosted page")
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
    fake = FakeOrkestaPay(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        checkout_lifetime=args.checkout_lifetime,
        public_base_url=args.public_base_url,
        webhook_payload_version=args.webhook_payload_version,
        webhook_mode=args.webhook_mode,
        on_request=None if args.quiet else _log_line,
    )
    fake.start()
    secrets = [fake.add_webhook_endpoint(url, args.webhook_secret) for url in args.webhook_url]
    _print_banner(fake, args.webhook_url, secrets)
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


def _print_banner(fake: FakeOrkestaPay, urls: Sequence[str], secrets: Sequence[str]) -> None:
    print(f"Fake OrkestaPay listening on {fake.base_url}", flush=True)
    print(f"  API base URL:   {fake.base_url}", flush=True)
    print(f"  client_id:      {fake.client_id}", flush=True)
    print(f"  client_secret:  {fake.client_secret}", flush=True)
    print(f"  hosted page:    {fake.page_base_url()}/checkout/<checkout_id>", flush=True)
    print(f"  control routes: {fake.base_url}/_fake/health, /_fake/reset, /_fake/requests, ...", flush=True)
    for url, secret in zip(urls, secrets, strict=True):
        print(f"  webhook:        {url}  secret: {secret}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
