"""Party numbers normalised a column at a time, through ``phonenumbers``' own numbering plan.

``phonenumbers`` parses about 16k strings a second: a million-row call day of distinct numbers
spent most of its ingestion time there. Its answer for the shapes PBXs and carriers write (digits
with spaces or dashes, ``+`` and digits, a national number with its trunk prefix) depends only on
a calling-code prefix table and on its metadata's regular expressions. This module applies the
same steps to whole Arrow columns: the calling code is the shortest known prefix of the digits,
the trunk prefix is stripped under the library's own conditions, and validity is its
``_number_type_helper`` rule (the general pattern and one number type, by possible lengths and
full-match patterns) evaluated by Arrow's RE2 over the column, region by region in the library's
order. Whatever this table cannot decide (letters, other characters, an international dialling
prefix, a national number that starts with the calling code, a trunk-prefix rule with a
transform, leading zeros, a number a cheaper reading might get wrong) is left undecided for the
per-string parse, so the result is the library's result; ``tests/domain/test_number_plan.py``
compares the two on generated and sample data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

NON_GEO_REGION = "001"
"""The library's ``REGION_CODE_FOR_NON_GEO_ENTITY`` (+800, +882, ...)."""

_SIMPLE = r"^[ \t]*\+?[0-9][0-9 ()\-.]*[ \t]*$"
"""ASCII digits with the punctuation the library drops (spaces, dashes, parentheses, dots)."""
_EXTENSION = r"^[1-9][0-9]{1,5}$"
_MIN_NSN, _MAX_NSN = 2, 17
_MIN_DIGITS = 3  # two digits with punctuation between are no number to the library
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


@dataclass(frozen=True)
class ColumnParties:
    """Per value: ``kind`` (None where undecided), ``e164`` (valid numbers only), ``decided``."""

    kind: np.ndarray
    e164: np.ndarray
    decided: np.ndarray


def _missing(values: np.ndarray) -> np.ndarray:
    return np.asarray([value is None for value in values.tolist()], bool)


def _full(pattern: str) -> str:
    return f"^(?:{pattern})$"


def _matches(values: pa.Array, pattern: str | None, *, whole: bool = True) -> np.ndarray:
    if not pattern or len(values) == 0:
        return np.zeros(len(values), bool)
    regex = _full(pattern) if whole else f"^(?:{pattern})"
    found = pc.match_substring_regex(values, pattern=regex)
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), bool)


def _lengths(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.utf8_length(values).fill_null(0).to_numpy(zero_copy_only=False))


def _desc_matches(values: pa.Array, lengths: np.ndarray, desc) -> np.ndarray:
    """The library's ``_is_number_matching_desc``: possible lengths, then a full match."""
    if desc is None:
        return np.zeros(len(values), bool)
    mask = _matches(values, desc.national_number_pattern)
    if len(desc.possible_length) > 0:
        mask &= np.isin(lengths, np.asarray(desc.possible_length))
    return mask


def _type_known(values: pa.Array, metadata) -> np.ndarray:
    """``_number_type_helper(nsn, metadata) != UNKNOWN`` for every national number."""
    lengths = _lengths(values)
    known = np.zeros(len(values), bool)
    for name in _TYPE_DESCS:
        known |= _desc_matches(values, lengths, getattr(metadata, name))
    if not metadata.same_mobile_and_fixed_line_pattern:
        known |= _desc_matches(values, lengths, metadata.mobile)
    return known & _desc_matches(values, lengths, metadata.general_desc)


