"""Find every record of one data subject inside ONE tenant.

Every query is bound to the tenant id and served by an index on (tenant_id, identifier):
calls by party number (``ix_calls_src`` / ``ix_calls_dst``), CRM links by contact phone and
email, consents / suppression / blocked calls by number or keyed hash. Artefacts follow their
calls by primary key. Transcripts and AI notes are also scanned for the subject's identifiers in
their text (phone numbers however written or spoken, and emails), because a person is often
named in someone else's call; that scan reads the tenant's texts in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar.planning import (
    AI_OUTPUTS,
    BLOCKED_CALLS,
    CALLS,
    CDR_SOURCE_LINES,
    CONSENTS,
    CRM_LINKS,
    CRM_SOURCE_LINES,
    MATCH_CRM,
    MATCH_HASH,
    MATCH_LINKED,
    MATCH_NUMBER,
    MATCH_PARTY,
    MATCH_TEXT,
    RECORDINGS,
    RESTRICTIONS,
    SUPPRESSION,
    TRANSCRIPTS,
    WASH_RESULTS,
    LocatedItem,
    Subject,
    dedupe,
)
from cm_pipelines.domain.dsar.requests import Identifier
from cm_pipelines.domain.identifiers import extract_identifiers
from cm_pipelines.domain.keyed_hash import is_keyed_hash, keyed_hash
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.identifier_index import mentioning_select
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables.dsar import restrictions

IN_CHUNK = 1_000
TEXT_CHUNK = 2_000


def subject_for(identifiers: Iterable[Identifier], tenant: Tenant, key: bytes) -> Subject:
    identifiers = list(identifiers)
    phones = frozenset(i.value for i in identifiers if i.kind == "phone")
    emails = frozenset(i.value for i in identifiers if i.kind == "email")
    crm_ids = frozenset((i.crm_system, i.value) for i in identifiers if i.kind == "crm_id")
    return Subject(
        tenant_id=tenant.id,
        country=tenant.country,
        phones=phones,
        emails=emails,
        crm_ids=crm_ids,
        phone_hashes={phone: keyed_hash(phone, key) for phone in sorted(phones)},
        email_hashes={email: keyed_hash(email, key) for email in sorted(emails)},
    )


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield list(values[start : start + IN_CHUNK])


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _numbers(*values: str | None) -> tuple[str, ...]:
    """Party numbers as they are stored, without hashes of already erased parties."""
    return tuple(v for v in values if v and not is_keyed_hash(v))


def _source_ref(source_file: str, source_line: int | None) -> str | None:
    return None if source_line is None else f"{source_file}#{int(source_line)}"


def locate_calls_by_party(
    connection: sa.Connection, tenant_id: str, phones: Sequence[str]
) -> list[sa.Row]:
    """Calls where a number is caller or callee: two index range scans, not one OR scan."""
    calls = call_tables.calls
    columns = (
        calls.c.call_id,
        calls.c.call_date,
        calls.c.src_e164,
        calls.c.dst_e164,
        calls.c.source_file,
        calls.c.source_line,
    )
    rows: dict[str, sa.Row] = {}
    for chunk in _chunks(sorted(phones)):
        for column in (calls.c.src_e164, calls.c.dst_e164):
            query = sa.select(*columns).where(calls.c.tenant_id == tenant_id, column.in_(chunk))
            for row in connection.execute(query):
                rows[row.call_id] = row
    return list(rows.values())


def _calls_by_id(
    connection: sa.Connection, tenant_id: str, call_ids: Sequence[str]
) -> list[sa.Row]:
    calls = call_tables.calls
    found: list[sa.Row] = []
    for chunk in _chunks(sorted(call_ids)):
        found.extend(
            connection.execute(
                sa.select(
                    calls.c.call_id,
                    calls.c.call_date,
                    calls.c.src_e164,
                    calls.c.dst_e164,
                    calls.c.source_file,
                    calls.c.source_line,
                ).where(calls.c.tenant_id == tenant_id, calls.c.call_id.in_(chunk))
            )
        )
    return found


def _crm_links(connection: sa.Connection, subject: Subject) -> list[sa.Row]:
    links = call_tables.crm_links
    columns = (
        links.c.id,
        links.c.call_id,
        links.c.partition_date,
        links.c.crm_system,
        links.c.crm_record_id,
        links.c.contact_e164,
        links.c.contact_email,
        links.c.source_file,
        links.c.source_line,
    )
    tenant = links.c.tenant_id == subject.tenant_id
    conditions: list[sa.ColumnElement[bool]] = []
    if subject.phones:
        conditions.append(links.c.contact_e164.in_(sorted(subject.phones)))
    if subject.emails:
        conditions.append(links.c.contact_email.in_(sorted(subject.emails)))
    for system, record in sorted(subject.crm_ids, key=lambda pair: (pair[0] or "", pair[1])):
        condition = links.c.crm_record_id == record
        if system:
            condition = sa.and_(condition, links.c.crm_system == system)
        conditions.append(condition)
    rows: dict[int, sa.Row] = {}
    for condition in conditions:  # one indexed query per identifier kind
        for row in connection.execute(sa.select(*columns).where(tenant, condition)):
            rows[row.id] = row
    return list(rows.values())


def _artefacts(
    connection: sa.Connection, table: sa.Table, tenant_id: str, call_ids: Sequence[str]
) -> list[sa.Row]:
    columns = [table.c.call_id, table.c.partition_date, table.c.object_path]
    if "kind" in table.c:
        columns.append(table.c.kind)
    found: list[sa.Row] = []
    for chunk in _chunks(sorted(call_ids)):
        found.extend(
            connection.execute(
                sa.select(*columns).where(
                    table.c.tenant_id == tenant_id, table.c.call_id.in_(chunk)
                )
            )
        )
    return found


def _mentions(text: str, subject: Subject) -> bool:
    if not text:
        return False
    found = extract_identifiers(text, subject.country)
    return bool(found.phones & subject.phones) or bool(found.emails & subject.emails)


def scan_texts(
    connection: sa.Connection,
    table: sa.Table,
    subject: Subject,
    skip_call_ids: set[str],
) -> list[sa.Row]:
    """Rows of ``table`` (transcripts or AI outputs) whose text names the subject."""
    if not (subject.phones or subject.emails):
        return []
    columns = [table.c.call_id, table.c.partition_date, table.c.object_path, table.c.text]
    if "kind" in table.c:
        columns.append(table.c.kind)
    query = (
        sa.select(*columns)
        .where(table.c.tenant_id == subject.tenant_id)
        .execution_options(yield_per=TEXT_CHUNK)
    )
    return [
        row
        for row in connection.execute(query)
        if row.call_id not in skip_call_ids and _mentions(row.text, subject)
    ]


def _number_records(
    connection: sa.Connection, table: sa.Table, subject: Subject, date_column: str
) -> list[sa.Row]:
    tenant = table.c.tenant_id == subject.tenant_id
    hashes = sorted(subject.phone_hashes.values())
    columns = [table.c.id, table.c.e164_hash, table.c[date_column]]
    if "e164" in table.c:
        columns.append(table.c.e164)
    rows: dict[int, sa.Row] = {}
    conditions = []
    if "e164" in table.c and subject.phones:
        conditions.append(table.c.e164.in_(sorted(subject.phones)))
    if hashes:
        conditions.append(table.c.e164_hash.in_(hashes))
    for condition in conditions:
        for row in connection.execute(sa.select(*columns).where(tenant, condition)):
            rows[row.id] = row
    return list(rows.values())


@dataclass
class _Contacts:
    """What CRM links say about each call: the contact numbers and emails they hold."""

    numbers: dict[str, set[str]] = field(default_factory=dict)
    emails: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Calls:
    """The subject's calls: their date and parties, for the artefacts that follow them."""

    dates: dict[str, date | None] = field(default_factory=dict)
    parties: dict[str, tuple[str, ...]] = field(default_factory=dict)


