from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.capture import actions, importing
from nurture.capture.models import ImportJob

SHOWN_REJECTS = 20


class Command(BaseCommand):
    help = "Import a CSV or XLSX file of leads (`nurture import FILE`)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--source", default="import", help="Source of leads that have none in the file.")
        parser.add_argument("--tag", action="append", default=[], help="Tag every imported lead (repeatable).")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                            help="Override the automatic mapping of a column ('' ignores it).")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file", returncode=2)
        try:
            with path.open("rb") as upload:
                job = actions.create_import(upload=upload, original_name=path.name, created_by=None,
                                            source=options["source"])  # fmt: skip
        except importing.UnreadableFile as exc:
            raise CommandError(f"{path}: {exc}", returncode=2) from exc
        mapping = dict(job.mapping)
        for item in options["map"]:
            header, _, field = item.partition("=")
            if header not in mapping:
                raise CommandError(f"--map {item}: the file has no column {header!r}", returncode=2)
            mapping[header] = field
        for header, field in mapping.items():
            self.stderr.write(f"  {header!r} -> {field or '(ignored)'}")
        try:
            job = actions.start_import(job, mapping=mapping, tags=options["tag"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stderr.write(f"Importing {job.total_rows} rows from {path.name} ...")
        job = actions.run_import_now(job)
        self._report(job)

    def _report(self, job: ImportJob) -> None:
        self.stdout.write(
            f"created {job.created_count}, updated {job.updated_count}, skipped {job.skipped_count} (unchanged), "
            f"rejected {job.rejected_count}"
        )
        if not job.rejected_count:
            return
        with open(job.rejects_path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows[:SHOWN_REJECTS]:
            self.stdout.write(f"  row {row['row']}: {row['error']}")
        if len(rows) > SHOWN_REJECTS:
            self.stdout.write(f"  ... and {len(rows) - SHOWN_REJECTS} more")
        self.stdout.write(f"Rejected rows: {job.rejects_path}")
        sys.stdout.flush()
