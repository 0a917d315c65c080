"""Signals for shop code. All are sent by the service layer through ``transaction.on_commit``, exactly once per
real transition, so a receiver never sees a change that was rolled back.

Receivers should be idempotent anyway (a receiver that fails does not undo the transition). Every signal is sent
with ``sender=Order`` (the model class) and these keyword arguments:

- ``order``: the :class:`~django_orkestapay.models.Order`
- ``shop_object``: the linked shop object, or ``None``

``order_status_changed`` also gets ``old_status`` and ``new_status``; ``checkout_created`` gets ``checkout``.
"""

from django.dispatch import Signal

#: The order is paid (the API reported COMPLETED and the amount, currency and reference matched).
order_paid = Signal()
#: The buyer canceled, or OrkestaPay reported the order canceled.
order_canceled = Signal()
#: OrkestaPay reported the payment failed or was rejected.
order_failed = Signal()
#: The order (its checkout) expired unpaid.
order_expired = Signal()
#: Any status change: ``old_status``, ``new_status``.
order_status_changed = Signal()
#: A new hosted checkout was registered with OrkestaPay: ``checkout``.
checkout_created = Signal()
