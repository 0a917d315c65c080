"""A fleet of real processes shares one token: 4 gunicorn workers, Django's RedisCache, PostgreSQL, the fake gateway.

``bench.fleet.run`` starts the workers on a cold cache and posts 200 pay forms at once; the fake holds its first
token answer until every worker has looked for the token in Redis, so the race is certain, not lucky (see its
docstring). The token count is read from the fake gateway's own request log.

Needs PostgreSQL (four processes writing at once) and Redis: scripts/test runs it in its PostgreSQL pass, where it
starts a throwaway Redis and sets ``TEST_REDIS_URL``; anywhere else it is skipped, and reported as skipped.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from bench import fleet
from tests.task_workers import database_url_for_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

WORKERS = 4
CHECKOUTS = 200


@pytest.fixture
def fleet_backends() -> tuple[str, str]:
    """The database and Redis URLs for the workers; skips without PostgreSQL or Redis."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (scripts/test does)")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis: set TEST_REDIS_URL (scripts/test does)")
    return database_url_for_workers(), redis_url


def run_fleet(fake: Any, backends: tuple[str, str], *, single_flight: bool) -> fleet.FleetResult:
    database_url, redis_url = backends
    return fleet.run(
        fake,
        database_url=database_url,
        redis_url=redis_url,
        workers=WORKERS,
        checkouts=CHECKOUTS,
        single_flight=single_flight,
    )


def test_four_workers_on_a_cold_cache_fetch_one_token_for_200_checkouts(
    fleet_backends: tuple[str, str], fake_orkestapay: Any
) -> None:
    result = run_fleet(fake_orkestapay, fleet_backends, single_flight=True)

    assert result.every_worker_met_the_cold_cache, "the workers never all reached Redis during the first fetch"
    assert result.answers == Counter({302: CHECKOUTS})
    assert result.created == CHECKOUTS
    assert result.token_requests == 1
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == CHECKOUTS


def test_without_the_fetch_lock_every_worker_fetches_its_own_token(
    fleet_backends: tuple[str, str], fake_orkestapay: Any
) -> None:
    """The same run with ``TOKEN_LOCK_TIMEOUT = 0``: what the lock saves, and proof the test above can fail."""
    result = run_fleet(fake_orkestapay, fleet_backends, single_flight=False)

    assert result.every_worker_met_the_cold_cache
    assert result.answers == Counter({302: CHECKOUTS})
    assert result.created == CHECKOUTS
    assert result.token_requests == WORKERS