def locate(
    connection: sa.Connection,
    subject: Subject,
    *,
    hash_number: Callable[[str], str],
    scan_text: bool = True,
    text_via_index: bool = True,
) -> list[LocatedItem]:
    """Every record of ``subject`` in its tenant, one ``LocatedItem`` per (store, ref).

    ``hash_number`` is the keyed hash: a call's item records the hashes of the numbers that are
    the subject's on that call (theirs, or the CRM contact's), which erasure writes in their
    place and exports keep unmasked. ``scan_text`` includes artefacts of other calls whose text
    names the subject: through the identifier index, or (``text_via_index=False``) by reading
    every text of the tenant, the reference path.
    """
    tenant_id = subject.tenant_id
    call_rows = {
        row.call_id: (row, MATCH_PARTY)
        for row in locate_calls_by_party(connection, tenant_id, sorted(subject.phones))
    }
    links = _crm_links(connection, subject)
    items, contacts = _crm_link_items(links)
    linked_only = sorted({link.call_id for link in links} - set(call_rows))
    for row in _calls_by_id(connection, tenant_id, linked_only):
        call_rows[row.call_id] = (row, MATCH_CRM)
    call_items, calls = _call_items(call_rows, subject, contacts, hash_number)
    items.extend(call_items)
    items.extend(_artefact_items(connection, tenant_id, sorted(call_rows), calls, contacts))
    if scan_text:
        items.extend(_text_items(connection, subject, set(call_rows), via_index=text_via_index))
    items.extend(_number_items(connection, subject))
    return dedupe(items)


