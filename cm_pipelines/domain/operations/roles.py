"""Who may do what: four roles, what each may do with ``cm``, who may approve what, and the
four-eyes rule (an approver is a different person holding an approving role).

The roles file (``CM_ROLES_FILE``) only names identities and their roles; what a role allows is
here, in code, reviewed like any other rule. Reading commands (lists, status, verification of
the audit chain) need no role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cm_pipelines.domain.tenants import ConfigError

PRIVACY_OFFICER = "privacy_officer"
DATA_ENGINEER = "data_engineer"
SUPPORT = "support"
AUDITOR = "auditor"
ROLES = (PRIVACY_OFFICER, DATA_ENGINEER, SUPPORT, AUDITOR)

# What each mutating `cm` command needs. The auditor reads (audit verify/tail, status, lists).
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "hold.add": frozenset({PRIVACY_OFFICER}),
    "hold.release": frozenset({PRIVACY_OFFICER}),
    "dsar.submit": frozenset({PRIVACY_OFFICER, SUPPORT}),
    "dsar.verify": frozenset({PRIVACY_OFFICER, SUPPORT}),
    "dsar.extend": frozenset({PRIVACY_OFFICER}),
    "dsar.run": frozenset({PRIVACY_OFFICER}),
    "dsar.key": frozenset({PRIVACY_OFFICER}),
    "dsar.review": frozenset({PRIVACY_OFFICER}),
    "dsar.refuse": frozenset({PRIVACY_OFFICER}),
    "dsar.lift": frozenset({PRIVACY_OFFICER}),
    "dsar.acknowledge": frozenset({PRIVACY_OFFICER, SUPPORT}),
    "retention.purge": frozenset({PRIVACY_OFFICER, DATA_ENGINEER}),
    "retention.override": frozenset({PRIVACY_OFFICER, DATA_ENGINEER}),
    "jobs.launch": frozenset({DATA_ENGINEER}),
    "dncr.suppress": frozenset({PRIVACY_OFFICER, SUPPORT}),
}

# Destructive actions that wait for a second person, and the roles that may be that person.
ERASURE = "erasure"
BREAKER_OVERRIDE = "breaker_override"
HOLD_RELEASE = "hold_release"
APPROVERS: Mapping[str, frozenset[str]] = {
    ERASURE: frozenset({PRIVACY_OFFICER}),
    BREAKER_OVERRIDE: frozenset({PRIVACY_OFFICER}),
    HOLD_RELEASE: frozenset({PRIVACY_OFFICER}),
}
APPROVAL_TTL = timedelta(days=7)
"""A request for approval nobody decided within a week lapses: ask again."""

ERASURE_APPROVAL_THRESHOLD = 50
"""An erasure planned to remove more records than this waits for a second approver."""

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class AccessRefused(PermissionError):
    """The identity may not do this; the message says who may and what to do."""


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[str]

    @property
    def actor(self) -> str:
        """How the identity appears in the audit log and run tags."""
        return f"cli:{self.name}"


def parse_roles(document: Any, source: str = "roles file") -> dict[str, Identity]:
    """``{identities: [{name, roles: [...]}, ...]}`` -> identities by name; every problem named."""
    problems: list[str] = []
    entries = document.get("identities") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ConfigError([f"{source}: needs a list under `identities`"])
    found: dict[str, Identity] = {}
    for index, entry in enumerate(entries):
        path = f"{source}: identities[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{path}: must be a mapping with name and roles")
            continue
        name, roles = entry.get("name"), entry.get("roles")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(f"{path}.name: 1-64 lowercase letters, digits, . _ -")
            continue
        if name in found:
            problems.append(f"{path}.name: {name} is listed twice")
        if not isinstance(roles, list) or not roles:
            problems.append(f"{path}.roles: a non-empty list of {', '.join(ROLES)}")
            continue
        unknown = sorted(str(r) for r in roles if r not in ROLES)
        if unknown:
            problems.append(f"{path}.roles: unknown {', '.join(unknown)} (use {', '.join(ROLES)})")
            continue
        found[name] = Identity(name, frozenset(roles))
    if problems:
        raise ConfigError(problems)
    return found


def _holders(roles: frozenset[str]) -> str:
    return " or ".join(sorted(role.replace("_", " ") for role in roles))


def identity_named(identities: Mapping[str, Identity], name: str | None, source: str) -> Identity:
    """The identity ``name`` from the roles file; refused (naming the file) when absent."""
    cleaned = (name or "").strip().lower().removeprefix("cli:")
    if not cleaned:
        raise AccessRefused(f"name who acts with --actor NAME (an identity in {source})")
    if cleaned not in identities:
        named = repr(cleaned) if _NAME.fullmatch(cleaned) else "the name given"
        raise AccessRefused(
            f"{named} is not an identity in {source}: name one listed there with --actor "
            "(or --by), or ask for it to be added"
        )
    return identities[cleaned]


def require(identity: Identity, action: str) -> None:
    """Refuse unless one of the identity's roles may perform ``action``."""
    allowed = PERMISSIONS[action]
    if not identity.roles & allowed:
        raise AccessRefused(
            f"{identity.name} ({', '.join(sorted(identity.roles))}) may not {action}: "
            f"it needs a {_holders(allowed)}"
        )


def _bare(name: str) -> str:
    return name.strip().lower().split(":", 1)[-1]


def require_approver(approval_action: str, asked_by: Iterable[str], approver: Identity) -> None:
    """Four eyes: the approver holds an approving role and is none of those who asked (the
    requester, and for an erasure whoever verified the request)."""
    if approver.name in {_bare(name) for name in asked_by if name}:
        raise AccessRefused(
            f"{approver.name} asked for this {approval_action.replace('_', ' ')}: a second, "
            "different person approves it"
        )
    allowed = APPROVERS[approval_action]
    if not approver.roles & allowed:
        raise AccessRefused(
            f"{approver.name} ({', '.join(sorted(approver.roles))}) may not approve a "
            f"{approval_action.replace('_', ' ')}: it needs a {_holders(allowed)}"
        )


def approval_lapsed(requested_at: datetime, now: datetime, ttl: timedelta = APPROVAL_TTL) -> bool:
    return now - requested_at > ttl


def erasure_needs_approval(planned_removals: int, threshold: int) -> bool:
    return planned_removals > threshold
