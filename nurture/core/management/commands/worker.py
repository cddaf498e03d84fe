from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from nurture.core import worker


class Command(BaseCommand):
    help = "Run the background worker: claims due jobs and timers until stopped."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Process what is due now, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True  # finish the current batch, then leave

        previous: dict[signal.Signals, Callable[..., Any] | int | None] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop)
        self.stdout.write("worker started")
        try:
            while not stopping:
                close_old_connections()
                found = worker.step()
                if options["once"] and not found:
                    break
                if not found:
                    time.sleep(worker.poll_seconds())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("worker stopped")
