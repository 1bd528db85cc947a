"""Which numbers of a registry-sized set are valid numbers of a country, without calling
``phonenumbers`` 250M times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import phonenumbers

from cm_pipelines.domain.dncr.number_sets import MAX_E164_DIGITS, sorted_unique


@dataclass(frozen=True)
class CountryValidity:
    """Numbers a registry of ``region`` cannot hold (``valid`` mask aligned with the input)."""

    valid: np.ndarray
    groups_checked: int

    @property
    def invalid_count(self) -> int:
        return int(self.valid.size - np.count_nonzero(self.valid))


VALIDITY_PREFIX_DIGITS = 6


def _valid_for_region(calling_code: int, national: int, region: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=calling_code, national_number=national)
    return bool(phonenumbers.is_valid_number_for_region(number, region))


def _distinct_prefixes(block: np.ndarray, low: int, cut: int) -> np.ndarray:
    """Sorted distinct ``(n - low) // cut`` of a sorted block, computed in chunks."""
    found: list[np.ndarray] = []
    step = 1 << 22
    for offset in range(0, block.size, step):
        keys = (block[offset : offset + step] - low) // cut
        keep = np.empty(keys.size, bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        found.append(keys[keep])
    prefixes, _ = sorted_unique(np.concatenate(found))
    return prefixes


def country_validity(numbers: np.ndarray, region: str) -> CountryValidity:
    """Which sorted unique E.164 integers are valid numbers of ``region``.

    Calling ``phonenumbers`` per number would take hours at 250M, so numbers are grouped by
    national length and first six national digits (NANP: area code and exchange, the level the
    numbering plan allocates at) and the first and last number of each group are checked; only
    a group whose two ends disagree is checked number by number. Numbers of one national length
    with the region's calling code form one contiguous range of the sorted array.
    """
    valid = np.zeros(numbers.size, bool)
    if not numbers.size:
        return CountryValidity(valid, 0)
    calling_code = int(phonenumbers.country_code_for_region(region))
    groups = 0
    for national_width in range(1, MAX_E164_DIGITS - len(str(calling_code)) + 1):
        low = calling_code * 10**national_width
        high = (calling_code + 1) * 10**national_width
        begin, finish = (int(i) for i in np.searchsorted(numbers, [low, high]))
        if begin == finish:
            continue
        block = numbers[begin:finish]
        cut = 10 ** max(national_width - VALIDITY_PREFIX_DIGITS, 0)
        prefixes = _distinct_prefixes(block, low, cut)
        starts = np.searchsorted(block, low + prefixes * cut).tolist()
        ends = starts[1:] + [block.size]
        groups += len(starts)
        for start, end in zip(starts, ends, strict=True):
            first = _valid_for_region(calling_code, int(block[start]) - low, region)
            last = _valid_for_region(calling_code, int(block[end - 1]) - low, region)
            if first and last:
                valid[begin + start : begin + end] = True
            elif first or last:
                for index in range(start, end):
                    national = int(block[index]) - low
                    valid[begin + index] = _valid_for_region(calling_code, national, region)
    return CountryValidity(valid, groups)
