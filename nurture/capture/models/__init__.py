from nurture.capture.models.attribution import Campaign, Channel, CostEntry
from nurture.capture.models.connections import Connection, InboundEvent
from nurture.capture.models.forms import LeadForm
from nurture.capture.models.imports import ImportJob
from nurture.capture.models.tracking import StagedEvent, TrackedSite

__all__ = ["Campaign", "Channel", "Connection", "CostEntry", "ImportJob", "InboundEvent", "LeadForm", "StagedEvent",
           "TrackedSite"]  # fmt: skip
