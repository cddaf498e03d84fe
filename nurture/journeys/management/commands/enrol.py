from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.journeys import actions
from nurture.journeys.actions import JourneyError
from nurture.journeys.models import Journey
from nurture.segments.models import Segment


class Command(BaseCommand):
    help = "Enrol contacts in a journey: `nurture enrol JOURNEY_ID CONTACT_ID ...` or `--segment ID`."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("journey", type=int, help="journey id")
        parser.add_argument("contacts", nargs="*", type=int, help="contact ids")
        parser.add_argument("--segment", type=int, help="enrol every member of this segment or list")

    def handle(self, *args: Any, **options: Any) -> None:
        journey = Journey.objects.select_related("live_version").filter(pk=options["journey"]).first()
        if journey is None:
            raise CommandError(f"no journey with id {options['journey']}", returncode=2)
        if bool(options["contacts"]) == bool(options["segment"]):
            raise CommandError("give contact ids or --segment, not both", returncode=2)
        try:
            if options["segment"]:
                segment = Segment.objects.filter(pk=options["segment"]).first()
                if segment is None:
                    raise CommandError(f"no segment with id {options['segment']}", returncode=2)
                made = actions.enrol_segment(journey, segment)
            else:
                made = actions.enrol(journey, options["contacts"], source="cli")
        except JourneyError as exc:
            raise CommandError(exc.message, returncode=1) from None
        asked = "segment" if options["segment"] else f"{len(set(options['contacts']))} asked"
        self.stdout.write(f"{journey.name}: {len(made)} enrolled ({asked})")
