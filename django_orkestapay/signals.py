"""Signals for shop code. All are sent by the service layer through ``transaction.on_commit``, exactly once per
real transition, so a receiver never sees a change that was rolled back. They are sent robustly: a receiver that
raises is logged (with the order's reference) and never reaches the buyer's page or the other receivers.

Receivers should be idempotent anyway (a receiver that fails does not undo the transition). Every signal is sent
with ``sender=Order`` (the model class) and these keyword arguments:

- ``order``: the :class:`~django_orkestapay.models.Order`
- ``shop_object``: the linked shop object, or ``None``

``order_status_changed`` also gets ``old_status``, ``new_status`` and ``needs_review``; ``checkout_created`` gets
``checkout``; ``stale_order_paid`` gets ``current_fingerprint``; ``order_paid_twice`` gets ``payments``.
"""

from django.dispatch import Signal

#: The order **and the shop object's current contents** are paid: OrkestaPay reported completed payments covering
#: the total, in our currency, on an attempt whose amount, currency and reference matched. For an order linked to
#: a shop object (a cart), this is sent only when the object's current description still has the order's content
#: fingerprint; otherwise :data:`stale_order_paid` is sent instead. Ship on this signal.
order_paid = Signal()
#: Money arrived for an order whose shop object changed since (a cart that gained an item in another tab), or can
#: no longer be described (deleted, adapter error). The order is paid and flagged for review (``stale_contents``);
#: ``order_paid`` is *not* sent. ``current_fingerprint`` is the object's current content fingerprint (``None`` when
#: it could not be described). Do not ship the current contents on this signal: refund, or ask the buyer.
stale_order_paid = Signal()
#: A second completed payment arrived for an order (two attempts both paid): the order is flagged for review
#: (``paid_twice``). ``payments``: the order's completed :class:`~django_orkestapay.models.Payment` rows, oldest
#: first. Sent once per order. Decide: refund one (``refund_payment``), or keep both.
order_paid_twice = Signal()
#: The buyer canceled, or OrkestaPay reported the order canceled, and no other attempt is open, pending or paid.
order_canceled = Signal()
#: OrkestaPay reported the payment failed or was rejected, and no other attempt is open, pending or paid.
order_failed = Signal()
#: The order (its last checkout) expired unpaid.
order_expired = Signal()
#: Any status change: ``old_status``, ``new_status``, ``needs_review`` (the order's review flag at the change).
order_status_changed = Signal()
#: A new hosted checkout was registered with OrkestaPay: ``checkout``.
checkout_created = Signal()
