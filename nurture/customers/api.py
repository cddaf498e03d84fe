"""Orders through the API: what a customer bought (a won deal records its own)."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.core.money import DEFAULT_CURRENCY
from nurture.customers.actions import OrderError, record_order
from nurture.customers.models import Order
from nurture.sales.access import visible_deals

router = Router(tags=["customers"])
PAGE_MAX = 200


class OrderIn(Schema):
    contact_id: int
    deal_id: int | None = None
    amount: int = Field(..., ge=0, description="in minor units: đồng for VND")
    currency: str = Field(DEFAULT_CURRENCY, min_length=3, max_length=3)
    products: list[str] = Field(default_factory=list)
    ordered_on: date | None = Field(None, description="blank: today")


class OrderOut(Schema):
    id: int
    contact_id: int
    deal_id: int | None
    amount: int
    currency: str
    products: list[str]
    ordered_on: date
    created_at: datetime


def _error(field: str, message: str, code: str = "invalid", prefix: str = "body") -> InvalidLead:
    error = InvalidLead([FieldError(field, code, message)])
    error.loc_prefix = [prefix]  # type: ignore[attr-defined]
    return error


@router.get("", response=list[OrderOut], summary="Orders, newest first")
def list_orders(request: HttpRequest, contact_id: int | None = None, limit: int = 50) -> list[Order]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if not 1 <= limit <= PAGE_MAX:
        raise _error("limit", f"between 1 and {PAGE_MAX}", prefix="query")
    orders = Order.objects.filter(contact__in=visible_contacts(request.auth))  # type: ignore[attr-defined]
    if contact_id is not None:
        orders = orders.filter(contact_id=contact_id)
    return list(orders.order_by("-ordered_on", "-id")[:limit])


@router.post("", response={201: OrderOut}, summary="Record an order (a purchase outside a deal, say)")
def create_order(request: HttpRequest, payload: OrderIn) -> Status[Order]:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    contact = visible_contacts(request.auth).filter(pk=payload.contact_id).first()  # type: ignore[attr-defined]
    if contact is None:
        raise _error("contact_id", "no such contact", "not_found")
    deal = None
    if payload.deal_id is not None:
        deal = visible_deals(request.auth).filter(pk=payload.deal_id, contact=contact).first()  # type: ignore[attr-defined]
        if deal is None:
            raise _error("deal_id", "no such deal of this contact", "not_found")
    try:
        order = record_order(contact, amount=payload.amount, products=payload.products, ordered_on=payload.ordered_on,
                             currency=payload.currency, deal=deal, actor=acting_user(request))  # fmt: skip
    except OrderError as exc:
        raise _error(exc.field, exc.message) from None
    return Status(201, order)
