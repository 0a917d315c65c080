"""``manage.py orkestapay_probe``: the sandbox probe (``django_orkestapay.probe``) with this project's settings.

The credentials and base URL come from ``ORKESTAPAY`` (``ENVIRONMENT`` or ``BASE_URL``); the locales the package is
assumed to get accepted are the ones this project sends (``LOCALE`` and the values of ``LANGUAGE_LOCALES``). The
options are those of ``python -m django_orkestapay.probe`` (``--help``).
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import conf
from ...probe import cli


class Command(BaseCommand):
    help = (
        "Ask OrkestaPay's sandbox what its docs leave open, with this project's ORKESTAPAY settings, and compare "
        "each answer with what django-orkestapay assumes. Refuses production. Exits 1 on a mismatch or an error."
    )
    requires_system_checks: list[str] = []  # the probe is how you find out whether the settings work

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        parsed = Namespace(**options)  # read as attributes, as argparse gives them to python -m
        locales = [conf.get("LOCALE"), *(conf.get("LANGUAGE_LOCALES") or {}).values()]
        try:
            config = cli.config_from_options(
                parsed,
                client_id=str(conf.require("CLIENT_ID")),
                client_secret=str(conf.require("CLIENT_SECRET")),
                base_url=conf.base_url(),
                locales=[str(locale) for locale in locales if locale],
            )
        except (ValueError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc), returncode=cli.EXIT_CANNOT_RUN) from exc
        status = cli.execute(config, json_path=cli.json_path(parsed), out=self.stdout, err=self.stderr)
        if status:
            raise CommandError(
                "the probe found mismatches or errors (see the report)"
                if status != cli.EXIT_CANNOT_RUN
                else "the probe did not run (see above)",
                returncode=status,
            )
