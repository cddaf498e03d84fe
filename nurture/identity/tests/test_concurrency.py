"""Two captures of one new person at the same instant end in ONE contact (PostgreSQL, real requests)."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import pytest
from django.db import connection

from nurture.contacts.models import Contact
from nurture.core.normalise import fold

pytestmark = pytest.mark.django_db(transaction=True)
PEOPLE = [("Bảo", "300 111", "bao@example.vn"), ("Khánh", "415 829", "khanh.k@example.vn"),
          ("Yến", "572 640", "yen72@example.vn"), ("Tùng", "689 203", "tung@abc.vn"),
          ("Quyên", "734 956", "quyen@xyz.vn")]  # fmt: skip


def _post(url: str, key: str, body: dict[str, Any], barrier: threading.Barrier, out: list[int]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v1/leads", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    barrier.wait()
    with urllib.request.urlopen(request, timeout=30) as response:
        out.append(json.loads(response.read())["contact_id"])


def _in_parallel(url: str, key: str, first: dict[str, Any], second: dict[str, Any]) -> list[int]:
    barrier = threading.Barrier(2)
    out: list[int] = []
    threads = [threading.Thread(target=_post, args=(url, key, body, barrier, out)) for body in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 2
    return out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every write")
def test_parallel_webhooks_for_one_new_person_make_one_contact(live_server: Any, api_key: str) -> None:
    for n, (given, phone, email) in enumerate(PEOPLE):
        # The same lead twice (a retried webhook), the phone written two ways
        same = _in_parallel(
            live_server.url, api_key,
            {"full_name": f"Phan Quốc {given}", "phone": f"0912 {phone}"},
            {"full_name": f"Phan Quoc {fold(given)}", "phone": f"+84912{phone.replace(' ', '')}", "email": email},
        )  # fmt: skip
        # The same person through two channels sharing no identity, found by the fuzzy match
        fuzzy = _in_parallel(
            live_server.url, api_key,
            {"full_name": f"Đinh Thị {given}", "phone": f"0388 {phone}", "birth_date": f"199{n}-05-17",
             "address": f"{n * 37 + 5} Lê Lợi, Quận 1"},
            {"full_name": f"Dinh Thi {fold(given)}", "email": f"dinh.{email}", "birth_date": f"17/05/199{n}",
             "address": f"{n * 37 + 5} Le Loi, Q1"},
        )  # fmt: skip
        assert same[0] == same[1] and fuzzy[0] == fuzzy[1]
    assert Contact.objects.count() == 2 * len(PEOPLE)
