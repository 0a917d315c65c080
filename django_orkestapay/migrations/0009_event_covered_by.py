# Event.covered_by: an event settled by the read made for another event of the same OrkestaPay order.


import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orkestapay", "0008_money_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="covered_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The event whose read of the same OrkestaPay order settled this one: it was stored before that read was sent, so the read saw what it reported.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="covered",
                to="orkestapay.event",
                verbose_name="processed by the read of",
            ),
        ),
    ]
