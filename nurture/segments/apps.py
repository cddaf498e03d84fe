from __future__ import annotations

from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "nurture.segments"
    label = "segments"

    def ready(self) -> None:
        from nurture.core import revisions
        from nurture.segments import jobs  # registers the refresh jobs
        from nurture.segments.models import Segment

        revisions.watch(jobs.REVISION, Segment)
