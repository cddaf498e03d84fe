from nurture.capture.models.attribution import Campaign, Channel, CostEntry
from nurture.capture.models.forms import LeadForm
from nurture.capture.models.imports import ImportJob
from nurture.capture.models.tracking import StagedEvent, TrackedSite

__all__ = ["Campaign", "Channel", "CostEntry", "ImportJob", "LeadForm", "StagedEvent", "TrackedSite"]
