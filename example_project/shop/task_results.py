"""django-tasks-db (the database task backend) as the shop's admin shows it, in the shop's language: the package
names its app in English only and ships no Spanish for its labels."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_tasks_db.apps import TasksAppConfig


class TaskResultsConfig(TasksAppConfig):
    """django-tasks-db under a name the shop's admin translates (INSTALLED_APPS lists this instead of the package)."""

    verbose_name = _("Background tasks")


#: The labels django-tasks-db's admin marks for translation (its model, list columns and filters): listed here so that
#: makemessages keeps them in the shop's catalogue, which translates them (the shop comes first in INSTALLED_APPS).
TASK_RESULT_LABELS = (
    gettext_noop("Task Result"),
    gettext_noop("Task Results"),
    gettext_noop("status"),
    gettext_noop("enqueued at"),
    gettext_noop("started at"),
    gettext_noop("finished at"),
    gettext_noop("priority"),
    gettext_noop("queue name"),
    gettext_noop("args kwargs"),
    gettext_noop("task path"),
    gettext_noop("worker id"),
    gettext_noop("backend name"),
    gettext_noop("run after"),
    gettext_noop("return value"),
    gettext_noop("exception class path"),
)