def _crm_link_items(links: Sequence[sa.Row]) -> tuple[list[LocatedItem], _Contacts]:
    """Each CRM link and the CRM source line it came from; and the contacts per call."""
    items: list[LocatedItem] = []
    contacts = _Contacts()
    for link in links:
        contacts.numbers.setdefault(link.call_id, set()).update(_numbers(link.contact_e164))
        if link.contact_email:
            contacts.emails.setdefault(link.call_id, set()).add(link.contact_email)
        items.append(
            LocatedItem(
                CRM_LINKS,
                str(link.id),
                MATCH_CRM,
                link.call_id,
                _as_date(link.partition_date),
                _numbers(link.contact_e164),
                (link.contact_email,) if link.contact_email else (),
                recipient=link.crm_system,
            )
        )
        source = _source_ref(link.source_file, link.source_line)
        if source is not None:
            items.append(
                LocatedItem(
                    CRM_SOURCE_LINES, source, MATCH_CRM, link.call_id, _as_date(link.partition_date)
                )
            )
    return items, contacts


def _call_items(
    call_rows: dict[str, tuple[sa.Row, str]],
    subject: Subject,
    contacts: _Contacts,
    hash_number: Callable[[str], str],
) -> tuple[list[LocatedItem], _Calls]:
    """Each call and its CDR source line, with the hashes of the subject's numbers on it."""
    items: list[LocatedItem] = []
    calls = _Calls()
    for call_id, (row, match) in call_rows.items():
        contact_numbers = contacts.numbers.get(call_id, set())
        parties = tuple(sorted(set(_numbers(row.src_e164, row.dst_e164)) | contact_numbers))
        emails = tuple(sorted(contacts.emails.get(call_id, set())))
        calls.dates[call_id] = _as_date(row.call_date)
        calls.parties[call_id] = parties
        mine = (set(subject.phones) | contact_numbers) & set(parties)
        details = {"subject_number_hashes": sorted(hash_number(n) for n in mine)}
        common: dict[str, Any] = {
            "call_id": call_id,
            "record_date": calls.dates[call_id],
            "party_e164s": parties,
            "emails": emails,
        }
        items.append(LocatedItem(CALLS, call_id, match, **common, details=details))
        source = _source_ref(row.source_file, row.source_line)
        if source is not None:
            items.append(LocatedItem(CDR_SOURCE_LINES, source, match, **common))
    return items, calls


def _artefact_items(
    connection: sa.Connection,
    tenant_id: str,
    subject_calls: Sequence[str],
    calls: _Calls,
    contacts: _Contacts,
) -> list[LocatedItem]:
    """Recordings, transcripts and AI outputs of the subject's calls, by the call's key."""
    items: list[LocatedItem] = []
    for store, table in (
        (RECORDINGS, call_tables.recordings),
        (TRANSCRIPTS, call_tables.transcripts),
        (AI_OUTPUTS, call_tables.ai_outputs),
    ):
        for row in _artefacts(connection, table, tenant_id, subject_calls):
            ref = f"{row.call_id}/{row.kind}" if store == AI_OUTPUTS else row.call_id
            items.append(
                LocatedItem(
                    store,
                    ref,
                    MATCH_LINKED,
                    row.call_id,
                    calls.dates.get(row.call_id) or _as_date(row.partition_date),
                    calls.parties.get(row.call_id, ()),
                    tuple(sorted(contacts.emails.get(row.call_id, set()))),
                    details={"object_path": row.object_path},
                )
            )
    return items


