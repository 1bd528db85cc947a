"""Digests and stable bytes that let a plan's manifest, its tombstones and the proof of deletion
be checked against each other."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd


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


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Stable bytes for hashing and storing a manifest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
