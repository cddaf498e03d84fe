from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    lead = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="teams_led"
    )

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        MANAGER = "manager", _("Manager")
        MARKETER = "marketer", _("Marketer")
        SALES_REP = "sales_rep", _("Sales rep")
        CARE_AGENT = "care_agent", _("Care agent")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALES_REP)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Reps see their own and their team's leads; this grants the whole book.
    sees_all_contacts = models.BooleanField(_("sees all contacts"), default=False)

    @property
    def display_name(self) -> str:
        return self.name_of(self.first_name, self.last_name, self.username)

    @staticmethod
    def name_of(first_name: str, last_name: str, username: str) -> str:
        """How a user is named, from their row's values (where rows are read without instances)."""
        return f"{first_name} {last_name}".strip() or username

    @property
    def sees_everything(self) -> bool:
        return (
            self.is_superuser
            or self.sees_all_contacts
            or self.role
            in {
                self.Role.ADMIN,
                self.Role.MANAGER,
                self.Role.MARKETER,
            }
        )

    @property
    def can_configure(self) -> bool:
        return self.is_superuser or self.role in {self.Role.ADMIN, self.Role.MANAGER, self.Role.MARKETER}


class ApiKey(models.Model):
    """An integration's key. Only a hash is stored; the key is shown once, at creation."""

    class Scope(models.TextChoices):
        LEADS_WRITE = "leads:write", _("Create leads")
        CONTACTS_READ = "contacts:read", _("Read contacts")
        CONTACTS_WRITE = "contacts:write", _("Update contacts")
        EVENTS_WRITE = "events:write", _("Record events")
        SCORING_WRITE = "scoring:write", _("Change scoring rules")
        SEGMENTS_WRITE = "segments:write", _("Change segments and lists")
        LIFECYCLE_WRITE = "lifecycle:write", _("Change stages and lifecycle rules")
        ROUTING_WRITE = "routing:write", _("Change assignment rules and SLAs")
        AVAILABILITY_WRITE = "availability:write", _("Change working hours and leave")
        JOURNEYS_WRITE = "journeys:write", _("Change journeys and enrol contacts")
        MESSAGING_WRITE = "messaging:write", _("Send messages and change message templates")
        ATTRIBUTION = "attribution", _("Read attribution; change campaigns, costs and tracked websites")
        SALES_WRITE = "sales:write", _("Change deals, tasks, orders and log activities")
        SALES_CONFIGURE = "sales:configure", _("Change pipelines")

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw_key: str) -> str:
        # Keys are 32 random bytes, so a fast hash is safe (no dictionary to attack).
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
