"""The line policy both ``cdr_csv`` readers share, and the refusals made before CSV parsing.

Physical lines are split on ``\\n``, ``\\r\\n`` or ``\\r`` (as pyarrow and ``bytes.splitlines``
split them) and each non-empty line is one record. A quoted field cannot span lines: a line with
an odd number of ``"`` characters is quarantined as ``unbalanced_quotes`` (every fragment of a
record broken by a line break lands there, each with its own line number), so line numbers stay
exact and the fast reader stays vectorised.
"""

from __future__ import annotations

from cm_pipelines.domain.ingestion.cdr.refusals import DETAIL_ENCODING, DETAIL_UNBALANCED

_BOM = b"\xef\xbb\xbf"


def physical_lines(data: bytes) -> list[bytes]:
    """The file's lines without their line breaks, and without a leading UTF-8 BOM."""
    lines = data.splitlines()
    if lines and lines[0].startswith(_BOM):
        lines[0] = lines[0][len(_BOM) :]
    return lines


def raw_text(line: bytes) -> str:
    """Original line text; undecodable bytes stay visible as escapes rather than being lost."""
    return line.decode("utf-8", errors="backslashreplace")


def _decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def prescreen(lines: list[bytes]) -> dict[int, tuple[str, str]]:
    """Lines refused before CSV parsing (index -> reason, detail)."""
    refused: dict[int, tuple[str, str]] = {}
    for index, line in enumerate(lines):
        if not line.isascii() and not _decodes(line):
            refused[index] = ("bad_encoding", DETAIL_ENCODING)
        elif line.count(b'"') & 1:
            refused[index] = ("unbalanced_quotes", DETAIL_UNBALANCED)
    return refused
