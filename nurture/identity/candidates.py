"""Matching against the database: contacts as `Record`s, their blocking keys, candidate lookup."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from django.db import connection

from nurture.contacts.leads import LeadInput
from nurture.contacts.models import Contact
from nurture.core import revisions
from nurture.core.writes import insert
from nurture.identity.matching import (
    DEFAULT_WEIGHTS,
    Match,
    MatchConfig,
    Record,
    blocking_keys,
    compare,
)
from nurture.identity.models import MatchKey, MatchSettings

CHUNK = 2000
# Contacts compared with one incoming lead at most; blocks are capped, so this is rarely reached.
MAX_CANDIDATES = 200
EXTERNAL_KINDS = ("external", "zalo", "facebook")
LOCK_MAX_RECORDS = 20
KEYS_PER_QUERY = 200


def current_config() -> MatchConfig:
    """Every capture matches with it: held per process until the settings change (core.revisions)."""
    return revisions.snapshot("identity", _config)


def _config() -> MatchConfig:
    row = MatchSettings.objects.first()
    if row is None:
        return MatchConfig()
    weights = {**DEFAULT_WEIGHTS, **{k: (v[0], v[1], v[2]) for k, v in row.weights.items()}}
    return replace(MatchConfig(), auto_merge=row.auto_merge, review=row.review, prior=row.prior, weights=weights)


def lead_record(leads: Sequence[LeadInput]) -> Record:
    """One record for the leads of one new contact (the first non-empty value of each field)."""

    def first(name: str) -> str:
        return next((str(getattr(lead, name)) for lead in leads if getattr(lead, name)), "")

    return Record.build(
        None,
        name=first("full_name"),
        phones=[lead.phone for lead in leads],
        emails=[lead.email for lead in leads],
        external_ids=[
            f"{kind}:{value}" for lead in leads for kind in EXTERNAL_KINDS if (value := getattr(lead, kind + "_id"))
        ],
        address=first("address"),
        province=first("province"),
        company=first("company"),
        birth_date=first("birth_date"),
    )


RECORD_SQL = (
    "SELECT c.id, c.full_name, c.phone, c.email, c.address, c.province, co.name, c.birth_date, i.kind, i.value"
    " FROM contacts_contact c LEFT JOIN contacts_company co ON co.id = c.company_id"
    " LEFT JOIN contacts_identity i ON i.contact_id = c.id WHERE c.id IN ({})"
)


def contact_records(ids: Iterable[int]) -> dict[int, Record]:
    """Records of these contacts, identities included: one query per chunk (this runs on every capture)."""
    ids = sorted(set(ids))
    rows: dict[int, tuple[Any, ...]] = {}
    identities: dict[int, dict[str, list[str]]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            cursor.execute(RECORD_SQL.format(", ".join(["%s"] * len(chunk))), chunk)
            for *row, kind, value in cursor.fetchall():
                rows[row[0]] = tuple(row)
                if kind:
                    identities.setdefault(row[0], {}).setdefault(kind, []).append(value)
    records = {}
    for pk, (_, name, phone, email, address, province, company, birth_date) in rows.items():
        known = identities.get(pk, {})
        records[pk] = Record.build(
            pk,
            name=name,
            phones=[phone, *known.get("phone", [])],
            emails=[email, *known.get("email", [])],
            external_ids=[f"{kind}:{v}" for kind in EXTERNAL_KINDS for v in known.get(kind, [])],
            address=address,
            province=province,
            company=company or "",
            birth_date=birth_date,
        )
    return records


def new_record(contact: Contact, identities: Iterable[tuple[str, str]], company: str) -> Record:
    """The record contact_records would read back for a contact just inserted with these identities (`company`:
    the name of its company, which matches the stored one once folded)."""
    known: dict[str, list[str]] = {}
    for kind, value in identities:
        known.setdefault(kind, []).append(value)
    return Record.build(
        contact.pk,
        name=contact.full_name,
        phones=[contact.phone, *known.get("phone", [])],
        emails=[contact.email, *known.get("email", [])],
        external_ids=[f"{kind}:{v}" for kind in EXTERNAL_KINDS for v in known.get(kind, [])],
        address=contact.address,
        province=contact.province,
        company=company,
        birth_date=contact.birth_date,
    )


def refresh_keys(contact_ids: Iterable[int], *, new: Mapping[int, Record] | None = None) -> None:
    """Recompute the blocking keys of these contacts (after a capture, an edit, a merge). `new`: the records of
    contacts created in this transaction (new_record), which are not read back and have no keys to delete."""
    new = new or {}
    records = {**contact_records(set(contact_ids) - new.keys()), **new}
    ids = sorted(records.keys() - new.keys())
    for start in range(0, len(ids), CHUNK):
        MatchKey.objects.filter(contact_id__in=ids[start : start + CHUNK]).delete()
    insert([MatchKey(contact_id=pk, key=key[:160]) for pk, record in records.items() for key in blocking_keys(record)])


SELECTIVE_KEYS = ("p:", "p6:", "e:", "l:", "x:")


def lock_keys(records: Sequence[Record]) -> None:
    """Serialise concurrent captures that may be one person, until this transaction ends.

    Two webhooks for one new person arriving at once would each find no candidate and create a
    contact each; an advisory lock per blocking key (PostgreSQL) makes the second wait and then see
    the first. Shared identities are already guarded by Identity's unique constraint; big batches
    (imports) skip this, as they run one at a time and their keys would exhaust the lock table. Only selective
    keys are locked (phones, emails, external ids, and the name with the birth date): the name, house-number and
    birth-year keys are shared by thousands ("Nguyễn Văn An"), and locking them queued unrelated leads behind
    each other (at 100 leads/s most requests waited). A pair sharing only those still meets in the review queue.
    """
    if connection.vendor != "postgresql" or len(records) > LOCK_MAX_RECORDS:
        return
    keys = sorted({_lock_id(key) for record in records for key in _lock_keys(record)})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def _lock_keys(record: Record) -> set[str]:
    keys = {key for key in blocking_keys(record) if key.startswith(SELECTIVE_KEYS)}
    if record.birth_date and record.name:
        keys.add(f"nb:{' '.join(sorted(record.name.split()))}|{record.birth_date}")
    return keys


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _blocks(keys: list[str], config: MatchConfig) -> dict[str, list[int]]:
    """The contacts holding each key, for keys within their cap.

    One statement per chunk of keys, each key read with LIMIT cap + 1 on the index, so a name shared
    by thousands of contacts costs no more than a rare one.
    """
    members: dict[str, list[int]] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        sql = " UNION ALL ".join(
            f"SELECT * FROM (SELECT key, contact_id FROM identity_matchkey WHERE key = %s LIMIT %s) AS b{i}"
            for i in range(len(chunk))
        )
        params: list[str | int] = []
        for key in chunk:
            params.extend((key, config.cap(key) + 1))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for key, contact_id in cursor.fetchall():
                members.setdefault(key, []).append(contact_id)
    return {key: ids for key, ids in members.items() if len(ids) <= config.cap(key)}


def candidates(records: Sequence[Record], config: MatchConfig) -> list[list[tuple[int, Match]]]:
    """For each incoming record, the contacts it may be, best match first (a few queries per batch)."""
    keys_of = [{key[:160] for key in blocking_keys(record)} for record in records]
    members = _blocks(sorted(set().union(*keys_of)) if keys_of else [], config)
    wanted = [sorted({c for key in keys if key in members for c in members[key]})[:MAX_CANDIDATES] for keys in keys_of]
    known = contact_records(c for ids in wanted for c in ids)
    result = []
    for record, ids in zip(records, wanted, strict=True):
        matches = [(c, compare(record, known[c], config)) for c in ids if c in known]
        result.append(sorted(matches, key=lambda m: -m[1].score))
    return result
