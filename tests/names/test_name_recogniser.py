"""The offline name recogniser: direct cases, and recall/precision on the labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cm_pipelines.domain.names.quality import measure
from cm_pipelines.domain.names.recogniser import CERTAIN, UNSURE, find_names, mask_names

CORPUS = Path(__file__).parents[1] / "dsar" / "data" / "names_corpus.jsonl"


def _corpus(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if split is None or row["split"] == split]


def _masked(text: str, **kwargs) -> str:
    return mask_names(text, find_names(text, **kwargs))


def test_free_text_names_from_the_issue_are_masked() -> None:
    assert _masked("please add my partner Zara Smith to the account") == (
        "please add my partner [name] to the account"
    )
    assert _masked("Leila Tan called about the refund.") == "[name] called about the refund."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ask for Puan Siti binti Abdullah today.", "Ask for [name] today."),
        ("The husband, Rajesh s/o Subramaniam, signed.", "The husband, [name], signed."),
        ("Send it to Mr and Mrs Harrison.", "Send it to [name]."),
        ("Nguyen Van Anh will pay.", "[name] will pay."),
        ("Yusuf al-Rashid asked again.", "[name] asked again."),
        ("my partner zara wants access", "my partner [name] wants access"),
    ],
)
def test_cultures_and_patronymics(text: str, expected: str) -> None:
    assert _masked(text) == expected


def test_non_names_stay() -> None:
    for text in (
        "Thank you for calling Telstra, how can I help you today?",
        "Monday morning is best. Call me on the mobile.",
        "Visa and Mastercard are both accepted.",
        "Please confirm the SMS and the PIN.",
    ):
        assert find_names(text) == [], text


def test_the_subject_keeps_their_own_name_but_not_their_relatives() -> None:
    text = "I'm Rania Aziz, calling for my brother Tariq Aziz."
    assert _masked(text, subject_names=["Rania Aziz"]) == (
        "I'm Rania Aziz, calling for my brother [name]."
    )


def test_known_names_are_certain_even_alone_and_lower_case() -> None:
    text = "then harold said the bill was wrong"
    findings = find_names(text, known_names=["Harold Jenkins"])
    assert [(text[f.start : f.end], f.confidence) for f in findings] == [("harold", CERTAIN)]


def test_an_unknown_capitalised_word_mid_sentence_is_unsure() -> None:
    text = "I think Xandor took the call."
    assert [(text[f.start : f.end], f.confidence) for f in find_names(text)] == [("Xandor", UNSURE)]


def test_corpus_is_labelled_and_split() -> None:
    rows = _corpus()
    assert len(rows) >= 150
    assert {row["split"] for row in rows} == {"tune", "holdout"}
    for row in rows:
        for span in row["names"]:
            assert (
                row["text"][span["start"] : span["end"]].strip()
                == (row["text"][span["start"] : span["end"]])
            )


@pytest.mark.parametrize("split", ["tune", "holdout", None])
def test_recall_and_precision_on_the_corpus(split: str | None) -> None:
    quality = measure(_corpus(split))
    assert quality.names >= 30
    assert quality.recall >= 0.95
    assert quality.precision >= 0.85
