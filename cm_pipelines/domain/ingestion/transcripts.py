"""Transcripts from either engine into one shape: full text plus timed, speaker-labelled segments.

Two formats land: an AWS Transcribe job result (``results.transcripts``, ``results.items``,
optionally ``results.speaker_labels`` or ``results.audio_segments``) and Whisper's JSON
(``text``, ``segments``, ``language``). Errors carry a reason code and a location, never
transcript text: transcripts are full of personal data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

AWS_TRANSCRIBE = "aws_transcribe"
WHISPER = "whisper"


class TranscriptFormatError(ValueError):
    """A transcript file could not be read; ``reason_code`` is stable for quarantine records."""

    def __init__(self, reason_code: str, detail: str):
        self.reason_code = reason_code
        self.detail = detail
        super().__init__(f"{reason_code}: {detail}")


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    speaker: str | None
    text: str


@dataclass(frozen=True)
class NormalisedTranscript:
    format: str
    language: str | None
    text: str
    segments: list[Segment] = field(default_factory=list)


def _seconds(value: Any, where: str) -> float:
    """AWS writes times as strings, Whisper as numbers; both must be finite and >= 0."""
    if isinstance(value, bool):
        raise TranscriptFormatError("bad_segment", f"{where} is not a number of seconds")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise TranscriptFormatError("bad_segment", f"{where} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise TranscriptFormatError("bad_segment", f"{where} is not a number of seconds")
    return seconds


def _segment_span(start: float, end: float, where: str) -> tuple[float, float]:
    if end < start:
        raise TranscriptFormatError("bad_segment", f"{where} ends before it starts")
    return start, end


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- AWS Transcribe


@dataclass(frozen=True)
class _Word:
    start: float
    end: float
    text: str
    speaker: str | None


def _aws_words(items: Any) -> list[_Word]:
    """Pronunciation items with their trailing punctuation glued on (AWS times only words)."""
    if not isinstance(items, list):
        raise TranscriptFormatError("bad_items", "results.items is not a list")
    words: list[_Word] = []
    for index, item in enumerate(items):
        where = f"results.items[{index}]"
        if not isinstance(item, dict):
            raise TranscriptFormatError("bad_items", f"{where} is not an object")
        alternatives = item.get("alternatives")
        if (
            not isinstance(alternatives, list)
            or not alternatives
            or not isinstance(alternatives[0], dict)
            or not isinstance(alternatives[0].get("content"), str)
        ):
            raise TranscriptFormatError("bad_items", f"{where}.alternatives has no content")
        content = alternatives[0]["content"]
        if item.get("type") == "punctuation":
            if words:
                last = words[-1]
                words[-1] = _Word(last.start, last.end, last.text + content, last.speaker)
            continue
        start = _seconds(item.get("start_time"), f"{where}.start_time")
        end = _seconds(item.get("end_time"), f"{where}.end_time")
        words.append(_Word(start, end, content, _optional_str(item.get("speaker_label"))))
    return words


def _text_between(words: list[_Word], start: float, end: float) -> str:
    return " ".join(word.text for word in words if word.start >= start and word.end <= end)


def _aws_segments(results: dict[str, Any], words: list[_Word]) -> list[Segment]:
    audio_segments = results.get("audio_segments")
    if isinstance(audio_segments, list) and audio_segments:
        segments = []
        for index, raw in enumerate(audio_segments):
            where = f"results.audio_segments[{index}]"
            if not isinstance(raw, dict):
                raise TranscriptFormatError("bad_segment", f"{where} is not an object")
            start, end = _segment_span(
                _seconds(raw.get("start_time"), f"{where}.start_time"),
                _seconds(raw.get("end_time"), f"{where}.end_time"),
                where,
            )
            text = raw.get("transcript")
            if not isinstance(text, str):
                text = _text_between(words, start, end)
            segments.append(Segment(start, end, _optional_str(raw.get("speaker_label")), text))
        return segments
    speaker_labels = results.get("speaker_labels")
    if isinstance(speaker_labels, dict) and isinstance(speaker_labels.get("segments"), list):
        segments = []
        for index, raw in enumerate(speaker_labels["segments"]):
            where = f"results.speaker_labels.segments[{index}]"
            if not isinstance(raw, dict):
                raise TranscriptFormatError("bad_segment", f"{where} is not an object")
            start, end = _segment_span(
                _seconds(raw.get("start_time"), f"{where}.start_time"),
                _seconds(raw.get("end_time"), f"{where}.end_time"),
                where,
            )
            speaker = _optional_str(raw.get("speaker_label"))
            segments.append(Segment(start, end, speaker, _text_between(words, start, end)))
        return segments
    if words:
        # No diarisation: one segment per run of words from the same (possibly unknown) speaker.
        segments = []
        run = [words[0]]
        for word in words[1:]:
            if word.speaker == run[-1].speaker:
                run.append(word)
                continue
            segments.append(_run_segment(run))
            run = [word]
        segments.append(_run_segment(run))
        return segments
    return []


def _run_segment(run: list[_Word]) -> Segment:
    return Segment(run[0].start, run[-1].end, run[0].speaker, " ".join(w.text for w in run))


def _parse_aws(document: dict[str, Any]) -> NormalisedTranscript:
    status = document.get("status")
    if status is not None and status != "COMPLETED":
        raise TranscriptFormatError(
            "job_not_completed", "transcription job status is not COMPLETED"
        )
    results = document["results"]
    if not isinstance(results, dict):
        raise TranscriptFormatError("unknown_transcript_format", "results is not an object")
    transcripts = results.get("transcripts")
    if (
        not isinstance(transcripts, list)
        or not transcripts
        or not all(
            isinstance(t, dict) and isinstance(t.get("transcript"), str) for t in transcripts
        )
    ):
        raise TranscriptFormatError("missing_text", "results.transcripts has no transcript text")
    text = " ".join(t["transcript"].strip() for t in transcripts).strip()
    words = _aws_words(results.get("items", []))
    language = _optional_str(results.get("language_code")) or _optional_str(
        document.get("languageCode")
    )
    return NormalisedTranscript(AWS_TRANSCRIBE, language, text, _aws_segments(results, words))


# ---------------------------------------------------------------- Whisper


def _parse_whisper(document: dict[str, Any]) -> NormalisedTranscript:
    text = document.get("text")
    if not isinstance(text, str):
        raise TranscriptFormatError("missing_text", "text is missing or not a string")
    raw_segments = document.get("segments", [])
    if not isinstance(raw_segments, list):
        raise TranscriptFormatError("bad_segment", "segments is not a list")
    segments = []
    for index, raw in enumerate(raw_segments):
        where = f"segments[{index}]"
        if not isinstance(raw, dict):
            raise TranscriptFormatError("bad_segment", f"{where} is not an object")
        start, end = _segment_span(
            _seconds(raw.get("start"), f"{where}.start"),
            _seconds(raw.get("end"), f"{where}.end"),
            where,
        )
        segment_text = raw.get("text")
        if not isinstance(segment_text, str):
            raise TranscriptFormatError("bad_segment", f"{where}.text is not a string")
        speaker = _optional_str(raw.get("speaker"))
        segments.append(Segment(start, end, speaker, segment_text.strip()))
    return NormalisedTranscript(
        WHISPER, _optional_str(document.get("language")), text.strip(), segments
    )


MAX_LANGUAGE = 16  # transcripts.language column width


def _storable(transcript: NormalisedTranscript) -> NormalisedTranscript:
    """Refuse what the warehouse cannot hold: NUL characters (PostgreSQL text), long languages."""
    if transcript.language is not None and len(transcript.language) > MAX_LANGUAGE:
        raise TranscriptFormatError("bad_language", f"language is longer than {MAX_LANGUAGE}")
    texts = [transcript.text, transcript.language or "", *(s.text for s in transcript.segments)]
    texts += [s.speaker for s in transcript.segments if s.speaker]
    if any("\x00" in text for text in texts):
        raise TranscriptFormatError("control_characters", "text contains NUL characters")
    return transcript


def parse_transcript(data: bytes) -> NormalisedTranscript:
    """Detect the engine from the document's shape and normalise it."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise TranscriptFormatError("not_json", "file is not UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise TranscriptFormatError("unknown_transcript_format", "top level is not an object")
    if "results" in document:
        return _storable(_parse_aws(document))
    if "segments" in document or "text" in document:
        return _storable(_parse_whisper(document))
    raise TranscriptFormatError(
        "unknown_transcript_format", "neither an AWS Transcribe result nor Whisper output"
    )
