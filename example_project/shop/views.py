"""The example shop: a catalogue, a buy form that records a purchase and creates its order, the order page with the
pay button, and the success and cancel pages the app sends the buyer to.

An order's pages open only in the browser session that placed it, as in a real shop: the order's id is in the URL
(and in the app's ``?order=`` after a return), so it must not be enough to see the buyer's order. Anyone else gets
the same 404 as for an order that does not exist.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from django_orkestapay import services
from django_orkestapay.models import Order

from .forms import BuyerForm
from .models import Product, Purchase

#: The session key listing the ids of the orders this browser placed (newest last), and how many it keeps.
SESSION_ORDERS = "shop_orders"
MAX_SESSION_ORDERS = 20


@dataclass(frozen=True)
class Line:
    """One line of an order as the order page shows it."""

    name: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


def product_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/product_list.html", {"products": Product.objects.order_by("name")})


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product, slug=slug)
    form = BuyerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        purchase = Purchase.objects.create(
            product=product,
            quantity=data["quantity"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
        )
        order = services.create_order(
            items=[
                {
                    "product_id": product.slug,
                    "name": product.name,
                    "quantity": purchase.quantity,
                    "unit_price": product.price,
                }
            ],
            customer={"first_name": purchase.first_name, "last_name": purchase.last_name, "email": purchase.email},
            currency=product.currency,
            discount_amount=product.discount * purchase.quantity,
            shipping_amount=product.shipping,
            shop_object=purchase,  # the buyer's purchase, paid once; never the product, which many buyers buy
        )
        _remember(request, order)
        return redirect("shop:order", order_id=order.pk)
    return render(request, "shop/product_detail.html", {"product": product, "form": form})


def order_detail(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = _buyers_order(request, order_id)
    return render(request, "shop/order_detail.html", {"order": order, "lines": _lines(order)})


def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/thanks.html", {"order": _order_from_query(request)})


def canceled(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/canceled.html", {"order": _order_from_query(request)})


def _remember(request: HttpRequest, order: Order) -> None:
    """Note in the session that this browser placed ``order``."""
    placed = [*request.session.get(SESSION_ORDERS, []), str(order.pk)]
    request.session[SESSION_ORDERS] = placed[-MAX_SESSION_ORDERS:]


def _buyers_order(request: HttpRequest, order_id: uuid.UUID) -> Order:
    """The order, when this browser session placed it; 404 otherwise (as for an order that does not exist)."""
    if str(order_id) not in request.session.get(SESSION_ORDERS, []):
        raise Http404("No such order in this session")
    return get_object_or_404(Order, pk=order_id)


def _order_from_query(request: HttpRequest) -> Order:
    try:
        order_id = uuid.UUID(request.GET.get("order", ""))
    except ValueError as exc:
        raise Http404("No such order") from exc
    return _buyers_order(request, order_id)


def _lines(order: Order) -> list[Line]:
    return [Line(str(item["name"]), int(item["quantity"]), item["unit_price"]) for item in order.line_items()]
