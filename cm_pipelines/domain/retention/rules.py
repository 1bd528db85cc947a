"""Retention rules: policy versions, expiry with lineage, artefact states, the circuit breaker,
purge planning and the proof-of-deletion document. Pure: plain data in, plain data out.

Policies. Each tenant's retention days per record type (``Tenant.retention_for``) are recorded
as *policy versions*. The first version seen for a tenant and record type is effective from
``INITIAL_EFFECTIVE_FROM`` (it is the model the client approved at onboarding and covers all
older data); a changed value becomes a new version effective from the day the change is first
seen (changes are never retroactive). An operator may record a version with a future
effective date. The version *in force* on a day is the latest one effective on or before it, and
it decides every artefact's state that day, whenever the artefact was created: a shorter
retention takes effect on its effective date, a longer one rescues artefacts not yet purged.
An artefact cannot become due before the version that makes it due is in force, so its expiry
date is ``max(basis_date + retention_days, effective_from)``.

Lineage. The call (``call_logs``) is the root. A recording never outlives its call; a
transcript or AI output (summary, receptionist note) never outlives its recording (its call
when it has none); a CRM link never outlives its call. A derived artefact's expiry is the
earlier of its own and its parent's, and when the parent is purged it goes too. The decision
names the policy version that set the date (the parent's when the parent's was earlier).

States. ``purged`` (row marked deleted), ``held`` (a legal hold covers its call or number),
``due`` (expiry date reached), ``active`` (otherwise).

Landing source files. A CDR day file and a CRM links file hold the same personal data as the
rows read from them, so a file follows its rows rather than a clock of its own: it is due once
every row that came from it (and every quarantined line of it) is purged, due in the same
purge, or erased by a DSAR (whose lines are already blank), and held while any of them is
held. Quarantined lines (``quarantine_records``) follow the ``call_logs`` policy of their call
day (consent and campaign list lines: of the day they were quarantined). ``source_file_states`` decides files after ``compute_states`` decided their rows.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from cm_pipelines.domain.tenants import RECORD_TYPES, Tenant

INITIAL_EFFECTIVE_FROM = date(1970, 1, 1)
"""Effective date of the first policy version of a tenant and record type."""

ARTEFACT_TYPES: tuple[str, ...] = (
    "recordings",
    "transcripts",
    "ai_summaries",
    "call_logs",
    "crm_links",
    "wash_results",
    "blocked_calls",
    "dsar_case_files",
    "quarantine_records",
    "cdr_files",
    "crm_link_files",
)
"""What the purge knows how to find and remove. ``voicemail`` has a policy but no store yet."""

SOURCE_FILE_TYPES: dict[str, str] = {"cdr_files": "call_logs", "crm_link_files": "crm_links"}
"""Landing file type -> the record type of the rows read from it (the file goes after them)."""

POLICY_TYPE: dict[str, str] = {name: name for name in ARTEFACT_TYPES} | {
    "blocked_calls": "wash_results",
    "quarantine_records": "call_logs",
    **SOURCE_FILE_TYPES,
}
"""Artefact type -> the tenant's record type whose retention governs it."""

PARENT_TYPE: dict[str, str] = {
    "recordings": "call_logs",
    "transcripts": "recordings",
    "ai_summaries": "recordings",
    "crm_links": "call_logs",
}
"""Lineage: a derived artefact never outlives its parent (the call when the recording is absent)."""

PURGE_ORDER: tuple[str, ...] = (
    "transcripts",
    "ai_summaries",
    "crm_links",
    "recordings",
    "call_logs",
    "wash_results",
    "blocked_calls",
    "dsar_case_files",
    "quarantine_records",
    "crm_link_files",
    "cdr_files",
)
"""Children before parents: a purge killed midway never leaves a derived artefact orphaned.
Landing files come last: their rows (and quarantined lines) are marked before the file goes."""

STATES: tuple[str, ...] = ("active", "due", "held", "purged")
DEFAULT_MAX_TENANT_SHARE = 0.20
DEFAULT_MAX_PLAN_ITEMS = 250_000
MAX_OBJECT_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys per request
_NO_DAY = np.iinfo(np.int64).min
_EPOCH = np.datetime64("1970-01-01", "D")

