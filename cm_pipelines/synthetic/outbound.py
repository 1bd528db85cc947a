"""Outbound dialling data: campaign lists, consents and the do-not-call registry files.

Campaign lists mix numbers the registry holds, numbers on nobody's list and a few malformed
entries. Registries come in two shapes: a full download plus change lists (FTC, one zip per area
code) and, for wash-only registries (ACMA, Singapore DNC), the wash result file they return.

Wash result files write ``phone_number`` as E.164 digits without the ``+`` (``61491570156``),
``registered`` as ``Y``/``N`` and ``wash_date`` as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from cm_pipelines.synthetic.formats import csv_bytes, ftc_lines, zip_bytes
from cm_pipelines.synthetic.numbers import PhoneForms

FULL_DOWNLOAD_REGISTRIES: dict[str, str] = {"us_ftc": "US"}
WASH_ONLY_REGISTRIES: dict[str, str] = {"au_acma": "AU", "sg_dnc": "SG"}
"""Registry id -> the country whose numbers it holds."""
CONSENT_KINDS: tuple[str, ...] = ("express_consent", "transaction", "inquiry")
CONSENT_SOURCES: tuple[str, ...] = (
    "web_form",
    "crm_import",
    "inbound_call",
    "signed_contract",
    "paper_form",
)
MALFORMED_PHONES: tuple[str, ...] = ("12345", "n/a", "CALL-ME-NOW", "+999", "000000000000000000")
CAMPAIGN_HEADER = ("phone", "contact_ref")
CONSENT_HEADER = ("phone", "kind", "recorded_at", "source")
WASH_HEADER = ("phone_number", "registered", "wash_date")


@dataclass(frozen=True)
class CampaignEntry:
    """A number on a campaign list; ``registered`` says whether the country's registry holds it."""

    phone: PhoneForms
    contact_ref: str
    registered: bool


def _as_listed(phone: PhoneForms, form: int) -> str:
    return (phone.national, phone.written, phone.e164, phone.e164_spaced)[form]


def campaign_csv(
    entries: Sequence[CampaignEntry], malformed: int, rng: np.random.Generator
) -> bytes:
    """A campaign list in shuffled order, numbers written the way people typed them."""
    forms = rng.choice(4, size=len(entries), p=[0.5, 0.2, 0.2, 0.1]).tolist()
    rows = [
        (_as_listed(entry.phone, form), entry.contact_ref)
        for entry, form in zip(entries, forms, strict=True)
    ]
    bad = rng.choice(
        len(MALFORMED_PHONES), size=min(malformed, len(MALFORMED_PHONES)), replace=False
    )
    rows += [(MALFORMED_PHONES[i], f"BAD-{n:04d}") for n, i in enumerate(bad.tolist())]
    order = rng.permutation(len(rows)).tolist()
    return csv_bytes(CAMPAIGN_HEADER, [rows[i] for i in order])


def consents_csv(
    entries: Sequence[CampaignEntry], start_day: date, rng: np.random.Generator
) -> bytes:
    """Consents for about a third of the listed numbers, and always for one registered number.

    ``recorded_at`` is ISO 8601 UTC; ages reach back 900 days so some inquiries are long expired.
    """
    chosen = rng.random(len(entries)) < 0.35
    registered = [i for i, entry in enumerate(entries) if entry.registered]
    if registered:
        chosen[registered[0]] = True
    indices = np.nonzero(chosen)[0].tolist()
    kinds = rng.choice(len(CONSENT_KINDS), size=len(indices), p=[0.5, 0.3, 0.2]).tolist()
    ages = rng.integers(1, 900, len(indices)).tolist()
    seconds = rng.integers(0, 86400, len(indices)).tolist()
    sources = rng.integers(0, len(CONSENT_SOURCES), len(indices)).tolist()
    e164 = (rng.random(len(indices)) < 0.4).tolist()
    midnight = datetime.combine(start_day, time())
    rows = []
    for n, index in enumerate(indices):
        phone = entries[index].phone
        kind = CONSENT_KINDS[0] if index == (registered or [-1])[0] else CONSENT_KINDS[kinds[n]]
        recorded = midnight - timedelta(days=ages[n]) + timedelta(seconds=seconds[n])
        rows.append(
            (
                phone.e164 if e164[n] else phone.national,
                kind,
                recorded.strftime("%Y-%m-%dT%H:%M:%SZ"),
                CONSENT_SOURCES[sources[n]],
            )
        )
    return csv_bytes(CONSENT_HEADER, rows)


def wash_result_csv(entries: Sequence[CampaignEntry], wash_day: date) -> bytes:
    """A wash-only registry's answer for every distinct valid number submitted."""
    seen: dict[str, bool] = {}
    for entry in entries:
        seen.setdefault(entry.phone.e164_digits, entry.registered)
    stamp = wash_day.isoformat()
    return csv_bytes(
        WASH_HEADER, [(number, "Y" if seen[number] else "N", stamp) for number in sorted(seen)]
    )


@dataclass(frozen=True)
class FtcRegistry:
    """A full download (10-digit US numbers) and the change list that follows it."""

    full: frozenset[str]
    additions: frozenset[str]
    deletions: frozenset[str]


def build_ftc_registry(
    entries: Sequence[CampaignEntry],
    fill_numbers: Sequence[str],
    addition_numbers: Sequence[str],
    rng: np.random.Generator,
) -> FtcRegistry:
    """Registered campaign numbers plus filler; the change list adds and removes a few of each."""
    registered = sorted({e.phone.nsn for e in entries if e.registered})
    unregistered = sorted({e.phone.nsn for e in entries if not e.registered} - set(registered))
    full = set(registered) | set(fill_numbers)
    additions = set(addition_numbers) | set(unregistered[:2])
    deletable_fill = sorted(full - set(registered))
    deletion_count = min(len(deletable_fill), max(2, len(addition_numbers)))
    deletions = (
        set(rng.choice(deletable_fill, size=deletion_count, replace=False).tolist())
        if (deletion_count)
        else set()
    )
    if registered:
        deletions.add(registered[-1])
    return FtcRegistry(
        full=frozenset(full), additions=frozenset(additions - full), deletions=frozenset(deletions)
    )


def ftc_zip_files(
    numbers: frozenset[str], area_codes: Sequence[str], suffix: str, stamp: date
) -> dict[str, bytes]:
    """``<areacode><suffix>.zip`` -> zip holding ``<areacode><suffix>.txt`` for each area code."""
    by_area: dict[str, list[str]] = {code: [] for code in area_codes}
    for number in numbers:
        by_area.setdefault(number[:3], []).append(number[3:])
    return {
        f"{code}{suffix}.zip": zip_bytes(f"{code}{suffix}.txt", ftc_lines(code, subscribers), stamp)
        for code, subscribers in sorted(by_area.items())
    }
