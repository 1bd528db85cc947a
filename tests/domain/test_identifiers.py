from __future__ import annotations

import pytest

from cm_pipelines.domain.identifiers import (
    Identifiers,
    extract_identifiers,
    find_emails,
    find_phone_numbers,
    mask_identifiers,
    redact,
)

SUBJECT_MOBILE = "+61491570156"


def phones(text: str, country: str = "AU") -> list[str]:
    return [match.e164 for match in find_phone_numbers(text, country)]


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("best number, oh four nine one five seven oh one five six? Yes", "AU", SUBJECT_MOBILE),
        ("zero four nine one five seven zero one five six", "AU", SUBJECT_MOBILE),
        ("Oh four nine one, five seven oh, one five six.", "AU", SUBJECT_MOBILE),
        ("oh-four-nine-one-five-seven-oh-one-five-six", "AU", SUBJECT_MOBILE),
        ("oh four nine one double five, seven oh one five", "AU", "+61491557015"),
        ("oh two five five triple oh one two three", "AU", "+61255000123"),
        ("plus six one four nine one five seven oh one five six", "US", SUBJECT_MOBILE),
        ("eight hundred five five five oh one nine nine", "US", "+18005550199"),
        ("one eight hundred 555 0199", "US", "+18005550199"),
        ("two one two, five five five, oh one forty seven", "US", "+12125550147"),
        ("oh 491 570 156", "AU", SUBJECT_MOBILE),
        ("04 nine one five seven oh 156", "AU", SUBJECT_MOBILE),
        ("Call me back on 03 5550 4567.", "AU", "+61355504567"),
        ("Call me back on (03) 5550-4567.", "AU", "+61355504567"),
        ("reach me at +61 3 5550 4567 today", "US", "+61355504567"),
        ("my cell is (212) 555-0147", "US", "+12125550147"),
        ("it's 0491570156", "AU", SUBJECT_MOBILE),
    ],
)
def test_finds_written_spoken_and_mixed_numbers(text: str, country: str, expected: str) -> None:
    assert phones(text, country) == [expected]


def test_match_spans_cover_the_whole_number() -> None:
    text = "Sure, is this still the best number, oh four nine one five seven oh one five six? Yes"
    [match] = find_phone_numbers(text, "AU")
    assert text[match.start : match.end] == "oh four nine one five seven oh one five six"
    assert match.kind == "phone" and match.value == SUBJECT_MOBILE


def test_several_numbers_in_one_text() -> None:
    text = (
        "My mobile is oh four nine one five seven oh one five six and the office is "
        "02 5550 1234, or try one, oh three five five five oh four five six seven."
    )
    assert phones(text) == [SUBJECT_MOBILE, "+61255501234", "+61355504567"]


@pytest.mark.parametrize(
    "text",
    [
        "I need two or three appointments at nine thirty on the fifth.",
        "Oh, one more thing: twelve thirty on the 20th of November 2026.",
        "Your reference is 1763630102 and the total is 4567 dollars.",
        "one two three four five",
        "",
    ],
)
def test_ordinary_numbers_are_not_phone_numbers(text: str) -> None:
    assert phones(text) == []


def test_country_decides_national_numbers() -> None:
    assert phones("call 2125550147", "US") == ["+12125550147"]
    assert phones("call 2125550147", "AU") == []


def test_emails_written_and_spoken() -> None:
    text = (
        "Yes, or email Jane.Doe@Example.com. Also jane dot doe at example dot com dot au, "
        "or j underscore smith at mail dot example dot org, not at the office dot."
    )
    assert [match.value for match in find_emails(text)] == [
        "jane.doe@example.com",
        "jane.doe@example.com.au",
        "j_smith@mail.example.org",
    ]
    first = find_emails(text)[0]
    assert text[first.start : first.end] == "Jane.Doe@Example.com"


def test_extract_identifiers_from_transcript_like_text() -> None:
    text = (
        "Good morning, Harbour Dental. Hi, it's Jane, I need to move my appointment. Sure, is "
        "this still the best number, oh four nine one five seven oh one five six? Yes, or email "
        "jane.doe@example.com. My account email is j.smith@example.org and you can call me back "
        "on 03 5550 4567."
    )
    assert extract_identifiers(text, "AU") == Identifiers(
        phones=frozenset({SUBJECT_MOBILE, "+61355504567"}),
        emails=frozenset({"jane.doe@example.com", "j.smith@example.org"}),
    )


def test_digits_inside_an_email_are_not_a_phone() -> None:
    found = extract_identifiers("write to 0491570156@example.com please", "AU")
    assert found == Identifiers(frozenset(), frozenset({"0491570156@example.com"}))


def test_mask_keeps_the_subjects_identifiers_and_masks_the_others() -> None:
    text = (
        "I'm on oh four nine one five seven oh one five six, jane.doe@example.com. "
        "My husband is on 03 5550 4567 or J.Smith@example.org."
    )
    masked = mask_identifiers(
        text,
        "AU",
        keep_phones=frozenset({SUBJECT_MOBILE}),
        keep_emails=frozenset({"Jane.Doe@Example.com"}),
    )
    assert masked == (
        "I'm on oh four nine one five seven oh one five six, jane.doe@example.com. "
        "My husband is on [phone] or [email]."
    )


def test_mask_without_keep_sets_masks_everything_found() -> None:
    text = "Call oh four nine one five seven oh one five six or mail a.b@example.org."
    assert mask_identifiers(text, "AU") == "Call [phone] or mail [email]."


def test_redact_masks_all_and_unknown_long_digit_runs() -> None:
    text = (
        "Number oh four nine one five seven oh one five six, email jane.doe@example.com, "
        "card 4111 1111 1111 1111, short 4567, +61 3 5550 4567."
    )
    assert redact(text, "AU") == (
        "Number [phone], email [email], card [phone], short 4567, [phone]."
    )
    # without a country, national numbers are still caught by the digit-run rule
    assert redact("call 03 5550 4567 or zero four nine one five seven oh one five six") == (
        "call [phone] or [phone]"
    )


def test_text_without_identifiers_is_unchanged() -> None:
    text = "Hello, I'm calling about my invoice from the fifth of May."
    assert redact(text, "AU") == text
    assert mask_identifiers(text, "AU") == text
    assert extract_identifiers(text, "AU") == Identifiers(frozenset(), frozenset())


def test_time_and_decimal_parts_are_not_read_as_phone_numbers() -> None:
    assert extract_identifiers("ended 2026-11-20 09:15:02.136480 ok", "AU").phones == frozenset()
    assert extract_identifiers("at 09:15:02.136480", "AU").phones == frozenset()
    assert extract_identifiers("call 0491 570 156 now", "AU").phones == {"+61491570156"}
