from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

LARGE_UPLOAD_PATHS = ("/imports/",)


class RequestSizeLimitMiddleware:
    """Refuse oversized bodies with 413 before anything reads them.

    Django itself answers 400 (RequestDataTooBig) and only once a view touches the body;
    clients and the API contract expect 413 up front.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.path.startswith(LARGE_UPLOAD_PATHS):
            limit = settings.IMPORT_MAX_BYTES
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": [{"loc": ["body"], "type": "too_large", "msg": f"Request body over {limit} bytes"}]},
                status=413,
            )
        return self.get_response(request)
