from __future__ import annotations

import json
from typing import Any

import pytest

from cm_pipelines.domain.ingestion.transcripts import (
    AWS_TRANSCRIBE,
    WHISPER,
    Segment,
    TranscriptFormatError,
    parse_transcript,
)

SECRET = "oh four nine one five seven oh one five six"


def _word(start: float, end: float, content: str, speaker: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start_time": f"{start:.2f}",
        "end_time": f"{end:.2f}",
        "alternatives": [{"confidence": "0.99", "content": content}],
        "type": "pronunciation",
    }
    if speaker:
        item["speaker_label"] = speaker
    return item


def _punct(content: str) -> dict[str, Any]:
    return {"alternatives": [{"confidence": "0.0", "content": content}], "type": "punctuation"}


def aws_document(**results_overrides: Any) -> dict[str, Any]:
    items = [
        _word(0.04, 0.41, "Good"),
        _word(0.41, 0.80, "morning"),
        _punct(","),
        _word(0.80, 1.50, "Harbour"),
        _word(1.50, 1.92, "Dental"),
        _punct("."),
        _word(2.10, 2.40, "Hi"),
        _punct(","),
        _word(2.50, 2.90, "it's"),
        _word(2.90, 3.30, "Jane"),
        _punct("."),
    ]
    results: dict[str, Any] = {
        "transcripts": [{"transcript": "Good morning, Harbour Dental. Hi, it's Jane."}],
        "speaker_labels": {
            "channel_label": "ch_0",
            "speakers": 2,
            "segments": [
                {"start_time": "0.04", "end_time": "1.92", "speaker_label": "spk_0", "items": []},
                {"start_time": "2.10", "end_time": "3.30", "speaker_label": "spk_1", "items": []},
            ],
        },
        "items": items,
    }
    results.update(results_overrides)
    return {
        "jobName": "acme-au-1763630102.421",
        "accountId": "000000000000",
        "status": "COMPLETED",
        "results": results,
    }


def whisper_document(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "text": " Hello, I'm calling about my invoice. Call me on 03 5550 4567.",
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": 3.2,
                "text": " Hello, I'm calling about my invoice.",
            },
            {"id": 1, "seek": 0, "start": 3.2, "end": 9.8, "text": " Call me on 03 5550 4567."},
        ],
        "language": "en",
    }
    document.update(overrides)
    return document


def encode(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


def test_aws_segments_are_rebuilt_from_timed_items_with_punctuation() -> None:
    transcript = parse_transcript(encode(aws_document()))
    assert transcript.format == AWS_TRANSCRIBE
    assert transcript.language is None
    assert transcript.text == "Good morning, Harbour Dental. Hi, it's Jane."
    assert transcript.segments == [
        Segment(0.04, 1.92, "spk_0", "Good morning, Harbour Dental."),
        Segment(2.10, 3.30, "spk_1", "Hi, it's Jane."),
    ]


def test_aws_language_code_is_kept() -> None:
    transcript = parse_transcript(encode(aws_document(language_code="en-AU")))
    assert transcript.language == "en-AU"


def test_aws_segment_without_items_in_range_has_empty_text() -> None:
    document = aws_document(items=[_word(0.04, 0.41, "Good")])
    transcript = parse_transcript(encode(document))
    assert [segment.text for segment in transcript.segments] == ["Good", ""]


def test_aws_audio_segments_carry_their_own_text() -> None:
    document = aws_document(
        audio_segments=[
            {"id": 0, "transcript": "Good morning.", "start_time": "0.04", "end_time": "1.92"},
            {"id": 1, "start_time": "2.10", "end_time": "3.30", "speaker_label": "spk_1"},
        ]
    )
    transcript = parse_transcript(encode(document))
    assert transcript.segments == [
        Segment(0.04, 1.92, None, "Good morning."),
        Segment(2.10, 3.30, "spk_1", "Hi, it's Jane."),
    ]


def test_aws_without_diarisation_groups_words_by_speaker_runs() -> None:
    document = aws_document(
        items=[
            _word(0.0, 0.5, "Hello", "spk_0"),
            _punct("."),
            _word(0.6, 1.0, "Hi", "spk_1"),
            _word(1.0, 1.4, "there", "spk_1"),
        ]
    )
    del document["results"]["speaker_labels"]
    transcript = parse_transcript(encode(document))
    assert transcript.segments == [
        Segment(0.0, 0.5, "spk_0", "Hello."),
        Segment(0.6, 1.4, "spk_1", "Hi there"),
    ]


def test_whisper() -> None:
    transcript = parse_transcript(encode(whisper_document()))
    assert transcript.format == WHISPER
    assert transcript.language == "en"
    assert transcript.text == "Hello, I'm calling about my invoice. Call me on 03 5550 4567."
    assert transcript.segments == [
        Segment(0.0, 3.2, None, "Hello, I'm calling about my invoice."),
        Segment(3.2, 9.8, None, "Call me on 03 5550 4567."),
    ]


def test_whisper_without_segments_or_language() -> None:
    transcript = parse_transcript(encode({"text": " just text "}))
    assert (transcript.format, transcript.language, transcript.text, transcript.segments) == (
        WHISPER,
        None,
        "just text",
        [],
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json at all " + SECRET.encode(), "not_json"),
        (b"\xff\xfe{}", "not_json"),
        (b"", "not_json"),
        (encode([SECRET]), "unknown_transcript_format"),
        (encode({"note": SECRET}), "unknown_transcript_format"),
        (encode(aws_document(transcripts=[])), "missing_text"),
        (encode(aws_document(transcripts=[{"transcript": 5}])), "missing_text"),
        (encode({**aws_document(), "status": "FAILED"}), "job_not_completed"),
        (encode(aws_document(items=[{"type": "pronunciation", "alternatives": []}])), "bad_items"),
        (encode(aws_document(items=[_word(0, 1, SECRET) | {"start_time": "x"}])), "bad_segment"),
        (encode({"segments": [], "language": "en"}), "missing_text"),
        (encode(whisper_document(text=None)), "missing_text"),
        (encode(whisper_document(segments={"0": SECRET})), "bad_segment"),
        (
            encode(whisper_document(segments=[{"start": 2, "end": 1, "text": SECRET}])),
            "bad_segment",
        ),
        (
            encode(whisper_document(segments=[{"start": "a", "end": 1, "text": SECRET}])),
            "bad_segment",
        ),
        (encode(whisper_document(segments=[{"start": 0, "end": 1, "text": 3}])), "bad_segment"),
        (b'{"text": "x", "segments": [{"start": NaN, "end": 1, "text": "y"}]}', "bad_segment"),
    ],
)
def test_malformed_transcripts_say_why_without_the_text(data: bytes, reason: str) -> None:
    with pytest.raises(TranscriptFormatError) as error:
        parse_transcript(data)
    assert error.value.reason_code == reason
    assert SECRET not in str(error.value)
    assert "4567" not in str(error.value)
