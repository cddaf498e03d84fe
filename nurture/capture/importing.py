"""Reading spreadsheets of leads and running an import in chunks through `capture_leads`.

Files are streamed (CSV row by row, XLSX in openpyxl's read-only mode), so a 100,000-row file never sits
in memory. Each chunk is validated row by row (a bad row is rejected with its reason and never written)
and then captured in one transaction.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F

from nurture.capture.models import ImportJob
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import InvalidLead, LeadInput, parse_lead
from nurture.contacts.models import Event
from nurture.core import clock
from nurture.core.money import parse_amount
from nurture.core.normalise import fold
from nurture.lifecycle.models import StageChange

CHUNK = 1000
DELIMITERS = (",", ";", "\t", "|")
CUSTOM_PREFIX = "custom:"
FIELDS = [
    "full_name", "phone", "email", "external_id", "zalo_id", "facebook_id", "company", "job_title", "industry",
    "province", "address", "need", "preferred_contact_time", "gender", "birth_date", "source", "medium", "campaign",
    "tags",
]  # fmt: skip
# Header synonyms, compared folded (no diacritics, lower case), Vietnamese and English.
SYNONYMS: dict[str, list[str]] = {
    "full_name": ["ho va ten", "ho ten", "ten", "ten khach hang", "khach hang", "name", "full name", "fullname",
                  "ho ten khach hang", "contact name"],
    "phone": ["so dien thoai", "dien thoai", "sdt", "so dt", "phone", "phone number", "mobile", "di dong", "tel"],
    "email": ["email", "e-mail", "thu dien tu", "mail", "email address"],
    "external_id": ["ma kh", "ma khach hang", "id", "external id", "customer id", "ma", "external ids"],
    "zalo_id": ["zalo", "zalo id"],
    "facebook_id": ["facebook", "facebook id", "fb"],
    "company": ["cong ty", "ten cong ty", "company", "doanh nghiep", "organization"],
    "job_title": ["chuc vu", "chuc danh", "job title", "title", "position"],
    "industry": ["nganh", "nganh nghe", "linh vuc", "industry"],
    "province": ["tinh/thanh pho", "tinh thanh", "tinh", "thanh pho", "khu vuc", "province", "city", "region",
                 "tinh / thanh pho"],
    "address": ["dia chi", "address", "dia chi lien he", "street"],
    "need": ["nhu cau", "ghi chu", "need", "notes", "note", "interest"],
    "preferred_contact_time": ["thoi gian lien he", "gio lien he", "preferred contact time", "contact time"],
    "gender": ["gioi tinh", "gender", "sex"],
    "birth_date": ["ngay sinh", "sinh nhat", "birth date", "birthday", "date of birth", "dob"],
    "source": ["nguon", "nguon khach", "source", "lead source", "kenh"],
    "medium": ["medium", "utm medium"],
    "campaign": ["chien dich", "campaign", "utm campaign"],
    "tags": ["tags", "tag", "nhan", "the"],
}  # fmt: skip
_LOOKUP = {synonym: field for field, synonyms in SYNONYMS.items() for synonym in synonyms}
# Columns of `nurture export contacts` that describe Nurture's own state, not the lead: ignored on re-import.
EXPORT_ONLY = {"nurture id", "phones", "emails", "zalo ids", "facebook ids", "stage", "owner", "score", "created at"}
MULTI_VALUE_SEPARATOR = "|"


class UnreadableFile(ValueError):
    pass


def auto_map(headers: list[str]) -> dict[str, str]:
    """Header -> field for the headers we recognise; others are kept as custom fields."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        key = " ".join(fold(header).replace("_", " ").split())
        field = _LOOKUP.get(key, "")
        if key in EXPORT_ONLY:
            mapping[header] = ""
        elif field and field not in taken:
            mapping[header] = field
            taken.add(field)
        else:
            mapping[header] = CUSTOM_PREFIX + header if header.strip() else ""
    return mapping


def valid_target(target: str) -> bool:
    return target == "" or target in FIELDS or (target.startswith(CUSTOM_PREFIX) and len(target) > len(CUSTOM_PREFIX))


