"""The column path of E.164 normalisation gives the per-string ``phonenumbers`` answer: kinds,
E.164 and extensions compared value by value on generated numbers in every written form, on
random digit strings built to hit the library's special cases, and on the sample CDR file."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cm_pipelines.domain.number_plan import normalise_column
from cm_pipelines.domain.phone_numbers import (
    ANONYMOUS_TOKENS,
    is_valid_e164,
    normalise_values,
    parse_party_uncached,
    valid_e164_values,
)
from cm_pipelines.synthetic.numbers import PLANS, draw_national_numbers, phone_forms

SAMPLE_CDR = Path("/work/shared/samples/cdr/Master.csv")
COUNTRIES = ("AU", "US", "SG", "GB", "CA", "NZ", "DE", "IT", "AR", "MX", "IN")


def _row_path(values: list, country: str) -> list[tuple]:
    """What normalisation answered before the column path: one parse per value."""
    out = []
    for value in values:
        if value is None:
            out.append(("empty", None, None))
            continue
        parsed = parse_party_uncached(str(value), country)
        out.append((parsed.kind, parsed.e164, parsed.extension))
    return out


def _column_path(values: list, country: str) -> list[tuple]:
    kinds, e164s, extensions = normalise_values(values, country)
    return list(zip(kinds.tolist(), e164s.tolist(), extensions.tolist(), strict=True))


def _assert_same(values: list, country: str) -> None:
    old, new = _row_path(values, country), _column_path(values, country)
    differing = [index for index, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    # indexes only: the values are phone numbers
    assert not differing, (
        f"{country}: {len(differing)} of {len(values)} differ, e.g. {differing[:5]}"
    )


def _written_forms(seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    found: dict[str, list[str]] = {}
    for country, plan in PLANS.items():
        forms = [phone_forms(plan, nsn) for nsn in draw_national_numbers(plan, 400, rng)]
        found[country] = [value for form in forms for value in form.all_forms()]
    return found


def _noise(rnd: random.Random, count: int) -> list:
    """Digit strings with the prefixes and lengths where the library has special rules."""
    heads = [
        "",
        "0",
        "00",
        "000",
        "001",
        "0011",
        "011",
        "1",
        "+",
        "+0",
        "+1",
        "+44",
        "+61",
        "+610",
        "+440",
        "61",
        "44",
        "65",
        "64",
        "1831",
        "180020",
        "+800",
        "+979",
        "+882",
        "+39",
        "+390",
        "+54",
        "+549",
        "+52",
        "+521",
        "+91",
        "+7",
        "+1 (",
        "(",
        "0 ",
    ]
    out: list = [
        None,
        "",
        "  ",
        "\t",
        "anonymous",
        "ANONYMOUS",
        " Withheld ",
        "unknown\n",
        "1004",
        " 1004 ",
        "01004",
        "1000000",
        "12",
        "1-2",
        "+",
        "++61491570156",
        "+61 491 570 156 ext. 12",
        "+1-212-555-0147 x7",
        "0491570156\n",
        "٠٤٩١٥٧٠١٥٦",
        "+61４91570156",
        "1-800-FLOWERS",
        "tel:+61491570156",
        "+61(0)491570156",
    ]
    while len(out) < count:
        body = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 17)))
        value = rnd.choice(heads) + body
        if rnd.random() < 0.3:
            cut = rnd.randint(0, len(value))
            value = value[:cut] + rnd.choice(" -.()") + value[cut:]
        out.append(value)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_written_forms_of_generated_numbers_match_the_library(seed: int) -> None:
    by_country = _written_forms(seed)
    everything = [value for values in by_country.values() for value in values]
    for country in {*by_country, *COUNTRIES}:
        _assert_same(everything, country)


@pytest.mark.parametrize("country", COUNTRIES)
def test_random_digit_strings_match_the_library(country: str) -> None:
    _assert_same(_noise(random.Random(sum(map(ord, country))), 4_000), country)


def test_sample_cdr_parties_match_the_library() -> None:
    if not SAMPLE_CDR.exists():
        pytest.skip("the shared samples are not on this machine")
    with SAMPLE_CDR.open(newline="") as handle:
        parties = [value for row in csv.reader(handle) if len(row) > 3 for value in row[1:3]]
    assert parties
    for country in COUNTRIES:
        _assert_same(parties, country)


def test_the_table_decides_the_forms_a_pbx_writes() -> None:
    """The point of the table: the forms a PBX writes (national digits, compact and spaced
    E.164) never reach the per-string parse, and are read as numbers."""
    rng = np.random.default_rng(4)
    for country, plan in PLANS.items():
        forms = [phone_forms(plan, nsn) for nsn in draw_national_numbers(plan, 200, rng)]
        common = [value for form in forms for value in (form.national, form.e164, form.e164_spaced)]
        table = normalise_column(pa.array(common, pa.string()), country, tuple(ANONYMOUS_TOKENS))
        assert table.decided.all(), country
        assert (table.kind == "e164").all(), country


def test_e164_validity_matches_the_library() -> None:
    rnd = random.Random(7)
    values = [value for values in _written_forms(5).values() for value in values]
    values += [v for v in _noise(rnd, 3_000) if isinstance(v, str)]
    values += [
        "+" + "".join(rnd.choice("0123456789") for _ in range(rnd.randint(2, 16)))
        for _ in range(3_000)
    ]
    expected = [is_valid_e164(value) for value in values]
    assert valid_e164_values(values).tolist() == expected
    assert sum(expected) > 1_000  # the comparison covers valid numbers, not only rejects


def test_the_non_geographic_region_is_the_librarys() -> None:
    from phonenumbers import phonenumberutil

    from cm_pipelines.domain.number_plan import NON_GEO_REGION

    assert phonenumberutil.REGION_CODE_FOR_NON_GEO_ENTITY == NON_GEO_REGION
