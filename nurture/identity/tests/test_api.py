from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.contacts.models import Contact
from nurture.identity.models import DuplicatePair

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: Any = None) -> Any:
    # Messages follow Accept-Language (Vietnamese by default)
    return client.post(
        path, data=json.dumps(body or {}), content_type="application/json", headers={"Accept-Language": "en"}
    )


def lead(client: Client, **fields: Any) -> int:
    response = post(client, "/api/v1/leads", fields)
    assert response.status_code in (200, 201), response.content
    return int(response.json()["contact_id"])


def test_review_queue_merge_and_undo(api: Client) -> None:
    a = lead(api, full_name="Đỗ Minh Khoa", email="khoa.do@abc.vn")
    b = lead(api, full_name="Do Minh Khoa", email="khoado@gmail.com", province="Hà Nội")
    queue = api.get("/api/v1/duplicates").json()
    assert [(p["contact_a"]["id"], p["contact_b"]["id"]) for p in queue["items"]] == [(a, b)]
    assert {r["field"] for r in queue["items"][0]["reasons"]} == {"name", "email"}
    pair_id = queue["items"][0]["id"]
    merged = post(api, f"/api/v1/duplicates/{pair_id}/merge", {"survivor_id": b, "choices": {"full_name": "merged"}})
    assert merged.status_code == 200, merged.content
    body = merged.json()
    assert (body["survivor_id"], body["merged_id"]) == (b, a)
    assert Contact.objects.get(pk=b).full_name == "Đỗ Minh Khoa"
    # The tombstone redirects
    tomb = api.get(f"/api/v1/contacts/{a}")
    assert tomb.status_code == 307 and tomb["Location"] == f"/api/v1/contacts/{b}"
    assert api.get("/api/v1/duplicates").json()["items"] == []
    assert [m["id"] for m in api.get(f"/api/v1/contacts/{b}/merges").json()] == [body["id"]]
    undone = post(api, f"/api/v1/merges/{body['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    assert api.get(f"/api/v1/contacts/{a}").status_code == 200
    again = post(api, f"/api/v1/merges/{body['id']}/undo")
    assert again.status_code == 409 and "already undone" in again.json()["detail"]


def test_not_same_skip_and_errors(api: Client) -> None:
    a = lead(api, full_name="Đỗ Minh Khoa", email="khoa.do@abc.vn")
    b = lead(api, full_name="Do Minh Khoa", email="khoado@gmail.com")
    pair_id = DuplicatePair.objects.get().pk
    skipped = post(api, f"/api/v1/duplicates/{pair_id}/skip").json()
    assert skipped["status"] == "open" and skipped["skipped_at"]
    bad = post(api, f"/api/v1/duplicates/{pair_id}/merge", {"choices": {"stage": "survivor"}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "choices", "stage"]
    assert post(api, f"/api/v1/duplicates/{pair_id}/not-same").json()["status"] == "not_same"
    refused = post(api, f"/api/v1/contacts/{a}/merge", {"other_id": b})
    assert refused.status_code == 409 and "not the same person" in refused.json()["detail"]
    self_merge = post(api, f"/api/v1/contacts/{a}/merge", {"other_id": a})
    assert self_merge.status_code == 409
    missing = post(api, f"/api/v1/contacts/{a}/merge", {"other_id": 999999})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "other_id"]
    assert Contact.objects.filter(merged_into__isnull=False).count() == 0


def test_direct_merge_and_merging_a_tombstone(api: Client) -> None:
    a = lead(api, full_name="Lê Văn A", phone="0912000111")
    b = lead(api, full_name="Lê Văn B", phone="0988000222")
    c = lead(api, full_name="Lê Văn C", phone="0377000333")
    assert post(api, f"/api/v1/contacts/{a}/merge", {"other_id": b}).status_code == 200
    tomb = post(api, f"/api/v1/contacts/{c}/merge", {"other_id": b})
    assert tomb.status_code == 409 and "already merged" in tomb.json()["detail"]
