"""Every artefact's state today, decided the same way by the ``retention_states`` asset, the
purge plan and its guard, ``cm retention plan`` and the benchmark: the inventory with legal
holds attached, decided under the recorded policy versions; landing files last, from their
rows."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.retention.artefact_states import compute_states
from cm_pipelines.domain.retention.holds import calls_under_hold, number_records_under_hold
from cm_pipelines.domain.retention.policies import PolicyBook, PolicyVersion
from cm_pipelines.domain.retention.source_files import source_file_states
from cm_pipelines.retention.inventory.artefacts import Inventory, load_inventory
from cm_pipelines.retention.policy_versions import load_policy_versions


def today_utc() -> date:
    """The day states are decided for when a caller gives none."""
    return datetime.now(UTC).date()


def attach_holds(inventory: Inventory, hash_number: Callable[[str], str]) -> pd.DataFrame:
    """The artefacts with ``hold_ids`` filled: a call-level hold keeps the call's whole lineage,
    a phone hold also keeps the number's wash results and blocked-call records."""
    artefacts = inventory.artefacts.copy()
    artefacts["hold_ids"] = ""
    if not inventory.holds or artefacts.empty:
        return artefacts
    by_call = calls_under_hold(inventory.holds, inventory.calls, inventory.contacts)
    if not by_call.empty:
        lineage = artefacts["call_id"].notna()
        keys = pd.MultiIndex.from_frame(artefacts.loc[lineage, ["tenant_id", "call_id"]])
        held = by_call.set_index(["tenant_id", "call_id"])["hold_ids"].reindex(keys)
        artefacts.loc[lineage, "hold_ids"] = held.fillna("").to_numpy()
    by_number = number_records_under_hold(inventory.holds, inventory.number_records, hash_number)
    if not by_number.empty:
        keys_columns = ["tenant_id", "record_type", "artefact_id"]
        numbered = artefacts["record_type"].isin(
            ["wash_results", "blocked_calls", "dncr_check_records"]
        )
        keys = pd.MultiIndex.from_frame(artefacts.loc[numbered, keys_columns])
        held = by_number.set_index(keys_columns)["hold_ids"].reindex(keys)
        artefacts.loc[numbered, "hold_ids"] = held.fillna("").to_numpy()
    return artefacts


def number_hasher(key: bytes) -> Callable[[str], str]:
    cache: dict[str, str] = {}

    def hash_number(e164: str) -> str:
        if e164 not in cache:
            cache[e164] = keyed_hash(e164, key)
        return cache[e164]

    return hash_number


def current_states(
    connection: sa.Connection,
    *,
    as_of: date,
    hash_key: bytes,
    tenant_ids: Collection[str] | None = None,
    extra_versions: Sequence[PolicyVersion] = (),
) -> tuple[pd.DataFrame, PolicyBook]:
    """Every artefact's state on ``as_of`` from the recorded policy versions (plus
    ``extra_versions``, which a dry run uses for changes not recorded yet); landing files are
    decided last, from the states of the rows read from them."""
    book = PolicyBook([*load_policy_versions(connection), *extra_versions])
    inventory = load_inventory(connection, tenant_ids)
    artefacts = attach_holds(inventory, number_hasher(hash_key))
    states = compute_states(artefacts, book, as_of)
    files = source_file_states(inventory.files, inventory.sources, states, book, as_of)
    if files.empty:
        return states, book
    return pd.concat([states, files], ignore_index=True), book
