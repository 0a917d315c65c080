"""Benchmarks for django-orkestapay (run ``bench/run``; see ``bench/README.md``). Not collected by pytest."""
