"""Platform configuration files (tenants, registries), validated before anything uses them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from cm_pipelines.domain.dncr.evidence_floors import apply_evidence_floors
from cm_pipelines.domain.dncr.registries import Registry, check_tenant_registries, parse_registries
from cm_pipelines.domain.operations.roles import Identity, parse_roles
from cm_pipelines.domain.tenants import ConfigError, Tenant, parse_tenants
from cm_pipelines.platform import settings


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: file not found"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{path}:{where} is not valid YAML"]) from exc


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class PlatformConfigResource(dg.ConfigurableResource):
    """Where the tenants and registries files are; empty fields read the environment defaults."""

    tenants_file: str = Field(default="", description="Tenants YAML; empty reads CM_TENANTS_FILE.")
    registries_file: str = Field(
        default="", description="Registries YAML; empty reads CM_REGISTRIES_FILE."
    )

    def tenants_path(self) -> Path:
        return Path(self.tenants_file) if self.tenants_file else settings.tenants_file()

    def registries_path(self) -> Path:
        return Path(self.registries_file) if self.registries_file else settings.registries_file()

    def tenants(self) -> list[Tenant]:
        """Validated tenants, their do-not-call evidence retention held to the floor of their
        registries' rules (a file asking for less is refused, see ``evidence_floors``)."""
        path = self.tenants_path()
        tenants = parse_tenants(read_yaml(path), source=path.name)
        if not any(tenant.registries for tenant in tenants):
            return tenants
        registries_path = self.registries_path()
        registries = parse_registries(read_yaml(registries_path), source=registries_path.name)
        return apply_evidence_floors(tenants, registries, source=path.name)

    def tenants_by_id(self) -> dict[str, Tenant]:
        return {tenant.id: tenant for tenant in self.tenants()}

    def registries(self) -> list[Registry]:
        """Validated registries; tenants naming an unconfigured registry are refused too."""
        path = self.registries_path()
        registries = parse_registries(read_yaml(path), source=path.name)
        check_tenant_registries(self.tenants(), registries, source=self.tenants_path().name)
        return registries

    def roles_path(self) -> Path:
        return settings.roles_file()

    def identities(self) -> dict[str, Identity]:
        """Identities by name from the roles file (``CM_ROLES_FILE``), validated."""
        path = self.roles_path()
        return parse_roles(read_yaml(path), source=path.name)
