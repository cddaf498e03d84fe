from nurture.capture.models.forms import LeadForm
from nurture.capture.models.imports import ImportJob

__all__ = ["ImportJob", "LeadForm"]
