"""Campaign numbers made ready to wash with array operations: the same columns, values and
hashes as ``number_preparation.prepare_numbers``, at list sizes ``phonenumbers`` cannot reach.

``phonenumbers`` parses about 16k strings a second. Almost every list entry is a run of digits,
with or without ``+`` and separators, and what ``phonenumbers`` makes of such a string depends on
its leading digits and its length: the country code, a national prefix it strips, how many
national digits remain. So strings are reduced to ``[+]digits`` with vectorised string
operations and grouped by (``+``, length, first digits); ``phonenumbers`` parses the first and
the last distinct string of each group, and a group where both agree on the rule (country code,
national digits kept) has every member rewritten by that rule in one array operation. Validity
then goes through the prefix table registry validation uses (``number_validity``): per country
code, national length and first six national digits, both ends checked, number by number only
where the ends disagree. Anything else - letters, extensions, short strings, national numbers
with a leading zero (Italian style), groups whose ends disagree - is parsed string by string
exactly as the row path does, so the result is the row path's on every input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import phonenumbers

from cm_pipelines.domain.dncr.number_sets import MAX_E164_DIGITS, sorted_unique
from cm_pipelines.domain.keyed_hash import PREFIX
from cm_pipelines.domain.phone_numbers import normalise_values

RULE_PREFIX_DIGITS = 5
"""Leading digits (of the ``[+]digits`` form) that decide country code and prefix stripping."""
VALIDITY_PREFIX_DIGITS = 6
MIN_FAST_DIGITS = 7
"""Shorter strings may be PBX extensions or short codes: parsed one by one."""
_SEPARATORS = r"[\s\-\.\(\)]"


def keyed_hashes(values: np.ndarray, key: bytes) -> np.ndarray:
    """``keyed_hash`` of every value of an object array, each distinct value hashed once.

    HMAC-SHA256 spelt out (RFC 2104): the inner and outer padded keys are absorbed once and
    their SHA-256 states copied per value, which halves the cost of ``hmac.digest`` per value.
    """
    if not key:
        raise ValueError("the identifier hash key is empty")
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    hashed = np.empty(len(uniques), dtype=object)
    for position, value in enumerate(uniques):
        first = inner.copy()
        first.update(str(value).encode("utf-8"))
        second = outer.copy()
        second.update(first.digest())
        hashed[position] = PREFIX + second.hexdigest()
    return hashed[codes] if len(codes) else np.empty(0, dtype=object)


def prepare_numbers_fast(raw_numbers: Sequence[str], country: str, hash_key: bytes) -> pd.DataFrame:
    """``prepare_numbers`` with array operations: ``raw``, ``e164`` (None when invalid),
    ``e164_int`` (-1 when invalid), ``e164_hash``; rows in input order."""
    raw = pd.Series(raw_numbers, dtype=object).fillna("")
    stripped = raw.astype("string[pyarrow]").str.strip()
    compact = stripped.str.replace(_SEPARATORS, "", regex=True)
    shaped = compact.str.fullmatch(r"\+?[0-9]+").fillna(False).to_numpy(bool)
    digits_only = compact.str.lstrip("+").to_numpy(dtype=object, na_value="")
    plus = compact.str.startswith("+").fillna(False).to_numpy(bool)
    lengths = compact.str.len().fillna(0).to_numpy(np.int64) - plus
    fast = shaped & (lengths >= MIN_FAST_DIGITS) & (lengths <= 17)
    e164_int = np.full(len(raw), -1, dtype=np.int64)
    decided = np.zeros(len(raw), bool)
    if fast.any():
        fast_rows = np.flatnonzero(fast)
        ints, ok = _by_rules(digits_only[fast_rows], plus[fast_rows], lengths[fast_rows], country)
        e164_int[fast_rows[ok]] = ints[ok]
        decided[fast_rows[ok]] = True
    slow_rows = np.flatnonzero(~decided)
    if slow_rows.size:
        kinds, e164s, _ = normalise_values(raw.to_numpy(dtype=object)[slow_rows], country)
        valid = kinds == "e164"
        e164_int[slow_rows[valid]] = [int(str(value)[1:]) for value in e164s[valid]]
    valid_rows = e164_int >= 0
    e164 = np.full(len(raw), None, dtype=object)
    e164[valid_rows] = _e164_strings(e164_int[valid_rows])
    identifiers = e164.copy()
    identifiers[~valid_rows] = stripped.to_numpy(dtype=object, na_value="")[~valid_rows]
    return pd.DataFrame(
        {
            "raw": pd.Series(raw.to_numpy(dtype=object), dtype=object),
            "e164": pd.Series(e164, dtype=object),
            "e164_int": pd.Series(e164_int, dtype=np.int64),
            "e164_hash": pd.Series(keyed_hashes(identifiers, hash_key), dtype=object),
        }
    )


def _e164_strings(ints: np.ndarray) -> np.ndarray:
    """``+digits`` strings of E.164 integers, each distinct integer formatted once."""
    codes, uniques = pd.factorize(ints)
    formatted = np.array([f"+{int(value)}" for value in uniques], dtype=object)
    return formatted[codes] if len(codes) else np.empty(0, dtype=object)


def _by_rules(
    digits: np.ndarray, plus: np.ndarray, lengths: np.ndarray, country: str
) -> tuple[np.ndarray, np.ndarray]:
    """E.164 integers (-1: invalid) of ``[+]digits`` strings and whether the rule decided them
    (False: parse one by one)."""
    text = pd.Series(digits, dtype="string[pyarrow]")
    heads = text.str.slice(0, RULE_PREFIX_DIGITS).to_numpy(dtype=object)
    keys = pd.MultiIndex.from_arrays([plus, lengths, heads])
    group, group_keys = pd.factorize(keys)
    order = np.lexsort((pd.to_numeric(text).to_numpy(np.int64), group))
    first = np.full(len(group_keys), -1, np.int64)
    last = np.full(len(group_keys), -1, np.int64)
    sorted_groups = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ends = np.r_[starts[1:], sorted_groups.size] - 1
    first[sorted_groups[starts]] = order[starts]
    last[sorted_groups[ends]] = order[ends]
    calling = np.zeros(len(group_keys), np.int64)
    kept = np.zeros(len(group_keys), np.int64)
    for index in range(len(group_keys)):
        rule = _group_rule(
            (f"+{digits[first[index]]}" if plus[first[index]] else digits[first[index]]),
            (f"+{digits[last[index]]}" if plus[last[index]] else digits[last[index]]),
            country,
        )
        if rule is not None:
            calling[index], kept[index] = rule
    ok = kept[group] > 0
    ints = np.full(digits.size, -1, np.int64)
    if ok.any():
        suffix_len = kept[group][ok]
        tails = _tails(text[ok], suffix_len)
        national = tails.astype(np.int64)
        ints[ok] = calling[group][ok] * (10 ** suffix_len.astype(np.int64)) + national
        ints[ok] = np.where(_valid(ints[ok], calling[group][ok], suffix_len), ints[ok], -1)
    return ints, ok


def _tails(text: pd.Series, keep: np.ndarray) -> np.ndarray:
    """The last ``keep`` characters of each string (``keep`` varies by row)."""
    out = np.empty(len(text), dtype=object)
    values = text.to_numpy(dtype=object)
    for width in np.unique(keep):
        rows = np.flatnonzero(keep == width)
        out[rows] = pd.Series(values[rows], dtype="string[pyarrow]").str.slice(-int(width))
    return out


def _group_rule(first: str, last: str, country: str) -> tuple[int, int] | None:
    """(country code, national digits kept) when ``phonenumbers`` reads both ends of a group
    as the same rule: its national number is the string's last digits, without a leading zero.
    None sends the group to the one-by-one parse."""
    rules = [_rule_of(text, country) for text in (first, last)]
    if rules[0] is None or rules[0] != rules[1]:
        return None
    return rules[0]


def _rule_of(text: str, country: str) -> tuple[int, int] | None:
    try:
        parsed = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code is None or parsed.national_number is None:
        return None
    national = str(parsed.national_number)
    if parsed.italian_leading_zero or parsed.extension or not text.endswith(national):
        return None
    if len(str(parsed.country_code)) + len(national) > MAX_E164_DIGITS:
        return None
    return int(parsed.country_code), len(national)


def _valid(ints: np.ndarray, calling: np.ndarray, national_len: np.ndarray) -> np.ndarray:
    """``phonenumbers.is_valid_number`` through the prefix table: distinct numbers sorted, then
    per (country code, national length, first six national digits) both ends checked and only
    groups whose ends disagree checked number by number."""
    unique, _ = sorted_unique(ints.copy())
    unique_valid = np.zeros(unique.size, bool)
    position = np.searchsorted(unique, ints)
    code_of = np.zeros(unique.size, np.int64)
    width_of = np.zeros(unique.size, np.int64)
    code_of[position] = calling
    width_of[position] = national_len
    national = unique - code_of * 10**width_of
    cut = 10 ** np.maximum(width_of - VALIDITY_PREFIX_DIGITS, 0)
    keys = pd.MultiIndex.from_arrays([code_of, width_of, national // cut])
    group, _ = pd.factorize(keys, sort=False)
    boundaries = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    for start, stop in zip(boundaries[:-1].tolist(), boundaries[1:].tolist(), strict=True):
        ends = (
            _is_valid(code_of[start], national[start]),
            _is_valid(code_of[start], national[stop - 1]),
        )
        if ends[0] == ends[1]:
            unique_valid[start:stop] = ends[0]
            continue
        for index in range(start, stop):
            unique_valid[index] = _is_valid(code_of[index], national[index])
    return unique_valid[position]


def _is_valid(calling: np.int64, national: np.int64) -> bool:
    number = phonenumbers.PhoneNumber(country_code=int(calling), national_number=int(national))
    return bool(phonenumbers.is_valid_number(number))
