"""RIFF/WAVE headers read chunk by chunk, and small valid recordings for tests and the generator.

Only the bytes up to the ``data`` chunk header are needed, so a caller can pass the first few
kilobytes of a large recording (a ranged read) and still learn its duration.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_RIFF_HEADER = struct.Struct("<4sI4s")
_CHUNK_HEADER = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")
_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_ALAW = 0x0006
_MULAW = 0x0007
_EXTENSIBLE = 0xFFFE
_KNOWN_FORMATS = frozenset({_PCM, _IEEE_FLOAT, _ALAW, _MULAW, _EXTENSIBLE})
_UNKNOWN_SIZE = 0xFFFFFFFF


class WavFormatError(ValueError):
    """A recording is not a WAV file we can describe; ``reason_code`` goes to quarantine."""

    def __init__(self, reason_code: str, detail: str):
        self.reason_code = reason_code
        self.detail = detail
        super().__init__(f"{reason_code}: {detail}")


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    bits_per_sample: int
    frames: int
    duration_s: float


def read_wav_header(data: bytes) -> WavInfo:
    """Walk the RIFF chunks (skipping LIST, fact, cue...) to ``fmt `` and ``data``.

    A ``data`` size of 0xFFFFFFFF (written by a recorder that never finalised the header) is
    taken as "to the end of the bytes given".
    """
    if len(data) < _RIFF_HEADER.size:
        raise WavFormatError("truncated", "shorter than a RIFF header")
    riff, _, wave = _RIFF_HEADER.unpack_from(data, 0)
    if riff != b"RIFF":
        reason = "unsupported_format" if riff in (b"RF64", b"RIFX") else "not_riff"
        raise WavFormatError(reason, "file does not start with a little-endian RIFF header")
    if wave != b"WAVE":
        raise WavFormatError("not_wave", "RIFF form type is not WAVE")
    offset = _RIFF_HEADER.size
    fmt: tuple[int, int, int, int, int, int] | None = None
    while True:
        if offset + _CHUNK_HEADER.size > len(data):
            missing = "fmt" if fmt is None else "data"
            raise WavFormatError(f"missing_{missing}", f"no '{missing}' chunk before end of file")
        chunk_id, size = _CHUNK_HEADER.unpack_from(data, offset)
        body = offset + _CHUNK_HEADER.size
        if chunk_id == b"fmt ":
            if size < _FMT.size or body + _FMT.size > len(data):
                raise WavFormatError("bad_fmt", f"fmt chunk at byte {offset} is too short")
            fmt = _FMT.unpack_from(data, body)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavFormatError("missing_fmt", "data chunk comes before any fmt chunk")
            data_size = len(data) - body if size == _UNKNOWN_SIZE else size
            return _describe(fmt, data_size)
        offset = body + size + (size & 1)  # chunks are padded to an even length


def _describe(fmt: tuple[int, int, int, int, int, int], data_size: int) -> WavInfo:
    audio_format, channels, sample_rate, _, block_align, bits = fmt
    if audio_format not in _KNOWN_FORMATS:
        raise WavFormatError("unsupported_format", f"audio format tag {audio_format} is not PCM")
    if channels == 0 or sample_rate == 0 or block_align == 0 or bits == 0:
        raise WavFormatError("bad_fmt", "fmt chunk has a zero channel count, rate or block size")
    frames = data_size // block_align
    return WavInfo(sample_rate, channels, bits, frames, frames / sample_rate)


def make_wav(
    duration_s: float, sample_rate: int = 8000, seed: int = 0, *, info_chunk: bool = False
) -> bytes:
    """A mono PCM16 WAV: a quiet tone plus noise, deterministic for a given seed.

    ``info_chunk`` adds a LIST/INFO chunk before ``data``, as many recorders write.
    """
    if duration_s < 0 or sample_rate <= 0:
        raise ValueError("duration must be >= 0 and sample rate > 0")
    frames = round(duration_s * sample_rate)
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / sample_rate
    tone = 0.2 * np.sin(2 * np.pi * (300 + 100 * rng.random()) * t)
    noise = 0.02 * rng.standard_normal(frames)
    samples = (np.clip(tone + noise, -1, 1) * 32767).astype("<i2").tobytes()
    fmt = _FMT.pack(_PCM, 1, sample_rate, sample_rate * 2, 2, 16)
    chunks = _CHUNK_HEADER.pack(b"fmt ", len(fmt)) + fmt
    if info_chunk:
        software = b"cm-pipelines\x00"  # odd length: exercises the pad byte
        info = b"INFO" + _CHUNK_HEADER.pack(b"ISFT", len(software)) + software + b"\x00"
        chunks += _CHUNK_HEADER.pack(b"LIST", len(info)) + info
    chunks += _CHUNK_HEADER.pack(b"data", len(samples)) + samples
    return _RIFF_HEADER.pack(b"RIFF", 4 + len(chunks), b"WAVE") + chunks
