"""The access / portability package: a zip with a cover page and a manifest, encrypted as an
AES-256 ZIP (WinZip AE-2, the format 7-Zip, WinZip, macOS Archive Utility alternatives and
``7z x`` open with a passphrase).

Every call has two data subjects, so what goes in is masked for the *other* one: the other
party's number and name in call rows, and every phone number or email in transcripts and AI
notes that is not the requester's own (``identifiers.mask_identifiers`` with keep-sets).

The zip holds ``index.html`` (the GDPR Art. 15(1) cover page, ``cover_page``),
``data/<category>.csv`` and ``data/<category>.json`` per category, the recordings and
transcripts under ``recordings/`` and ``transcripts/``, a ``README.txt`` and a
``manifest.json`` naming every other file with its size and sha256. The key (32 random bytes)
is returned to the caller once; its hex form is the ZIP passphrase. It is never part of the
package, its path or its metadata. File names inside a ZIP are not encrypted, so member paths
carry ids only (call ids, category names).
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

import pyzipper

from cm_pipelines.domain.csv_cells import neutralise_cell
from cm_pipelines.domain.dsar.cover_page import Disclosure, cover_page, readme_text
from cm_pipelines.domain.identifiers import mask_identifiers
from cm_pipelines.domain.names.recogniser import CERTAIN, NAME_MASK, find_names, mask_names
from cm_pipelines.domain.phone_numbers import mask_number

PACKAGE_FORMAT = "cm-dsar-package/2"
ENCRYPTION = "zip-aes-256/1"
PACKAGE_SUFFIX = ".zip"
KEY_BYTES = 32
MANIFEST = "manifest.json"
README = "README.txt"
COVER = "index.html"
COMMENT_PREFIX = "cm-dsar-package "
OPENING_HINT = (
    "Encrypted (AES-256). Open it with 7-Zip, WinZip, Keka or `7z x` and the passphrase you "
    "were sent separately; start with index.html."
)
"""Shown by archive tools before the passphrase is asked (the ZIP comment is not encrypted)."""
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
    disclosure: Disclosure | None = None
    names: NameScope | None = None


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


@dataclass
class NameScope:
    """Whose names a package masks and keeps, and a tally of what it masked (counts only).

    ``known`` are names the platform holds for other people (caller-ID names of calls the
    subject did not place, CRM contact names); ``subject`` are the requester's own names, which
    stay. ``certain`` / ``unsure`` count masked findings by the recogniser's confidence;
    ``unsure_at`` is the redaction report a reviewer needs: per record, the character offsets
    of the ``[name]`` masks that stand for unsure findings in the exported text (no text).
    """

    known: frozenset[str] = frozenset()
    subject: frozenset[str] = frozenset()
    certain: int = 0
    unsure: int = 0
    texts: int = 0
    unsure_at: dict[str, list[int]] = field(default_factory=dict)

    def mask(self, text: str, where: str = "") -> str:
        """``text`` with other people's names masked (certain and unsure alike)."""
        if not text:
            return text
        findings = find_names(text, known_names=self.known, subject_names=self.subject)
        self.texts += 1
        shift = 0
        for finding in findings:
            if finding.confidence == CERTAIN:
                self.certain += 1
            else:
                self.unsure += 1
                positions = self.unsure_at.setdefault(where or "(text)", [])
                if len(positions) < _REPORTED_POSITIONS:
                    positions.append(finding.start + shift)
            shift += len(NAME_MASK) - (finding.end - finding.start)
        return mask_names(text, findings)

    def report(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "names_certain": self.certain,
            "names_unsure": self.unsure,
            "texts_with_unsure": len(self.unsure_at),
            "unsure_at": {where: list(at) for where, at in sorted(self.unsure_at.items())},
        }


_REPORTED_POSITIONS = 50
"""Offsets listed per record in the report; the count above is always complete."""


def mask_text(
    text: str,
    country: str,
    subject_phones: frozenset[str],
    subject_emails: frozenset[str],
    names: NameScope | None = None,
    where: str = "",
) -> str:
    """Free text with every identifier masked except the subject's own, then (with ``names``)
    every name of someone else; identifiers go first, so ``zara.smith@…`` is one ``[email]``.
    ``where`` names the record (ids only) in the redaction report."""
    masked = mask_identifiers(text, country, subject_phones, subject_emails)
    return names.mask(masked, where) if names is not None else masked


