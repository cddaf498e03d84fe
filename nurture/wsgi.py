from __future__ import annotations

import gc
import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
application = get_wsgi_application()
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
