"""Refused webhook deliveries leave a bounded trace: every one counted per day and kind, only the newest
``REJECTED_WEBHOOKS_KEPT`` kept as events with 2 KiB of body, one log line per minute; measured with a flood of 100
unsigned POSTs (before: 100 rows and 6.5 MiB)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_orkestapay.models import Event, EventStatus, RejectedWebhookCount, RejectionKind
from django_orkestapay.services import rejections
from django_orkestapay.services.rejections import MAX_REJECTED_BODY, LogThrottle
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import database_busy

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + "cmVqZWN0ZWQtd2ViaG9va3MtdGVzdHMtb25seQ=="
FLOOD = 100
KEPT = 50
BIG_BODY = b'{"type_event": "payment.purchase", "data": "' + b"x" * (64 * 1024) + b'"}'


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fresh log throttle on a clock the test moves (the module's one is per process)."""
    fake = Clock()
    monkeypatch.setattr(rejections, "rejection_log", LogThrottle(rejections.LOG_INTERVAL, clock=fake))
    return fake


@pytest.fixture
def webhook_settings(settings: Any, clock: Clock) -> dict[str, Any]:
    settings.ORKESTAPAY = {"CLIENT_ID": "x", "CLIENT_SECRET": "y", "BASE_URL": "http://127.0.0.1:9"}
    settings.ORKESTAPAY["WEBHOOK_SECRETS"] = [SECRET]
    return dict(settings.ORKESTAPAY)


def unsigned(client: Client, index: int, body: bytes = BIG_BODY) -> Any:
    headers = {
        "svix-id": f"msg_forged_{index:03d}",
        "svix-timestamp": str(int(time.time())),
        "svix-signature": "v1,bm90IGEgc2lnbmF0dXJl " * 40,  # long, and wrong
        "user-agent": "flood/1.0 " + "é" * 2000,
    }
    return client.post(reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers)


def stored_bytes() -> int:
    """What the rejected events hold, in bytes as stored: body, headers (JSON), error and claimed id."""
    return sum(
        len(event.raw_body.encode())
        + len(json.dumps(event.headers).encode())
        + len(event.error.encode())
        + len(event.claimed_message_id.encode())
        for event in Event.objects.filter(status=EventStatus.REJECTED)
    )


def refused_today(kind: str = RejectionKind.SIGNATURE) -> int:
    row = RejectedWebhookCount.objects.filter(day=timezone.localdate(), kind=kind).first()
    return 0 if row is None else row.count


def test_a_flood_of_unsigned_posts_keeps_at_most_the_cap_and_a_bounded_number_of_bytes(
    webhook_settings: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(enforce_csrf_checks=True)
    with caplog.at_level(logging.WARNING, logger="django_orkestapay"):
        answers = {unsigned(client, index).status_code for index in range(FLOOD)}

    assert answers == {400}
    rejected = Event.objects.filter(status=EventStatus.REJECTED)
    assert rejected.count() == KEPT
    assert stored_bytes() <= KEPT * 5 * 1024  # 250 KiB at most; 100 rows and 6.5 MiB before
    assert max(len(event.raw_body.encode()) for event in rejected) == MAX_REJECTED_BODY
    # the newest are the ones kept
    assert sorted(rejected.values_list("claimed_message_id", flat=True)) == [
        f"msg_forged_{index:03d}" for index in range(FLOOD - KEPT, FLOOD)
    ]
    assert refused_today() == FLOOD  # every one counted
    lines = [r.getMessage() for r in caplog.records if "webhook deliver" in r.getMessage()]
    assert lines == ["Refused 1 webhook delivery in the last 60 s (latest: signature: malformed_signature)"]


def test_the_log_says_how_many_were_refused_since_its_last_line(
    webhook_settings: dict[str, Any], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(enforce_csrf_checks=True)
    with caplog.at_level(logging.WARNING, logger="django_orkestapay"):
        for index in range(5):
            unsigned(client, index, body=b"{}")
        clock.now += 61
        unsigned(client, 5, body=b"{}")

    lines = [r.getMessage() for r in caplog.records if "webhook deliver" in r.getMessage()]
    assert [line.split(" in the last")[0] for line in lines] == [
        "Refused 1 webhook delivery",
        "Refused 5 webhook deliveries",
    ]


def test_log_throttle_counts_every_hit_into_the_next_line() -> None:
    clock = Clock()
    throttle = LogThrottle(60, clock=clock)
    assert [throttle.hit() for _ in range(4)] == [1, 0, 0, 0]
    clock.now += 59.9
    assert throttle.hit() == 0
    clock.now += 0.1
    assert throttle.hit() == 5
    clock.now += 600
    assert throttle.hit() == 1


def test_a_signed_but_malformed_body_is_counted_as_malformed(webhook_settings: dict[str, Any]) -> None:
    body = b"[1, 2, 3]"
    timestamp = int(time.time())
    headers = {
        "svix-id": "msg_list",
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, "msg_list", timestamp, body),
    }
    response = Client(enforce_csrf_checks=True).post(
        reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    event = Event.objects.get()
    assert (event.status, event.verified, event.raw_body) == (EventStatus.REJECTED, True, "[1, 2, 3]")
    assert (refused_today(RejectionKind.MALFORMED), refused_today(RejectionKind.SIGNATURE)) == (1, 0)


def test_keeping_none_still_counts(settings: Any, webhook_settings: dict[str, Any]) -> None:
    settings.ORKESTAPAY = {**webhook_settings, "REJECTED_WEBHOOKS_KEPT": 0}
    client = Client(enforce_csrf_checks=True)
    assert {unsigned(client, index).status_code for index in range(3)} == {400}
    assert not Event.objects.exists()
    assert refused_today() == 3


def test_a_busy_database_loses_the_trace_not_the_answer(webhook_settings: dict[str, Any]) -> None:
    with database_busy():
        response = unsigned(Client(enforce_csrf_checks=True), 1)
    assert (response.status_code, response.json()) == (400, {"error": "invalid signature"})
    assert not Event.objects.exists()
    assert refused_today() == 0


def test_bytes_that_are_not_utf8_cannot_make_the_body_longer(webhook_settings: dict[str, Any]) -> None:
    unsigned(Client(enforce_csrf_checks=True), 1, body=b"\xff\x00" * 4096)
    event = Event.objects.get()
    assert len(event.raw_body.encode()) <= MAX_REJECTED_BODY
    assert "\x00" not in event.raw_body
    assert set(event.headers["user-agent"]) <= set("flood/1.0 ?")


def test_the_admin_shows_the_counts_to_staff_who_may_view_events(webhook_settings: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    for index in range(7):
        unsigned(client, index, body=b"{}")
    staff = get_user_model().objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_event", "view_rejectedwebhookcount"]))
    viewer = Client()
    viewer.force_login(staff)
    viewer.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    events = viewer.get(reverse("admin:orkestapay_event_changelist")).content.decode()
    counts = viewer.get(reverse("admin:orkestapay_rejectedwebhookcount_changelist")).content.decode()

    assert "7 today, 7 in the last 7 days" in events
    assert "Only the newest 50 are kept" in events
    assert reverse("admin:orkestapay_rejectedwebhookcount_changelist") in events
    assert "Bad signature or timestamp" in counts
    assert '<td class="field-count">7</td>' in counts
    assert "addlink" not in counts
