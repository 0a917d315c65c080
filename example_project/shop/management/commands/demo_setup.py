"""Create the demo catalogue and an admin account for the local demo (idempotent)."""

import os
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from shop.models import Product

PRODUCTS = [
    {
        "slug": "pantalla-tcl-40",
        "name": "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40",
        "description": "La pantalla del ejemplo de OrkestaPay.",
        "price": Decimal("1000.00"),
        "discount": Decimal("10.00"),
        "shipping": Decimal("0.00"),
    },
    {
        "slug": "taza-cafe",
        "name": "Taza de café de Talavera",
        "description": "Hecha a mano en Puebla.",
        "price": Decimal("249.50"),
        "discount": Decimal("0.00"),
        "shipping": Decimal("99.00"),
    },
]


class Command(BaseCommand):
    help = "Create the demo products and a local admin user (username admin)."

    def handle(self, *args: Any, **options: Any) -> None:
        for data in PRODUCTS:
            Product.objects.update_or_create(slug=data["slug"], defaults=data)
        user_model = get_user_model()
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "admin")
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "admin@example.com", password)
            self.stdout.write("Created the admin user 'admin' (password from DEMO_ADMIN_PASSWORD, default 'admin').")
        self.stdout.write(self.style.SUCCESS(f"{len(PRODUCTS)} demo products ready."))
