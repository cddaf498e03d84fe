from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from openpyxl import Workbook

from nurture.accounts.models import User
from nurture.capture.models import ImportJob
from nurture.contacts.models import Contact, Event, Identity
from nurture.core.jobs import process_due_jobs

pytestmark = pytest.mark.django_db

# A file as an office exports it: Vietnamese headers, semicolons, phones in every form, a bad row,
# an empty row, the same person twice, dd/mm/yyyy dates and đồng amounts.
MESSY = (
    "Họ và tên;Số điện thoại;Email;Tỉnh/Thành phố;Ngày sinh;Mã KH;Ngân sách;Ghi chú\n"
    "nguyễn văn an;0912.345.678;An@Gmail.com;Hà Nội;05/03/1990;KH001;15.000.000;IELTS\n"
    "Trần Thị Bích;+84 987 654 321;;TP. Hồ Chí Minh;;KH002;;\n"
    "Lê Văn Cường;01688123456;cuong@example.vn;Đà Nẵng;31/12/1985;KH003;;trẻ em\n"
    "Phạm Minh Đức;12345;;Hà Nội;;KH004;;số sai\n"
    ";;;;;;;\n"
    "Nguyen Van An;84912345678;;;;;;;\n"
    "Hoàng Thu Hà;0912000111;ha@@example.com;;;KH006;;\n"
    "Vũ Ngọc Mai;0903111222;;Hải Phòng;40/01/2000;KH007;;\n"
)