def mask_segments(
    segments: Iterable[Mapping[str, Any]],
    country: str,
    subject_phones: frozenset[str],
    subject_emails: frozenset[str],
    names: NameScope | None = None,
    where: str = "",
) -> list[dict[str, Any]]:
    return [
        {
            **dict(segment),
            "text": mask_text(
                str(segment.get("text") or ""),
                country,
                subject_phones,
                subject_emails,
                names,
                f"{where}#segment{index}" if where else "",
            ),
        }
        for index, segment in enumerate(segments)
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


def _check_member_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise PackageError("package member paths must be relative, without '.' or '..'")
    return path


def build_package(content: PackageContent) -> BuiltPackage:
    """A deterministic zip (fixed timestamps, sorted members) and its manifest."""
    members: dict[str, bytes] = {
        README: readme_text(content.disclosure, content.request_id, content.request_type)
    }
    if content.disclosure is not None:
        members[COVER] = cover_page(content.disclosure)
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
    return BuiltPackage(_plain_zip(members), manifest, sha256_hex(manifest_bytes))


def _member_info(path: str, kind: type[zipfile.ZipInfo] = zipfile.ZipInfo) -> zipfile.ZipInfo:
    """Fixed time and mode (``kind``: pyzipper's own ZipInfo for the encrypted archive)."""
    info = kind(path, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def _plain_zip(members: Mapping[str, bytes]) -> bytes:
    """A deterministic zip: sorted members, fixed timestamps and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(members.items()):
            archive.writestr(_member_info(path), data)
    return buffer.getvalue()


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
    return os.urandom(KEY_BYTES)


def encrypt_package(
    zip_bytes: bytes, associated_id: str, key: bytes | None = None
) -> SealedPackage:
    """The members of ``zip_bytes`` in an AES-256 encrypted ZIP whose passphrase is the key's
    hex form. Each member is encrypted and authenticated (HMAC-SHA1 of AE-2); the request id
    stands in the archive comment and is checked against the manifest when opened, so a
    package cannot be passed off as another request's."""
    key = key or new_key()
    if len(key) != KEY_BYTES:
        raise PackageError("the package key must be 32 bytes (AES-256)")
    if not 0 < len(associated_id.encode("utf-8")) < 256:
        raise PackageError("the associated id must be 1-255 bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as plain:
            members = {name: plain.read(name) for name in plain.namelist()}
    except zipfile.BadZipFile as exc:
        raise PackageError("the package is not a zip file") from exc
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(key_to_text(key).encode("ascii"))
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        archive.comment = f"{COMMENT_PREFIX}{associated_id}\n{OPENING_HINT}".encode()
        for path, data in sorted(members.items()):
            archive.writestr(_member_info(path, archive.zipinfo_cls), data)
    sealed = buffer.getvalue()
    return SealedPackage(sealed, key, sha256_hex(sealed))


def decrypt_package(sealed: bytes, key: bytes) -> tuple[str, bytes]:
    """(request id, the package as a plain zip); a wrong key, any changed byte or a request id
    that is not the manifest's is refused."""
    if len(key) != KEY_BYTES:
        raise PackageError("the package is truncated or the key is not 32 bytes")
    try:
        with pyzipper.AESZipFile(io.BytesIO(sealed)) as archive:
            archive.setpassword(key_to_text(key).encode("ascii"))
            comment = archive.comment.decode("utf-8", errors="replace").split("\n", 1)[0]
            infos = archive.infolist()
            if not infos or any(not info.flag_bits & 0x1 for info in infos):
                raise PackageError("not an encrypted DSAR package")
            members = {info.filename: archive.read(info.filename) for info in infos}
    except PackageError:
        raise
    except Exception as exc:  # wrong password, failed HMAC or CRC, truncated archive
        raise PackageError(
            "the key does not open this package, or the package was altered"
        ) from exc
    request_id = comment.removeprefix(COMMENT_PREFIX)
    manifest = json.loads(members.get(MANIFEST, b"{}"))
    if not comment.startswith(COMMENT_PREFIX) or manifest.get("request_id") != request_id:
        raise PackageError("the package's request id does not match its manifest")
    return request_id, _plain_zip(members)


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
