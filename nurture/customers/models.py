"""What customers bought. An order is recorded when a deal is won, or on its own (a walk-in purchase)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Order(models.Model):
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="orders")
    deal = models.ForeignKey("sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    # Integer minor units (VND has none); see core/money.py.
    amount = models.BigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, default="VND")
    products = models.JSONField(_("products"), default=list, blank=True)
    ordered_on = models.DateField(_("date"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-ordered_on", "-id"]
        indexes = [models.Index(fields=["contact", "-ordered_on"], name="order_contact_date")]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_amount_not_negative")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount} {self.currency}"
