from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.core import clock
from nurture.identity import batch
from nurture.identity.models import DedupeRun


class Command(BaseCommand):
    help = "Find and merge duplicate contacts in the whole database (`nurture dedupe`)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only write the report; change nothing.")
        parser.add_argument(
            "--auto-merge-above",
            type=float,
            metavar="SCORE",
            help="Merge pairs scoring at least this (0-100) instead of the configured threshold.",
        )
        parser.add_argument(
            "--learn", action="store_true", help="First fit the field weights to this database (EM) and save them."
        )
        parser.add_argument("--rebuild-keys", action="store_true", help="First recompute every blocking key.")
        parser.add_argument("--report-dir", type=Path, help="Where to write the CSV report (default var/dedupe).")
        # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        threshold = options["auto_merge_above"]
        if threshold is not None and not 0 <= threshold <= 100:
            raise CommandError("--auto-merge-above: a score between 0 and 100", returncode=2)
        if options["rebuild_keys"]:
            batch.rebuild_keys(lambda done, total: self.stderr.write(f"\rkeys {done}/{total}", ending=""))
            self.stderr.write("")
        if options["learn"]:
            batch.learn(self.stderr.write)
        dedupe = DedupeRun.objects.create(dry_run=options["dry_run"], auto_merge_above=threshold,
                                          created_at=clock.now())  # fmt: skip
        dedupe = batch.run(dedupe, options["report_dir"], self._progress)
        self.stderr.write("")
        verb = "would merge" if dedupe.dry_run else "merged"
        self.stdout.write(
            f"{dedupe.total} contacts, {dedupe.pairs} pairs scored: {verb} {dedupe.merged}, "
            f"{dedupe.proposed} possible duplicates to review. Report: {dedupe.report}"
        )
        sys.stdout.flush()

    def _progress(self, dedupe: DedupeRun) -> None:
        self.stderr.write(f"\r{dedupe.processed}/{dedupe.total} contacts, {dedupe.pairs} pairs", ending="")
