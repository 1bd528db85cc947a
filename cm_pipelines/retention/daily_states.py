"""Today's states recorded in ``retention_states`` (the table is replaced whole each day), and
the summary the ``retention_states`` asset reports: counts, forecasts and policy versions in
force, never a number or an address."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.artefact_states import STATES, due_within, state_counts
from cm_pipelines.domain.retention.policies import PolicyBook
from cm_pipelines.domain.tenants import RECORD_TYPES
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.current_states import current_states
from cm_pipelines.tables.retention import retention_states as states_table

_HOLD_IDS_MAX = 500


def record_states(
    warehouse: WarehouseResource, as_of: date, *, hash_key: bytes, run_id: str
) -> tuple[pd.DataFrame, PolicyBook]:
    """Decide every artefact's state on ``as_of`` and replace ``retention_states`` with it;
    returns the states and the policy book that decided them."""
    with warehouse.connect() as connection:
        states, book = current_states(connection, as_of=as_of, hash_key=hash_key)
    rows = _states_rows(states, as_of, run_id)
    with warehouse.begin() as connection:
        connection.execute(sa.delete(states_table))
        bulk_insert(connection, states_table, rows)
    return states, book


def _states_rows(states: pd.DataFrame, as_of, run_id: str) -> pd.DataFrame:
    hold_ids = states["hold_ids"].where(states["hold_ids"] != "", None)
    too_long = hold_ids.notna() & (hold_ids.str.len() > _HOLD_IDS_MAX)
    if too_long.any():
        hold_ids = hold_ids.where(
            ~too_long,
            hold_ids.str.slice(0, _HOLD_IDS_MAX - 20).str.rsplit(",", n=1).str[0] + ",...",
        )
    basis_date = pd.to_datetime(states["basis_date"], errors="coerce")
    return pd.DataFrame(
        {
            "tenant_id": states["tenant_id"],
            "record_type": states["record_type"],
            "artefact_id": states["artefact_id"],
            "call_id": states["call_id"],
            "state": states["state"],
            "basis": states["basis"],
            "expiry_basis": states["expiry_basis"],
            "policy_version": states["policy_version"],
            "basis_date": basis_date.dt.date.where(basis_date.notna(), None),
            "expires_on": states["expires_on"],
            "hold_ids": hold_ids,
            "as_of": as_of,
            "computed_at": datetime.now(UTC),
            "run_id": run_id,
        }
    )


@dataclass(frozen=True)
class StatesSummary:
    """What the ``retention_states`` asset reports (ids and counts only)."""

    by_state: dict[str, int]
    markdown: str
    due_next_7_days: int
    due_next_30_days: int
    due_next_7_days_by_tenant: dict[str, int]
    held_past_expiry: int
    policies_in_force: dict[str, dict[str, str]]


def summarise_states(
    states: pd.DataFrame, book: PolicyBook, tenant_ids: list[str], as_of: date
) -> StatesSummary:
    by_state = Counter(states["state"]) if not states.empty else Counter()
    held_past_expiry = (
        int(
            (
                (states["state"] == "held")
                & pd.to_datetime(states["expires_on"]).le(pd.Timestamp(as_of)).fillna(False)
            ).sum()
        )
        if not states.empty
        else 0
    )
    return StatesSummary(
        by_state={state: int(by_state.get(state, 0)) for state in STATES},
        markdown=states_markdown(state_counts(states)),
        due_next_7_days=due_within(states, as_of, 7),
        due_next_30_days=due_within(states, as_of, 30),
        due_next_7_days_by_tenant={
            str(tenant_id): due_within(group, as_of, 7)
            for tenant_id, group in states.groupby("tenant_id")
        },
        held_past_expiry=held_past_expiry,
        policies_in_force=_policies_in_force(book, tenant_ids, as_of),
    )


def states_markdown(counts: pd.DataFrame) -> str:
    """One row per tenant x record type, a column per state (ids and counts only)."""
    header = "| tenant | record type | " + " | ".join(STATES) + " |"
    rule = "|---|---|" + "---:|" * len(STATES)
    lines = [header, rule]
    for row in counts.itertuples(index=False):
        values = " | ".join(str(int(getattr(row, state))) for state in STATES)
        lines.append(f"| {row.tenant_id} | {row.record_type} | {values} |")
    return "\n".join(lines)


def _policies_in_force(
    book: PolicyBook, tenant_ids: list[str], as_of: date
) -> dict[str, dict[str, str]]:
    summary: dict[str, dict[str, str]] = {}
    for tenant_id in tenant_ids:
        for record_type in RECORD_TYPES:
            version = book.in_force(tenant_id, record_type, as_of)
            if version is not None:
                summary.setdefault(tenant_id, {})[record_type] = (
                    f"v{version.version}: {version.retention_days}d"
                )
    return summary
