"""Legal holds: which calls and records a hold keeps, for retention purges and DSAR erasure.

A hold is a row of ``legal_holds`` (a plain mapping here). It names one tenant and one scope:
``call`` (a call id), ``phone`` (an E.164 number) or ``email`` (an address, compared without
case). ``from_date`` / ``to_date`` bound the call date, both inclusive. A released hold covers
nothing. A hold covers the whole lineage of the calls it matches (recording, transcript, AI
outputs, CRM links), so callers match at call level and apply the result to every artefact of
the call.

When a record's date is unknown a dated hold still covers it: a hold errs on keeping data.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import pandas as pd

HOLD_SCOPES: tuple[str, ...] = ("call", "phone", "email")


class HoldRowError(ValueError):
    """A hold row cannot be evaluated (unknown scope, missing target); it names the hold id."""


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def is_released(hold: Mapping[str, Any]) -> bool:
    released = hold.get("released_at")
    return released is not None and not (isinstance(released, float) and pd.isna(released))


def _target(hold: Mapping[str, Any]) -> str:
    """The value the hold matches on, checked once so every caller fails the same way."""
    scope = hold.get("scope")
    column = {"call": "call_id", "phone": "e164", "email": "email"}.get(str(scope))
    if column is None:
        raise HoldRowError(
            f"legal hold {hold.get('hold_id')}: unknown scope (expected call|phone|email)"
        )
    value = hold.get(column)
    if not isinstance(value, str) or not value:
        raise HoldRowError(f"legal hold {hold.get('hold_id')}: scope {scope} without its {column}")
    return value.lower() if scope == "email" else value


def date_in_bounds(hold: Mapping[str, Any], on: date | None) -> bool:
    """Inclusive ``from_date``/``to_date`` bounds; an unknown date is inside (keep when unsure)."""
    if on is None:
        return True
    start, end = _as_date(hold.get("from_date")), _as_date(hold.get("to_date"))
    if start is not None and on < start:
        return False
    return not (end is not None and on > end)


def hold_covers(
    hold: Mapping[str, Any],
    *,
    tenant_id: str,
    call_id: str | None,
    party_e164s: Collection[str],
    emails: Collection[str],
    call_date: date | None,
) -> bool:
    """Whether ``hold`` keeps a record of ``tenant_id`` tied to this call, parties and emails.

    ``party_e164s`` are the E.164 numbers linked to the record (call parties, CRM contact);
    ``emails`` the addresses linked to it (CRM contact). Holds never cross tenants.
    """
    if is_released(hold) or hold.get("tenant_id") != tenant_id:
        return False
    target = _target(hold)
    if not date_in_bounds(hold, call_date):
        return False
    scope = hold["scope"]
    if scope == "call":
        return call_id is not None and call_id == target
    if scope == "phone":
        return target in party_e164s
    return any(isinstance(email, str) and email.lower() == target for email in emails)


def active_holds_covering(
    holds: Iterable[Mapping[str, Any]],
    *,
    tenant_id: str,
    call_id: str | None,
    party_e164s: Collection[str],
    emails: Collection[str],
    call_date: date | None,
) -> list[str]:
    """Ids of the active holds that cover a record, sorted (empty: nothing keeps it)."""
    return sorted(
        str(hold["hold_id"])
        for hold in holds
        if hold_covers(
            hold,
            tenant_id=tenant_id,
            call_id=call_id,
            party_e164s=party_e164s,
            emails=emails,
            call_date=call_date,
        )
    )


def hold_covers_number_record(
    hold: Mapping[str, Any],
    *,
    tenant_id: str,
    e164: str | None,
    e164_hash: str | None,
    event_date: date | None,
    hash_number: Callable[[str], str],
) -> bool:
    """Whether a phone hold keeps a number-keyed record (wash result, blocked call).

    Such records may hold only the keyed hash of the number, so the hold's number is hashed
    with the same key and compared too. Call and email holds never cover them.
    """
    if is_released(hold) or hold.get("tenant_id") != tenant_id or hold.get("scope") != "phone":
        return False
    target = _target(hold)
    if not date_in_bounds(hold, event_date):
        return False
    return (e164 is not None and e164 == target) or (
        e164_hash is not None and e164_hash == hash_number(target)
    )


def active_holds(holds: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The holds not released, each validated (a corrupt hold row fails loudly, never silently)."""
    kept = [hold for hold in holds if not is_released(hold)]
    for hold in kept:
        _target(hold)
    return kept


