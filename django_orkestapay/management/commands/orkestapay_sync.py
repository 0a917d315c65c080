"""``manage.py orkestapay_sync``: reconcile open orders with OrkestaPay."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from ... import services
from ...models import Order


class Command(BaseCommand):
    help = (
        "Ask OrkestaPay for the status of open orders and apply it, and settle refunds whose outcome is unknown. "
        "Exits non-zero when any order or refund failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List the orders that would be synced.")
        parser.add_argument(
            "--order", action="append", default=[], help="A merchant order id or order UUID (repeatable)."
        )
        parser.add_argument(
            "--older-than", type=int, default=0, metavar="MINUTES", help="Only orders created this long ago."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        orders = services.orders_to_reconcile(older_than=timedelta(minutes=options["older_than"]))
        refunds = services.refunds_to_reconcile()
        if options["order"]:
            wanted = Q(merchant_order_id__in=options["order"])
            ids = [value for value in options["order"] if _is_uuid(value)]
            if ids:
                wanted |= Q(pk__in=ids)
            orders = orders.filter(wanted)
            refunds = refunds.filter(order__in=Order.objects.filter(wanted))
        if options["dry_run"]:
            count = 0
            for order in orders:
                count += 1
                self.stdout.write(f"would sync {order.merchant_order_id} ({order.status}, {order.orkestapay_order_id})")
            self.stdout.write(f"{count} order(s) would be synced (dry run).")
            self.stdout.write(f"{refunds.count()} refund(s) with an unknown outcome would be settled (dry run).")
            return
        summary = services.sync_orders(orders)
        self.stdout.write(f"Synced {summary.succeeded} order(s): {summary.changed} changed, {summary.failed} failed.")
        settled = services.reconcile_refunds(refunds)
        self.stdout.write(f"Checked {settled.succeeded + settled.failed} refund(s): {settled.changed} settled.")
        if summary.failed or settled.failed:
            raise CommandError(
                f"{summary.failed} order(s) could not be synced and {settled.failed} refund(s) could not be checked; "
                "see each order's last error."
            )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
