"""One masking helper: phone numbers in every written form and emails go, platform ids stay."""

from __future__ import annotations

import numpy as np
import pytest

from cm_pipelines.domain.redaction import (
    EMAIL_TOKEN,
    PHONE_TOKEN,
    PersonalDataError,
    assert_no_personal_data,
    find_personal_data,
    redact_text,
    redact_value,
)
from cm_pipelines.synthetic.numbers import (
    PLANS,
    draw_national_numbers,
    phone_forms,
    spoken_digits,
)


def _generated_forms(count_per_country: int = 25) -> list[tuple[str, str]]:
    rng = np.random.default_rng(11)
    forms = []
    for country, plan in PLANS.items():
        for nsn in draw_national_numbers(plan, count_per_country, rng):
            phone = phone_forms(plan, nsn)
            for form in phone.all_forms():
                forms.append((country, form))
            forms.append((country, spoken_digits(phone.national)))
            forms.append((country, "plus " + spoken_digits(phone.e164_digits, "zero")))
    return forms


@pytest.mark.parametrize("template", ["{}", "call {} now", "number: {}.", "({})", "x={};y"])
def test_every_written_form_of_generated_numbers_is_masked(template: str) -> None:
    for country, form in _generated_forms():
        text = template.format(form)
        redacted = redact_text(text)
        assert form not in redacted, (country, template)
        assert PHONE_TOKEN in redacted
        assert find_personal_data(text) == ["phone"]


@pytest.mark.parametrize(
    "text",
    [
        "(212) 555-0147",
        "212-555-0147",
        "212.555.0147",
        "+1 (212) 555-0147",
        "0049 30 901820",
        "(02) 5550 1234",
        "+44\u00a020\u00a07946\u00a00123",
        "tel:+12125550147",
        "landing/recordings/0491570156.wav",
        "oh four nine one, five seven oh, one five six",
        "double oh four nine one five seven oh one five six",
    ],
)
def test_other_common_spellings_are_masked(text: str) -> None:
    assert find_personal_data(text) == ["phone"]
    assert not any(ch.isdigit() for ch in redact_text(text).replace(".wav", ""))


def test_two_numbers_written_back_to_back_are_both_masked() -> None:
    assert redact_text("0491 570 156 0491 570 157") == f"{PHONE_TOKEN} {PHONE_TOKEN}"
    assert redact_text("0491570156,+61491570157") == f"{PHONE_TOKEN},{PHONE_TOKEN}"


@pytest.mark.parametrize(
    "email",
    ["jane.doe12@example.com", "O.Neill+dsar@Example.Org", "wei_tan@mail.example.net"],
)
def test_emails_are_masked_in_any_case(email: str) -> None:
    text = f"contact <{email}> asked"
    assert redact_text(text) == f"contact <{EMAIL_TOKEN}> asked"
    assert find_personal_data(text) == ["email"]
    assert find_personal_data(email.replace("@", "%40")) == ["email"]


@pytest.mark.parametrize(
    "text",
    [
        "run 3f2a1b4c-1234-5678-9abc-def012345678 finished",
        "uniqueid 1763630102.421 and aws_1763630102.421.json",
        "partition 2026-11-28, at 2026-11-28T16:30:56.047849+00:00",
        "2026-11-28 16:30:05",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "hk1:8c2d1f0491570156aa01",
        "rows 1048576 bytes 73400320 in 3.14159265 s, 16234.5 rows/s",
        "extension 1004 called 1002",
        "epoch 1764326400 / 1764326400123",
        "registry au_acma version 2026-11-28/7",
    ],
)
def test_platform_ids_counts_and_dates_are_left_alone(text: str) -> None:
    assert redact_text(text) == text
    assert find_personal_data(text) == []


def test_find_personal_data_walks_nested_values_and_keys() -> None:
    value = {
        "counts": {"rows": 12, "bytes": 2125550147},  # integers are counts by convention
        "refs": ["call-1", {"contact": "jane@example.com"}],
        "+61 491 570 156": "as a key",
    }
    assert find_personal_data(value) == ["email", "phone"]
    assert find_personal_data({"rows": 3, "ids": ["a", "b"], "when": None}) == []


def test_assert_no_personal_data_names_the_path_but_not_the_value() -> None:
    number, email = "+61 491 570 156", "jane.doe@example.com"
    with pytest.raises(PersonalDataError) as caught:
        assert_no_personal_data(
            {"reason": f"customer {number} asked", "refs": [{"who": email}]},
            context="audit details",
        )
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "audit details" in message and "reason" in message and "refs[0].who" in message
    assert number not in message and email not in message and "491" not in message
    assert redact_text(message) == message
    assert_no_personal_data({"rows": 3, "call_id": "1763630102.421"}, context="fine")


def test_redact_value_masks_strings_at_any_depth_and_keeps_shape() -> None:
    value = {"a": ["0491570156", 3, {"b": "mail jane@example.com"}], "n": 1.5}
    assert redact_value(value) == {"a": [PHONE_TOKEN, 3, {"b": f"mail {EMAIL_TOKEN}"}], "n": 1.5}


def test_empty_and_non_text_values_pass_through() -> None:
    assert redact_text("") == ""
    assert redact_value(None) is None
    assert find_personal_data(b"call 0491570156") == ["phone"]


@pytest.mark.parametrize(
    "text,kind",
    [
        ("it's oh 491 570 156, thanks", "phone"),
        ("call me on oh four nine one, five seven oh, one five six", "phone"),
        ("one eight hundred five five five oh one four seven", "phone"),
        ("write to jane dot doe at example dot com please", "email"),
    ],
)
def test_spoken_and_mixed_forms_found_by_the_identifier_finder_are_masked(
    text: str, kind: str
) -> None:
    assert find_personal_data(text) == [kind]
    redacted = redact_text(text)
    assert (PHONE_TOKEN if kind == "phone" else EMAIL_TOKEN) in redacted
    assert "491" not in redacted and "doe" not in redacted


def test_ordinary_words_that_are_also_number_words_survive() -> None:
    text = "one file quarantined, two rows skipped at the second attempt"
    assert redact_text(text) == text


def test_zero_padded_counters_are_not_numbers() -> None:
    for text in ("audit/anchors/000000000004_x.json", "batch 000000012345", "seq=0000000042"):
        assert redact_text(text) == text


@pytest.mark.parametrize(
    "hostile",
    ["A" * 100_000, "A" * 100_000 + "@", "a." * 50_000, "one " * 20_000, "1 " * 50_000],
)
def test_long_hostile_values_are_handled_in_linear_time(hostile: str) -> None:
    """A 100 kB value in a log line must not turn the masker into a denial of service (the
    patterns are bounded; a quadratic one would take minutes here)."""
    redacted = redact_text(hostile)
    assert len(redacted) <= len(hostile)
    assert find_personal_data(hostile) in ([], ["phone"])
