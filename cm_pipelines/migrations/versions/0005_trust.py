"""trust: the audit log becomes append-only in the database itself

Triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``audit_log``, and refuse an
INSERT that does not extend the current chain head (next ``seq``, ``prev_hash`` = head's hash).
Application code can then neither rewrite history nor fork the chain, whatever it gets wrong;
only someone who can drop the triggers can tamper, and the hash chain shows what they did.

Revision ID: 0005_trust
Revises: 0004_dsar
"""

from __future__ import annotations

from alembic import op

revision = "0005_trust"
down_revision = "0004_dsar"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64  # spelled out in the trigger bodies below

SQLITE_TRIGGERS = {
    "audit_log_no_update": """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
        END
    """,
    "audit_log_no_delete": """
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
        END
    """,
    "audit_log_extends_head": """
        CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
        WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
          OR NEW.prev_hash IS NOT COALESCE(
                (SELECT entry_hash FROM audit_log WHERE seq = NEW.seq - 1), '0000000000000000000000000000000000000000000000000000000000000000')
        BEGIN
            SELECT RAISE(ABORT, 'audit_log insert does not extend the chain head');
        END
    """,
}

POSTGRES_UPGRADE = [
    """
    CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE FUNCTION audit_log_check_head() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        head_seq bigint;
        head_hash varchar(64);
    BEGIN
        SELECT seq, entry_hash INTO head_seq, head_hash
            FROM audit_log ORDER BY seq DESC LIMIT 1;
        IF NEW.seq IS DISTINCT FROM COALESCE(head_seq, 0) + 1
           OR NEW.prev_hash IS DISTINCT FROM COALESCE(head_hash, '0000000000000000000000000000000000000000000000000000000000000000') THEN
            RAISE EXCEPTION 'audit_log insert does not extend the chain head'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()
    """,
    """
    CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_check_head()
    """,
]

POSTGRES_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_log_extends_head ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_check_head()",
    "DROP FUNCTION IF EXISTS audit_log_refuse_change()",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in POSTGRES_UPGRADE:
            op.execute(statement)
    elif dialect == "sqlite":
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)
    else:
        raise NotImplementedError(f"append-only audit triggers are not written for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in POSTGRES_DOWNGRADE:
            op.execute(statement)
    elif dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
