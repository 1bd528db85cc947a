"""The access / portability package: a zip with a manifest, sealed with AES-256-GCM.

Every call has two data subjects, so what goes in is masked for the *other* one: the other
party's number and name in call rows, and every phone number or email in transcripts and AI
notes that is not the requester's own (``identifiers.mask_identifiers`` with keep-sets).

The zip holds ``data/<category>.csv`` and ``data/<category>.json`` per category, the recordings
and transcripts under ``recordings/`` and ``transcripts/``, a ``README.txt`` and a
``manifest.json`` naming every other file with its size and sha256. The encryption key is
returned to the caller once; it is never part of the package, its path or its metadata.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cm_pipelines.domain.csv_cells import neutralise_cell
from cm_pipelines.domain.identifiers import mask_identifiers
from cm_pipelines.domain.phone_numbers import mask_number

PACKAGE_FORMAT = "cm-dsar-package/1"
ENCRYPTION = "aes-256-gcm/1"
MAGIC = b"CMDSAR1"
NONCE_BYTES = 12
KEY_BYTES = 32
MANIFEST = "manifest.json"
README = "README.txt"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
OTHER_NAME_MASK = "[name]"


class PackageError(ValueError):
    """The package could not be opened: wrong key, tampered bytes or a bad manifest."""


@dataclass(frozen=True)
class PackageFile:
    path: str
    data: bytes


@dataclass
class PackageContent:
    """What a package holds; rows and texts must already be masked for the other subjects."""

    request_id: str
    tenant_id: str
    request_type: str
    generated_at: datetime
    categories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[PackageFile] = field(default_factory=list)


@dataclass(frozen=True)
class BuiltPackage:
    data: bytes
    manifest: dict[str, Any]
    manifest_sha256: str


@dataclass(frozen=True)
class SealedPackage:
    data: bytes
    key: bytes
    sha256: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- masking for the other subject


def _mask_other_number(value: str | None, subject_phones: frozenset[str]) -> str | None:
    if not value or value in subject_phones:
        return value
    if value.startswith("+"):
        try:
            return mask_number(value)
        except ValueError:
            return "[phone]"
    return "[phone]"


def mask_call_row(row: Mapping[str, Any], subject_phones: frozenset[str]) -> dict[str, Any]:
    """A call as the subject may see it: their own number and name, the other party masked.

    Only the fields describing the call are exported (no PBX channel internals).
    """
    src, dst = row.get("src_e164"), row.get("dst_e164")
    subject_is_caller = src in subject_phones
    subject_is_callee = dst in subject_phones
    if subject_is_caller:
        role = "caller"
    elif subject_is_callee:
        role = "callee"
    else:
        role = "linked"
    caller_name = row.get("caller_name")
    return {
        "call_id": row.get("call_id"),
        "call_date": _plain(row.get("call_date")),
        "started_at": _plain(row.get("started_at")),
        "answered_at": _plain(row.get("answered_at")),
        "ended_at": _plain(row.get("ended_at")),
        "duration_s": row.get("duration_s"),
        "billsec_s": row.get("billsec_s"),
        "disposition": row.get("disposition"),
        "direction": row.get("direction"),
        "subject_role": role,
        "caller_number": _mask_other_number(src, subject_phones)
        if src
        else row.get("src_extension"),
        "callee_number": _mask_other_number(dst, subject_phones)
        if dst
        else row.get("dst_extension"),
        "caller_name": caller_name if subject_is_caller or not caller_name else OTHER_NAME_MASK,
        "campaign_id": row.get("campaign_id"),
    }


def mask_text(
    text: str, country: str, subject_phones: frozenset[str], subject_emails: frozenset[str]
) -> str:
    """Free text with every identifier masked except the subject's own."""
    return mask_identifiers(text, country, subject_phones, subject_emails)


def mask_segments(
    segments: Iterable[Mapping[str, Any]],
    country: str,
    subject_phones: frozenset[str],
    subject_emails: frozenset[str],
) -> list[dict[str, Any]]:
    return [
        {
            **dict(segment),
            "text": mask_text(
                str(segment.get("text") or ""), country, subject_phones, subject_emails
            ),
        }
        for segment in segments
    ]


# ---------------------------------------------------------------- building the zip


