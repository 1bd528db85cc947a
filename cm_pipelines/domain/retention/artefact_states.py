"""Each artefact's state on a day: its expiry date under the policy versions, bounded by its
lineage, then held, due, active or purged (numpy over whole columns, never row by row).

Lineage. A derived artefact's expiry is the earlier of its own and its parent's
(``PARENT_TYPE``), and when the parent is purged it goes too. The decision names the policy
version that set the date (the parent's when the parent's was earlier).

States. ``purged`` (row marked deleted), ``held`` (a legal hold covers its call or number),
``due`` (expiry date reached), ``active`` (otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from cm_pipelines.domain.retention.artefact_types import POLICY_TYPE
from cm_pipelines.domain.retention.policies import (
    INITIAL_EFFECTIVE_FROM,
    PolicyBook,
    PolicyVersion,
)

STATES: tuple[str, ...] = ("active", "due", "held", "purged")
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

STATE_COLUMNS: tuple[str, ...] = (
    *ARTEFACT_COLUMNS,
    "policy_version",
    "expiry_basis",
    "state",
    "basis",
    "expires_on",
)
"""Columns of a decided artefact (``compute_states``, ``source_file_states``)."""


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
