"""Access: remote-assistance grants recorded from a client's approval.

``approved_by`` is the client-side approver as given (name and role): personal data of the
client's staff, kept here because the grant is evidence of who approved, and nowhere else. The
audit chain carries only its keyed hash (``approved_by_hash``). A grant is never deleted or
edited except to record its revocation.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import JsonDocument, UtcDateTime, metadata

support_access_grants = sa.Table(
    "support_access_grants",
    metadata,
    sa.Column("grant_id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("granted_to", sa.String(64), nullable=False),  # a support identity of roles.yaml
    sa.Column("scopes", JsonDocument, nullable=False),  # sorted list of SCOPES
    sa.Column("approved_by", sa.String(200), nullable=False),
    sa.Column("approved_by_hash", sa.String(80), nullable=False),
    sa.Column("ticket_ref", sa.String(64), nullable=False),
    sa.Column("granted_by", sa.String(128), nullable=False),
    sa.Column("granted_at", UtcDateTime, nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revoked_by", sa.String(128), nullable=True),
    sa.Column("revoke_reason", sa.String(500), nullable=True),
    sa.Index("ix_support_access_grants_holder", "tenant_id", "granted_to"),
)
