from __future__ import annotations

import pandas as pd
import pytest

from cm_pipelines.domain import phone_numbers
from cm_pipelines.domain.phone_numbers import (
    PartyNumber,
    e164_to_int,
    int_to_e164,
    is_valid_for_region,
    mask_number,
    normalise_distinct,
    normalise_party,
    normalise_series,
    region_of,
)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("0491570156", "AU", PartyNumber("e164", "+61491570156")),
        ("0491 570 156", "AU", PartyNumber("e164", "+61491570156")),
        ("0255501234", "AU", PartyNumber("e164", "+61255501234")),
        ("(02) 5550 1234", "AU", PartyNumber("e164", "+61255501234")),
        ("+61 3 5550 4567", "AU", PartyNumber("e164", "+61355504567")),
        ("+61 3 5550 4567", "US", PartyNumber("e164", "+61355504567")),
        ("2125550147", "US", PartyNumber("e164", "+12125550147")),
        ("12125550147", "US", PartyNumber("e164", "+12125550147")),
        ("18005550199", "US", PartyNumber("e164", "+18005550199")),
        ("+1 212-555-0147 ext. 12", "US", PartyNumber("e164", "+12125550147", "12")),
        (" 0491570156 ", "AU", PartyNumber("e164", "+61491570156")),
        ("1004", "AU", PartyNumber("extension", None, "1004")),
        ("12", "US", PartyNumber("extension", None, "12")),
        ("200001", "AU", PartyNumber("extension", None, "200001")),
        ("anonymous", "AU", PartyNumber("anonymous")),
        ("Anonymous", "US", PartyNumber("anonymous")),
        ("RESTRICTED", "AU", PartyNumber("anonymous")),
        ("unavailable", "AU", PartyNumber("anonymous")),
        ("unknown", "AU", PartyNumber("anonymous")),
        ("", "AU", PartyNumber("empty")),
        ("   ", "AU", PartyNumber("empty")),
        ("0123", "AU", PartyNumber("invalid")),  # leading 0: not an extension, not a number
        ("1234567", "AU", PartyNumber("invalid")),  # 7 digits: too long for an extension
        ("2125550147", "AU", PartyNumber("invalid")),  # a US national number read in AU
        ("0491570156", "US", PartyNumber("invalid")),
        ("+61 1234", "AU", PartyNumber("invalid")),
        ("s", "AU", PartyNumber("invalid")),
        ("*97", "AU", PartyNumber("invalid")),
        ("1", "AU", PartyNumber("invalid")),
    ],
)
def test_normalise_party(raw: str, country: str, expected: PartyNumber) -> None:
    assert normalise_party(raw, country) == expected


def test_normalise_distinct_parses_each_distinct_string_once(monkeypatch) -> None:
    calls: list[tuple[str, str]] = []
    original = phone_numbers.parse_party_uncached

    def counting(raw: str, country: str) -> PartyNumber:
        calls.append((raw, country))
        return original(raw, country)

    monkeypatch.setattr(phone_numbers, "parse_party_uncached", counting)
    phone_numbers._parse_party_cached.cache_clear()
    raws = ["0491570156", "1004", "0491570156", "anonymous", "1004", "0491570156"]
    result = normalise_distinct(raws, "AU")
    assert sorted(calls) == sorted({(raw, "AU") for raw in raws})
    assert result == {
        "0491570156": PartyNumber("e164", "+61491570156"),
        "1004": PartyNumber("extension", None, "1004"),
        "anonymous": PartyNumber("anonymous"),
    }
    # the same strings for another country are parsed again: the country changes the answer
    normalise_distinct(["0491570156"], "US")
    assert calls.count(("0491570156", "US")) == 1
    phone_numbers._parse_party_cached.cache_clear()


def test_normalise_series_maps_every_row_and_keeps_the_index() -> None:
    series = pd.Series(
        ["0491570156", None, "1004", "bogus", "0491570156", "Anonymous"],
        index=[10, 11, 12, 13, 14, 15],
    )
    frame = normalise_series(series, "AU")
    assert list(frame.columns) == ["kind", "e164", "extension"]
    assert list(frame.index) == [10, 11, 12, 13, 14, 15]
    assert frame["kind"].tolist() == [
        "e164",
        "empty",
        "extension",
        "invalid",
        "e164",
        "anonymous",
    ]
    assert frame.loc[10, "e164"] == frame.loc[14, "e164"] == "+61491570156"
    assert frame.loc[12, "extension"] == "1004"
    assert frame["e164"].isna().tolist() == [False, True, True, True, False, True]


def test_normalise_series_of_nothing() -> None:
    frame = normalise_series(pd.Series([], dtype=object), "AU")
    assert frame.empty and list(frame.columns) == ["kind", "e164", "extension"]


def test_integer_form_round_trips() -> None:
    assert e164_to_int("+61491570156") == 61491570156
    assert int_to_e164(61491570156) == "+61491570156"
    assert int_to_e164(e164_to_int("+18005550199")) == "+18005550199"


@pytest.mark.parametrize("bad", ["61491570156", "+0491570156", "+61 491", "", "+1234567890123456"])
def test_e164_to_int_refuses_non_e164_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError) as error:
        e164_to_int(bad)
    assert bad.strip("+") == "" or bad not in str(error.value)


def test_int_to_e164_refuses_non_numbers() -> None:
    for bad in (True, 0, -61491570156, 10**16):
        with pytest.raises(ValueError):
            int_to_e164(bad)


def test_region_and_validity() -> None:
    assert region_of("+61491570156") == "AU"
    assert region_of("+12125550147") == "US"
    assert region_of("+999123") is None
    assert region_of("0491570156") is None
    assert is_valid_for_region("+61255501234", "AU")
    assert not is_valid_for_region("+61255501234", "US")
    assert not is_valid_for_region("not a number", "AU")


def test_mask_number_keeps_country_code_and_last_three() -> None:
    assert mask_number("+61491570156") == "+61******156"
    assert mask_number("+12125550147") == "+1*******147"
    assert mask_number("+6591234567") == "+65*****567"
    with pytest.raises(ValueError):
        mask_number("0491570156")


def test_is_valid_e164_agrees_with_the_number_s_own_region() -> None:
    from cm_pipelines.domain.phone_numbers import is_valid_e164, is_valid_for_region, region_of

    for number in ("+61491570156", "+12125550147", "+6100", "0255501234", "+6591234567"):
        region = region_of(number)
        expected = region is not None and is_valid_for_region(number, region)
        assert is_valid_e164(number) is expected
    assert is_valid_e164("+61491570156") and not is_valid_e164("+6100")
