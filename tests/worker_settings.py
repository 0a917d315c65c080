"""Settings for the task worker processes the tests start (``manage.py db_worker`` through ``django-admin``): the
test settings, the database task backend, the fake gateway the test runs (``ORKESTAPAY_TEST_WORKER_SETTINGS``, a
JSON dict) and an app that writes the order signals these processes send to a file."""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.signal_file"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
ORKESTAPAY = json.loads(os.environ.get("ORKESTAPAY_TEST_WORKER_SETTINGS", "{}"))
