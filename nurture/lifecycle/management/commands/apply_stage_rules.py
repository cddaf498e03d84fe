from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from nurture.lifecycle import actions


class Command(BaseCommand):
    help = "Apply the lifecycle transition rules to every contact now (`nurture apply-stage-rules`)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--starter", action="store_true", help="First install the starter rules of the default set."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["starter"]:
            rules = actions.install_starter_rules()
            self.stdout.write(f"Installed {len(rules)} starter rules.")
        moved = actions.apply_rules()
        self.stdout.write(self.style.SUCCESS(f"{moved} stage moves."))
