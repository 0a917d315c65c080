"""``python -m django_orkestapay.probe``: see :mod:`django_orkestapay.probe`."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
