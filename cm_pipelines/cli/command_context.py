"""What every ``cm`` command needs, in one place: who is acting, the warehouse (refused while its
schema is stale), the configured tenants, and masked display of a number or address.

The operator identity is the one every command writes into the audit log and run tags:
``cli:<name>``, where the name is what ``--actor`` (or ``--by``) says, else the login name.
A mutating command acts as an identity of the roles file (``CM_ROLES_FILE``) and is refused
when its roles do not allow the action (``acting_as``). Commands do not invent their own
spelling of it.
"""

from __future__ import annotations

import getpass

import click

from cm_pipelines.domain.operations.roles import AccessRefused, Identity, identity_named, require
from cm_pipelines.domain.phone_numbers import mask_number
from cm_pipelines.domain.tenants import ConfigError, Tenant
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import SchemaNotCurrentError, WarehouseResource

OPERATOR_PREFIX = "cli:"
MAX_IDENTITY = 128


def operator_identity(named: str | None = None) -> str:
    """``cli:<name>``: the name given (``--actor``), else the login name, else ``cli:unknown``
    (containers without a user database entry)."""
    name = (named or "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            name = "unknown"
    return f"{OPERATOR_PREFIX}{name}"[:MAX_IDENTITY]


def actor_option(action: str):
    """``--actor NAME``: the identity of the roles file a mutating command acts as."""
    return click.option(
        "--actor",
        default=None,
        help=f"Who acts: an identity of the roles file (CM_ROLES_FILE) allowed to {action}; "
        "default: the login name. Audited as cli:NAME.",
    )


def named_identity(named: str | None) -> Identity:
    """The roles-file identity named (else the login name), refused when it is not listed."""
    config = platform_config()
    try:
        identities = config.identities()
    except ConfigError as exc:
        raise click.ClickException(f"roles file refused: {exc}") from None
    name = operator_identity(named).removeprefix(OPERATOR_PREFIX)
    try:
        return identity_named(identities, name, str(config.roles_path()))
    except AccessRefused as exc:
        raise click.ClickException(f"refused: {exc}") from None


def acting_as(named: str | None, action: str) -> Identity:
    """The roles-file identity named (else the login name), refused unless it may ``action``;
    the refusal names the roles file and who may."""
    identity = named_identity(named)
    try:
        require(identity, action)
    except AccessRefused as exc:
        raise click.ClickException(f"refused: {exc}") from None
    return identity


def open_warehouse() -> WarehouseResource:
    """The warehouse, refusing (with what to run) while its schema is not current."""
    warehouse = WarehouseResource()
    try:
        warehouse.assert_schema_current()
    except SchemaNotCurrentError as exc:
        raise click.ClickException(str(exc)) from None
    return warehouse


def open_object_store() -> ObjectStoreResource:
    return ObjectStoreResource()


def platform_config() -> PlatformConfigResource:
    return PlatformConfigResource()


def configured_tenants() -> dict[str, Tenant]:
    """Every configured tenant by id; a bad tenants file is refused with what is wrong."""
    try:
        return platform_config().tenants_by_id()
    except ConfigError as exc:
        raise click.ClickException(f"configuration refused: {exc}") from None


def tenant_named(tenant_id: str) -> Tenant:
    """The configured tenant ``tenant_id``; an unknown (or hostile) id is refused, never
    silently matched to nothing."""
    tenants = configured_tenants()
    if tenant_id not in tenants:
        raise click.ClickException(
            f"unknown tenant {tenant_id!r}: configured tenants are {', '.join(sorted(tenants))}"
        )
    return tenants[tenant_id]


def mask_email(address: str) -> str:
    """First character of the local part and the domain, e.g. ``j***@example.com``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(e164: str) -> str:
    """The number with its middle digits hidden; ``***`` when it is not a number at all."""
    try:
        return mask_number(e164)
    except ValueError:
        return "***"
