"""Party numbers as the PBX saw them, normalised to E.164 with the tenant's country.

``phonenumbers`` parses about 16k numbers/s, far too slow to call per row of a million-row CDR
file: the bulk entry points (``normalise_values``, ``normalise_series``, ``valid_e164_values``)
decide a column through the numbering-plan table of ``number_plan`` and parse only what it
cannot decide, each distinct string once; a process-wide cache keeps repeat callers cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa

from cm_pipelines.domain.number_plan import normalise_column, valid_e164_mask

PartyKind = Literal["e164", "extension", "anonymous", "invalid", "empty"]
PARTY_KINDS: tuple[str, ...] = ("e164", "extension", "anonymous", "invalid", "empty")

ANONYMOUS_TOKENS: frozenset[str] = frozenset(
    {"anonymous", "restricted", "unavailable", "unknown", "private", "withheld"}
)
"""What PBXs and carriers write instead of a withheld caller id (compared case-insensitively)."""

_EXTENSION = re.compile(r"[1-9][0-9]{1,5}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_CACHE_SIZE = 1 << 18  # ~75 MB at most in a long-lived worker


@dataclass(frozen=True)
class PartyNumber:
    """One side of a call: ``e164`` is set only for numbers ``phonenumbers`` deems valid.

    ``extension`` holds an internal PBX extension (kind ``extension``) or the extension part of
    an external number written like ``+1 212 555 0147 ext. 12`` (kind ``e164``).
    """

    kind: PartyKind
    e164: str | None = None
    extension: str | None = None


EMPTY = PartyNumber("empty")
ANONYMOUS = PartyNumber("anonymous")
INVALID = PartyNumber("invalid")


def parse_party_uncached(raw: str, country: str) -> PartyNumber:
    """``normalise_party`` without the cache: what a per-row baseline pays for every row."""
    value = raw.strip()
    if not value:
        return EMPTY
    if value.lower() in ANONYMOUS_TOKENS:
        return ANONYMOUS
    if _EXTENSION.fullmatch(value):
        return PartyNumber("extension", None, value)
    try:
        parsed = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        return INVALID
    if not phonenumbers.is_valid_number(parsed):
        return INVALID
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return PartyNumber("e164", e164, parsed.extension or None)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_party_cached(raw: str, country: str) -> PartyNumber:
    return parse_party_uncached(raw, country)


def normalise_party(raw: str, country: str) -> PartyNumber:
    """Classify a raw party string; national numbers are read as dialled in ``country``.

    Internal extensions are 2-6 digits without a leading 0 or ``+`` (so a 6-digit short
    number such as an AU ``13xxxx`` is read as an extension: PBX dial plans own those digits).
    """
    return _parse_party_cached(raw, country)


def normalise_distinct(raws: Iterable[str], country: str) -> dict[str, PartyNumber]:
    """Normalise many strings, parsing each distinct one once."""
    return {raw: normalise_party(raw, country) for raw in dict.fromkeys(raws)}


def normalise_values(
    values: np.ndarray | pd.Series | list[str], country: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised core: (kind, e164, extension) object arrays aligned with ``values``.

    Values are factorised; the numbering-plan table decides the distinct strings it can as a
    column, and ``phonenumbers`` parses the rest once each; missing values (None/NaN) count as
    empty. Same answers as ``normalise_party`` on every value.
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    distinct = [str(raw) for raw in uniques]
    table = normalise_column(pa.array(distinct, pa.string()), country, tuple(ANONYMOUS_TOKENS))
    kinds = np.append(table.kind, "empty")
    e164s = np.append(table.e164, np.array([None], dtype=object))
    extensions = np.full(len(distinct) + 1, None, dtype=object)
    is_extension = kinds == "extension"
    stripped = np.asarray([raw.strip() for raw in distinct] + [None], dtype=object)
    extensions[is_extension] = stripped[is_extension]
    for index in np.flatnonzero(~table.decided).tolist():
        parsed = normalise_party(distinct[index], country)
        kinds[index], e164s[index], extensions[index] = parsed.kind, parsed.e164, parsed.extension
    # code -1 (missing) picks the trailing "empty" entry
    return kinds[codes], e164s[codes], extensions[codes]


def valid_e164_values(values: np.ndarray | pd.Series | list[str]) -> np.ndarray:
    """``is_valid_e164`` of every value, decided as a column where the table can."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    distinct = [str(raw) for raw in uniques]
    valid, decided = valid_e164_mask(pa.array(distinct, pa.string()))
    for index in np.flatnonzero(~decided).tolist():
        valid[index] = is_valid_e164(distinct[index])
    return np.append(valid, False)[codes]


def normalise_series(series: pd.Series, country: str) -> pd.DataFrame:
    """Columns ``kind``, ``e164``, ``extension`` for a Series of raw numbers, same index."""
    kinds, e164s, extensions = normalise_values(series.to_numpy(dtype=object), country)
    return pd.DataFrame(
        {
            "kind": pd.array(kinds, dtype="str"),
            "e164": pd.array(e164s, dtype="str"),
            "extension": pd.array(extensions, dtype="str"),
        },
        index=series.index,
    )


def _require_e164(e164: str) -> str:
    if not isinstance(e164, str) or not _E164.fullmatch(e164):
        raise ValueError("not an E.164 number ('+' then 2-15 digits, no leading zero)")
    return e164


def e164_to_int(e164: str) -> int:
    """E.164 as an integer (digits without '+'): the compact key registry sets are built on."""
    return int(_require_e164(e164)[1:])


def int_to_e164(number: int) -> str:
    """Inverse of ``e164_to_int``."""
    if isinstance(number, bool) or not isinstance(number, int | np.integer):
        raise ValueError("an E.164 integer must be an int")
    return _require_e164(f"+{int(number)}")


def _parse_e164(e164: str) -> phonenumbers.PhoneNumber | None:
    """None for anything that is not a parseable E.164 string."""
    try:
        return phonenumbers.parse(_require_e164(e164), None)
    except (ValueError, phonenumbers.NumberParseException):
        return None


def region_of(e164: str) -> str | None:
    """ISO region a valid number belongs to (``+1 800`` numbers report the NANP main region)."""
    parsed = _parse_e164(e164)
    if parsed is None:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return None if region in (None, phonenumbers.UNKNOWN_REGION) else region


def is_valid_e164(e164: str) -> bool:
    """Whether an E.164 string is a valid number of the region it belongs to (parsed once)."""
    parsed = _parse_e164(e164)
    return parsed is not None and phonenumbers.is_valid_number(parsed)


def is_valid_for_region(e164: str, region: str) -> bool:
    """Whether a registry of ``region`` can hold this number at all."""
    parsed = _parse_e164(e164)
    return parsed is not None and phonenumbers.is_valid_number_for_region(parsed, region)


def mask_number(e164: str) -> str:
    """Country code and last 3 digits only, e.g. ``+61******156``: safe for logs and UIs."""
    _require_e164(e164)
    parsed = _parse_e164(e164)
    country_code = str(parsed.country_code) if parsed is not None else ""
    if not e164[1:].startswith(country_code):
        country_code = ""
    rest = e164[1 + len(country_code) :]
    kept = rest[-3:] if len(rest) > 3 else ""
    return f"+{country_code}{'*' * (len(rest) - len(kept))}{kept}"
