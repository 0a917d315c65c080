"""The example shop: a catalogue, a buy form that creates an order, the order page with the pay button, and the
success and cancel pages the app sends the buyer to."""

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from django_orkestapay import services
from django_orkestapay.models import Order

from .forms import BuyerForm
from .models import Product


def product_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/product_list.html", {"products": Product.objects.order_by("name")})


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product, slug=slug)
    form = BuyerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        order = services.create_order(
            items=[
                {
                    "product_id": product.slug,
                    "name": product.name,
                    "quantity": data["quantity"],
                    "unit_price": product.price,
                }
            ],
            customer={"first_name": data["first_name"], "last_name": data["last_name"], "email": data["email"]},
            currency=product.currency,
            discount_amount=product.discount * data["quantity"],
            shipping_amount=product.shipping,
            shop_object=product,
        )
        return redirect("shop:order", order_id=order.pk)
    return render(request, "shop/product_detail.html", {"product": product, "form": form})


def order_detail(request: HttpRequest, order_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=order_id)
    return render(request, "shop/order_detail.html", {"order": order})


def _order_from_query(request: HttpRequest) -> Order:
    try:
        order_id = uuid.UUID(request.GET.get("order", ""))
    except ValueError as exc:
        raise Http404("No such order") from exc
    return get_object_or_404(Order, pk=order_id)


def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/thanks.html", {"order": _order_from_query(request)})


def canceled(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/canceled.html", {"order": _order_from_query(request)})