def _valid_for_calling_code(nsn: pa.Array, calling_code: int) -> np.ndarray:
    """``is_valid_number`` of ``+<calling_code><nsn>`` (no leading zero): the region is picked as
    ``_region_code_for_number_from_list`` does, then the number checked for it."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ())
    valid = np.zeros(len(nsn), bool)
    if tuple(regions) == (NON_GEO_REGION,):
        metadata = PhoneMetadata.metadata_for_nongeo_region(calling_code, None)
        return valid if metadata is None else _type_known(nsn, metadata)
    if len(regions) == 1:
        metadata = PhoneMetadata.metadata_for_region(regions[0], None)
        return valid if metadata is None else _type_known(nsn, metadata)
    open_rows = np.ones(len(nsn), bool)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None or not open_rows.any():
            continue
        rows = np.flatnonzero(open_rows)
        subset = nsn.take(pa.array(rows))
        if metadata.leading_digits is not None:
            chosen = _matches(subset, metadata.leading_digits, whole=False)
            valid[rows[chosen]] = _type_known(subset.filter(pa.array(chosen)), metadata)
        else:
            chosen = _type_known(subset, metadata)
            valid[rows[chosen]] = True
        open_rows[rows[chosen]] = False
    return valid


@cache
def _calling_codes() -> dict[int, frozenset[str]]:
    """Known calling codes by their length in digits."""
    by_width: dict[int, set[str]] = {1: set(), 2: set(), 3: set()}
    for code in COUNTRY_CODE_TO_REGION_CODE:
        by_width[len(str(code))].add(str(code))
    return {width: frozenset(codes) for width, codes in by_width.items()}


def _split_calling_code(digits: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(calling code, 0 when none; its width) as the library's ``_extract_country_code``: the
    shortest leading 1-3 digits that are a known calling code."""
    codes = np.zeros(len(digits), np.int64)
    widths = np.zeros(len(digits), np.int64)
    for width, known in sorted(_calling_codes().items()):
        head = pc.utf8_slice_codeunits(digits, 0, width)
        hit = np.asarray(
            pc.is_in(head, value_set=pa.array(sorted(known))).to_numpy(zero_copy_only=False), bool
        )
        hit &= (codes == 0) & (_lengths(digits) > width)
        codes[hit] = np.asarray(head.filter(pa.array(hit)).to_pylist(), np.int64)
        widths[hit] = width
    return codes, widths


def _main_metadata(calling_code: int):
    regions = COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ())
    if not regions:
        return None
    return PhoneMetadata.metadata_for_region_or_calling_code(calling_code, regions[0])


