from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nurture.core.paging import get_page
from nurture.routing.models import SlaPolicy

pytestmark = pytest.mark.django_db


def _policies(n: int) -> None:
    SlaPolicy.objects.bulk_create(SlaPolicy(name=f"P{i}", first_response_minutes=5) for i in range(n))


def _page(number: str | None) -> tuple[list[str], int, bool, int]:
    with CaptureQueriesContext(connection) as queries:
        page = get_page(SlaPolicy.objects.order_by("pk"), 3, number)
        shown = [p.name for p in page]
        pages, more = page.paginator.num_pages, page.has_next()
    return shown, pages, more, len(queries)


def test_a_first_page_holding_everything_needs_no_count() -> None:
    _policies(3)
    assert _page(None) == (["P0", "P1", "P2"], 1, False, 1)


def test_longer_lists_are_counted_and_paged_as_django_does() -> None:
    _policies(7)
    assert _page("1") == (["P0", "P1", "P2"], 3, True, 2)
    assert _page("3")[:3] == (["P6"], 3, False)
    assert _page("x")[:3] == (["P0", "P1", "P2"], 3, True)  # not a number: the first page
    assert _page("9")[:3] == (["P6"], 3, False)  # past the end: the last page


def test_an_empty_list_has_one_empty_page() -> None:
    assert _page(None) == ([], 1, False, 1)
