"""A deterministic synthetic landing zone: every file kind the platform ingests, in real formats.

``generate_world`` writes through a ``write(path, data)`` callable (paths from
``cm_pipelines.platform.landing``), so the same world can land in a folder, an S3 bucket or a dict in a
test. The same arguments always give byte-identical files: all randomness flows from ``seed``
through named numpy streams, never from the clock or global state.

The world is built so that tests find what they need in it: DSAR subjects with several calls, a
second data subject named in a transcript, a phone number that is a contact of two tenants,
caller names with a comma and with a quote, every number form a PBX writes, campaign numbers on
and off the registry, and the full list of personal identifiers to scan logs for.
"""

from __future__ import annotations

import calendar
import random
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from cm_pipelines.domain.ingestion.wav import make_wav
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform import landing
from cm_pipelines.synthetic.calls import (
    ANONYMOUS,
    E164_FORM,
    INBOUND,
    INTERNAL,
    NATIONAL_FORM,
    OUTBOUND,
    SPACED_E164_FORM,
    CallTable,
    ForcedCall,
    PbxView,
    generate_calls,
    render_cdr,
)
from cm_pipelines.synthetic.conversations import converse
from cm_pipelines.synthetic.formats import (
    ai_output_json,
    aws_transcribe_json,
    csv_bytes,
    whisper_json,
)
from cm_pipelines.synthetic.numbers import (
    US_AREA_CODES,
    NumberPlan,
    PhoneForms,
    draw_national_numbers,
    phone_forms,
    plan_for,
)
from cm_pipelines.synthetic.outbound import (
    FULL_DOWNLOAD_REGISTRIES,
    WASH_ONLY_REGISTRIES,
    CampaignEntry,
    build_ftc_registry,
    campaign_csv,
    consents_csv,
    ftc_zip_files,
    wash_result_csv,
)
from cm_pipelines.synthetic.people import Person, make_people

Writer = Callable[[str, bytes], None]

MIN_PEOPLE, MAX_PEOPLE, CALLS_PER_PERSON = 12, 30_000, 10
SUBJECTS_PER_TENANT = 2
CRM_SYSTEMS = ("hubspot", "salesforce", "pipedrive", "zoho")
CRM_HEADER = ("call_id", "crm_system", "crm_record_id", "contact_phone", "contact_email")
CAMPAIGN_NAMES = (
    ("reactivation-q4", "recall-reminders"),
    ("solar-leads-nov", "referral-push"),
    ("new-launch-viewing", "landlord-outreach"),
    ("client-review", "seminar-invites"),
)
EXTENSION_NAMES = ("Reception", "Front Desk", "Sales", "Support", "Accounts", "Bookings", "Manager")
RECORDING_SAMPLE_RATE = 8000
SUMMARY_MODEL = "cm-summarizer-2026-10"
NOTE_MODEL = "cm-receptionist-2026-10"

# Independent random streams, so changing one part of the world does not reshuffle the others.
_NUMBERS, _PEOPLE, _CALLS, _AUDIO, _CRM, _CAMPAIGNS, _REGISTRY = range(7)


@dataclass
class WorldSummary:
    """What a generated world holds; ``identifiers`` is every raw personal identifier string."""

    seed: int
    files_by_kind: dict[str, int]
    calls_by_tenant: dict[str, int]
    paths: list[str]
    identifiers: set[str]
    subjects: list[dict[str, Any]]
    """Well-connected people: tenant_id, name, e164, email, call_ids, mentioned_call_ids."""
    shared_number_tenants: dict[str, list[str]]
    """E.164 number -> the tenants in which it is a contact (tenant isolation tests)."""


@dataclass
class _Recorder:
    write: Writer
    paths: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def __call__(self, kind: str, path: str, data: bytes) -> None:
        self.write(path, data)
        self.paths.append(path)
        self.kinds[kind] += 1


@dataclass
class _TenantWorld:
    index: int
    tenant: Tenant
    plan: NumberPlan
    call_count: int
    did: PhoneForms
    people: list[Person]
    local: list[bool]
    local_count: int
    crm_ids: np.ndarray
    campaign_ids: tuple[str, ...]
    campaign_members: list[np.ndarray]
    list_only: list[PhoneForms]
    shared_index: int = -1
    calls: CallTable | None = None
    mentions: dict[int, list[str]] = field(default_factory=dict)


def _stream(seed: int, stream: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *key])


def _key(text: str) -> int:
    return zlib.crc32(text.encode())