ARTEFACT_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "record_type",
    "artefact_id",
    "call_id",
    "basis_date",
    "purged",
    "object_path",
    "object_sha256",
    "hold_ids",
)
"""Columns ``compute_states`` expects: one row per artefact, ``hold_ids`` "" when not held."""


@dataclass(frozen=True)
class PolicyVersion:
    tenant_id: str
    record_type: str
    version: int
    retention_days: int
    effective_from: date
    source: str = "config"  # config | default | operator

    @property
    def id(self) -> str:
        return policy_version_id(self.tenant_id, self.record_type, self.version)


def policy_version_id(tenant_id: str, record_type: str, version: int) -> str:
    """How decisions name a version, e.g. ``acme-au/recordings/v2``."""
    return f"{tenant_id}/{record_type}/v{version}"


def versions_to_record(
    tenants: Iterable[Tenant], existing: Iterable[PolicyVersion], first_seen: date
) -> list[PolicyVersion]:
    """New versions the tenants file implies: a first version per tenant and record type, and a
    new one when the configured days differ from the last version that came from the file.

    Operator versions are not reverted by an unchanged file; the next change to the file wins.
    """
    latest: dict[tuple[str, str], PolicyVersion] = {}
    latest_from_file: dict[tuple[str, str], PolicyVersion] = {}
    for version in existing:
        key = (version.tenant_id, version.record_type)
        if key not in latest or version.version > latest[key].version:
            latest[key] = version
        if version.source in ("config", "default") and (
            key not in latest_from_file or version.version > latest_from_file[key].version
        ):
            latest_from_file[key] = version
    new: list[PolicyVersion] = []
    for tenant in tenants:
        for record_type in RECORD_TYPES:
            key = (tenant.id, record_type)
            days = tenant.retention_for(record_type)
            source = "config" if record_type in tenant.retention_days else "default"
            if key not in latest:
                new.append(
                    PolicyVersion(tenant.id, record_type, 1, days, INITIAL_EFFECTIVE_FROM, source)
                )
                continue
            from_file = latest_from_file.get(key)
            if from_file is not None and from_file.retention_days == days:
                continue
            if from_file is None and latest[key].retention_days == days:
                continue
            effective = max(first_seen, latest[key].effective_from)
            new.append(
                PolicyVersion(
                    tenant.id, record_type, latest[key].version + 1, days, effective, source
                )
            )
    return new


class PolicyBook:
    """Every policy version, by tenant and record type, sorted by effective date."""

    def __init__(self, versions: Iterable[PolicyVersion]):
        grouped: dict[tuple[str, str], dict[date, PolicyVersion]] = {}
        for version in sorted(versions, key=lambda v: (v.effective_from, v.version)):
            # Two versions effective the same day: the later-recorded one wins.
            grouped.setdefault((version.tenant_id, version.record_type), {})[
                version.effective_from
            ] = version
        self._versions = {
            key: sorted(by_day.values(), key=lambda v: v.effective_from)
            for key, by_day in grouped.items()
        }

    def versions(self, tenant_id: str, record_type: str) -> list[PolicyVersion]:
        return list(self._versions.get((tenant_id, record_type), []))

    def in_force(self, tenant_id: str, record_type: str, on: date) -> PolicyVersion | None:
        current = None
        for version in self._versions.get((tenant_id, record_type), []):
            if version.effective_from <= on:
                current = version
        return current

    def tenants(self) -> set[str]:
        return {tenant_id for tenant_id, _ in self._versions}


def day_number(value: date) -> int:
    return int((np.datetime64(value, "D") - _EPOCH).astype(np.int64))


def day_date(number: int) -> date:
    return INITIAL_EFFECTIVE_FROM + timedelta(days=int(number))


def _day_numbers(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values, errors="coerce")
    days = stamps.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
    out = (days - _EPOCH).astype(np.int64)
    out[np.isnat(days)] = _NO_DAY
    return out


