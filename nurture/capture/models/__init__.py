from nurture.capture.models.connections import Connection, InboundEvent
from nurture.capture.models.forms import LeadForm
from nurture.capture.models.imports import ImportJob

__all__ = ["Connection", "ImportJob", "InboundEvent", "LeadForm"]
