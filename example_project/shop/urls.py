from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.product_list, name="products"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order"),
    path("thanks/", views.thanks, name="thanks"),
    path("canceled/", views.canceled, name="canceled"),
]