def _split_calls(calls: int, tenants: int) -> list[int]:
    """Shares tenants^-1 .. 1 in proportion (4 tenants: 40/30/20/10 %), largest remainder."""
    weights = np.arange(tenants, 0, -1, dtype=np.float64)
    exact = calls * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    for index in np.argsort(-(exact - counts), kind="stable")[: calls - int(counts.sum())]:
        counts[index] += 1
    return counts.tolist()


def _people_count(calls: int) -> int:
    return int(min(MAX_PEOPLE, max(MIN_PEOPLE, calls // CALLS_PER_PERSON)))


def _list_only_count(people: int) -> int:
    return max(3, people // 6)


def _check(
    tenants: Sequence[Tenant], seed: int, calls: int, days: int, registry_us_size: int
) -> None:
    if min(seed, calls, registry_us_size) < 0 or days < 1:
        raise ValueError("seed, calls and registry_us_size must be >= 0 and days >= 1")
    if not tenants:
        raise ValueError("at least one tenant is needed")
    if len({t.id for t in tenants}) != len(tenants):
        raise ValueError("tenant ids must be distinct")
    known = set(FULL_DOWNLOAD_REGISTRIES) | set(WASH_ONLY_REGISTRIES)
    for tenant in tenants:
        plan_for(tenant.country)
        unknown = set(tenant.registries) - known
        if unknown:
            raise ValueError(
                f"tenant {tenant.id}: no synthetic data for registries {sorted(unknown)}"
            )


def _day_epochs(tenant: Tenant, start_day: date, days: int) -> np.ndarray:
    """UTC epoch of each local midnight, using the noon offset (calls start after 07:00)."""
    zone = ZoneInfo(tenant.timezone)
    epochs = []
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        utc_offset = datetime.combine(day, time(12), zone).utcoffset() or timedelta()
        epochs.append(calendar.timegm(day.timetuple()) - int(utc_offset.total_seconds()))
    return np.array(epochs, dtype=np.int64)


def _draw_numbers(
    tenants: Sequence[Tenant], people: list[int], registry_us_size: int, seed: int
) -> dict[str, list[str]]:
    """One pool of distinct numbers per country, so no two people share a number by accident."""
    needed: Counter[str] = Counter()
    for tenant, count in zip(tenants, people, strict=True):
        needed[tenant.country] += 1 + count + _list_only_count(count)
    if any("us_ftc" in t.registries for t in tenants):
        needed["US"] += registry_us_size + _ftc_change_size(registry_us_size)
    return {
        country: draw_national_numbers(
            plan_for(country), count, _stream(seed, _NUMBERS, _key(country))
        )
        for country, count in sorted(needed.items())
    }


def _ftc_change_size(registry_size: int) -> int:
    return max(2, registry_size // 50)


def _build_tenants(
    tenants: Sequence[Tenant], call_counts: list[int], pools: dict[str, list[str]], seed: int
) -> list[_TenantWorld]:
    cursors: Counter[str] = Counter()

    def take(country: str, count: int) -> list[str]:
        start = cursors[country]
        cursors[country] += count
        return pools[country][start : start + count]

    worlds = []
    serial = 1
    for index, (tenant, call_count) in enumerate(zip(tenants, call_counts, strict=True)):
        plan = plan_for(tenant.country)
        people_count = _people_count(call_count)
        did = phone_forms(plan, take(tenant.country, 1)[0])
        rng = _stream(seed, _PEOPLE, index)
        people = make_people(plan, take(tenant.country, people_count), rng, serial)
        serial += people_count
        list_only = [
            phone_forms(plan, n) for n in take(tenant.country, _list_only_count(people_count))
        ]
        members = rng.choice(
            np.arange(SUBJECTS_PER_TENANT + 2, people_count),
            size=max(2, (people_count - 4) // 3),
            replace=False,
        )
        members.sort()
        campaign_ids = CAMPAIGN_NAMES[index % len(CAMPAIGN_NAMES)]
        worlds.append(
            _TenantWorld(
                index=index,
                tenant=tenant,
                plan=plan,
                call_count=call_count,
                did=did,
                people=people,
                local=[True] * people_count,
                local_count=people_count,
                crm_ids=rng.permutation(people_count + 1) + 10_000 * (index + 1),
                campaign_ids=campaign_ids,
                campaign_members=[members[0::2], members[1::2]],
                list_only=list_only,
            )
        )
    if len(worlds) >= 2:
        origin, host = worlds[0], worlds[1]
        host.shared_index = len(host.people)
        host.people.append(origin.people[0])
        host.local.append(origin.tenant.country == host.tenant.country)
    return worlds


def _forced_calls(world: _TenantWorld) -> list[ForcedCall]:
    """Calls every world must contain, most important first (small tenants keep a prefix)."""
    rules = [ForcedCall(INBOUND, 0, NATIONAL_FORM, crm=True, second_person=1)]
    if world.shared_index >= 0:
        rules.append(ForcedCall(INBOUND, world.shared_index, SPACED_E164_FORM, crm=True))
    first_member = int(world.campaign_members[0][0])
    rules += [
        ForcedCall(INBOUND, 0, SPACED_E164_FORM, crm=True),
        ForcedCall(INBOUND, 1, NATIONAL_FORM, crm=True),
        ForcedCall(INBOUND, 2, NATIONAL_FORM),
        ForcedCall(INBOUND, 3, E164_FORM),
        ForcedCall(ANONYMOUS),
        ForcedCall(INTERNAL),
        ForcedCall(OUTBOUND, first_member, NATIONAL_FORM, campaign=0),
        ForcedCall(INBOUND, 0, E164_FORM),
        ForcedCall(INBOUND, 1, SPACED_E164_FORM),
    ]
    return rules


def _extensions(index: int) -> tuple[str, ...]:
    return tuple(str(1000 * (index + 1) + n) for n in range(1, len(EXTENSION_NAMES) + 1))


def _write_cdr(
    world: _TenantWorld, calls: CallTable, day_names: list[str], record: _Recorder
) -> None:
    tenant = world.tenant
    view = PbxView.build(
        account=tenant.id,
        did=world.did.national,
        trunk=f"trunk-{tenant.country.lower()}",
        business_caller_name=tenant.name,
        extensions=_extensions(world.index),
        extension_names=EXTENSION_NAMES,
        campaign_ids=world.campaign_ids,
        crm_system=CRM_SYSTEMS[world.index % len(CRM_SYSTEMS)],
        crm_ids=world.crm_ids.tolist(),
        people=world.people,
        local=world.local,
    )
    bounds = calls.day_bounds(len(day_names)).tolist()
    for day_index, day_name in enumerate(day_names):
        rows = slice(bounds[day_index], bounds[day_index + 1])
        record(
            "cdr", landing.cdr_file(tenant.id, day_name), render_cdr(calls, rows, view, day_name)
        )


def _write_crm_links(
    world: _TenantWorld, calls: CallTable, day_names: list[str], seed: int, record: _Recorder
) -> None:
    """One CSV per day of the calls tagged ``crm=`` in their userfield; subjects keep an email."""
    rng = _stream(seed, _CRM, world.index)
    system = CRM_SYSTEMS[world.index % len(CRM_SYSTEMS)]
    phones = [
        (p.phone.national, p.phone.e164, p.phone.written)
        if local
        else (p.phone.e164, p.phone.e164_spaced, p.phone.e164)
        for p, local in zip(world.people, world.local, strict=True)
    ]
    linked = np.nonzero(calls.crm)[0]
    forms = rng.integers(0, 3, len(linked)).tolist()
    no_email = (rng.random(len(linked)) < 0.15).tolist()
    by_day: dict[int, list[tuple[str, ...]]] = {d: [] for d in range(len(day_names))}
    for n, index in enumerate(linked.tolist()):
        person = int(calls.person[index])
        ordinary = SUBJECTS_PER_TENANT + 2 <= person < world.local_count
        by_day[int(calls.day[index])].append(
            (
                calls.uniqueid(index),
                system,
                f"contact/{int(world.crm_ids[person])}",
                phones[person][forms[n]],
                "" if ordinary and no_email[n] else world.people[person].email,
            )
        )
    for day_index, day_name in enumerate(day_names):
        record(
            "crm_links",
            landing.crm_links_file(world.tenant.id, day_name),
            csv_bytes(CRM_HEADER, by_day[day_index]),
        )


def _iso_utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_audio(
    world: _TenantWorld,
    calls: CallTable,
    day_names: list[str],
    seed: int,
    record: _Recorder,
    identifiers: set[str],
) -> None:
    """Recording, transcript (AWS and Whisper in turn) and AI outputs of answered external calls."""
    tenant = world.tenant
    rng = _stream(seed, _AUDIO, world.index)
    rnd = random.Random(int(rng.integers(0, 2**63)))
    recorded = np.nonzero(calls.answered & calls.external)[0].tolist()
    end = (calls.epoch + calls.duration).tolist()
    for position, index in enumerate(recorded):
        day_name = day_names[int(calls.day[index])]
        uniqueid = calls.uniqueid(index)
        record(
            "recordings",
            landing.recording_file(tenant.id, day_name, uniqueid),
            make_wav(
                float(rng.uniform(1.0, 3.0)),
                RECORDING_SAMPLE_RATE,
                seed=int(rng.integers(0, 2**32)),
                info_chunk=bool(rng.random() < 0.2),
            ),
        )
        person, second = int(calls.person[index]), int(calls.second_person[index])
        campaign = int(calls.campaign[index])
        conversation = converse(
            rnd,
            business=tenant.name,
            outbound=int(calls.direction[index]) == OUTBOUND,
            caller=world.people[person] if person >= 0 else None,
            caller_is_local=world.local[person] if person >= 0 else True,
            second=world.people[second] if second >= 0 else None,
            campaign=world.campaign_ids[campaign] if campaign >= 0 else None,
        )
        identifiers.update(conversation.written_identifiers)
        if second >= 0:
            world.mentions.setdefault(second, []).append(uniqueid)
        talk_s = float(calls.billsec[index])
        if position % 2 == 0:
            engine = "aws"
            body = aws_transcribe_json(f"{tenant.id}-{uniqueid}", conversation.turns, talk_s, rng)
        else:
            engine = "whisper"
            body = whisper_json(conversation.turns, talk_s, rng)
        record("transcripts", landing.transcript_file(tenant.id, day_name, uniqueid, engine), body)
        created_at = _iso_utc(end[index] + int(rng.integers(20, 300)))
        for kind, model, text in (
            ("summary", SUMMARY_MODEL, conversation.summary),
            ("receptionist_note", NOTE_MODEL, conversation.receptionist_note),
        ):
            record(
                "ai_outputs",
                landing.ai_output_file(tenant.id, day_name, uniqueid, kind),
                ai_output_json(uniqueid, kind, model, created_at, text),
            )


def _campaign_entries(world: _TenantWorld, rng: np.random.Generator) -> list[list[CampaignEntry]]:
    """Per campaign: its member contacts plus list-only numbers, about 30 % registered."""
    lists: list[list[CampaignEntry]] = []
    lead_refs = [f"L{world.index:02d}{n:06d}" for n in range(len(world.list_only))]
    halves = [
        (world.list_only[0::2], lead_refs[0::2]),
        (world.list_only[1::2], lead_refs[1::2]),
    ]
    for members, (extra, extra_refs) in zip(world.campaign_members, halves, strict=True):
        phones = [world.people[int(m)].phone for m in members] + extra
        refs = [f"C{world.people[int(m)].serial:07d}" for m in members] + extra_refs
        registered = rng.random(len(phones)) < 0.3
        if len(phones) >= 2:
            registered[0], registered[-1] = True, False
        lists.append(
            [
                CampaignEntry(phone, ref, bool(flag))
                for phone, ref, flag in zip(phones, refs, registered.tolist(), strict=True)
            ]
        )
    return lists


def _write_outbound(
    worlds: Sequence[_TenantWorld],
    pools: dict[str, list[str]],
    start_day: date,
    registry_us_size: int,
    seed: int,
    record: _Recorder,
    identifiers: set[str],
) -> None:
    entries_by_registry: dict[str, list[CampaignEntry]] = {}
    for world in worlds:
        rng = _stream(seed, _CAMPAIGNS, world.index)
        lists = _campaign_entries(world, rng)
        for campaign_id, entries in zip(world.campaign_ids, lists, strict=True):
            record(
                "campaigns",
                landing.campaign_file(world.tenant.id, campaign_id),
                campaign_csv(entries, malformed=2, rng=rng),
            )
        every_entry = [entry for entries in lists for entry in entries]
        record(
            "consents",
            landing.consents_file(world.tenant.id),
            consents_csv(every_entry, start_day, rng),
        )
        for phone in world.list_only:
            identifiers.update(phone.all_forms())
        for registry in world.tenant.registries:
            country = {**FULL_DOWNLOAD_REGISTRIES, **WASH_ONLY_REGISTRIES}[registry]
            entries_by_registry.setdefault(registry, []).extend(
                e for e in every_entry if e.phone.country == country
            )
    for registry, entries in sorted(entries_by_registry.items()):
        if registry in WASH_ONLY_REGISTRIES:
            record(
                "wash_results",
                f"{landing.wash_results_dir(registry)}/wash_{start_day.isoformat()}.csv",
                wash_result_csv(entries, start_day),
            )
            continue
        _write_ftc(entries, pools, start_day, registry_us_size, seed, record, identifiers)


def _write_ftc(
    entries: Sequence[CampaignEntry],
    pools: dict[str, list[str]],
    start_day: date,
    registry_us_size: int,
    seed: int,
    record: _Recorder,
    identifiers: set[str],
) -> None:
    """FTC full download on ``start_day`` and its change list a week later."""
    change_size = _ftc_change_size(registry_us_size)
    registry_pool = pools["US"][-(registry_us_size + change_size) :]
    registered = len({e.phone.nsn for e in entries if e.registered})
    fill = registry_pool[: max(0, registry_us_size - registered)]
    additions = registry_pool[registry_us_size:]
    registry = build_ftc_registry(entries, fill, additions, _stream(seed, _REGISTRY))
    us_plan = plan_for("US")
    for number in registry.full | registry.additions:
        identifiers.update(phone_forms(us_plan, number).all_forms())
    full_dir = landing.registry_full_dir("us_ftc", start_day.isoformat())
    for name, data in ftc_zip_files(registry.full, US_AREA_CODES, "", start_day).items():
        record("registry_full", f"{full_dir}/{name}", data)
    change_day = start_day + timedelta(days=7)
    changes_dir = landing.registry_changes_dir("us_ftc", change_day.isoformat())
    for numbers, suffix in ((registry.additions, "_additions"), (registry.deletions, "_deletions")):
        for name, data in ftc_zip_files(numbers, US_AREA_CODES, suffix, change_day).items():
            record("registry_changes", f"{changes_dir}/{name}", data)


def _subjects(worlds: Sequence[_TenantWorld]) -> list[dict[str, Any]]:
    subjects = []
    for world in worlds:
        if world.calls is None:
            raise RuntimeError("subjects are listed only after every tenant's calls exist")
        chosen = list(range(min(SUBJECTS_PER_TENANT, world.local_count)))
        if world.shared_index >= 0:
            chosen.append(world.shared_index)
        for index in chosen:
            person = world.people[index]
            call_ids = world.calls.uniqueids(np.nonzero(world.calls.person == index)[0])
            if not call_ids:
                continue
            subjects.append(
                {
                    "tenant_id": world.tenant.id,
                    "name": person.full_name,
                    "e164": person.phone.e164,
                    "email": person.email,
                    "call_ids": call_ids,
                    "mentioned_call_ids": list(world.mentions.get(index, [])),
                }
            )
    return subjects


def generate_world(
    write: Writer,
    tenants: Sequence[Tenant],
    *,
    seed: int,
    calls: int,
    start_day: date,
    days: int = 3,
    audio: bool = True,
    registry_us_size: int = 2000,
) -> WorldSummary:
    """Write a landing zone of ``calls`` calls over ``days`` days through ``write(path, data)``.

    With ``audio=False`` no recordings, transcripts or AI outputs are made (fast large worlds).
    """
    _check(tenants, seed, calls, days, registry_us_size)
    record = _Recorder(write)
    call_counts = _split_calls(calls, len(tenants))
    pools = _draw_numbers(tenants, [_people_count(n) for n in call_counts], registry_us_size, seed)
    worlds = _build_tenants(tenants, call_counts, pools, seed)
    day_names = [(start_day + timedelta(days=d)).isoformat() for d in range(days)]
    identifiers: set[str] = set()
    seq_base = 100
    for world in worlds:
        for person in world.people[: world.local_count]:
            identifiers.update(person.identifiers())
        local_weights = 1.0 / (np.arange(world.local_count) + 2.0) ** 0.9
        world.calls = generate_calls(
            _stream(seed, _CALLS, world.index),
            count=world.call_count,
            days=days,
            day_epochs=_day_epochs(world.tenant, start_day, days),
            person_weights=local_weights / local_weights.sum(),
            campaign_members=world.campaign_members,
            extensions=len(EXTENSION_NAMES),
            forced=_forced_calls(world),
            seq_base=seq_base,
        )
        seq_base += 5 * world.call_count + 1000
        _write_cdr(world, world.calls, day_names, record)
        _write_crm_links(world, world.calls, day_names, seed, record)
        if audio:
            _write_audio(world, world.calls, day_names, seed, record, identifiers)
    _write_outbound(worlds, pools, start_day, registry_us_size, seed, record, identifiers)
    shared: dict[str, list[str]] = {}
    if len(worlds) >= 2:
        shared[worlds[0].people[0].phone.e164] = [worlds[0].tenant.id, worlds[1].tenant.id]
    return WorldSummary(
        seed=seed,
        files_by_kind=dict(sorted(record.kinds.items())),
        calls_by_tenant={w.tenant.id: w.call_count for w in worlds},
        paths=record.paths,
        identifiers=identifiers,
        subjects=_subjects(worlds),
        shared_number_tenants=shared,
    )
