"""Every page of the pipeline renders for a rep, on real data."""

from __future__ import annotations

from typing import Any

import pytest

from nurture.accounts.models import User
from nurture.sales.models import Pipeline
from nurture.sales.tests.conftest import deal_for, logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def test_pages_render(alice: User, pipeline: Pipeline, settings: Any) -> None:
    deal = deal_for(alice, pipeline)
    client = logged_in(alice)
    for url in ["/sales/", f"/sales/pipelines/{pipeline.pk}/", "/sales/deals/", f"/sales/deals/{deal.pk}/",
                "/sales/agenda/", "/sales/overdue/", f"/contacts/{deal.contact_id}/",
                f"/contacts/{deal.contact_id}/convert", f"/contacts/{deal.contact_id}/deals/new"]:  # fmt: skip
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