@dataclass(frozen=True, order=True)
class _TextHit:
    """An artefact whose text names the subject: found by the index or by the text scan."""

    call_id: str
    partition_date: date | None
    object_path: str
    kind: str


def indexed_text_hits(
    connection: sa.Connection, subject: Subject, skip_call_ids: set[str]
) -> list[tuple[str, _TextHit]]:
    """(store, artefact) of the transcripts and AI outputs naming the subject, through the
    identifier index: one statement of B-tree lookups on (tenant_id, keyed_hash)."""
    if not subject.hashes:
        return []
    query = mentioning_select(subject.tenant_id, sorted(subject.hashes))
    return [
        (row.store, _TextHit(row.call_id, row.partition_date, row.object_path, row.kind))
        for row in connection.execute(query)
        if row.call_id not in skip_call_ids
    ]


def scanned_text_hits(
    connection: sa.Connection, subject: Subject, skip_call_ids: set[str]
) -> list[tuple[str, _TextHit]]:
    """The same hits found by reading and parsing every text of the tenant: what locate did
    before the index, kept as the reference the index is tested and benchmarked against."""
    found: list[tuple[str, _TextHit]] = []
    for store, table in (
        (TRANSCRIPTS, call_tables.transcripts),
        (AI_OUTPUTS, call_tables.ai_outputs),
    ):
        for row in scan_texts(connection, table, subject, skip_call_ids):
            kind = row.kind if store == AI_OUTPUTS else ""
            found.append((store, _TextHit(row.call_id, row.partition_date, row.object_path, kind)))
    return found


def _text_items(
    connection: sa.Connection, subject: Subject, skip: set[str], *, via_index: bool
) -> list[LocatedItem]:
    """Artefacts of OTHER calls whose text names the subject; their own call's parties are what
    a hold on that call would match, so they are read for the hold decision."""
    found: list[LocatedItem] = []
    hits = indexed_text_hits if via_index else scanned_text_hits
    rows = hits(connection, subject, skip)
    if not rows:
        return found
    parents = {
        row.call_id: row
        for row in _calls_by_id(connection, subject.tenant_id, sorted({r.call_id for _, r in rows}))
    }
    for store, row in rows:
        parent = parents.get(row.call_id)
        parties = _numbers(parent.src_e164, parent.dst_e164) if parent is not None else ()
        when = _as_date(parent.call_date) if parent is not None else _as_date(row.partition_date)
        ref = f"{row.call_id}/{row.kind}" if store == AI_OUTPUTS else row.call_id
        found.append(
            LocatedItem(
                store,
                ref,
                MATCH_TEXT,
                row.call_id,
                when,
                parties,
                details={"object_path": row.object_path, "match": MATCH_TEXT},
            )
        )
    return found


def _number_items(connection: sa.Connection, subject: Subject) -> list[LocatedItem]:
    found: list[LocatedItem] = []
    for store, table, date_column in (
        (CONSENTS, dncr_tables.consents, "recorded_at"),
        (WASH_RESULTS, dncr_tables.wash_results, "washed_at"),
        (BLOCKED_CALLS, dncr_tables.blocked_calls, "decided_at"),
        (SUPPRESSION, dncr_tables.suppression_entries, "created_at"),
    ):
        for row in _number_records(connection, table, subject, date_column):
            e164 = getattr(row, "e164", None)
            found.append(
                LocatedItem(
                    store,
                    str(row.id),
                    MATCH_NUMBER,
                    None,
                    _as_date(row._mapping[date_column]),
                    _numbers(e164),
                    e164_hash=row.e164_hash,
                )
            )
    hashes = sorted(subject.hashes)
    if hashes:
        query = sa.select(restrictions.c.id, restrictions.c.created_at).where(
            restrictions.c.tenant_id == subject.tenant_id,
            restrictions.c.identifier_hash.in_(hashes),
        )
        for row in connection.execute(query):
            found.append(
                LocatedItem(RESTRICTIONS, str(row.id), MATCH_HASH, None, _as_date(row.created_at))
            )
    return found
