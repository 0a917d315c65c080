"""Webhook throughput: signed ``payment.purchase`` deliveries from a load generator on loopback (threads, bounded
in count and in time) to the webhook endpoint on gunicorn, with PostgreSQL behind it.

Each run starts from an empty database: ``orders`` orders get a checkout and are paid on the fake gateway, then
``events`` deliveries with distinct message ids (spread over the orders, so several concurrent events hit the same
order) plus a share of re-deliveries of the same ids (as Svix does) are sent in a shuffled order. Afterwards every
message id must have been processed exactly once (one ``processed`` answer, one Event row, processed, one attempt),
every order must be paid, and every answer must be 200.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

from django_orkestapay.testing import FakeOrkestaPay

from .common import flush_database, gateway_checkout_id, make_order, median, percentile, shop_uri
from .queries import payment_event, signed_headers


@dataclass(frozen=True)
class LoadPlan:
    """What one run sends: ``events`` distinct ids over ``orders`` paid orders plus a ``duplicates`` share of
    re-deliveries, shuffled by ``seed``, from ``concurrency`` threads for at most ``time_limit`` seconds."""

    seed: int
    orders: int
    events: int
    duplicates: float
    concurrency: int
    time_limit: float


@dataclass(frozen=True)
class Delivery:
    """One POST to send."""

    message_id: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered to one delivery."""

    message_id: str
    status: int | None
    outcome: str
    ms: float


@dataclass
class LoadResult:
    """One run's figures and checks."""

    planned: int
    answers: list[Answer] = field(default_factory=list)
    elapsed_s: float = 0.0
    distinct_sent: int = 0
    lost: int = 0
    applied_twice: int = 0
    not_200: int = 0
    unpaid_orders: int = 0
    stray_events: int = 0

    @property
    def per_second(self) -> float:
        return len(self.answers) / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def p50_ms(self) -> float:
        return median([a.ms for a in self.answers])

    @property
    def p99_ms(self) -> float:
        return percentile([a.ms for a in self.answers], 0.99)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.applied_twice or self.not_200 or self.unpaid_orders or self.stray_events)


def prepare(fake: FakeOrkestaPay, orders: int, events: int, duplicates: float, seed: int) -> list[Delivery]:
    from django_orkestapay import services

    bodies = []
    for index in range(orders):
        checkout = services.start_checkout(make_order(index), build_absolute_uri=shop_uri)
        completed_url = fake.pay(gateway_checkout_id(checkout))
        payment_id = parse_qs(urlsplit(completed_url).query)["payment_id"][0]
        bodies.append(payment_event(checkout.orkestapay_order_id, checkout.merchant_reference, payment_id))
    deliveries = [Delivery(f"msg_bench_{seed}_{index:06d}", bodies[index % orders]) for index in range(events)]
    rng = random.Random(seed)
    deliveries += rng.sample(deliveries, int(events * duplicates))
    rng.shuffle(deliveries)
    return deliveries


def send_all(
    url: str, secret: str, deliveries: list[Delivery], concurrency: int, time_limit: float, rate: float = 0.0
) -> list[Answer]:
    """POST every delivery from ``concurrency`` threads, each as soon as a thread is free, or with ``rate`` (per
    second) on a fixed schedule, as a sender that does not wait for the answers would (a thread that falls behind
    the schedule sends at once)."""
    pending = iter(enumerate(deliveries))
    lock = threading.Lock()
    answers: list[Answer] = []
    started = time.monotonic()
    deadline = started + time_limit

    def worker() -> None:
        http = requests.Session()
        http.trust_env = False
        while time.monotonic() < deadline:
            with lock:
                index, delivery = next(pending, (0, None))
            if delivery is None:
                return
            if rate:
                time.sleep(max(0.0, started + index / rate - time.monotonic()))
            headers = {"Content-Type": "application/json", **signed_headers(secret, delivery.message_id, delivery.body)}
            sent = time.perf_counter()
            try:
                response = http.post(url, data=delivery.body, headers=headers, timeout=30)
                status: int | None = response.status_code
                outcome = str(response.json().get("status") or response.json().get("error"))
            except (requests.RequestException, ValueError) as exc:
                status, outcome = None, type(exc).__name__
            answer = Answer(delivery.message_id, status, outcome, (time.perf_counter() - sent) * 1000)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=worker, name=f"webhook-load-{n}") for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _check(result: LoadResult) -> None:
    from django_orkestapay.models import Event, EventStatus

    sent = {a.message_id for a in result.answers}
    result.distinct_sent = len(sent)
    result.not_200 = sum(1 for a in result.answers if a.status != 200)
    processed_answers = Counter(a.message_id for a in result.answers if a.outcome == "processed")
    rows = {e.message_id: e for e in Event.objects.filter(message_id__in=sent)}
    result.lost = sum(
        1
        for message_id in sent
        if message_id not in rows
        or rows[message_id].status != EventStatus.PROCESSED
        or not processed_answers[message_id]
    )
    result.applied_twice = sum(1 for count in processed_answers.values() if count > 1) + sum(
        1 for event in rows.values() if event.attempts != 1
    )
    result.stray_events = Event.objects.exclude(message_id__in=sent).count()
    result.unpaid_orders = unpaid_orders(sent)


def prepare_load(fake: FakeOrkestaPay, plan: LoadPlan) -> list[Delivery]:
    """On an emptied database: the plan's paid orders, and its deliveries."""
    fake.latency = 0.0
    flush_database()
    return prepare(fake, plan.orders, plan.events, plan.duplicates, plan.seed)


def send(
    server_url: str, secret: str, plan: LoadPlan, deliveries: list[Delivery], rate: float = 0.0
) -> tuple[list[Answer], float]:
    """Send the deliveries to the webhook endpoint as the plan says (at ``rate`` per second when given); return
    the answers and the seconds it took."""
    started = time.perf_counter()
    url = f"{server_url}/orkestapay/webhook/"
    answers = send_all(url, secret, deliveries, plan.concurrency, plan.time_limit, rate)
    return answers, time.perf_counter() - started


def send_load(fake: FakeOrkestaPay, server_url: str, secret: str, plan: LoadPlan) -> tuple[int, list[Answer], float]:
    """On an emptied database: prepare the plan's orders and deliveries, send them; return (planned, answers,
    seconds)."""
    deliveries = prepare_load(fake, plan)
    answers, elapsed = send(server_url, secret, plan, deliveries)
    return len(deliveries), answers, elapsed


def unpaid_orders(sent: set[str]) -> int:
    """Orders some answered delivery was about that did not end paid (a time-limited run may leave others alone)."""
    from django_orkestapay.models import Order, OrderStatus

    return (
        Order.objects.filter(events__message_id__in=sent)
        .exclude(status=OrderStatus.PAID, paid_at__isnull=False)
        .distinct()
        .count()
    )


def run_once(fake: FakeOrkestaPay, server_url: str, secret: str, plan: LoadPlan) -> LoadResult:
    """One bounded load run on an emptied database."""
    planned, answers, elapsed = send_load(fake, server_url, secret, plan)
    result = LoadResult(planned=planned, answers=answers, elapsed_s=elapsed)
    _check(result)
    return result
