from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nurture.core.writes import bulk_update
from nurture.routing.models import SlaPolicy

pytestmark = pytest.mark.django_db


def test_one_row_is_a_plain_update_and_several_one_bulk_update() -> None:
    # Given three policies
    a, b, c = (SlaPolicy.objects.create(name=n, first_response_minutes=5) for n in ("A", "B", "C"))
    # When one is changed, then one UPDATE without CASE writes only the named field
    a.name, a.first_response_minutes = "A2", 9
    with CaptureQueriesContext(connection) as one:
        bulk_update([a], ["name"])
    assert len(one) == 1 and "CASE" not in one[0]["sql"]
    # When two are changed, then one statement writes both
    b.name, c.name = "B2", "C2"
    with CaptureQueriesContext(connection) as two:
        bulk_update([b, c], ["name"])
    assert len(two) == 1
    assert list(SlaPolicy.objects.order_by("pk").values_list("name", "first_response_minutes")) == [
        ("A2", 5), ("B2", 5), ("C2", 5),
    ]  # fmt: skip
    # When nothing is given, then nothing is written; a field that is not a column is refused
    with CaptureQueriesContext(connection) as none:
        bulk_update([], ["name"])
    assert len(none) == 0
    with pytest.raises(ValueError):
        bulk_update([a], ["nme"])
