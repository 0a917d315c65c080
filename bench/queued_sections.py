"""The queued sections of the driver: the burst (intake with no worker running, then the drain) and intake and drain
together, per task backend (:mod:`.webhook_queue`, :mod:`.queue_backends`), with their tables and summary rows."""

from __future__ import annotations

import argparse
from dataclasses import replace

from django_orkestapay.testing import FakeOrkestaPay

from . import webhook_queue
from .common import Gunicorn, median, table
from .queue_backends import QueueBackend, queue_redis_url
from .report import Report, fmt, load_plans, log

INTAKE_GOAL_PER_SECOND = 500
#: The together section's paced run sends at this share of the drain rate its unpaced run measured.
PACED_SHARE = 0.8


def _backends(args: argparse.Namespace) -> list[QueueBackend]:
    return [QueueBackend(name, queue_redis_url(args.redis_url) if name == "rq" else "") for name in args.queue_backends]


def _queued_server(args: argparse.Namespace, backend: QueueBackend) -> Gunicorn:
    server = Gunicorn(workers=args.workers, env=backend.env)
    log(f"gunicorn ({args.workers} workers, {backend.name} task backend) on port {server.port}")
    return server


def run_queued(fake: FakeOrkestaPay, secret: str, args: argparse.Namespace, report: Report) -> None:
    for backend in _backends(args):
        log(f"queued webhooks ({backend.name}): statements and commands of one delivery, counted")
        costs = webhook_queue.intake_costs(fake, secret, backend)
        with _queued_server(args, backend) as server:
            results = [
                webhook_queue.run_once(fake, server.url, secret, plan, backend=backend, task_workers=args.task_workers)
                for plan in load_plans(args, f"queued webhooks ({backend.name})")
            ]
        _report_queued(backend, costs, results, args, report)


def _report_queued(
    backend: QueueBackend,
    costs: webhook_queue.Costs,
    results: list[webhook_queue.QueueResult],
    args: argparse.Namespace,
    report: Report,
) -> None:
    rows: list[list[object]] = [
        [
            run + 1,
            f"{len(r.answers)}/{r.planned}",
            fmt(r.floor_per_second, 0),
            fmt(r.per_second, 1),
            f"{r.of_floor:.0%}",
            fmt(r.p50_ms, 1),
            fmt(r.p99_ms, 1),
            r.tasks,
            fmt(r.drain_s),
            fmt(r.drain_per_second, 1),
            r.not_accepted,
            r.lost,
            r.applied_twice,
            r.failed_tasks,
            r.unpaid_orders,
            "ok" if r.ok else "FAILED",
        ]
        for run, r in enumerate(results)
    ]
    rates = [r.per_second for r in results]
    p50s, p99s = [r.p50_ms for r in results], [r.p99_ms for r in results]
    drains = [r.drain_per_second for r in results]
    shares = [r.of_floor for r in results]
    median_row: list[object] = ["median", "", fmt(median([r.floor_per_second for r in results]), 0)]
    median_row += [fmt(median(rates), 1), f"{median(shares):.0%}", fmt(median(p50s), 1), fmt(median(p99s), 1)]
    rows.append([*median_row, "", "", fmt(median(drains), 1), *[""] * 6])
    headers = [
        "run",
        "answered/planned",
        "floor/s",
        "intake/s",
        "of floor",
        "p50 ms",
        "p99 ms",
        "tasks",
        "drain s",
        "tasks/s",
        "not 2xx",
        "lost",
        "applied twice",
        "failed tasks",
        "unpaid orders",
        "check",
    ]
    title = (
        f"Queued webhooks, {backend.name} backend: intake (verify, store, enqueue) on gunicorn ({args.workers} "
        f"workers) + PostgreSQL, {args.concurrency} client threads, no worker running; then the drain by "
        f"{args.task_workers} {backend.workers_label} processes; {args.events} events over {args.webhook_orders} "
        f"orders + {args.duplicates:.0%} re-deliveries per run"
    )
    worker_commands = sum(r.drain_redis_commands for r in results) / max(1, sum(r.tasks for r in results))
    counted = f"Counted: {costs}"
    if backend.name == "rq":
        counted += f"; the workers ran about {worker_commands:.0f} Redis commands per task (heartbeats included)"
    note = "floor/s: the bare Django view on this gunicorn just before each run's intake; of floor: intake over it.\n"
    report.print(table(title, headers, rows) + note + counted + ".\n")
    report.goal(
        f"queued intake statements ({backend.name})",
        "counted",
        f"{len(costs.intake_sql)} SQL + {costs.intake_redis} Redis; task {costs.task_sql} SQL",
        True,
    )
    report.goal(
        f"queued intake/s, p50/p99 ms ({backend.name}; median of runs)",
        f">= {INTAKE_GOAL_PER_SECOND}/s",
        f"{median(rates):.0f}/s ({median(shares):.0%} of the floor), {median(p50s):.1f}/{median(p99s):.1f} ms",
        median(rates) >= INTAKE_GOAL_PER_SECOND,
    )
    report.goal(
        f"queued drain, {args.task_workers} {backend.workers_label} ({backend.name})",
        "measured; none lost or applied twice",
        f"{median(drains):.0f} tasks/s",
        all(r.ok for r in results),
        correctness=True,
    )
    report.figures[f"queued_{backend.name}"] = {
        "intake_per_second": median(rates),
        "intake_p50_ms": median(p50s),
        "intake_p99_ms": median(p99s),
        "intake_of_floor": median(shares),
        "drain_tasks_per_second": median(drains),
        "intake_sql_statements": costs.intake_sql,
        "intake_redis_commands": costs.intake_redis,
        "task_sql_statements": costs.task_sql,
        "worker_redis_commands_per_task": worker_commands if backend.name == "rq" else 0,
        "runs": [
            {
                "floor_per_second": r.floor_per_second,
                "intake_per_second": r.per_second,
                "intake_p99_ms": r.p99_ms,
                "drain_tasks_per_second": r.drain_per_second,
            }
            for r in results
        ],
    }