def expiry_days(
    basis_days: np.ndarray, versions: Sequence[PolicyVersion], as_of: date
) -> tuple[np.ndarray, np.ndarray]:
    """Expiry day numbers and the index of the deciding version, for one tenant and record type.

    Due now (under the version in force on ``as_of``): the day it became due under that version.
    Otherwise: the first later day on which the version then in force makes it due, so the 7- and
    30-day forecasts see announced changes. Missing basis dates give ``_NO_DAY`` and index -1.
    """
    count = len(basis_days)
    expires = np.full(count, _NO_DAY, dtype=np.int64)
    deciding = np.full(count, -1, dtype=np.int64)
    if not versions or count == 0:
        return expires, deciding
    effective = np.array([day_number(v.effective_from) for v in versions], dtype=np.int64)
    days = np.array([v.retention_days for v in versions], dtype=np.int64)
    today = day_number(as_of)
    known = basis_days != _NO_DAY
    in_force = int(np.searchsorted(effective, today, side="right")) - 1
    unresolved = known.copy()
    if in_force >= 0:
        own = basis_days + days[in_force]
        due_now = known & (own <= today)
        expires[due_now] = np.maximum(own[due_now], effective[in_force])
        deciding[due_now] = in_force
        unresolved &= ~due_now
    for index in range(max(in_force, 0), len(versions)):
        if not unresolved.any():
            break
        start = today + 1 if index == in_force else effective[index]
        end = effective[index + 1] if index + 1 < len(versions) else np.iinfo(np.int64).max
        candidate = np.maximum(basis_days + days[index], start)
        settle = unresolved & (candidate < end)
        expires[settle] = candidate[settle]
        deciding[settle] = index
        unresolved &= ~settle
    return expires, deciding


def _own_expiry(artefacts: pd.DataFrame, book: PolicyBook, as_of: date) -> pd.DataFrame:
    basis = _day_numbers(artefacts["basis_date"])
    expires = np.full(len(artefacts), _NO_DAY, dtype=np.int64)
    version_ids = np.full(len(artefacts), None, dtype=object)
    has_policy = np.zeros(len(artefacts), dtype=bool)
    policy_types = artefacts["record_type"].map(POLICY_TYPE)
    positions = np.arange(len(artefacts))
    for (tenant_id, policy_type), group in pd.DataFrame(
        {"tenant_id": artefacts["tenant_id"].to_numpy(), "policy_type": policy_types.to_numpy()}
    ).groupby(["tenant_id", "policy_type"], sort=False):
        versions = book.versions(str(tenant_id), str(policy_type))
        index = positions[group.index.to_numpy()]
        group_expires, deciding = expiry_days(basis[index], versions, as_of)
        expires[index] = group_expires
        has_policy[index] = bool(versions)
        ids = np.array([v.id for v in versions] + [None], dtype=object)
        version_ids[index] = ids[deciding]  # -1 picks the trailing None
    return pd.DataFrame(
        {"expires_day": expires, "policy_version": version_ids, "has_policy": has_policy},
        index=artefacts.index,
    )


def _bound_by_parent(
    frame: pd.DataFrame, child_mask: pd.Series, parent: pd.DataFrame, parent_type: str, today: int
) -> pd.Series:
    """Lower children's expiry to their parent's; returns which children found a parent."""
    children = frame.loc[child_mask, ["tenant_id", "call_id", "expires_day"]].reset_index()
    linked = children.merge(parent, on=["tenant_id", "call_id"], how="inner")
    if linked.empty:
        return pd.Series(False, index=frame.index)
    linked = linked.set_index("index")
    own = linked["expires_day"].to_numpy()
    parent_day = linked["parent_expires_day"].to_numpy()
    parent_gone = linked["parent_purged"].to_numpy(dtype=bool)
    parent_earlier = (parent_day != _NO_DAY) & ((own == _NO_DAY) | (parent_day < own))
    new_day = np.where(parent_earlier, parent_day, own)
    gone_day = np.where(new_day == _NO_DAY, today, np.minimum(new_day, today))
    new_day = np.where(parent_gone, gone_day, new_day)
    basis = np.where(
        parent_gone,
        f"parent_purged:{parent_type}",
        np.where(
            parent_earlier, f"inherited:{parent_type}", frame.loc[linked.index, "expiry_basis"]
        ),
    )
    version = np.where(
        parent_gone | parent_earlier,
        linked["parent_policy_version"].to_numpy(),
        frame.loc[linked.index, "policy_version"].to_numpy(),
    )
    frame.loc[linked.index, "expires_day"] = new_day
    frame.loc[linked.index, "expiry_basis"] = basis
    frame.loc[linked.index, "policy_version"] = version
    found = pd.Series(False, index=frame.index)
    found.loc[linked.index] = True
    return found


