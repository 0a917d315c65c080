"""Django's Tasks framework behind one import: ``django.tasks`` on Django 6, the ``django-tasks`` backport
(``django_tasks``, a dependency of this package) on Django 5.2. Both have the same API; the type checker reads
Django 6's (django-stubs), whichever runs.

Nothing of this package imports ``django.tasks`` or ``django_tasks`` except this module.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING or find_spec("django.tasks") is not None:
    from django.tasks import Task, TaskResult, TaskResultStatus, task, task_backends
    from django.tasks.backends.immediate import ImmediateBackend
else:  # Django 5.2: the backport
    from django_tasks import TaskResult, TaskResultStatus, task, task_backends
    from django_tasks.backends.immediate import ImmediateBackend
    from django_tasks.base import Task

__all__ = ["ImmediateBackend", "Task", "TaskResult", "TaskResultStatus", "task", "task_backends"]
