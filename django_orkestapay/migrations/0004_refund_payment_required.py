# Every refund belongs to a payment (0003 linked the existing ones). A migration of its own: on PostgreSQL, a
# table whose rows were just updated under deferred constraints cannot be altered in the same transaction.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orkestapay", "0003_payment_ledger"),
    ]

    operations = [
        migrations.AlterField(
            model_name="refund",
            name="payment",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds",
                to="orkestapay.payment",
                verbose_name="payment",
            ),
        ),
    ]