def run_together(fake: FakeOrkestaPay, secret: str, args: argparse.Namespace, report: Report) -> None:
    """Per backend: the workers draining while the deliveries arrive, as fast as the senders go, then paced at
    ``PACED_SHARE`` of the drain rate that run measured."""
    plan = next(load_plans(args, "together"))
    for backend in _backends(args):
        with _queued_server(args, backend) as server:
            log(f"together ({backend.name}): as fast as {args.concurrency} senders go")
            unpaced = webhook_queue.run_together(
                fake, server.url, secret, plan, backend=backend, task_workers=args.task_workers
            )
            rate = max(1, round(unpaced.drain_per_second * PACED_SHARE))
            log(f"together ({backend.name}): paced at {rate}/s")
            # Time enough to send every delivery at that rate (and the time limit to catch a stalled run).
            paced_plan = replace(plan, time_limit=max(plan.time_limit, 1.5 * unpaced.planned / rate))
            paced = webhook_queue.run_together(
                fake, server.url, secret, paced_plan, backend=backend, task_workers=args.task_workers, rate=rate
            )
        _report_together(backend, [unpaced, paced], args, report)


def _report_together(
    backend: QueueBackend, results: list[webhook_queue.QueueResult], args: argparse.Namespace, report: Report
) -> None:
    rows: list[list[object]] = [
        [
            f"{r.rate:.0f}/s" if r.rate else "as fast as it goes",
            f"{len(r.answers)}/{r.planned}",
            fmt(r.floor_per_second, 0),
            fmt(r.per_second, 1),
            fmt(r.p50_ms, 1),
            fmt(r.p99_ms, 1),
            fmt(r.drain_per_second, 1),
            r.max_depth,
            r.depth_at_end,
            fmt(r.growth_per_second, 1),
            fmt(r.backlog_s, 1),
            "yes" if r.kept_up else "NO",
            "ok" if r.ok else "FAILED",
        ]
        for r in results
    ]
    headers = [
        "sending",
        "answered/planned",
        "floor/s",
        "intake/s",
        "p50 ms",
        "p99 ms",
        "drain tasks/s",
        "max depth",
        "depth at end",
        "growth/s",
        "backlog s",
        "kept up",
        "check",
    ]
    title = (
        f"Intake and drain together, {backend.name} backend: {args.task_workers} {backend.workers_label} processes "
        f"running while gunicorn ({args.workers} workers) takes the deliveries from {args.concurrency} client "
        f"threads; queue depth (tasks waiting) sampled every 0.1 s"
    )
    note = (
        "floor/s: the bare Django view on the same gunicorn just before the run (no worker running yet).\n"
        "depth at end: tasks waiting when the last delivery was answered; growth/s: that over the sending time (how\n"
        "fast the queue grows while deliveries arrive at that rate); backlog s: from the last answer until the queue\n"
        f"was empty. The paced run sends at {PACED_SHARE:.0%} of the drain rate the first run measured.\n"
    )
    report.print(table(title, headers, rows) + note)
    unpaced, paced = results
    report.goal(
        f"together ({backend.name}): queue growth at the intake rate",
        "measured",
        f"{unpaced.per_second:.0f}/s in, {unpaced.drain_per_second:.0f}/s out, +{unpaced.growth_per_second:.0f}/s",
        all(r.ok for r in results),
        correctness=True,
    )
    report.goal(
        f"together ({backend.name}): bounded when paced at {paced.rate:.0f}/s",
        "kept up",
        f"max depth {paced.max_depth}, backlog {paced.backlog_s:.1f} s",
        paced.kept_up,
    )
    report.figures[f"together_{backend.name}"] = [
        {
            "rate": r.rate,
            "floor_per_second": r.floor_per_second,
            "intake_per_second": r.per_second,
            "intake_p50_ms": r.p50_ms,
            "intake_p99_ms": r.p99_ms,
            "drain_tasks_per_second": r.drain_per_second,
            "max_depth": r.max_depth,
            "depth_at_end": r.depth_at_end,
            "growth_per_second": r.growth_per_second,
            "backlog_s": r.backlog_s,
        }
        for r in results
    ]
