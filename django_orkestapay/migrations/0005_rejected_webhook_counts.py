# The daily count of refused webhook deliveries (issue 12): only the newest rejected deliveries stay as Event rows.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orkestapay", "0004_refund_payment_required"),
    ]

    operations = [
        migrations.CreateModel(
            name="RejectedWebhookCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(verbose_name="day")),
                (
                    "kind",
                    models.CharField(
                        choices=[("signature", "Bad signature or timestamp"), ("malformed", "Malformed body")],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                ("count", models.PositiveBigIntegerField(default=0, verbose_name="count")),
                (
                    "last_received_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="last received"),
                ),
            ],
            options={
                "verbose_name": "rejected webhook count",
                "verbose_name_plural": "rejected webhook counts",
                "ordering": ["-day", "kind"],
                "constraints": [
                    models.UniqueConstraint(fields=("day", "kind"), name="orkestapay_rejected_count_day_kind")
                ],
            },
        ),
    ]
