from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest

from cm_pipelines.domain.ingestion.wav import WavFormatError, WavInfo, make_wav, read_wav_header


def _chunks(*chunks: tuple[bytes, bytes]) -> bytes:
    """A RIFF/WAVE file from (id, body) chunks, with pad bytes after odd-sized bodies."""
    body = b"".join(
        struct.pack("<4sI", chunk_id, len(data)) + data + (b"\x00" if len(data) % 2 else b"")
        for chunk_id, data in chunks
    )
    return struct.pack("<4sI4s", b"RIFF", 4 + len(body), b"WAVE") + body


def _fmt(channels: int = 1, rate: int = 8000, bits: int = 16, tag: int = 1) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


@pytest.mark.parametrize(("duration", "rate"), [(1.5, 8000), (0.25, 16000), (0.0, 8000)])
def test_make_wav_round_trips_and_the_stdlib_agrees(duration: float, rate: int) -> None:
    data = make_wav(duration, sample_rate=rate, seed=3)
    info = read_wav_header(data)
    assert info == WavInfo(rate, 1, 16, round(duration * rate), round(duration * rate) / rate)
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getframerate() == rate
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert reader.getnframes() == info.frames


def test_make_wav_is_deterministic_per_seed_and_not_silent() -> None:
    assert make_wav(0.5, seed=1) == make_wav(0.5, seed=1)
    assert make_wav(0.5, seed=1) != make_wav(0.5, seed=2)
    samples = np.frombuffer(make_wav(0.5, seed=1)[44:], dtype="<i2")
    assert samples.std() > 1000


def test_info_chunk_before_data_is_skipped() -> None:
    data = make_wav(1.0, seed=0, info_chunk=True)
    assert b"LIST" in data[:200]
    assert read_wav_header(data).frames == 8000
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnframes() == 8000


def test_odd_sized_chunks_are_padded_and_skipped() -> None:
    samples = b"\x01\x00" * 4000
    data = _chunks(
        (b"JUNK", b"abc"),  # odd size: one pad byte follows
        (b"fmt ", _fmt(channels=2)),
        (b"LIST", b"INFOISFT\x05\x00\x00\x00hello\x00"),
        (b"fact", struct.pack("<I", 2000)),
        (b"data", samples),
    )
    assert read_wav_header(data) == WavInfo(8000, 2, 16, 2000, 0.25)


def test_header_prefix_is_enough() -> None:
    data = make_wav(3.0, seed=0, info_chunk=True)
    data_chunk = data.index(b"data")
    info = read_wav_header(data[: data_chunk + 8])
    assert info.frames == 24000 and info.duration_s == 3.0


def test_unfinalised_data_size_means_to_end_of_bytes() -> None:
    data = _chunks((b"fmt ", _fmt()), (b"data", b"\x00" * 1600))
    header_end = data.index(b"data") + 4
    unfinalised = data[:header_end] + struct.pack("<I", 0xFFFFFFFF) + data[header_end + 4 :]
    assert read_wav_header(unfinalised).frames == 800


def test_other_pcm_like_formats_are_described() -> None:
    data = _chunks((b"fmt ", _fmt(bits=8, tag=7)), (b"data", b"\xff" * 8000))  # mu-law
    assert read_wav_header(data) == WavInfo(8000, 1, 8, 8000, 1.0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"RIFF\x00\x00", "truncated"),
        (b"OggS" + b"\x00" * 40, "not_riff"),
        (b"RF64" + b"\x00" * 40, "unsupported_format"),
        (struct.pack("<4sI4s", b"RIFF", 4, b"AVI ") + b"\x00" * 40, "not_wave"),
        (_chunks((b"data", b"\x00" * 10), (b"fmt ", _fmt())), "missing_fmt"),
        (_chunks((b"LIST", b"INFO")), "missing_fmt"),
        (_chunks((b"fmt ", _fmt())), "missing_data"),
        (_chunks((b"fmt ", _fmt()[:10]), (b"data", b"")), "bad_fmt"),
        (_chunks((b"fmt ", _fmt(channels=0)), (b"data", b"")), "bad_fmt"),
        (_chunks((b"fmt ", _fmt(tag=0x55)), (b"data", b"")), "unsupported_format"),
    ],
)
def test_refusals_carry_a_reason_code(data: bytes, reason: str) -> None:
    with pytest.raises(WavFormatError) as error:
        read_wav_header(data)
    assert error.value.reason_code == reason


def test_make_wav_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        make_wav(-1.0)
    with pytest.raises(ValueError):
        make_wav(1.0, sample_rate=0)
