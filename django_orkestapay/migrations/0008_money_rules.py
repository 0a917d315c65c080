# The ledger's rules, second round: Order.paid_once (a cart is paid once, a catalogue item again and again),
# Refund.announced_at (order_refunded is sent once per succeeded refund), review code ledger_override.

from django.db import migrations, models
from django.db.models import F


def mark_old_refunds_announced(apps, schema_editor):
    """Refunds that succeeded before the upgrade were never announced, and must not be now: the shop knew of them
    (or settled them) before order_refunded existed."""
    Refund = apps.get_model("orkestapay", "Refund")
    Refund.objects.filter(status="succeeded", announced_at=None).update(announced_at=F("updated_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('orkestapay', '0007_payment_links'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='paid_once',
            field=models.BooleanField(default=True, help_text='The linked object is one purchase (a cart, a booking, an invoice): another order paying the same contents of it is a payment twice. Off for an object bought again and again (a catalogue item).', verbose_name='its shop object is paid once'),
        ),
        migrations.AddField(
            model_name='refund',
            name='announced_at',
            field=models.DateTimeField(blank=True, help_text='When order_refunded was sent for this refund (once it succeeded); empty until then.', null=True, verbose_name='announced'),
        ),
        migrations.AlterField(
            model_name='order',
            name='review_code',
            field=models.CharField(blank=True, choices=[('amount_mismatch', 'Paid amount, currency or reference differs'), ('paid_twice', 'Paid more than once'), ('partially_paid', 'Paid less than the total'), ('stale_contents', 'Paid for contents that changed'), ('malformed_answer', "OrkestaPay's answer could not be used"), ('refund_unknown', 'Refund outcome to check'), ('ledger_override', 'Status set by the ledger against the usual flow')], db_index=True, max_length=24, verbose_name='review kind'),
        ),
        migrations.RunPython(mark_old_refunds_announced, migrations.RunPython.noop),
    ]
