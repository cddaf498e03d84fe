from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.capture import actions
from nurture.capture.models import Connection


class Command(BaseCommand):
    help = "Replay the dead letters (after fixing a mapping): `nurture replay-dead-letters [--connection ID]`."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--connection", type=int, help="only this connection's (default: every connection's)")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = None
        if options["connection"] is not None:
            connection = Connection.objects.filter(pk=options["connection"]).first()
            if connection is None:
                raise CommandError(f"no connection with id {options['connection']}", returncode=2)
        events = actions.replay_dead_letters(connection)
        for event in events:
            if event.status == event.Status.DEAD:
                self.stderr.write(
                    f"event #{event.pk} ({event.connection.name}, {event.key}): still dead: {event.error}"
                )
            else:
                self.stdout.write(f"event #{event.pk} ({event.connection.name}, {event.key}): {event.status}")
        still = sum(1 for e in events if e.status == e.Status.DEAD)
        self.stdout.write(f"{len(events) - still} replayed, {still} still dead")
        if still:
            raise CommandError("some events are still dead letters", returncode=1)