def _parent_table(frame: pd.DataFrame, record_type: str) -> pd.DataFrame:
    rows = frame.loc[frame["record_type"] == record_type]
    return pd.DataFrame(
        {
            "tenant_id": rows["tenant_id"].to_numpy(),
            "call_id": rows["call_id"].to_numpy(),
            "parent_expires_day": rows["expires_day"].to_numpy(),
            "parent_policy_version": rows["policy_version"].to_numpy(),
            "parent_purged": rows["purged"].to_numpy(dtype=bool),
        }
    ).drop_duplicates(["tenant_id", "call_id"])


def compute_states(artefacts: pd.DataFrame, book: PolicyBook, as_of: date) -> pd.DataFrame:
    """Each artefact's state on ``as_of`` with its expiry date, deciding policy version and basis.

    ``artefacts`` has ``ARTEFACT_COLUMNS``. Returns them plus ``state``, ``basis`` (why this
    state), ``expiry_basis`` (why this expiry date), ``policy_version`` and ``expires_on``.
    """
    frame = artefacts.loc[:, list(ARTEFACT_COLUMNS)].reset_index(drop=True).copy()
    frame["purged"] = frame["purged"].fillna(False).astype(bool)
    frame["hold_ids"] = frame["hold_ids"].fillna("").astype(str)
    own = _own_expiry(frame, book, as_of)
    frame["expires_day"] = own["expires_day"].to_numpy()
    frame["policy_version"] = own["policy_version"].to_numpy()
    frame["expiry_basis"] = np.where(
        own["has_policy"].to_numpy(dtype=bool),
        np.where(frame["expires_day"].to_numpy() == _NO_DAY, "no_basis_date", "policy"),
        "no_policy",
    )
    today = day_number(as_of)
    calls = _parent_table(frame, "call_logs")
    record_type = frame["record_type"]
    _bound_by_parent(frame, record_type == "recordings", calls, "call_logs", today)
    recordings = _parent_table(frame, "recordings")
    derived = record_type.isin(["transcripts", "ai_summaries"])
    with_recording = _bound_by_parent(frame, derived, recordings, "recordings", today)
    _bound_by_parent(frame, derived & ~with_recording, calls, "call_logs", today)
    _bound_by_parent(frame, record_type == "crm_links", calls, "call_logs", today)

    expires_day = frame["expires_day"].to_numpy()
    decided = expires_day != _NO_DAY
    purged = frame["purged"].to_numpy(dtype=bool)
    held = (frame["hold_ids"].to_numpy() != "") & ~purged
    due = decided & (expires_day <= today) & ~purged & ~held
    frame["state"] = np.select([purged, held, due], ["purged", "held", "due"], default="active")
    frame["basis"] = np.select(
        [purged, held], ["purged", "legal_hold"], default=frame["expiry_basis"].to_numpy()
    )
    expiry = np.full(len(frame), None, dtype=object)
    if decided.any():
        expiry[decided] = (_EPOCH + expires_day[decided].astype("timedelta64[D]")).astype(object)
    frame["expires_on"] = expiry
    return frame.drop(columns=["expires_day"])


SOURCE_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "record_type",
    "artefact_id",
    "source_type",
    "source_id",
    "erased",
)
"""Columns ``source_file_states`` expects: one row per landing file (``record_type`` a
``SOURCE_FILE_TYPES`` key, ``artefact_id`` its path) and row read from it (``source_type``
``call_logs``, ``crm_links`` or ``quarantine_records``; ``erased`` when a DSAR blanked its line,
which also stands alone as a ``dsar_blanked_lines`` source when the erasure deleted the row)."""

