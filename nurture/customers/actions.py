"""Every write to orders goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.contacts.signals import events_recorded
from nurture.core import clock
from nurture.core.money import DEFAULT_CURRENCY
from nurture.customers.models import Order
from nurture.sales.models import Deal

MAX_PRODUCTS = 50


class OrderError(ValueError):
    """A refused order; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def clean_products(products: Sequence[str], field: str = "products") -> list[str]:
    cleaned = [" ".join(str(p).split()) for p in products]
    cleaned = [p for p in cleaned if p]
    if len(cleaned) > MAX_PRODUCTS or any(len(p) > 200 for p in cleaned):
        raise OrderError(field, _("At most %(n)s products of 200 characters each.") % {"n": MAX_PRODUCTS})
    return cleaned


def clean_currency(currency: str, field: str = "currency") -> str:
    code = (currency or DEFAULT_CURRENCY).strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise OrderError(field, _("A currency is a three-letter ISO code such as VND or USD."))
    return code


def record_order(
    contact: Contact,
    *,
    amount: int,
    products: Sequence[str] = (),
    ordered_on: date | None = None,
    currency: str = DEFAULT_CURRENCY,
    deal: Deal | None = None,
    actor: User | None = None,
) -> Order:
    """Record a purchase and put `order_placed` on the contact's timeline (what revenue reports sum)."""
    if amount < 0:
        raise OrderError("amount", _("An amount cannot be negative."))
    currency = clean_currency(currency)
    names = clean_products(products)
    now = clock.now()
    day = ordered_on or timezone.localdate(now)
    if day > timezone.localdate(now):
        raise OrderError("ordered_on", _("An order cannot be dated in the future."))
    with transaction.atomic():
        order = Order.objects.create(
            contact=contact, deal=deal, amount=amount, currency=currency, products=names, ordered_on=day,
            created_by=actor, created_at=now,
        )  # fmt: skip
        event = Event.objects.create(
            contact=contact, type=Event.Type.ORDER_PLACED, at=now, actor=actor, deal=deal,
            data={"order_id": order.pk, "deal_id": deal.pk if deal else None, "amount": amount, "currency": currency,
                  "products": names},
        )  # fmt: skip
        events_recorded.send(Contact, events=[event])  # a purchase can start a journey (onboarding, repurchase)
    return order
