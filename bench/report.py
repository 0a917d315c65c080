"""The driver's reporting: progress lines, number formats, the summary against the goals, the webhook sections'
load plans, and the machine's load and Django floor at the start and end of a run (:mod:`.machine`)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from typing import Any

from . import webhook_load
from .common import table
from .machine import Floor, Load, measure_floor, versions

STARTED = time.monotonic()


def log(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def pct(part: float, whole: float) -> str:
    return f"{fmt(part / whole * 100 if whole else math.nan, 0)}%"


class Report:
    """Collects the tables (printed as they come) and the summary rows."""

    def __init__(self) -> None:
        self.summary: list[list[object]] = []
        self.figures: dict[str, Any] = {}
        self.broken: list[str] = []  # correctness checks that failed (the exit status says so)

    def print(self, text: str) -> None:
        print(text, flush=True)

    def goal(self, measure: str, goal: str, result: str, met: bool, *, correctness: bool = False) -> None:
        """A summary row; a missed ``correctness`` goal (a count, lost events) also fails the run."""
        self.summary.append([measure, goal, result, "yes" if met else "NO"])
        if correctness and not met:
            self.broken.append(measure)


def load_plans(args: argparse.Namespace, name: str) -> Iterator[webhook_load.LoadPlan]:
    """One webhook load plan per run (seeds 1, 2, ...), logged as each starts."""
    for run in range(args.runs):
        log(f"{name}: run {run + 1} of {args.runs}")
        yield webhook_load.LoadPlan(
            seed=run + 1,
            orders=args.webhook_orders,
            events=args.events,
            duplicates=args.duplicates,
            concurrency=args.concurrency,
            time_limit=args.time_limit,
        )


class Machine:
    """The machine's load and Django floor at the start and at the end of a run (:mod:`.machine`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.load_start = self.load_end = Load.now()
        self.floor_start: Floor | None = None
        self.floor_end: Floor | None = None
        self.versions = ""

    def _floor(self) -> Floor:
        return measure_floor(workers=self.args.workers, threads=self.args.concurrency)

    def start(self) -> str:
        self.load_start = Load.now()
        log("the Django floor (a bare view through gunicorn)")
        self.floor_start = self._floor()
        self.versions = versions()
        rows: list[list[object]] = [
            ["load average at the start", self.load_start],
            ["Django floor at the start", self.floor_start],
            ["versions", self.versions],
        ]
        return table("Machine", ["", ""], rows)

    def end(self) -> str:
        log("the Django floor again")
        self.floor_end = self._floor()
        self.load_end = Load.now()
        rows: list[list[object]] = [
            ["load average at the end", self.load_end],
            ["Django floor at the end", self.floor_end],
        ]
        return table("Machine, at the end", ["", ""], rows)

    def floor_line(self) -> str:
        start, end = self.floor_start, self.floor_end
        if start is None or end is None:
            return ""
        return (
            f"Django floor (bare view, {start.workers} gunicorn workers, {start.threads} threads): "
            f"{start.per_second:.0f}/s, p50 {start.p50_ms:.2f} ms at the start; "
            f"{end.per_second:.0f}/s, p50 {end.p50_ms:.2f} ms at the end.\n"
        )

    def figures(self) -> dict[str, Any]:
        return {
            "load_start": self.load_start.as_dict(),
            "load_end": self.load_end.as_dict(),
            "floor_start": self.floor_start.as_dict() if self.floor_start else None,
            "floor_end": self.floor_end.as_dict() if self.floor_end else None,
            "versions": self.versions,
        }