def _joined_ids(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "hold_ids"])
    grouped = (
        frame.drop_duplicates([*keys, "hold_id"])
        .sort_values("hold_id")
        .groupby(keys, sort=True)["hold_id"]
        .agg(lambda ids: ",".join(ids))
        .rename("hold_ids")
        .reset_index()
    )
    return grouped


def _within(frame: pd.DataFrame, hold: Mapping[str, Any], date_column: str) -> pd.Series:
    dates = pd.to_datetime(frame[date_column], errors="coerce")
    inside = pd.Series(True, index=frame.index)
    start, end = _as_date(hold.get("from_date")), _as_date(hold.get("to_date"))
    if start is not None:
        inside &= dates.isna() | (dates >= pd.Timestamp(start))
    if end is not None:
        inside &= dates.isna() | (dates <= pd.Timestamp(end))
    return inside


def calls_under_hold(
    holds: Iterable[Mapping[str, Any]], calls: pd.DataFrame, contacts: pd.DataFrame
) -> pd.DataFrame:
    """Every (tenant_id, call_id) an active hold covers, with ``hold_ids`` (comma-joined, sorted).

    The vectorised twin of ``hold_covers`` for whole tenants: ``calls`` has tenant_id, call_id,
    call_date, src_e164, dst_e164; ``contacts`` (CRM links) has tenant_id, call_id,
    contact_e164, contact_email. A call is covered when any of its parties or CRM contacts
    matches, so its whole lineage is kept.
    """
    parts: list[pd.DataFrame] = []
    call_dates = calls[["tenant_id", "call_id", "call_date"]]
    for hold in active_holds(holds):
        tenant_calls = calls.loc[calls["tenant_id"] == hold["tenant_id"]]
        target = _target(hold)
        scope = hold["scope"]
        if scope == "call":
            matched = tenant_calls.loc[tenant_calls["call_id"] == target]
            if matched.empty:
                # A call the warehouse does not (yet) know: keep whatever carries its id.
                matched = pd.DataFrame(
                    {"tenant_id": [hold["tenant_id"]], "call_id": [target], "call_date": [None]}
                )
            matched = matched.loc[_within(matched, hold, "call_date"), ["tenant_id", "call_id"]]
        else:
            tenant_contacts = contacts.loc[contacts["tenant_id"] == hold["tenant_id"]]
            if scope == "phone":
                by_party = tenant_calls.loc[
                    (tenant_calls["src_e164"] == target) | (tenant_calls["dst_e164"] == target)
                ]
                contact_hit = tenant_contacts["contact_e164"] == target
            else:
                by_party = tenant_calls.iloc[0:0]
                contact_hit = tenant_contacts["contact_email"].str.lower() == target
            by_contact = tenant_contacts.loc[contact_hit.fillna(False), ["tenant_id", "call_id"]]
            by_contact = by_contact.merge(call_dates, on=["tenant_id", "call_id"], how="left")
            matched = pd.concat(
                [by_party[["tenant_id", "call_id", "call_date"]], by_contact], ignore_index=True
            )
            matched = matched.loc[_within(matched, hold, "call_date"), ["tenant_id", "call_id"]]
        if not matched.empty:
            parts.append(matched.assign(hold_id=str(hold["hold_id"])))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return _joined_ids(frame, ["tenant_id", "call_id"])


def number_records_under_hold(
    holds: Iterable[Mapping[str, Any]],
    records: pd.DataFrame,
    hash_number: Callable[[str], str],
) -> pd.DataFrame:
    """Number-keyed records (tenant_id, record_type, artefact_id, e164, e164_hash, event_date)
    an active phone hold covers, with ``hold_ids``."""
    keys = ["tenant_id", "record_type", "artefact_id"]
    parts: list[pd.DataFrame] = []
    for hold in active_holds(holds):
        if hold["scope"] != "phone":
            continue
        target = _target(hold)
        tenant_records = records.loc[records["tenant_id"] == hold["tenant_id"]]
        hit = (tenant_records["e164"] == target).fillna(False) | (
            tenant_records["e164_hash"] == hash_number(target)
        ).fillna(False)
        matched = tenant_records.loc[hit]
        matched = matched.loc[_within(matched, hold, "event_date"), keys]
        if not matched.empty:
            parts.append(matched.assign(hold_id=str(hold["hold_id"])))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return _joined_ids(frame, keys)
