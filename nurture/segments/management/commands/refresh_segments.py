from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.segments import actions
from nurture.segments.models import Segment


class Command(BaseCommand):
    help = "Refresh segments now: `nurture refresh-segments [ID ...]` (all of them without ids)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="segment ids (default: every segment)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["ids"]:
            segments = list(Segment.objects.filter(pk__in=options["ids"]).order_by("pk"))
            missing = set(options["ids"]) - {s.pk for s in segments}
            if missing:
                raise CommandError(f"no segment with id {', '.join(map(str, sorted(missing)))}", returncode=2)
            results = [actions.refresh(s) for s in segments]
        else:
            results = actions.refresh_all()
        for r in results:
            if r.error:
                self.stderr.write(f"#{r.segment_id} {r.name}: failed: {r.error}")
            else:
                changes = f"+{r.entered} entered, -{r.left} left"
                self.stdout.write(f"#{r.segment_id} {r.name}: {r.members} members ({changes})")
        if any(r.error for r in results):
            raise CommandError("some segments could not be refreshed", returncode=1)
