"""Content hashes: of bytes (files, Parquet) and of number arrays (a version's identity)."""

from __future__ import annotations

import hashlib

import numpy as np


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(*arrays: np.ndarray, header: str = "") -> str:
    """sha256 over a header and the arrays' little-endian bytes: equal content, equal hash."""
    digest = hashlib.sha256(header.encode("utf-8"))
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        if contiguous.dtype.byteorder == ">":
            contiguous = contiguous.byteswap()
        digest.update(str(contiguous.dtype.str).encode())
        digest.update(memoryview(contiguous.view(np.uint8)))  # type: ignore[arg-type]
    return digest.hexdigest()
