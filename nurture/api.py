"""The JSON API under /api/v1/, OpenAPI at /api/v1/docs (linked from /api/docs)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from nurture.accounts.auth import AUTH
from nurture.availability.api import router as availability_router
from nurture.capture.api import router as leads_router
from nurture.capture.attribution_api import router as attribution_router
from nurture.capture.connections_api import router as connections_router
from nurture.contacts.api import router as contacts_router
from nurture.contacts.leads import InvalidLead
from nurture.customers.api import router as orders_router
from nurture.identity.api import router as identity_router
from nurture.journeys.api import router as journeys_router
from nurture.lifecycle.api import router as lifecycle_router
from nurture.messaging.api import router as messaging_router
from nurture.notifications.api import router as notifications_router
from nurture.routing.api import router as routing_router
from nurture.sales.api import router as sales_router
from nurture.scoring.api import router as scoring_router
from nurture.segments.api import router as segments_router

api = NinjaAPI(title="Nurture API", version="1", auth=AUTH, urls_namespace="api")
api.add_router("/leads", leads_router)
api.add_router("/contacts", contacts_router)
api.add_router("", identity_router)
api.add_router("", scoring_router)
api.add_router("", lifecycle_router)
api.add_router("", routing_router)
api.add_router("/segments", segments_router)
api.add_router("/availability", availability_router)
api.add_router("/notifications", notifications_router)
api.add_router("/journeys", journeys_router)
api.add_router("/messaging", messaging_router)
api.add_router("/connections", connections_router)
api.add_router("", attribution_router)
api.add_router("/sales", sales_router)
api.add_router("/orders", orders_router)


@api.exception_handler(InvalidLead)
def invalid_lead(request: HttpRequest, exc: InvalidLead) -> HttpResponse:
    prefix = getattr(exc, "loc_prefix", ["body"])
    detail = [{"loc": [*prefix, *e.field.split(".")], "type": e.code, "msg": e.message} for e in exc.errors]
    return api.create_response(request, {"detail": detail}, status=422)
