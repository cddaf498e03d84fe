"""Orders: recorded with their timeline event (what revenue reports sum); bad input refused, nothing written."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from nurture.contacts.models import Event
from nurture.customers.actions import OrderError, record_order
from nurture.customers.models import Order
from nurture.sales.tests.conftest import lead

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def monday() -> Any:
    with time_machine.travel("2026-03-02 09:00 +07:00", tick=False):
        yield


def test_an_order_outside_a_deal_is_on_the_timeline() -> None:
    # Given a contact / When a walk-in purchase is recorded
    contact = lead()
    order = record_order(contact, amount=1_500_000, products=[" Sách  IELTS ", ""], ordered_on=date(2026, 3, 1))

    # Then the order and its event, with the agreed data
    assert (order.amount, order.currency, order.products, order.deal) == (1_500_000, "VND", ["Sách IELTS"], None)
    event = Event.objects.get(type="order_placed")
    assert event.data == {"order_id": order.pk, "deal_id": None, "amount": 1_500_000, "currency": "VND",
                          "products": ["Sách IELTS"]}  # fmt: skip


@pytest.mark.parametrize(
    "fields, field",
    [({"amount": -1}, "amount"), ({"currency": "đồng"}, "currency"), ({"ordered_on": date(2026, 3, 3)}, "ordered_on"),
     ({"products": ["x" * 201]}, "products")],
)  # fmt: skip
def test_bad_orders_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    contact = lead()
    with pytest.raises(OrderError) as refused:
        record_order(contact, **{"amount": 100, **fields})
    assert refused.value.field == field
    assert not Order.objects.exists() and not Event.objects.filter(type="order_placed").exists()
