"""The vectorised wash decides exactly as the row path: generated lists (malformed strings,
written forms, duplicates, consents, suppression, listed, stale and unwashed registry evidence)
go through both and every column of every row must match.

Seeded random generation (hypothesis is not a dependency): each seed is a different list, tenant
country, registry freshness and consent mix, reproducible from the seed in the failure message.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cm_pipelines.domain.dncr.evidence import (
    DownloadableEvidence,
    WashOnlyEvidence,
    evidence_instant,
)
from cm_pipelines.domain.dncr.fast_numbers import keyed_hashes, prepare_numbers_fast
from cm_pipelines.domain.dncr.fast_washing import wash_fast
from cm_pipelines.domain.dncr.number_index import NumberIndex
from cm_pipelines.domain.dncr.number_preparation import prepare_numbers
from cm_pipelines.domain.dncr.number_sets import sorted_unique
from cm_pipelines.domain.dncr.wash_decisions import REASONS
from cm_pipelines.domain.dncr.washing import wash
from cm_pipelines.domain.keyed_hash import keyed_hash
from tests.dncr.test_washing import AU_ACMA, KEY, US_FTC, US_STATE

WASHED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
MALFORMED = [
    "", "  ", "n/a", "anonymous", "12", "212555", "+", "++12125550147", "0", "000000000",
    "1-800-FLOWERS", "+999 1234 5678", "+1 1212 555 0147", "+61 0491 570 156",
    "+1 212 555 0147 ext. 12", "1234567890123456789", "+39 06 6982 1234", "(02) 9876 5432",
    "+44 20 7946 0958", "２１２５５５０１４７", "555-0147", "+1 (800) 555-0100",
]  # fmt: skip
US_AREAS = [212, 213, 312, 415, 646, 800, 917, 999, 100]


def _us_numbers(rng: np.random.Generator, count: int) -> list[int]:
    areas = rng.choice(US_AREAS, count)
    exchanges = rng.integers(100, 1000, count)
    lines = rng.integers(0, 10000, count)
    return [
        int(10**10 + a * 10**7 + e * 10**4 + n)
        for a, e, n in zip(areas, exchanges, lines, strict=True)
    ]


def _au_numbers(rng: np.random.Generator, count: int) -> list[int]:
    firsts = rng.choice([4, 2, 3, 7, 8, 1, 5], count)
    rest = rng.integers(0, 10**8, count)
    return [int(61 * 10**9 + f * 10**8 + r) for f, r in zip(firsts, rest, strict=True)]


def _written(rng: np.random.Generator, number: int) -> str:
    """One of the ways a list writes a number."""
    digits = str(number)
    national = digits[1:] if digits.startswith("1") else "0" + digits[2:]
    forms = [
        f"+{digits}",
        f"+{digits[:1]} {digits[1:4]} {digits[4:7]} {digits[7:]}",
        national,
        f"({national[:3]}) {national[3:6]}-{national[6:]}",
        f" {national} ",
        digits,
        f"{national[:4]}.{national[4:7]}.{national[7:]}",
    ]
    return forms[int(rng.integers(0, len(forms)))]


def _generate(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    country = "US" if seed % 3 else "AU"
    pool = _us_numbers(rng, 60) + _au_numbers(rng, 60)
    raw = [
        MALFORMED[int(rng.integers(0, len(MALFORMED)))]
        if rng.random() < 0.15
        else _written(rng, pool[int(rng.integers(0, len(pool)))])
        for _ in range(int(rng.integers(50, 400)))
    ]
    raw += raw[: int(rng.integers(0, 30))]  # duplicates
    chosen = [f"+{n}" for n in rng.choice(pool, 40)]
    return {
        "country": country,
        "raw": raw,
        "evidence": _evidence(rng, pool),
        "suppressed": {keyed_hash(n, KEY) for n in chosen[:8]},
        "consents": _consents(rng, chosen[8:]),
    }


def _evidence(rng: np.random.Generator, pool: list[int]) -> list:
    us = np.array([n for n in pool if n < 2 * 10**10], dtype=np.int64)
    au = np.array(sorted({n for n in pool if n > 2 * 10**10}), dtype=np.int64)
    listed, _ = sorted_unique(rng.choice(us, 25))
    ftc_day = date(2026, 11, 2) if rng.random() < 0.7 else date(2026, 10, 1)
    override = bool(rng.random() < 0.3)
    ftc = DownloadableEvidence(
        replace(US_FTC, exemptions_override_listing=override),
        "v-ftc",
        evidence_instant(US_FTC, ftc_day),
        NumberIndex(listed),
    )
    state = DownloadableEvidence(US_STATE) if rng.random() < 0.3 else None
    washed = au[rng.random(au.size) < 0.7]
    days = np.datetime64("2026-11-19") - rng.integers(0, 40, washed.size).astype("timedelta64[D]")
    acma = WashOnlyEvidence(
        AU_ACMA, "v-acma", NumberIndex(washed), rng.random(washed.size) < 0.4, days
    )
    return [item for item in (ftc, state, acma) if item is not None]


def _consents(rng: np.random.Generator, numbers: list[str]) -> pd.DataFrame:
    kinds = ["express_consent", "transaction", "inquiry", "unknown_kind"]
    rows = []
    for number in numbers:
        recorded = WASHED_AT - timedelta(days=int(rng.integers(-5, 800)))
        rows.append(
            {
                "e164_hash": keyed_hash(number, KEY),
                "kind": kinds[int(rng.integers(0, len(kinds)))],
                "recorded_at": recorded,
                "expires_at": recorded + timedelta(days=int(rng.integers(1, 900)))
                if rng.random() < 0.4
                else None,
                "revoked_at": WASHED_AT - timedelta(days=1) if rng.random() < 0.1 else None,
                "restricted_at": WASHED_AT if rng.random() < 0.05 else None,
            }
        )
    return pd.DataFrame(rows)


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict(orient="records")


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_wash_matches_the_row_path(seed: int) -> None:
    case = _generate(seed)
    row_numbers = prepare_numbers(case["raw"], case["country"], KEY)
    fast_numbers = prepare_numbers_fast(case["raw"], case["country"], KEY)
    pd.testing.assert_frame_equal(fast_numbers, row_numbers, obj=f"prepared (seed {seed})")
    arguments = {
        "evidence": case["evidence"],
        "suppressed_hashes": case["suppressed"],
        "consents": case["consents"],
        "washed_at": WASHED_AT,
        "tenant_country": case["country"],
    }
    expected = wash(row_numbers, **arguments)
    got = wash_fast(fast_numbers, **arguments)
    assert list(got.columns) == list(expected.columns)
    assert _records(got) == _records(expected), f"seed {seed}"


def test_the_generated_lists_reach_every_reason() -> None:
    """The comparison above is only as good as its lists: together they hit every rung."""
    seen: set[str] = set()
    for seed in range(40):
        case = _generate(seed)
        decided = wash_fast(
            prepare_numbers_fast(case["raw"], case["country"], KEY),
            evidence=case["evidence"],
            suppressed_hashes=case["suppressed"],
            consents=case["consents"],
            washed_at=WASHED_AT,
            tenant_country=case["country"],
        )
        seen |= set(decided["reason"])
    assert seen == set(REASONS)


def test_vectorised_wash_of_an_empty_list_and_without_consents() -> None:
    empty = prepare_numbers_fast([], "US", KEY)
    assert empty.empty and list(empty.columns) == ["raw", "e164", "e164_int", "e164_hash"]
    result = wash_fast(
        empty, evidence=[], suppressed_hashes=(), consents=None, washed_at=WASHED_AT,
        tenant_country="US",
    )  # fmt: skip
    assert result.empty
    one = prepare_numbers_fast(["+12125550100"], "US", KEY)
    decided = wash_fast(
        one, evidence=[], suppressed_hashes=(), consents=None, washed_at=WASHED_AT,
        tenant_country="US",
    )  # fmt: skip
    assert decided["reason"].tolist() == ["allowed"]


def test_batch_keyed_hashes_equal_the_single_keyed_hash() -> None:
    values = np.array(["+12125550147", "n/a", "+12125550147", ""], dtype=object)
    for key in (KEY, b"x", b"long" * 40):  # a key longer than SHA-256's block is hashed first
        assert keyed_hashes(values, key).tolist() == [keyed_hash(str(v), key) for v in values]
    with pytest.raises(ValueError, match="key is empty"):
        keyed_hashes(values, b"")