STATE_COLUMNS: tuple[str, ...] = (
    *ARTEFACT_COLUMNS,
    "policy_version",
    "expiry_basis",
    "state",
    "basis",
    "expires_on",
)
"""Columns of a decided artefact (``compute_states``, ``source_file_states``)."""


def _joined_hold_ids(values: pd.Series) -> str:
    ids = {part for value in values for part in str(value).split(",") if part}
    return ",".join(sorted(ids))


def source_file_states(
    files: pd.DataFrame,
    sources: pd.DataFrame,
    states: pd.DataFrame,
    book: PolicyBook,
    as_of: date,
) -> pd.DataFrame:
    """Each landing file's state, decided by the rows read from it (``STATE_COLUMNS``).

    ``files`` has tenant_id, record_type, artefact_id (the path) and purged (tombstoned);
    ``sources`` has ``SOURCE_COLUMNS``; ``states`` is what ``compute_states`` decided for those
    rows. A file is due when every source is purged, due or erased, held while any source is
    held, and active otherwise, or when nothing points at it (a file never ingested is never
    guessed at). A source missing from ``states`` counts as live. The expiry date is the latest
    of its sources' (the day the last one goes) and the decision names that source's policy
    version; a file whose sources were all erased takes the version in force on ``as_of``.
    """
    if files.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in STATE_COLUMNS})
    keys = ["tenant_id", "record_type", "artefact_id"]
    frame = files.loc[:, [*keys, "purged"]].drop_duplicates(keys).reset_index(drop=True).copy()
    frame["purged"] = frame["purged"].fillna(False).astype(bool)
    decided = states.loc[
        :,
        [
            "tenant_id",
            "record_type",
            "artefact_id",
            "state",
            "expires_on",
            "policy_version",
            "hold_ids",
            "basis_date",
        ],
    ].rename(columns={"record_type": "source_type", "artefact_id": "source_id"})
    joined = (
        sources.loc[:, list(SOURCE_COLUMNS)]
        .astype({"source_id": str})
        .merge(decided, on=["tenant_id", "source_type", "source_id"], how="left")
    )
    erased = joined["erased"].fillna(False).astype(bool)
    state = joined["state"].fillna("active")
    expires = pd.to_datetime(joined["expires_on"], errors="coerce")
    counted = ~erased  # an erased row's line is already blank: its date no longer matters
    joined["gone"] = erased | state.isin(["purged", "due"])
    joined["held"] = state == "held"
    joined["undecided"] = counted & expires.isna()
    joined["expires_ts"] = expires.where(counted)
    joined["basis_ts"] = pd.to_datetime(joined["basis_date"], errors="coerce")
    grouped = joined.groupby(keys, sort=False)
    summary = pd.DataFrame(
        {
            "sources": grouped.size(),
            "gone": grouped["gone"].sum(),
            "held": grouped["held"].any(),
            "undecided": grouped["undecided"].any(),
            "expires_ts": grouped["expires_ts"].max(),
            "basis_ts": grouped["basis_ts"].max(),
        }
    )
    held_rows = joined.loc[joined["held"]]
    if not held_rows.empty:
        summary["hold_ids"] = held_rows.groupby(keys)["hold_ids"].agg(_joined_hold_ids)
    else:
        summary["hold_ids"] = ""
    latest = (
        joined.loc[joined["expires_ts"].notna()]
        .sort_values("expires_ts", kind="stable")
        .drop_duplicates(keys, keep="last")
        .set_index(keys)["policy_version"]
        .rename("latest_version")
    )
    frame = frame.join(summary, on=keys).join(latest, on=keys)
    count = frame["sources"].fillna(0).to_numpy(dtype=np.int64)
    all_gone = (count > 0) & (frame["gone"].fillna(0).to_numpy(dtype=np.int64) == count)
    in_force: dict[tuple[str, str], str | None] = {}
    for tenant_id, record_type in (
        frame[["tenant_id", "record_type"]].drop_duplicates().itertuples(index=False)
    ):
        version = book.in_force(str(tenant_id), POLICY_TYPE[str(record_type)], as_of)
        in_force[(tenant_id, record_type)] = None if version is None else version.id
    fallback = [in_force[key] for key in zip(frame["tenant_id"], frame["record_type"], strict=True)]
    version = frame["latest_version"].where(frame["latest_version"].notna(), pd.Series(fallback))
    expires_ts = pd.to_datetime(frame["expires_ts"], errors="coerce")
    undecided = frame["undecided"].fillna(True).astype(bool).to_numpy() | (count == 0)
    today = pd.Timestamp(as_of)
    # every source erased: no date of its own, it may go today
    expires_ts = expires_ts.where(expires_ts.notna() | ~pd.Series(all_gone), today)
    expires_ts = expires_ts.where(~pd.Series(all_gone), expires_ts.clip(upper=today))
    purged = frame["purged"].to_numpy(dtype=bool)
    held = frame["held"].fillna(False).astype(bool).to_numpy() & ~purged
    due = all_gone & ~purged & ~held & version.notna().to_numpy()
    expiry_basis = "sources:" + frame["record_type"].map(SOURCE_FILE_TYPES)
    expires_on = np.full(len(frame), None, dtype=object)
    known = (~undecided | all_gone) & expires_ts.notna().to_numpy()
    expires_on[known] = [stamp.date() for stamp in expires_ts[known]]
    basis_ts = pd.to_datetime(frame["basis_ts"], errors="coerce")
    return pd.DataFrame(
        {
            "tenant_id": frame["tenant_id"].astype(str),
            "record_type": frame["record_type"].astype(str),
            "artefact_id": frame["artefact_id"].astype(str),
            "call_id": None,
            "basis_date": basis_ts.where(basis_ts.notna(), None),
            "purged": purged,
            "object_path": frame["artefact_id"].astype(str),
            "object_sha256": None,
            "hold_ids": np.where(held, frame["hold_ids"].fillna("").astype(str), ""),
            "policy_version": version.where(version.notna(), None),
            "expiry_basis": expiry_basis,
            "state": np.select([purged, held, due], ["purged", "held", "due"], default="active"),
            "basis": np.select([purged, held], ["purged", "legal_hold"], default=expiry_basis),
            "expires_on": expires_on,
        }
    ).loc[:, list(STATE_COLUMNS)]