@pytest.fixture(autouse=True)
def media(tmp_path: Path) -> Iterator[Path]:
    with override_settings(MEDIA_ROOT=tmp_path / "media"):
        yield tmp_path


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def windows_1258(text: str) -> bytes:
    """Encode as Vietnamese Windows does: vowel shapes precomposed, tone marks as combining characters."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in TONE_MARKS)
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS)) + tones)
    return "".join(out).encode("cp1258")


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / name
    path.write_bytes(windows_1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def run_cli(path: Path, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_file", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_messy_file_imports_good_rows_and_rejects_bad_ones(media: Path) -> None:
    # Given the messy file
    path = write(media, "khach-hang.csv", MESSY)
    # When it is imported with the CLI
    output = run_cli(path)
    # Then the good rows are in, the duplicate landed on An, and each bad row is rejected with its reason
    job = ImportJob.objects.get()
    assert (job.created_count, job.updated_count, job.skipped_count, job.rejected_count) == (3, 0, 1, 3)
    assert job.total_rows == 7 and job.processed_rows == 7 and job.status == "done"
    assert "created 3, updated 0, skipped 1 (unchanged), rejected 3" in output
    assert "row 5: phone" in output and "row 8: email" in output and "row 9: birth_date" in output
    an = Contact.objects.get(phone="+84912345678")
    assert (an.full_name, an.email, an.province, str(an.birth_date)) == (
        "Nguyễn Văn An",
        "an@gmail.com",
        "Hà Nội",
        "1990-03-05",
    )
    assert an.custom_fields == {"Ngân sách": 15000000}
    assert Contact.objects.get(phone="+84388123456").full_name == "Lê Văn Cường"  # 0168 -> 038
    assert set(Identity.objects.filter(kind="external").values_list("value", flat=True)) == {"KH001", "KH002", "KH003"}
    # Rejected rows are not half-written
    assert not Contact.objects.filter(full_name__in=["Phạm Minh Đức", "Hoàng Thu Hà", "Vũ Ngọc Mai"]).exists()
    assert not Identity.objects.filter(value__in=["KH004", "KH006", "KH007"]).exists()
    assert Event.objects.filter(type=Event.Type.IMPORTED).count() == 4
    with open(job.rejects_path, encoding="utf-8-sig") as handle:
        rejects = list(csv.DictReader(handle))
    assert [r["row"] for r in rejects] == ["5", "8", "9"]
    assert rejects[0]["Họ và tên"] == "Phạm Minh Đức" and rejects[0]["error"].startswith("phone")


def test_reimporting_the_same_file_creates_nothing_new(media: Path) -> None:
    path = write(media, "khach-hang.csv", MESSY)
    run_cli(path)
    contacts, identities, events = Contact.objects.count(), Identity.objects.count(), Event.objects.count()
    run_cli(path)
    job = ImportJob.objects.latest("id")
    assert (job.created_count, job.updated_count, job.skipped_count, job.rejected_count) == (0, 0, 4, 3)
    assert (Contact.objects.count(), Identity.objects.count(), Event.objects.count()) == (contacts, identities, events)


def test_windows_1258_file(media: Path) -> None:
    path = write(media, "cp1258.csv", "Họ tên,Điện thoại,Tỉnh thành\nĐặng Thị Thu,0987111222,Hà Nội\n", "cp1258")
    run_cli(path)
    contact = Contact.objects.get()
    assert (contact.full_name, contact.province, contact.name_folded) == ("Đặng Thị Thu", "Hà Nội", "dang thi thu")


def test_xlsx_with_number_cells_and_date_cells(media: Path) -> None:
    from datetime import datetime

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tên khách hàng", "SĐT", "Ngày sinh", "Nguồn", "Nhãn"])
    sheet.append(["Bùi Văn Long", 912345678, datetime(1992, 7, 1), "hotline", "vip; hoc-thu"])
    sheet.append(["Đỗ Thị Lan", "0977 111 222", None, None, None])
    path = media / "danh-sach.xlsx"
    book.save(path)
    run_cli(path, "--tag", "excel")
    long = Contact.objects.get(full_name="Bùi Văn Long")
    assert (long.phone, str(long.birth_date), long.source) == ("+84912345678", "1992-07-01", "hotline")
    assert sorted(long.tags.values_list("name", flat=True)) == ["excel", "hoc-thu", "vip"]
    assert Contact.objects.get(full_name="Đỗ Thị Lan").source == "import"


def test_unreadable_files_are_refused_clearly(media: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="only .csv and .xlsx"):
        run_cli(write(media, "notes.pdf", "x"))
    with pytest.raises(CommandError, match="not a readable Excel file"):
        run_cli(write(media, "broken.xlsx", "not a zip"))
    with pytest.raises(CommandError, match="no such file"):
        run_cli(media / "missing.csv")
    assert Contact.objects.count() == 0


def test_map_override_and_custom_fields(media: Path) -> None:
    path = write(media, "x.csv", "Tên,Di động,Khóa học\nAn,0912345678,IELTS\n")
    run_cli(path, "--map", "Khóa học=need")
    assert Contact.objects.get().need == "IELTS"


def test_export_then_reimport_creates_nothing(media: Path) -> None:
    run_cli(write(media, "khach-hang.csv", MESSY))
    out = media / "export.csv"
    call_command("export", "contacts", str(out), stdout=open("/dev/null", "w"))  # noqa: SIM115
    with open(out, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    an = next(r for r in rows if r["phone"] == "+84912345678")
    assert an["external_ids"] == "KH001" and an["emails"] == "an@gmail.com" and an["stage"] == "lead"
    before = Contact.objects.count()
    run_cli(out)
    job = ImportJob.objects.latest("id")
    assert job.created_count == 0 and job.rejected_count == 0
    assert Contact.objects.count() == before


def test_ui_flow_upload_map_run_report(admin_user: User, media: Path) -> None:
    client = Client()
    client.force_login(admin_user)
    # Given an uploaded file
    with open(write(media, "leads.csv", MESSY), "rb") as handle:
        response = client.post("/imports/", {"file": handle, "source": "hoi-cho"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == "draft"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Họ và tên" in page and "Phạm Minh Đức" in page
    # When the mapping is confirmed and the worker runs
    mapping = {f"map-{i}": target for i, target in enumerate(job.mapping.values())}
    client.post(f"/imports/{job.pk}/start", {**mapping, "tags": "hoi-cho-2026"})
    assert ImportJob.objects.get().status == "queued"
    assert process_due_jobs() is True
    # Then the report shows the counts and the rejected rows can be downloaded
    job.refresh_from_db()
    assert (job.status, job.created_count, job.rejected_count) == ("done", 3, 3)
    assert Contact.objects.filter(source="hoi-cho", tags__name="hoi-cho-2026").count() == 3
    progress = client.get(f"/imports/{job.pk}/progress").content.decode()
    assert "hx-trigger" not in progress and "rejected-" not in progress and "/rejects.csv" in progress
    download = client.get(f"/imports/{job.pk}/rejects.csv")
    assert b"Ph\xe1\xba\xa1m Minh \xc4\x90\xe1\xbb\xa9c" in b"".join(download.streaming_content)  # type: ignore[attr-defined]


def test_ui_refuses_other_files_and_sales_reps(admin_user: User, alice: User, media: Path) -> None:
    client = Client()
    client.force_login(admin_user)
    with open(write(media, "x.pdf", "x"), "rb") as handle:
        assert client.post("/imports/", {"file": handle}).status_code == 422
    rep = Client()
    rep.force_login(alice)
    assert rep.get("/imports/").status_code == 403
    assert ImportJob.objects.count() == 0
