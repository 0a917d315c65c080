"""The benchmark driver: ``python -m bench [options]`` from the repository root (``bench/run`` sets everything up).

It starts the fake gateway in this process, configures Django with ``bench.settings`` on the given database, runs
gunicorn on loopback for the HTTP parts (and a fleet of workers sharing Redis for the token count), and prints one
table per measurement and a summary against the goals. The exit status is 1 when a correctness check fails (round
trips, changelist queries, a webhook lost or applied twice, more than one token for the fleet); a missed timing
goal is reported in the summary, not failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from django_orkestapay.testing import PROFILES, FakeOrkestaPay, generate_secret

from . import fleet, overhead, profile_request, queries, round_trips, webhook_load
from .common import Gunicorn, flush_database, median, migrate, setup_django, spread, table
from .machine import Load
from .queue_backends import QUEUE_BACKENDS
from .queued_sections import run_queued, run_together
from .report import Machine, Report, fmt, load_plans, log, pct

SECTIONS = ("queries", "round-trips", "overhead", "profile", "webhooks", "queued", "together", "fleet")
PAY_GOAL_RATIO = 1.10


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="postgres://postgres@127.0.0.1:PORT/orkestapay_bench (bench/run starts one); default $BENCH_DATABASE_URL",
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--fake-profile",
        default="rich",
        choices=PROFILES,
        help="the fake gateway's profile (default rich, the profile the published figures were measured with; "
        "evidence answers less, so the app makes more reads)",
    )
    parser.add_argument("--quick", action="store_true", help="3 runs and smaller samples (about half the time)")
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (default 5; --quick 3)")
    parser.add_argument("--samples", type=int, default=None, help="request pairs per overhead run (default 40)")
    parser.add_argument("--checkouts", type=int, default=1000, help="checkouts per flow for round trips")
    parser.add_argument("--latencies", default="0,40", help="added gateway latencies in ms (default 0,40)")
    parser.add_argument("--profile-requests", type=int, default=30, help="requests timed and profiled per view")
    parser.add_argument("--profile-dump", default="", help="write the cProfile stats to PREFIX-pay.prof etc.")
    parser.add_argument("--events", type=int, default=None, help="distinct webhook events per run (default 1000)")
    parser.add_argument("--webhook-orders", type=int, default=100, help="orders the events are spread over")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of events delivered twice (0.1)")
    parser.add_argument("--concurrency", type=int, default=4, help="load generator threads (default 4)")
    parser.add_argument("--time-limit", type=float, default=45.0, help="seconds a webhook run may send for (45)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--task-workers", type=int, default=2, help="worker processes draining (default 2)")
    parser.add_argument(
        "--queue-backends",
        default=",".join(QUEUE_BACKENDS),
        help="task backends of the queued and together sections: database (django-tasks-db), rq (django-tasks-rq "
        "over Redis); default both",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="redis://127.0.0.1:PORT/0 for the fleet (database 0) and the RQ queue (database 1); bench/run starts "
        "one; default $BENCH_REDIS_URL",
    )
    parser.add_argument("--fleet-workers", type=int, default=4, help="gunicorn workers of the fleet (default 4)")
    parser.add_argument("--fleet-checkouts", type=int, default=200, help="concurrent checkouts of the fleet (200)")
    parser.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 5)
    args.samples = args.samples or (20 if args.quick else 40)
    args.events = args.events or (500 if args.quick else 1000)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if not args.database_url:
        parser.error("--database-url (or BENCH_DATABASE_URL) is required; bench/run provides a PostgreSQL one")
    args.queue_backends = [b.strip() for b in args.queue_backends.split(",") if b.strip()]
    if set(args.queue_backends) - set(QUEUE_BACKENDS):
        parser.error(f"--queue-backends: one or more of {', '.join(QUEUE_BACKENDS)}")
    needs_redis = "fleet" in args.sections or (
        "rq" in args.queue_backends and {"queued", "together"} & set(args.sections)
    )
    if needs_redis and not args.redis_url:
        parser.error("the fleet and the rq backend need --redis-url (or BENCH_REDIS_URL); bench/run provides one")
    return args


def run_queries(fake: FakeOrkestaPay, secret: str, report: Report) -> None:
    flush_database()
    rows = queries.measure(fake, secret)
    report.print(table("Queries per request (data statements)", ["request", "queries", "HTTP status"], rows))
    counts = {label: count for label, count, _ in rows}
    report.figures["queries"] = counts
    few, many = counts["admin order changelist, 10 orders"], counts["admin order changelist, 1,000 orders"]
    report.goal(
        "admin changelist queries, 10 vs 1,000 orders", "same", f"{few} vs {many}", few == many, correctness=True
    )


def run_round_trips(fake: FakeOrkestaPay, checkouts: int, report: Report) -> None:
    result = round_trips.measure(fake, checkouts=checkouts)
    headers = ["flow", "checkouts", "token requests", "checkout requests", "round trips per checkout"]
    report.print(table("Round trips per checkout (fake gateway's request log)", headers, round_trips.rows(result)))
    report.figures["round_trips"] = {"ours": result.ours.per_checkout, "naive": result.naive.per_checkout}
    met = result.ours.per_checkout == 1.0 and result.naive.per_checkout == 2.0
    report.goal(
        f"round trips per checkout ({checkouts:,}, steady state)",
        "1.00 vs 2.00",
        f"{result.ours.per_checkout:.2f} vs {result.naive.per_checkout:.2f}",
        met,
        correctness=True,
    )


def run_overhead(fake: FakeOrkestaPay, server: Gunicorn, args: argparse.Namespace, report: Report) -> None:
    latencies = tuple(float(v) for v in args.latencies.split(","))
    results = overhead.measure(fake, server.url, latencies_ms=latencies, runs=args.runs, samples=args.samples)
    rows: list[list[object]] = []
    figures = {}
    for result in results:
        for name, pair in (("pay", result.pay), ("completed", result.completed), ("floor", result.floor)):
            rows.append(
                [
                    f"{result.latency_ms:.0f} ms",
                    name,
                    spread(pair.view_ms),
                    spread(pair.bare_ms),
                    spread(pair.overheads_ms),
                    spread(pair.ratios, "{:.3f}"),
                ]
            )
            figures[f"{name}@{result.latency_ms:.0f}ms"] = {
                "view_ms": median(pair.view_ms),
                "bare_ms": median(pair.bare_ms),
                "ours_ms": median(pair.overheads_ms),
                "ratio": median(pair.ratios),
            }
            if result.latency_ms == 40 and name != "floor":
                ratio = median(pair.ratios)
                report.goal(
                    f"{name} view / bare call, 40 ms latency",
                    f"<= {PAY_GOAL_RATIO:.2f}",
                    f"{ratio:.3f} (ours {median(pair.overheads_ms):.1f} ms)",
                    ratio <= PAY_GOAL_RATIO,
                )
    headers = ["gateway latency", "request", "view ms", "bare call ms", "ours ms (difference)", "ratio"]
    title = (
        f"Overhead through gunicorn ({args.workers} workers), median [min-max] of {args.runs} run medians, "
        f"{args.samples} pairs per run"
    )
    note = (
        "floor: a trivial Django view (no database, no gateway) against the fake's trivial route; what any view\n"
        "costs through gunicorn on this machine before our code does anything.\n"
    )
    report.print(table(title, headers, rows) + note)
    report.figures["overhead"] = figures


def run_profile(fake: FakeOrkestaPay, args: argparse.Namespace, report: Report) -> None:
    results = profile_request.measure(fake, requests=args.profile_requests, dump_prefix=args.profile_dump or None)
    for result in results:
        per_request = result.wall_mean_ms
        http_calls = result.waits.http_calls / result.requests
        statements = result.waits.sql_statements / result.requests
        rows: list[list[object]] = [
            ["wall time per request, no profiler: median", fmt(result.wall_ms), ""],
            ["wall time per request, no profiler: mean", fmt(per_request), "100%"],
            [
                f"  waiting on the gateway ({http_calls:.0f} call)",
                fmt(result.http_ms),
                pct(result.http_ms, per_request),
            ],
            [f"  SQL ({statements:.0f} statements incl. COMMIT)", fmt(result.sql_ms), pct(result.sql_ms, per_request)],
            ["  the rest: Django, middleware, ORM, our Python", fmt(result.rest_ms), pct(result.rest_ms, per_request)],
            ["under cProfile (mean; Python runs slower), own time by area:", fmt(result.profiled_ms), "100%"],
        ]
        for label, ms in result.buckets_ms.items():
            rows.append([f"  {label}", fmt(ms), pct(ms, result.profiled_ms)])
        rows.append(["our functions by cumulative time (ms/request, calls/request):", "", ""])
        for function, ms, calls in result.top_own:
            rows.append([f"  {function}", fmt(ms), f"{calls}x"])
        title = (
            f"Where a {result.name} request goes (in process, gateway answering at once, {result.requests} requests)"
        )
        report.print(table(title, ["part", "ms", "share"], rows))
        report.figures[f"profile_{result.name}"] = {
            "wall_ms": result.wall_ms,
            "gateway_ms": result.http_ms,
            "sql_ms": result.sql_ms,
            "rest_ms": result.rest_ms,
            "profile_buckets_ms": result.buckets_ms,
        }


def run_webhooks(fake: FakeOrkestaPay, server: Gunicorn, secret: str, args: argparse.Namespace, report: Report) -> None:
    results = []
    for plan in load_plans(args, "webhooks"):
        results.append(webhook_load.run_once(fake, server.url, secret, plan))
    rows: list[list[object]] = [
        [
            run + 1,
            f"{len(r.answers)}/{r.planned}",
            r.distinct_sent,
            fmt(r.elapsed_s),
            fmt(r.per_second, 1),
            fmt(r.p50_ms, 1),
            fmt(r.p99_ms, 1),
            r.not_200,
            r.lost,
            r.applied_twice,
            r.unpaid_orders,
            "ok" if r.ok else "FAILED",
        ]
        for run, r in enumerate(results)
    ]
    rates = [r.per_second for r in results]
    p50s = [r.p50_ms for r in results]
    p99s = [r.p99_ms for r in results]
    rows.append(["median", "", "", "", fmt(median(rates), 1), fmt(median(p50s), 1), fmt(median(p99s), 1), *[""] * 5])
    headers = [
        "run",
        "answered/planned",
        "distinct ids",
        "seconds",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "non-200",
        "lost",
        "applied twice",
        "unpaid orders",
        "check",
    ]
    title = (
        f"Webhook throughput: gunicorn ({args.workers} workers) + PostgreSQL, {args.concurrency} client threads, "
        f"{args.events} events over {args.webhook_orders} orders + {args.duplicates:.0%} re-deliveries per run"
    )
    report.print(table(title, headers, rows))
    all_ok = all(r.ok for r in results)
    report.goal(
        "webhook deliveries/s, p50/p99 ms (median of runs)",
        "measured; none lost or applied twice",
        f"{median(rates):.0f}/s, {median(p50s):.1f}/{median(p99s):.1f} ms",
        all_ok,
        correctness=True,
    )
    report.figures["webhooks"] = {"per_second": median(rates), "p50_ms": median(p50s), "p99_ms": median(p99s)}


def run_fleet(fake: FakeOrkestaPay, args: argparse.Namespace, report: Report) -> None:
    results = [
        fleet.run(
            fake,
            database_url=args.database_url,
            redis_url=args.redis_url,
            workers=args.fleet_workers,
            checkouts=args.fleet_checkouts,
            single_flight=single_flight,
        )
        for single_flight in (True, False)
    ]
    title = (
        f"Token requests of a fleet on a cold cache: gunicorn ({args.fleet_workers} workers) + Django's RedisCache + "
        f"PostgreSQL, {args.fleet_checkouts} concurrent checkouts (fake gateway's request log)"
    )
    report.print(table(title, fleet.HEADERS, fleet.rows(results)) + fleet.NOTE)
    on, off = results
    report.goal(
        f"fleet token requests, {on.workers} workers, cold cache, {on.checkouts} checkouts",
        "1",
        f"{on.token_requests} ({off.token_requests} without the lock)",
        on.token_requests == 1 and on.all_redirected and on.every_worker_met_the_cold_cache,
        correctness=True,
    )
    report.figures["fleet"] = {
        ("lock_on" if r.single_flight else "lock_off"): {
            "workers": r.workers,
            "checkouts": r.checkouts,
            "created": r.created,
            "token_requests": r.token_requests,
            "checkouts_per_second": r.per_second,
        }
        for r in results
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Only the fleet's own gunicorn workers use Redis; the driver and the other sections keep the per-process cache.
    os.environ.pop("BENCH_REDIS_URL", None)
    started = time.monotonic()
    report = Report()
    secret = generate_secret()
    report.figures["fake_profile"] = args.fake_profile
    with FakeOrkestaPay(profile=args.fake_profile) as fake:
        setup_django(database_url=args.database_url, gateway_url=fake.base_url, webhook_secret=secret)
        database = args.database_url.split("@")[-1]
        log(f"fake gateway ({fake.profile} profile) on {fake.base_url}; migrating {database}; load {Load.now()}")
        migrate()
        machine = Machine(args)
        report.print(machine.start())
        if "queries" in args.sections:
            log("queries per request")
            run_queries(fake, secret, report)
        if "round-trips" in args.sections:
            log(f"round trips: {args.checkouts} checkouts per flow")
            run_round_trips(fake, args.checkouts, report)
        if "profile" in args.sections:
            log("profile of one request (in process)")
            run_profile(fake, args, report)
        if {"overhead", "webhooks"} & set(args.sections):
            with Gunicorn(workers=args.workers) as server:
                log(f"gunicorn ({args.workers} workers) on {server.url}")
                if "overhead" in args.sections:
                    log(f"overhead: {args.runs} runs x {args.samples} pairs per latency ({args.latencies} ms)")
                    run_overhead(fake, server, args, report)
                if "webhooks" in args.sections:
                    run_webhooks(fake, server, secret, args, report)
        if "queued" in args.sections:
            run_queued(fake, secret, args, report)
        if "together" in args.sections:
            run_together(fake, secret, args, report)
        if "fleet" in args.sections:
            log(f"fleet: {args.fleet_workers} workers, {args.fleet_checkouts} concurrent checkouts, lock on and off")
            run_fleet(fake, args, report)
        report.print(machine.end())
    elapsed = time.monotonic() - started
    title = f"Summary ({elapsed:.0f} s; load {machine.load_start} at the start, {machine.load_end} at the end)"
    report.print(table(title, ["measure", "goal", "result", "met"], report.summary) + machine.floor_line())
    report.figures["machine"] = machine.figures()
    if args.json:
        Path(args.json).write_text(json.dumps(report.figures, indent=2, default=str) + "\n")
    if report.broken:
        log(f"correctness checks failed: {'; '.join(report.broken)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
