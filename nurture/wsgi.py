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
# default 5 ms for the GIL. At 1 ms the routing bench's p99 at 90 leads/s fell from ~1,000 ms to 370-630 ms.
sys.setswitchinterval(0.001)