def _plain(value: Any) -> Any:
    """Dates as ISO text; times to the second (microseconds tell the requester nothing, and
    a digit run such as ``.136480`` reads as a short phone number to identifier scanners)."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def category_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Columns in first-seen order; nested values as JSON; empty string for missing; formula-
    like cells (a transcript line "=HYPERLINK(...)") neutralised for spreadsheets."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise_cell(_cell(row.get(column))) for column in columns])
    return buffer.getvalue().encode("utf-8")


def category_json(rows: Sequence[Mapping[str, Any]]) -> bytes:
    plain = [{key: _plain(value) for key, value in row.items()} for row in rows]
    return json.dumps(plain, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _readme(content: PackageContent) -> bytes:
    lines = [
        "Your personal data held by this organisation",
        "",
        f"Request: {content.request_id} ({content.request_type})",
        f"Generated: {_plain(content.generated_at)}",
        "",
        "data/<category>.csv and data/<category>.json hold the same records in two formats.",
        "recordings/ holds call recordings, transcripts/ the text of your calls.",
        "Phone numbers, names and emails of other people are masked ([phone], [email], [name]).",
        "manifest.json lists every file with its SHA-256 so you can check nothing was altered.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _check_member_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise PackageError("package member paths must be relative, without '.' or '..'")
    return path


def build_package(content: PackageContent) -> BuiltPackage:
    """A deterministic zip (fixed timestamps, sorted members) and its manifest."""
    members: dict[str, bytes] = {README: _readme(content)}
    categories: dict[str, dict[str, Any]] = {}
    for name, rows in sorted(content.categories.items()):
        csv_path, json_path = f"data/{name}.csv", f"data/{name}.json"
        members[csv_path] = category_csv(rows)
        members[json_path] = category_json(rows)
        categories[name] = {"count": len(rows), "files": [csv_path, json_path]}
    for item in content.files:
        path = _check_member_path(item.path)
        if path in members or path == MANIFEST:
            raise PackageError("two package files share one path")
        members[path] = item.data
    manifest = {
        "format": PACKAGE_FORMAT,
        "request_id": content.request_id,
        "tenant_id": content.tenant_id,
        "request_type": content.request_type,
        "generated_at": _plain(content.generated_at),
        "categories": categories,
        "files": [
            {"path": path, "bytes": len(data), "sha256": sha256_hex(data)}
            for path, data in sorted(members.items())
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    members[MANIFEST] = manifest_bytes
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(members.items()):
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, data)
    return BuiltPackage(buffer.getvalue(), manifest, sha256_hex(manifest_bytes))


def verify_package(zip_bytes: bytes) -> dict[str, Any]:
    """Open a package and check every file against the manifest; returns the manifest."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise PackageError("the package is not a zip file") from exc
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise PackageError("the package has no manifest.json")
        manifest = json.loads(archive.read(MANIFEST))
        listed = {entry["path"]: entry for entry in manifest.get("files", [])}
        if set(listed) != names - {MANIFEST}:
            raise PackageError("the package's files differ from those its manifest lists")
        for path, entry in listed.items():
            data = archive.read(path)
            if len(data) != entry["bytes"] or sha256_hex(data) != entry["sha256"]:
                raise PackageError(f"package file {path} does not match its manifest hash")
        for name, category in manifest.get("categories", {}).items():
            rows = json.loads(archive.read(f"data/{name}.json"))
            if len(rows) != category["count"]:
                raise PackageError(f"category {name} does not hold the count its manifest states")
    return manifest


# ---------------------------------------------------------------- encryption


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def encrypt_package(
    zip_bytes: bytes, associated_id: str, key: bytes | None = None
) -> SealedPackage:
    """``MAGIC | len(id) | id | nonce | ciphertext+tag``; the id (the request id) is
    authenticated, so a package cannot be passed off as another request's."""
    key = key or new_key()
    if len(key) != KEY_BYTES:
        raise PackageError("the package key must be 32 bytes (AES-256)")
    header_id = associated_id.encode("utf-8")
    if not 0 < len(header_id) < 256:
        raise PackageError("the associated id must be 1-255 bytes")
    nonce = os.urandom(NONCE_BYTES)
    header = MAGIC + bytes([len(header_id)]) + header_id
    ciphertext = AESGCM(key).encrypt(nonce, zip_bytes, header)
    sealed = header + nonce + ciphertext
    return SealedPackage(sealed, key, sha256_hex(sealed))


def decrypt_package(sealed: bytes, key: bytes) -> tuple[str, bytes]:
    """(associated id, zip bytes); a wrong key or any changed byte is refused."""
    if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 1:
        raise PackageError("not a sealed DSAR package")
    id_length = sealed[len(MAGIC)]
    header_end = len(MAGIC) + 1 + id_length
    header = sealed[:header_end]
    nonce = sealed[header_end : header_end + NONCE_BYTES]
    ciphertext = sealed[header_end + NONCE_BYTES :]
    if len(nonce) != NONCE_BYTES or len(key) != KEY_BYTES:
        raise PackageError("the package is truncated or the key is not 32 bytes")
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, header)
    except Exception as exc:  # cryptography raises InvalidTag without a message
        raise PackageError(
            "the key does not open this package, or the package was altered"
        ) from exc
    return header[len(MAGIC) + 1 :].decode("utf-8"), plaintext


def key_to_text(key: bytes) -> str:
    """The key as the requester receives it (hex)."""
    return key.hex()


def key_from_text(text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise PackageError("the key must be 64 hexadecimal characters") from exc
    if len(key) != KEY_BYTES:
        raise PackageError("the key must be 64 hexadecimal characters")
    return key
