# Placeholder until the import views land (helper-2 replaces this file).
from django.http import Http404


def _missing(*args, **kwargs):
    raise Http404


import_list = import_detail = import_start = import_progress = import_rejects = _missing