def due_within(states: pd.DataFrame, as_of: date, days: int) -> int:
    """Artefacts active today that become due within the next ``days`` days (holds excluded)."""
    active = pd.to_datetime(states.loc[states["state"] == "active", "expires_on"].dropna())
    return int((active <= pd.Timestamp(as_of + timedelta(days=days))).sum())


def state_counts(states: pd.DataFrame) -> pd.DataFrame:
    """Counts per tenant x record type x state, every state as a column (0 when none)."""
    if states.empty:
        return pd.DataFrame(columns=["tenant_id", "record_type", *STATES])
    table = (
        states.groupby(["tenant_id", "record_type", "state"]).size().unstack("state", fill_value=0)
    )
    for state in STATES:
        if state not in table.columns:
            table[state] = 0
    return table.loc[:, list(STATES)].reset_index()


@dataclass(frozen=True)
class BreakerLimits:
    max_tenant_share: float = DEFAULT_MAX_TENANT_SHARE
    max_plan_items: int = DEFAULT_MAX_PLAN_ITEMS


@dataclass(frozen=True)
class BreakerVerdict:
    tripped: bool
    reasons: tuple[str, ...]
    tenant_shares: dict[str, float] = field(default_factory=dict)
    plan_items: int = 0


def evaluate_breaker(
    planned_by_tenant: Mapping[str, int],
    live_by_tenant: Mapping[str, int],
    limits: BreakerLimits,
) -> BreakerVerdict:
    """Refuse a plan that takes more than ``max_tenant_share`` of any tenant's live artefacts, or
    more than ``max_plan_items`` in all. Live counts include the planned artefacts."""
    reasons: list[str] = []
    shares: dict[str, float] = {}
    for tenant_id in sorted(planned_by_tenant):
        planned = int(planned_by_tenant[tenant_id])
        live = int(live_by_tenant.get(tenant_id, 0))
        share = planned / live if live > 0 else (1.0 if planned else 0.0)
        shares[tenant_id] = round(share, 6)
        if share > limits.max_tenant_share:
            reasons.append(
                f"tenant {tenant_id} would lose {share:.1%} of its {live} live artefacts "
                f"(limit {limits.max_tenant_share:.0%})"
            )
    total = int(sum(planned_by_tenant.values()))
    if total > limits.max_plan_items:
        reasons.append(f"plan holds {total} artefacts (ceiling {limits.max_plan_items})")
    return BreakerVerdict(bool(reasons), tuple(reasons), shares, total)


