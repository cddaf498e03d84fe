from __future__ import annotations

import csv
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Prefetch

from nurture.contacts.models import Contact, Identity

IDENTITY_COLUMNS = {
    "emails": Identity.Kind.EMAIL,
    "phones": Identity.Kind.PHONE,
    "external_ids": Identity.Kind.EXTERNAL,
    "zalo_ids": Identity.Kind.ZALO,
    "facebook_ids": Identity.Kind.FACEBOOK,
}
COLUMNS = [
    "nurture_id", "full_name", "email", "phone", *IDENTITY_COLUMNS, "company", "job_title", "industry", "province",
    "need", "stage", "owner", "score", "source", "medium", "campaign", "tags", "created_at",
]  # fmt: skip


class Command(BaseCommand):
    help = "Export data: `nurture export contacts FILE.csv` writes every contact with all its identities."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("what", choices=["contacts"])
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        contacts = (
            Contact.objects.select_related("stage", "owner", "company")
            .prefetch_related(Prefetch("identities", queryset=Identity.objects.order_by("id")), "tags")
            .order_by("id")
        )
        count = 0
        try:
            handle = open(options["file"], "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"{options['file']}: {exc}", returncode=2) from exc
        with handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for contact in contacts.iterator(chunk_size=2000):
                writer.writerow(_row(contact))
                count += 1
        self.stdout.write(f"{count} contacts written to {options['file']}")


def _row(contact: Contact) -> list[Any]:
    identities: dict[str, list[str]] = {}
    for identity in contact.identities.all():
        identities.setdefault(identity.kind, []).append(identity.value)
    return [
        contact.pk, contact.full_name, contact.email, contact.phone,
        *("|".join(identities.get(kind, [])) for kind in IDENTITY_COLUMNS.values()),
        contact.company.name if contact.company else "", contact.job_title, contact.industry, contact.province,
        contact.need, contact.stage.key, contact.owner.username if contact.owner else "", contact.score,
        contact.source, contact.medium, contact.campaign, ",".join(sorted(t.name for t in contact.tags.all())),
        contact.created_at.isoformat(),
    ]  # fmt: skip
