"""Byte-exact renderers for the landing-zone formats (see ``/work/shared/samples``).

Everything here is deterministic: zip entries carry a fixed timestamp, JSON keeps insertion order,
CSV ends lines with ``\\n``, and all randomness comes from the generator passed in.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np

_TOKEN = re.compile(r"[^\s,.?!]+(?:[.@][^\s,.?!]+)*|[,.?!]")


def cdr_quote(value: str) -> str:
    """A cdr_csv string field: always quoted, inner quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file with a header row, minimal quoting and ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def zip_bytes(member_name: str, content: bytes, stamp: date) -> bytes:
    """A one-member deflated zip whose bytes depend only on its arguments."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(member_name, date_time=(stamp.year, stamp.month, stamp.day, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, content)
    return buffer.getvalue()


def ftc_lines(area_code: str, subscriber_numbers: Iterable[str]) -> bytes:
    """FTC flat-file body: ``areacode,number`` per line, numbers sorted."""
    return "".join(f"{area_code},{number}\n" for number in sorted(subscriber_numbers)).encode()


Turn = tuple[int, str]
"""(speaker index, what they said)."""


def _timed_tokens(
    turns: Sequence[Turn], duration_s: float, rng: np.random.Generator
) -> list[list[tuple[str, float, float]]]:
    """Per turn, its tokens with start/end seconds (punctuation gets -1) spread over the call."""
    tokenised = [_TOKEN.findall(text) for _, text in turns]
    words = sum(1 for tokens in tokenised for token in tokens if token not in ",.?!")
    step = min(0.45, max(duration_s - 0.5, 1.0) / max(words + 2 * len(turns), 1))
    clock = float(rng.uniform(0.02, 0.3))
    timed: list[list[tuple[str, float, float]]] = []
    for tokens in tokenised:
        current = []
        for token in tokens:
            if token in ",.?!":
                current.append((token, -1.0, -1.0))
                continue
            length = step * float(rng.uniform(0.6, 1.0))
            current.append((token, clock, clock + length))
            clock += step
        timed.append(current)
        clock += step * 2
    return timed


def _seconds(value: float) -> str:
    return f"{value:.2f}"


def aws_transcribe_json(
    job_name: str, turns: Sequence[Turn], duration_s: float, rng: np.random.Generator
) -> bytes:
    """An AWS Transcribe job result with speaker labels, items and the full transcript."""
    timed = _timed_tokens(turns, duration_s, rng)
    items: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for (speaker, _), tokens in zip(turns, timed, strict=True):
        label = f"spk_{speaker}"
        spoken = [(token, start, end) for token, start, end in tokens if start >= 0]
        if spoken:
            segments.append(
                {
                    "start_time": _seconds(spoken[0][1]),
                    "end_time": _seconds(spoken[-1][2]),
                    "speaker_label": label,
                    "items": [
                        {
                            "start_time": _seconds(start),
                            "end_time": _seconds(end),
                            "speaker_label": label,
                        }
                        for _, start, end in spoken
                    ],
                }
            )
        for token, start, end in tokens:
            if start < 0:
                items.append(
                    {
                        "alternatives": [{"confidence": "0.0", "content": token}],
                        "type": "punctuation",
                    }
                )
            else:
                confidence = f"{float(rng.uniform(0.86, 1.0)):.3f}"
                items.append(
                    {
                        "start_time": _seconds(start),
                        "end_time": _seconds(end),
                        "alternatives": [{"confidence": confidence, "content": token}],
                        "type": "pronunciation",
                    }
                )
    document = {
        "jobName": job_name,
        "accountId": "000000000000",
        "status": "COMPLETED",
        "results": {
            "transcripts": [{"transcript": " ".join(text for _, text in turns)}],
            "speaker_labels": {
                "channel_label": "ch_0",
                "speakers": len({speaker for speaker, _ in turns}),
                "segments": segments,
            },
            "items": items,
        },
    }
    return json_bytes(document)


def whisper_json(turns: Sequence[Turn], duration_s: float, rng: np.random.Generator) -> bytes:
    """Whisper's JSON output: full text plus one segment per utterance."""
    timed = _timed_tokens(turns, duration_s, rng)
    segments = []
    seek = 0
    for index, ((_, text), tokens) in enumerate(zip(turns, timed, strict=True)):
        spoken = [(start, end) for _, start, end in tokens if start >= 0]
        start, end = (spoken[0][0], spoken[-1][1]) if spoken else (0.0, 0.0)
        segments.append(
            {
                "id": index,
                "seek": seek,
                "start": round(start, 2),
                "end": round(end, 2),
                "text": f" {text}",
                "tokens": rng.integers(50000, 51000, 1).tolist()
                + rng.integers(200, 20000, min(len(tokens), 12)).tolist(),
                "temperature": 0.0,
                "avg_logprob": round(float(rng.uniform(-0.4, -0.1)), 2),
                "compression_ratio": round(float(rng.uniform(1.1, 1.6)), 2),
                "no_speech_prob": round(float(rng.uniform(0.0, 0.05)), 2),
            }
        )
        if end >= (seek / 100) + 30:
            seek = int(end * 100)
    document = {
        "text": "".join(f" {text}" for _, text in turns),
        "segments": segments,
        "language": "en",
    }
    return json_bytes(document)


def ai_output_json(call_id: str, kind: str, model: str, created_at: str, text: str) -> bytes:
    """A summary or receptionist note produced from a call's transcript."""
    return json_bytes(
        {"call_id": call_id, "kind": kind, "model": model, "created_at": created_at, "text": text}
    )