ITEM_COLUMNS: tuple[str, ...] = (
    "item_no",
    "batch_no",
    "tenant_id",
    "record_type",
    "artefact_id",
    "call_id",
    "object_path",
    "object_sha256",
    "policy_version",
    "basis",
    "expires_on",
)


def plan_items(
    states: pd.DataFrame,
    *,
    tenant_id: str | None = None,
    object_batch_size: int = MAX_OBJECT_BATCH,
    row_batch_size: int = 10_000,
) -> pd.DataFrame:
    """The due artefacts in purge order (children first), numbered and cut into batches.

    A batch holds either artefacts with objects (at most ``object_batch_size``, <= 1,000 so one
    DeleteObjects request takes it) or row-only artefacts (at most ``row_batch_size``).
    """
    if not 1 <= object_batch_size <= MAX_OBJECT_BATCH:
        raise ValueError(f"object_batch_size must be 1-{MAX_OBJECT_BATCH}")
    if row_batch_size < 1:
        raise ValueError("row_batch_size must be at least 1")
    due = states.loc[states["state"] == "due"]
    if tenant_id is not None:
        due = due.loc[due["tenant_id"] == tenant_id]
    rank = {name: index for index, name in enumerate(PURGE_ORDER)}
    items = pd.DataFrame(
        {
            "tenant_id": due["tenant_id"].to_numpy(),
            "record_type": due["record_type"].to_numpy(),
            "artefact_id": due["artefact_id"].astype(str).to_numpy(),
            "call_id": due["call_id"].to_numpy(),
            "object_path": due["object_path"].to_numpy(),
            "object_sha256": due["object_sha256"].to_numpy(),
            "policy_version": due["policy_version"].to_numpy(),
            "basis": due["expiry_basis"].to_numpy(),
            "expires_on": due["expires_on"].to_numpy(),
            "_rank": due["record_type"].map(rank).to_numpy(),
        }
    )
    items["object_path"] = items["object_path"].where(items["object_path"].notna(), None)
    items = items.sort_values(["_rank", "tenant_id", "artefact_id"], kind="stable").reset_index(
        drop=True
    )
    has_object = items["object_path"].notna().to_numpy()
    run_starts = np.ones(len(items), dtype=bool)
    if len(items) > 1:
        run_starts[1:] = has_object[1:] != has_object[:-1]
    run_id = np.cumsum(run_starts) - 1
    position = np.arange(len(items)) - np.maximum.accumulate(
        np.where(run_starts, np.arange(len(items)), 0)
    )
    chunk = position // np.where(has_object, object_batch_size, row_batch_size)
    change = np.ones(len(items), dtype=bool)
    if len(items) > 1:
        change[1:] = (run_id[1:] != run_id[:-1]) | (chunk[1:] != chunk[:-1])
    items["batch_no"] = np.cumsum(change)
    items["item_no"] = np.arange(1, len(items) + 1)
    return items.loc[:, list(ITEM_COLUMNS)]


def _digest_lines(frame: pd.DataFrame) -> str:
    if frame.empty:
        return hashlib.sha256(b"").hexdigest()
    parts = [
        frame["tenant_id"].astype(str),
        frame["record_type"].astype(str),
        frame["artefact_id"].astype(str),
        frame["object_sha256"].fillna("").astype(str),
        frame["policy_version"].fillna("").astype(str),
    ]
    lines = parts[0].str.cat(parts[1:], sep="|")
    return hashlib.sha256("\n".join(lines.tolist()).encode("utf-8")).hexdigest()


