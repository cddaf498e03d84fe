from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
application = get_wsgi_application()
# What is loaded by now (Django, the apps, their modules) lives as long as the process: frozen, it is left out of
# the collector's full passes, which otherwise walk all of it now and then (~90 ms) in the middle of a request.
gc.freeze()
