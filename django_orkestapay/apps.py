"""App configuration."""

from django.apps import AppConfig
from django.core.checks import Tags, register
from django.utils.translation import gettext_lazy as _


class OrkestaPayConfig(AppConfig):
    """The ``orkestapay`` app: its label names tables, the URL namespace and check ids."""

    name = "django_orkestapay"
    label = "orkestapay"
    verbose_name = _("OrkestaPay")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks (``orkestapay.E0xx`` / ``W0xx``; see ``checks.py``)."""
        from . import checks

        register(checks.check_settings, checks.TAG)
        register(checks.check_databases, checks.TAG)
        register(checks.check_urls, Tags.urls, checks.TAG)
        register(checks.check_deployment, Tags.security, checks.TAG, deploy=True)
