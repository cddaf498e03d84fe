from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def test_a_server_process_loads_the_api_and_the_catalogs_before_its_first_request() -> None:
    """Left to the first request, they took 0.3-0.6 s, with every request behind it waiting."""
    check = (
        "import sys, gc\n"
        "from django.utils.translation import trans_real\n"
        "before = 'nurture.api' in sys.modules\n"
        "import nurture.wsgi\n"
        "print(before, 'nurture.api' in sys.modules, sorted(trans_real._translations), gc.get_freeze_count() > 0)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nurture.settings"}
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, env=env)
    languages = sorted(code for code, _name in settings.LANGUAGES)
    assert out.stdout.split(" ", 2)[:2] == ["False", "True"]
    assert out.stdout.strip().endswith(f"{languages} True")
