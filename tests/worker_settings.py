"""Settings for the task worker processes the tests start (``manage.py db_worker`` or ``manage.py rqworker`` through
``django-admin``): the test settings, a task backend (``ORKESTAPAY_TEST_TASKS``: ``database``, the default, or
``rq`` on the Redis at ``ORKESTAPAY_TEST_REDIS_URL``), the fake gateway the test runs
(``ORKESTAPAY_TEST_WORKER_SETTINGS``, a JSON dict) and an app that writes the order signals these processes send to a
file."""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS
from tests.task_workers import DATABASE_TASKS, RQ_APPS, RQ_TASKS, rq_queues

INSTALLED_APPS = [*INSTALLED_APPS, "tests.signal_file"]
TASKS = DATABASE_TASKS
if os.environ.get("ORKESTAPAY_TEST_TASKS") == "rq":
    INSTALLED_APPS += RQ_APPS
    TASKS = RQ_TASKS
    RQ_QUEUES = rq_queues(os.environ["ORKESTAPAY_TEST_REDIS_URL"])
ORKESTAPAY = json.loads(os.environ.get("ORKESTAPAY_TEST_WORKER_SETTINGS", "{}"))
