"""Signals for shop code. All are sent by the service layer through ``transaction.on_commit``, exactly once per
real transition, so a receiver never sees a change that was rolled back. They are sent robustly: a receiver that
raises is logged (with the order's reference) and never reaches the buyer's page or the other receivers.

Receivers should be idempotent anyway (a receiver that fails does not undo the transition). Every signal is sent
with ``sender=Order`` (the model class) and these keyword arguments:

- ``order``: the :class:`~django_orkestapay.models.Order`
- ``shop_object``: the linked shop object, or ``None``

``order_status_changed`` also gets ``old_status``, ``new_status`` and ``needs_review``; ``checkout_created`` gets
``checkout``; ``stale_order_paid`` gets ``current_fingerprint``; ``order_paid_twice`` gets ``payments``;
``order_refunded`` gets ``refund``, ``amount``, ``refunded`` and ``left``; ``order_needs_review`` gets ``code`` and
``reason``; ``payment_link_created`` gets ``link`` and ``url``.
"""

from django.dispatch import Signal

#: The order **and the shop object's current contents** are paid: OrkestaPay reported completed payments covering
#: the total, in our currency, on an attempt whose amount, currency and reference matched. For an order linked to
#: a shop object (a cart), this is sent only when the object's current description still has the order's content
#: fingerprint (otherwise :data:`stale_order_paid` is sent instead) and no other order of the object already paid
#: the same contents (otherwise :data:`order_paid_twice`). Not sent for an order paid and refunded in full before
#: the app heard of either: nothing is left to ship for. Sent again when an order refunded in full receives money
#: that covers its total again (the ledger pays it again; the order is flagged ``ledger_override``): ship on it
#: again. Ship on this signal.
order_paid = Signal()
#: Money arrived for an order whose shop object changed since (a cart that gained an item in another tab), or can
#: no longer be described (deleted, adapter error). The order is paid, flagged for review (``stale_contents``) and
#: marked ``stale_payment``: it never counts as the object's payment, not even if the object is changed back, and
#: the buyer can pay the current contents. ``order_paid`` is *not* sent. ``current_fingerprint`` is the object's
#: current content fingerprint (``None`` when it could not be described). This money is for a person: refund it,
#: or ship it by hand.
stale_order_paid = Signal()
#: Money was paid twice: a second completed payment counted for an order (two attempts both paid; sent when the
#: order's counted completed payments go from one or none to two or more), or an order was paid for the same
#: contents of a shop object that another order of it already paid (sent for the second order instead of
#: ``order_paid``; both orders are flagged). The orders are flagged for review (``paid_twice``). ``payments``: the
#: completed :class:`~django_orkestapay.models.Payment` rows involved (of both orders), oldest first. Decide: refund
#: one (``refund_payment``), or keep both.
order_paid_twice = Signal()
#: A refund of the order succeeded: one made here (the admin, ``refund_order``) or one made in OrkestaPay's portal
#: and mirrored. Sent once per refund, when it succeeds (never for a refund that failed or is still pending).
#: ``refund``: the :class:`~django_orkestapay.models.Refund`; ``amount``: what it refunded; ``refunded``: what is
#: refunded of the order in total; ``left``: what the shop still holds of the order's money (received minus
#: refunded; ``0`` once everything received was refunded). Amounts are ``Decimal`` in the order's currency.
order_refunded = Signal()
#: A person should look at the order: a new review reason was recorded (``code``, a
#: :class:`~django_orkestapay.models.ReviewCode`; ``reason``, one line), the same that the admin lists. Sent once per
#: reason; ``ledger_override`` says the ledger moved the order where the state machine does not go (money after a
#: full refund, money that no longer counts).
order_needs_review = Signal()
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
#: A payment link was made for the order (``services.create_payment_link``, the admin): ``link`` (the
#: :class:`~django_orkestapay.models.PaymentLink`) and ``url``, the address to send the buyer by e-mail or chat
#: (absolute when ``RETURN_BASE_URL`` is set or the link was made during a request, the admin's included; else the
#: path: set ``RETURN_BASE_URL`` for links made in tasks or the shell). Send the link here.
payment_link_created = Signal()
