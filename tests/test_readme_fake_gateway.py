"""README's example of testing a shop against the fake gateway (*The fake gateway, for your own tests*), run as it is
printed there: the code between the markers below is the README's code block, which the last test compares."""

from __future__ import annotations

import textwrap
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.rst"
BEGIN, END = "# --- README example: begin\n", "# --- README example: end\n"

# --- README example: begin
from decimal import Decimal  # noqa: E402

import pytest  # noqa: E402
from django.urls import reverse  # noqa: E402

from django_orkestapay import adapters, services  # noqa: E402
from django_orkestapay.signals import order_paid  # noqa: E402

# conftest.py: pytest_plugins = ["django_orkestapay.testing.pytest_plugin"]


@pytest.fixture
def fake(fake_orkestapay, settings):
    """The fake gateway (reset for each test), with the app pointed at it; the project's other keys are kept."""
    settings.ORKESTAPAY = {
        **settings.ORKESTAPAY,
        "CLIENT_ID": fake_orkestapay.client_id,
        "CLIENT_SECRET": fake_orkestapay.client_secret,
        "BASE_URL": fake_orkestapay.base_url,
    }
    return fake_orkestapay


def new_order():
    return services.create_order(
        items=[{"name": "Taza", "quantity": 2, "unit_price": Decimal("249.50")}],
        customer={"first_name": "Ana", "last_name": "López", "email": "ana@example.com"},
    )


def hosted_checkout_id(client, order):
    """Press the pay button; the fake's hosted page is .../checkout/<checkout id>."""
    response = client.post(reverse("orkestapay:pay"), adapters.pay_fields(order))
    return response["Location"].rsplit("/", 1)[-1]


@pytest.mark.django_db
def test_the_buyer_pays_and_comes_back(client, fake, django_capture_on_commit_callbacks):
    shipped = []

    def ship(sender, order, **kwargs):
        shipped.append(order.pk)

    order_paid.connect(ship)
    order = new_order()
    completed_url = fake.pay(hosted_checkout_id(client, order))  # the buyer pays on the hosted page...
    with django_capture_on_commit_callbacks(execute=True):  # signals are sent once the transaction commits
        client.get(completed_url)  # ...and OrkestaPay sends them back
    order_paid.disconnect(ship)

    order.refresh_from_db()
    assert order.status == "paid"
    assert shipped == [order.pk]
    assert fake.count_requests("POST", "/v1/checkouts") == 1


@pytest.mark.django_db
def test_the_buyer_cancels(client, fake):
    order = new_order()
    client.get(fake.cancel(hosted_checkout_id(client, order)))
    order.refresh_from_db()
    assert order.status == "canceled"


@pytest.mark.django_db(transaction=True)  # the fake posts its webhook to a real server: live_server
def test_a_webhook_confirms_the_payment(client, fake, live_server, settings):
    secret = fake.add_webhook_endpoint(live_server.url + reverse("orkestapay:webhook"))
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "WEBHOOK_SECRETS": [secret]}
    order = new_order()
    fake.pay(hosted_checkout_id(client, order))  # the buyer pays, and never comes back
    assert fake.wait_for_webhooks()
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db
def test_the_gateway_is_down(client, fake):
    fake.inject_fault("POST", "/v1/checkouts", "status", status=503)
    response = client.post(reverse("orkestapay:pay"), adapters.pay_fields(new_order()))
    assert response.status_code == 503  # "Payment service unavailable", nothing charged


# --- README example: end


def test_the_readme_prints_this_example():
    source = Path(__file__).read_text(encoding="utf-8")
    example = source.split(BEGIN)[1].split(END)[0].replace("  # noqa: E402", "").strip("\n")
    assert textwrap.indent(example, "   ", lambda line: bool(line.strip())) in README.read_text(encoding="utf-8")