def _decode(path: Path) -> str:
    """The text encoding of a CSV: UTF-8 (with or without BOM), else Windows-1258."""
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    try:
        head.decode("utf-8-sig")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut at the end of the sample
            return "utf-8-sig"
        return "cp1258"


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        # cp1258 decodes to base letters + combining tones; NFC gives the composed Vietnamese letters.
        return unicodedata.normalize("NFC", value.strip())
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    encoding = _decode(path)
    with codecs.open(str(path), encoding=encoding, errors="replace") as handle:
        header = handle.readline()
        handle.seek(0)
        # The header line decides: csv.Sniffer guesses wrong on rows full of empty cells (";;;;").
        delimiter = max(DELIMITERS, key=header.count)
        for row in csv.reader(handle, delimiter=delimiter):
            yield [_cell(v) for v in row]


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a corrupt file
        raise UnreadableFile(f"not a readable Excel file: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(v) if v is not None else "" for v in row]
    finally:
        book.close()


def _raw_rows(path: Path) -> Iterator[list[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_rows(path)
    if suffix in (".csv", ".txt"):
        return _csv_rows(path)
    raise UnreadableFile("only .csv and .xlsx files can be imported")


def iter_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number as a spreadsheet shows it, header -> value), skipping empty rows."""
    rows = _raw_rows(path)
    headers = [str(h).strip() for h in next(rows, [])]
    if not any(headers):
        raise UnreadableFile("the file has no header row")
    for number, row in enumerate(rows, start=2):
        if not any(str(v).strip() for v in row):
            continue
        yield number, dict(zip(headers, row, strict=False))


def read_headers(path: Path) -> list[str]:
    headers = [str(h).strip() for h in next(_raw_rows(path), [])]
    if not any(headers):
        raise UnreadableFile("the file has no header row")
    return headers


def preview(path: Path, n: int = 10) -> list[dict[str, Any]]:
    rows = []
    for _number, row in iter_rows(path):
        rows.append(row)
        if len(rows) >= n:
            break
    return rows


def count_rows(path: Path) -> int:
    return sum(1 for _ in iter_rows(path))


def row_to_lead(row: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"custom_fields": {}}
    for header, target in mapping.items():
        value = row.get(header, "")
        if value in ("", None) or not target:
            continue
        if target.startswith(CUSTOM_PREFIX):
            data["custom_fields"][target[len(CUSTOM_PREFIX) :]] = _custom_value(value)
        elif target == "phone" and isinstance(value, int):
            data[target] = str(value)  # a number cell lost the leading 0; the normaliser restores it
        elif isinstance(value, date):
            data[target] = value.strftime("%d/%m/%Y")
        elif isinstance(value, str) and MULTI_VALUE_SEPARATOR in value and target != "need":
            data[target] = value.split(MULTI_VALUE_SEPARATOR)[0]  # an exported list of ids: the first is enough
        else:
            data[target] = value
    return data


def _custom_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1].isdigit() and not value.startswith("0"):
        try:
            return parse_amount(value)  # "1.500.000" -> 1500000
        except ValueError:
            return value
    return value


def _error_text(exc: InvalidLead) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in exc.errors)


def run_import(job: ImportJob) -> None:
    """Import the job's file in chunks; counters are saved after every chunk for the progress bar."""
    path = Path(job.file_path)
    rejects_path = Path(settings.MEDIA_ROOT) / "imports" / f"import-{job.pk}-rejects.csv"
    headers = read_headers(path)
    job.total_rows = job.total_rows or count_rows(path)
    job.rejects_path = str(rejects_path)
    job.save(update_fields=["total_rows", "rejects_path"])
    with rejects_path.open("w", encoding="utf-8-sig", newline="") as rejects_file:
        rejects = csv.writer(rejects_file)
        rejects.writerow(["row", *headers, "error"])
        chunk: list[tuple[int, dict[str, Any]]] = []
        for item in iter_rows(path):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                _import_chunk(job, chunk, headers, rejects)
                chunk = []
        if chunk:
            _import_chunk(job, chunk, headers, rejects)


def _import_chunk(job: ImportJob, chunk: list[tuple[int, dict[str, Any]]], headers: list[str], rejects: Any) -> None:
    leads: list[LeadInput] = []
    numbers: list[int] = []
    rejected: list[tuple[int, dict[str, Any], str]] = []
    for number, row in chunk:
        data = row_to_lead(row, job.mapping)
        if job.tags:
            data["tags"] = [*_as_list(data.get("tags")), *job.tags]
        data.setdefault("source", job.source)
        try:
            lead = parse_lead(data)
        except InvalidLead as exc:
            rejected.append((number, row, _error_text(exc)))
            continue
        lead.event_data = {"import_id": job.pk, "file": job.original_name, "row": number}
        leads.append(lead)
        numbers.append(number)
    outcomes = _capture(job, leads, numbers, chunk, rejected)
    for number, row, error in sorted(rejected, key=lambda r: r[0]):
        rejects.writerow([number, *[row.get(h, "") for h in headers], error])
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(chunk),
        created_count=F("created_count") + outcomes.count("created"),
        updated_count=F("updated_count") + outcomes.count("updated"),
        skipped_count=F("skipped_count") + outcomes.count("unchanged"),
        rejected_count=F("rejected_count") + len(rejected),
    )


def _capture(
    job: ImportJob,
    leads: list[LeadInput],
    numbers: list[int],
    chunk: list[tuple[int, dict[str, Any]]],
    rejected: list[tuple[int, dict[str, Any], str]],
) -> list[str]:
    options = {
        "event_type": Event.Type.IMPORTED,
        "cause": StageChange.Cause.IMPORT,
        "source_label": job.source,
        "record_unchanged": False,
    }
    try:
        return [r.outcome for r in capture_leads(leads, **options)]  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - fall back to one row at a time so one row cannot sink the chunk
        rows = dict(chunk)
        outcomes = []
        for lead, number in zip(leads, numbers, strict=True):
            try:
                outcomes.append(capture_leads([lead], **options)[0].outcome)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                rejected.append((number, rows[number], f"{type(exc).__name__}: {exc}"))
        return outcomes


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, list):
        return value
    return [t.strip() for t in str(value).replace(";", ",").split(",") if t.strip()]


def finish(job: ImportJob, *, error: str = "") -> None:
    job.refresh_from_db()
    job.status = ImportJob.Status.FAILED if error else ImportJob.Status.DONE
    job.error = error
    job.finished_at = clock.now()
    job.save(update_fields=["status", "error", "finished_at"])
