from __future__ import annotations

import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import resolve
from django.utils import translation

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
application = get_wsgi_application()
# Django imports the URLconf (and with it the API's ~400 schemas) and reads the translation catalogs on a
# process's first request: 0.3-0.6 s during which every request behind it waited (the routing bench's first
# second: 20-45 leads over 150 ms). Done here, before the server takes requests, and frozen below with the rest.
resolve("/api/v1/leads")
for language, _name in settings.LANGUAGES:
    with translation.override(language):
        translation.gettext("Vietnamese")
# What is loaded by now (Django, the apps, their modules) lives as long as the process: frozen, it is left out of
# the collector's full passes, which otherwise walk all of it now and then (~90 ms) in the middle of a request.
gc.freeze()
# A page builds tens of thousands of short-lived objects (rows, template nodes): collecting the young generation
# every 10,000 allocations rather than 700 lets most die first (the contact page: ~15% less CPU).
gc.set_threshold(10_000, 10, 10)
# A capture waits on the database some twenty times; each time, with the other threads busy, it waited up to the
# switch interval for the GIL, and the leads combined behind it waited with it. 5 ms (the default) → 1 ms: the
# routing bench's p99 fell from ~1,000 to 370-630 ms; 1 → 0.5 ms: 130-206 → 105-136 ms (four interleaved pairs).
sys.setswitchinterval(0.0005)
