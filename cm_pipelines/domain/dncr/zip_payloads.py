"""The text payloads of a landed registry file: the members of a zip (CRC-checked, and capped
so a zip bomb is refused) or the file itself."""

from __future__ import annotations

import io
import zipfile
import zlib

from cm_pipelines.domain.dncr.parsed_numbers import UnreadableFileError

MAX_UNZIPPED_BYTES = 1 << 30
"""What one registry zip may expand to (1 GiB; the largest US area code is about 100 MB of
text): a zip bomb is refused as unreadable instead of exhausting the worker's memory."""


def read_zip_members(
    data: bytes,
    *,
    suffixes: tuple[str, ...] = (".txt", ".csv"),
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> list[tuple[str, bytes]]:
    """Members of a zip (CRC-checked). A truncated or corrupt archive, or one that expands to
    more than ``max_unzipped_bytes``, raises ``UnreadableFileError``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and info.filename.lower().endswith(suffixes)
            ]
            if not members:
                raise UnreadableFileError("empty_archive", "the zip holds no .txt or .csv member")
            payloads: list[tuple[str, bytes]] = []
            remaining = max_unzipped_bytes
            for info in members:
                if info.file_size > remaining:
                    raise _too_large(max_unzipped_bytes)
                with archive.open(info) as handle:
                    # never trust the declared size alone: read at most one byte past the budget
                    payload = handle.read(remaining + 1)
                if len(payload) > remaining:
                    raise _too_large(max_unzipped_bytes)
                remaining -= len(payload)
                payloads.append((info.filename, payload))
            return payloads
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise UnreadableFileError(
            "unreadable_archive", f"zip could not be read ({type(exc).__name__})"
        ) from exc


def _too_large(limit: int) -> UnreadableFileError:
    return UnreadableFileError("archive_too_large", f"the zip expands to more than {limit} bytes")


def file_payloads(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The text payloads of a landed registry file: zip members, or the file itself."""
    if name.lower().endswith(".zip"):
        return read_zip_members(data)
    return [(name, data)]
