"""What a ``cdr_csv`` field means: the call's direction, the caller's name, userfield values.

Each rule comes twice, side by side so they cannot drift apart: per value (the naive reader,
callers elsewhere) and per column (the fast reader, with pyarrow and numpy).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cm_pipelines.domain.ingestion.cdr.layout import BLANKS
from cm_pipelines.domain.phone_numbers import ANONYMOUS_TOKENS

INBOUND_CONTEXTS: frozenset[str] = frozenset({"from-pstn", "from-trunk"})
"""Dialplan contexts a carrier trunk delivers calls into."""
OUTBOUND_CONTEXTS: frozenset[str] = frozenset({"from-internal", "outbound", "outbound-allroutes"})
"""Contexts a handset dials out from (with the company number as caller id, src is external)."""

# Explicit [ \t] rather than \s: RE2 (pyarrow) and Python disagree on Unicode whitespace.
_CLID = r'^[ \t]*(?:"(?P<quoted>.*)"|(?P<bare>[^"<]*?))[ \t]*(?:<[^<>]*>)?[ \t]*$'
_NUMBER_LIKE = r"^[0-9 \t+().\-]*$"
_USERFIELD = r"(?:^|[;,|& \t]){key}=(?P<value>[^;,|& \t]*)"
_CLID_RE = re.compile(_CLID)
_NUMBER_LIKE_RE = re.compile(_NUMBER_LIKE)

# ---------------------------------------------------------------- direction


def classify_direction(src_kind: str, dst_kind: str, dcontext: str) -> str:
    """``internal`` (extension to extension), ``outbound`` (to an external number from an
    extension or an outbound context), ``inbound`` (from a trunk context with a non-extension
    caller, or an external/anonymous caller to an extension), else ``unknown``."""
    if src_kind == "extension" and dst_kind == "extension":
        return "internal"
    if dst_kind == "e164" and (src_kind == "extension" or dcontext in OUTBOUND_CONTEXTS):
        return "outbound"
    if (dcontext in INBOUND_CONTEXTS and src_kind != "extension") or (
        src_kind in ("e164", "anonymous") and dst_kind == "extension"
    ):
        return "inbound"
    return "unknown"


def directions(src_kind: np.ndarray, dst_kind: np.ndarray, dcontext: np.ndarray) -> np.ndarray:
    """``classify_direction`` over whole columns."""
    src_extension = src_kind == "extension"
    dst_extension = dst_kind == "extension"
    inbound_context = np.isin(dcontext, list(INBOUND_CONTEXTS))
    outbound_context = np.isin(dcontext, list(OUTBOUND_CONTEXTS))
    src_external = (src_kind == "e164") | (src_kind == "anonymous")
    return np.select(
        [
            src_extension & dst_extension,
            (dst_kind == "e164") & (src_extension | outbound_context),
            (inbound_context & ~src_extension) | (src_external & dst_extension),
        ],
        ["internal", "outbound", "inbound"],
        default="unknown",
    ).astype(object)


# ---------------------------------------------------------------- caller name


def parse_caller_name(clid: str) -> str | None:
    """Name part of ``"Smith, J" <+61355504567>``; None when absent, a number or 'anonymous'."""
    match = _CLID_RE.match(clid)
    if match is None:
        return None
    name = match.group("quoted") or (match.group("bare") or "").strip(BLANKS)
    if not name or _NUMBER_LIKE_RE.match(name) or name.lower() in ANONYMOUS_TOKENS:
        return None
    return name


def caller_names(clid: pa.Array) -> pa.Array:
    """``parse_caller_name`` over a column of clids."""
    extracted = pc.extract_regex(clid, _CLID)
    quoted = extracted.field("quoted")
    bare = pc.utf8_trim(extracted.field("bare"), characters=BLANKS)
    name = pc.if_else(pc.equal(quoted, ""), bare, quoted)
    refused = pc.or_kleene(
        pc.or_kleene(pc.equal(name, ""), pc.match_substring_regex(name, _NUMBER_LIKE)),
        pc.is_in(pc.utf8_lower(name), value_set=pa.array(sorted(ANONYMOUS_TOKENS))),
    )
    return pc.if_else(pc.fill_null(refused, True), pa.scalar(None, pa.string()), name)


# ---------------------------------------------------------------- userfield


def userfield_value(userfield: str, key: str) -> str | None:
    """Value of ``key=...`` in a userfield such as ``campaign=q4;crm=hubspot:contact/1``."""
    match = re.search(_USERFIELD.format(key=re.escape(key)), userfield)
    if match is None:
        return None
    return match.group("value") or None


def userfield_column(userfield: pa.Array, key: str) -> pa.Array:
    """``userfield_value`` over a column of userfields."""
    extracted = pc.extract_regex(userfield, _USERFIELD.format(key=re.escape(key)))
    if isinstance(extracted, pa.ChunkedArray):
        extracted = extracted.combine_chunks()
    value = extracted.field("value")
    return pc.if_else(pc.equal(value, ""), pa.scalar(None, pa.string()), value)
