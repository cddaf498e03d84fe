from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from nurture.contacts.models import Contact


class Command(BaseCommand):
    help = "Start Nurture: migrate, load demo data on an empty database, then serve the web app and a worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=os.environ.get("NURTURE_BIND", "127.0.0.1:8000"))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("NURTURE_WEB_WORKERS", "2")))
        # Many threads per process: single-lead API requests that meet in a process are captured together
        # (capture.combining), so a burst of leads costs less per lead; each thread holds one database connection.
        parser.add_argument("--web-threads", type=int, default=int(os.environ.get("NURTURE_WEB_THREADS", "16")))
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data into an empty database.")
        parser.add_argument("--no-worker", action="store_true", help="Serve the web app only.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if not options["no_demo"] and not Contact.objects.exists():
            self.stdout.write("Loading demo data (first start only)...")
            call_command("seed_demo")
        procs = [self._web(options)]
        if not options["no_worker"]:
            procs.append(subprocess.Popen([sys.executable, "-m", "nurture.cli", "worker"]))
        self.stdout.write(
            self.style.SUCCESS(f"Nurture is running on http://{options['bind']}/")
            + "\nLog in as admin / nurture-admin (demo data; change the password in production)."
            + "\nPress Ctrl+C to stop."
        )
        self._supervise(procs)

    def _web(self, options: dict[str, Any]) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "gunicorn", "nurture.wsgi:application",
            "--bind", options["bind"],
            "--workers", str(options["web_workers"]),
            "--worker-class", "gthread", "--threads", str(options["web_threads"]),
            "--access-logfile", "-" if settings.DEBUG else "/dev/null",
            "--graceful-timeout", "10",
        ]  # fmt: skip
        return subprocess.Popen(command)

    def _supervise(self, procs: list[subprocess.Popen[bytes]]) -> None:
        def stop(signum: int, frame: object) -> None:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        stop(signal.SIGTERM, None)  # one died: take the others down so a supervisor can restart us
        for proc in procs:
            proc.wait(timeout=15)
