"""Landing source files: a file's state follows the rows read from it.

A CDR day file and a CRM links file hold the same personal data as the rows read from them, so
a file follows its rows rather than a clock of its own: it is due once every row that came from
it (and every quarantined line of it) is purged, due in the same purge, or erased by a DSAR
(whose lines are already blank), and held while any of them is held. Quarantined lines
(``quarantine_records``) follow the ``call_logs`` policy of their call day (consent and campaign
list lines: of the day they were quarantined). ``source_file_states`` decides files after
``compute_states`` decided their rows.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cm_pipelines.domain.retention.artefact_states import STATE_COLUMNS
from cm_pipelines.domain.retention.artefact_types import POLICY_TYPE, SOURCE_FILE_TYPES
from cm_pipelines.domain.retention.policies import PolicyBook

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

_FILE_KEYS = ["tenant_id", "record_type", "artefact_id"]


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
    keys = _FILE_KEYS
    frame = files.loc[:, [*keys, "purged"]].drop_duplicates(keys).reset_index(drop=True).copy()
    frame["purged"] = frame["purged"].fillna(False).astype(bool)
    summary, latest = _summarise_sources(_sources_decided(sources, states))
    frame = frame.join(summary, on=keys).join(latest, on=keys)
    return _decide_files(frame, book, as_of)


def _sources_decided(sources: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """Every source with its row's decision and what it means for its file: ``gone`` (purged,
    due or erased), ``held``, ``undecided`` (no expiry date) and the dates that count."""
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
    return joined


def _summarise_sources(joined: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Per file: how many sources and how many gone, whether any is held (and by which holds)
    or undecided, the latest dates, and the policy version of the source that goes last."""
    keys = _FILE_KEYS
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
    return summary, latest


def _versions_in_force(frame: pd.DataFrame, book: PolicyBook, as_of: date) -> list[str | None]:
    """Per file, the id of the version in force on ``as_of`` for its type (None without one)."""
    in_force: dict[tuple[str, str], str | None] = {}
    for tenant_id, record_type in (
        frame[["tenant_id", "record_type"]].drop_duplicates().itertuples(index=False)
    ):
        version = book.in_force(str(tenant_id), POLICY_TYPE[str(record_type)], as_of)
        in_force[(tenant_id, record_type)] = None if version is None else version.id
    return [in_force[key] for key in zip(frame["tenant_id"], frame["record_type"], strict=True)]


def _decide_files(frame: pd.DataFrame, book: PolicyBook, as_of: date) -> pd.DataFrame:
    """The files' states (``STATE_COLUMNS``) from their sources' summary."""
    count = frame["sources"].fillna(0).to_numpy(dtype=np.int64)
    all_gone = (count > 0) & (frame["gone"].fillna(0).to_numpy(dtype=np.int64) == count)
    fallback = _versions_in_force(frame, book, as_of)
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
