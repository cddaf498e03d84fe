from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.capture.actions import CampaignError, import_costs


class Command(BaseCommand):
    help = "Import campaign costs from a CSV file (campaign, start, end, amount[, note]): all rows or none."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        try:
            count = import_costs(text, source=f"import:{path.name}"[:100], user=None)
        except CampaignError as exc:
            raise CommandError(f"{path}, row {exc.row}, {exc.field}: {exc.message}. Nothing was imported.") from exc
        self.stdout.write(f"{count} cost entries imported from {path}")