def artefacts_digest(frame: pd.DataFrame) -> str:
    """sha256 over ``tenant|type|artefact|object sha256|policy version`` lines in a stable order,
    so a manifest, the tombstones and a proof can be checked against each other."""
    if frame.empty:
        return _digest_lines(frame)
    ordered = frame.sort_values(["tenant_id", "record_type", "artefact_id"], kind="stable")
    return _digest_lines(ordered)


def proof_document(
    plan: Mapping[str, Any],
    items: pd.DataFrame,
    tombstones: pd.DataFrame,
    *,
    objects_verified_absent: int,
    objects_still_present: int,
    run_ids: Sequence[str],
    proof_run_id: str,
    proved_at: str,
) -> dict[str, Any]:
    """The proof-of-deletion manifest: counts per tenant and type, policy versions, digests.

    ``items`` are the plan's items with their final ``status``; ``tombstones`` the plan's
    tombstones. Holds ids, counts and hashes only.
    """
    by_tenant: dict[str, dict[str, dict[str, int]]] = {}
    for (tenant_id, record_type, status), count in (
        items.groupby(["tenant_id", "record_type", "status"]).size().items()
        if not items.empty
        else []
    ):
        entry = by_tenant.setdefault(str(tenant_id), {}).setdefault(str(record_type), {})
        entry[str(status)] = int(count)
    purged_objects = (
        items.loc[(items["status"] == "purged") & items["object_path"].notna()]
        .groupby(["tenant_id", "record_type"])
        .size()
        if not items.empty
        else pd.Series(dtype=int)
    )
    for (tenant_id, record_type), count in purged_objects.items():
        by_tenant[str(tenant_id)][str(record_type)]["objects_deleted"] = int(count)
    digests: dict[str, dict[str, str]] = {}
    if not tombstones.empty:
        for (tenant_id, record_type), group in tombstones.groupby(["tenant_id", "record_type"]):
            digests.setdefault(str(tenant_id), {})[str(record_type)] = artefacts_digest(group)
    statuses = Counter(items["status"]) if not items.empty else Counter()
    versions = (
        Counter(tombstones["policy_version"].astype(str)) if not tombstones.empty else Counter()
    )
    return {
        "kind": "cm.retention.proof_of_deletion",
        "format_version": 1,
        "plan_id": plan["plan_id"],
        "as_of": str(plan["as_of"]),
        "scope_tenant_id": plan.get("scope_tenant_id"),
        "planned_at": str(plan.get("created_at")),
        "proved_at": proved_at,
        "proof_run_id": proof_run_id,
        "run_ids": sorted(set(run_ids)),
        "thresholds": plan.get("thresholds") or {},
        "override": {
            "used": bool(plan.get("override_reason")),
            "reason_sha256": (
                hashlib.sha256(str(plan["override_reason"]).encode()).hexdigest()
                if plan.get("override_reason")
                else None
            ),
            "by": plan.get("override_by"),
        },
        "totals": {
            "planned": int(len(items)),
            "purged": int(statuses.get("purged", 0)),
            "withdrawn": int(statuses.get("withdrawn", 0)),
            "failed": int(statuses.get("failed", 0)),
            "already_gone": int(statuses.get("already_gone", 0)),
            "pending": int(statuses.get("pending", 0)),
            "tombstones": int(len(tombstones)),
            "objects_deleted": int(purged_objects.sum()) if len(purged_objects) else 0,
            "objects_verified_absent": int(objects_verified_absent),
            "objects_still_present": int(objects_still_present),
        },
        "by_tenant": by_tenant,
        "policy_versions": dict(sorted(versions.items())),
        "plan_items_sha256": plan.get("items_sha256"),
        "tombstones_sha256": artefacts_digest(tombstones),
        "tombstones_sha256_by_tenant_type": digests,
    }


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Stable bytes for hashing and storing a manifest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