def _international(digits: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``+`` numbers: (decided, e164 or None). Undecided where the national part could lose a
    trunk prefix or starts with 0 (the library's special cases)."""
    size = len(digits)
    decided = np.zeros(size, bool)
    e164 = np.full(size, None, dtype=object)
    codes, widths = _split_calling_code(digits)
    for code in np.unique(codes[codes > 0]).tolist():
        rows = np.flatnonzero(codes == code)
        nsn = pc.utf8_slice_codeunits(digits.take(pa.array(rows)), int(widths[rows[0]]))
        metadata = _main_metadata(code)
        lengths = _lengths(nsn)
        simple = (lengths >= _MIN_NSN) & (lengths <= _MAX_NSN)
        simple &= ~np.asarray(pc.starts_with(nsn, "0").to_numpy(zero_copy_only=False), bool)
        if metadata is None:
            continue
        simple &= ~_matches(nsn, metadata.national_prefix_for_parsing, whole=False)
        valid = _valid_for_calling_code(nsn, code) & simple
        decided[rows[simple]] = True
        chosen = rows[valid]
        e164[chosen] = [f"+{code}{n}" for n in nsn.filter(pa.array(valid)).to_pylist()]
    return decided, e164


def _length_accepted(values: pa.Array, desc) -> np.ndarray:
    """The library keeps a stripped national number unless ``_test_number_length`` says
    TOO_SHORT, IS_POSSIBLE_LOCAL_ONLY or INVALID_LENGTH."""
    lengths = _lengths(values)
    possible = np.asarray(desc.possible_length)
    if len(possible) == 0 or possible[0] == -1:
        return np.zeros(len(values), bool)
    local_only = np.asarray(desc.possible_length_local_only or (), np.int64)
    return ~np.isin(lengths, local_only) & ((lengths > possible[-1]) | np.isin(lengths, possible))


def _strip_trunk_prefix(digits: pa.Array, metadata) -> tuple[pa.Array, np.ndarray]:
    """National numbers after the library's ``_maybe_strip_national_prefix_and_carrier_code``
    and the length test that follows it in ``parse``; ``undecided`` where a transform rule or a
    captured carrier code makes the table unsure."""
    size = len(digits)
    pattern = metadata.national_prefix_for_parsing
    if not pattern or not _matches(digits, pattern, whole=False).any():
        return digits, np.zeros(size, bool)
    compiled = re.compile(pattern)
    values = digits.to_pylist()
    ends = np.zeros(size, np.int64)
    undecided = np.zeros(size, bool)
    for index, value in enumerate(values):
        found = compiled.match(value)
        if found is None:
            continue
        if found.groups() and found.groups()[-1] is not None:
            undecided[index] = True  # a carrier code or a transform: the library's own path
            continue
        ends[index] = found.end()
    if metadata.national_prefix_transform_rule:
        undecided |= ends > 0
        ends[undecided] = 0
    stripped = pa.array([v[e:] for v, e in zip(values, ends.tolist(), strict=True)], pa.string())
    general = metadata.general_desc
    keep_original = _matches(digits, general.national_number_pattern) & ~_matches(
        stripped, general.national_number_pattern
    )
    take_stripped = (ends > 0) & ~keep_original & _length_accepted(stripped, general)
    result = pc.if_else(pa.array(take_stripped), stripped, digits)
    return result, undecided


def _national(digits: pa.Array, region: str) -> tuple[np.ndarray, np.ndarray]:
    """Numbers read as dialled in ``region``: (decided, e164 or None)."""
    size = len(digits)
    decided = np.zeros(size, bool)
    e164 = np.full(size, None, dtype=object)
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None or size == 0:
        return decided, e164
    code = int(metadata.country_code or 0)
    unsure = _matches(digits, metadata.international_prefix, whole=False)
    unsure |= np.asarray(pc.starts_with(digits, str(code)).to_numpy(zero_copy_only=False), bool)
    nsn, carrier = _strip_trunk_prefix(digits, metadata)
    lengths = _lengths(nsn)
    unsure |= carrier | (lengths < _MIN_NSN) | (lengths > _MAX_NSN)
    unsure |= np.asarray(pc.starts_with(nsn, "0").to_numpy(zero_copy_only=False), bool)
    valid = _valid_for_calling_code(nsn, code) & ~unsure
    decided[~unsure] = True
    e164[valid] = [f"+{code}{n}" for n in nsn.filter(pa.array(valid)).to_pylist()]
    return decided, e164


def normalise_column(values: pa.Array, region: str, anonymous: tuple[str, ...]) -> ColumnParties:
    """Kinds and E.164 of distinct raw party strings read in ``region``, where the numbering
    plan table decides them; ``decided`` is False where the per-string parse must answer."""
    size = len(values)
    kind = np.full(size, None, dtype=object)
    e164 = np.full(size, None, dtype=object)
    present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), bool)
    text = pc.fill_null(values, "")
    trimmed = pc.utf8_trim(text, characters=" \t")
    empty = np.asarray(pc.equal(trimmed, "").to_numpy(zero_copy_only=False), bool)
    kind[empty | ~present] = "empty"
    tokens = pa.array(list(anonymous), pa.string())
    is_anonymous = np.asarray(
        pc.is_in(pc.utf8_lower(trimmed), value_set=tokens).to_numpy(zero_copy_only=False), bool
    )
    ascii_only = np.asarray(pc.string_is_ascii(text).to_numpy(zero_copy_only=False), bool)
    kind[is_anonymous & ascii_only] = "anonymous"
    extension = _matches(trimmed, _EXTENSION[1:-1]) & ascii_only
    kind[extension] = "extension"
    simple = _matches(trimmed, _SIMPLE[1:-1]) & ascii_only & ~extension & ~empty
    digits = pc.replace_substring_regex(trimmed, pattern=r"[^0-9]", replacement="")
    simple &= _lengths(digits) >= _MIN_DIGITS
    plus = np.asarray(pc.starts_with(trimmed, "+").to_numpy(zero_copy_only=False), bool)
    decided = kind != None  # noqa: E711 - element-wise on an object array
    for rows, route in (
        (np.flatnonzero(simple & plus), _international),
        (np.flatnonzero(simple & ~plus), lambda d: _national(d, region)),
    ):
        if not rows.size:
            continue
        done, numbers = route(digits.take(pa.array(rows)))
        decided[rows[done]] = True
        kind[rows[done]] = np.where(_missing(numbers[done]), "invalid", "e164")
        e164[rows[done]] = numbers[done]
    return ColumnParties(kind, e164, decided)


def valid_e164_mask(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(valid, decided) for strings that should be E.164 (``+`` and digits): what
    ``is_valid_e164`` answers, where the table can tell."""
    shaped = _matches(values, r"\+[1-9][0-9]{1,14}")
    valid = np.zeros(len(values), bool)
    decided = ~shaped
    rows = np.flatnonzero(shaped)
    if rows.size:
        digits = pc.utf8_slice_codeunits(values.take(pa.array(rows)), 1)
        done, numbers = _international(digits)
        decided[rows[done]] = True
        valid[rows[done]] = ~_missing(numbers[done])
    return valid, decided
