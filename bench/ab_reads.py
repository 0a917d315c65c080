"""A/B of the return's read (``client.reads.read_order``): this tree's against the one at a git revision, in one
process, interleaved call by call, against the fake gateway in its rich profile (the order, its payments list and
the payment expected, at once). No Django, no database: only the client and the network on loopback.

    .venv/bin/python -m bench.ab_reads f28e85c            # 400 pairs at 0 ms, then at 40 ms of latency
    .venv/bin/python -m bench.ab_reads f28e85c --pairs 1000 --latencies 0

Prints the median and p90 per side and latency, and the machine's load at the start and the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from django_orkestapay.client import InMemoryTokenCache, OrkestaPayClient
from django_orkestapay.client import reads as this_tree
from django_orkestapay.testing import FakeOrkestaPay

from .machine import Load

ROOT = Path(__file__).resolve().parent.parent
READS = "django_orkestapay/client/reads.py"


def reads_at(revision: str) -> ModuleType:
    """``client/reads.py`` as it was at ``revision``, imported beside this tree's (its relative imports made
    absolute: the rest of the client is this tree's)."""
    git = shutil.which("git") or "git"
    shown = subprocess.run([git, "show", f"{revision}:{READS}"], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    source = shown.stdout
    source = source.replace("from ..", "from django_orkestapay.").replace(
        "from .results", "from django_orkestapay.client.results"
    )
    path = Path(tempfile.mkdtemp()) / "reads_at_revision.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("reads_at_revision", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def paid_order(fake: FakeOrkestaPay, client: OrkestaPayClient) -> tuple[str, list[str]]:
    """An order paid on the fake: its id and its payment ids."""
    checkout = client.create_checkout(
        {
            "completed_redirect_url": "https://shop.example/done",
            "canceled_redirect_url": "https://shop.example/canceled",
            "order": {
                "merchant_order_id": f"AB-{time.time_ns()}",
                "currency": "MXN",
                "country_code": "MX",
                "products": [{"id": "sku-1", "name": "Taza", "quantity": 1, "unit_price": 990}],
                "subtotal_amount": 990,
                "total_amount": 990,
                "customer": {"first_name": "Ana", "last_name": "López", "email": "ana@example.com"},
            },
        }
    )
    fake.pay(checkout.checkout_id)
    return checkout.order_id, [p.payment_id for p in client.read_order(checkout.order_id).payments]


def measure(sides: dict[str, Callable[[], Any]], pairs: int) -> dict[str, list[float]]:
    """``pairs`` calls of each side, alternating which goes first; the first tenth dropped (warm-up)."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for index in range(pairs):
        for name in names if index % 2 else reversed(names):
            started = time.perf_counter()
            sides[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: values[pairs // 10 :] for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab_reads", description=__doc__)
    parser.add_argument("revision", help="the git revision to compare this tree's read with")
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--latencies", default="0,40", help="ms, comma-separated (default 0,40)")
    args = parser.parse_args(argv)
    before = reads_at(args.revision)
    load = Load.now()
    print(f"load at the start: {load}")
    with FakeOrkestaPay(profile="rich") as fake:
        client = OrkestaPayClient(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            base_url=fake.base_url,
            token_cache=InMemoryTokenCache(),
        )
        order_id, payment_ids = paid_order(fake, client)
        for latency in (float(value) for value in args.latencies.split(",")):
            fake.latency = latency / 1000
            times = measure(
                {
                    args.revision: lambda: before.read_order(client, order_id, payment_ids=payment_ids),
                    "this tree": lambda: this_tree.read_order(client, order_id, payment_ids=payment_ids),
                },
                args.pairs,
            )
            for name, values in times.items():
                p90 = sorted(values)[int(len(values) * 0.9)]
                print(f"{latency:>4.0f} ms  {name:<12} median {statistics.median(values):7.3f} ms  p90 {p90:7.3f} ms")
    print(f"load at the end: {Load.now()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
