"""Numbers as a campaign list gives them, made ready to wash: normalised to E.164 and hashed.

``phonenumbers`` parses about 16k numbers a second, so each distinct string is normalised and
hashed once, not each row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.phone_numbers import normalise_values


def prepare_numbers(raw_numbers: Sequence[str], country: str, hash_key: bytes) -> pd.DataFrame:
    """Campaign numbers as listed -> ``raw``, ``e164`` (None when invalid), ``e164_int`` (-1),
    ``e164_hash`` (keyed hash of the E.164, or of the stripped raw text when invalid).

    Each distinct string is normalised and hashed once.
    """
    raw = pd.Series(list(raw_numbers), dtype=object).fillna("")
    kinds, e164s, _ = normalise_values(raw.to_numpy(dtype=object), country)
    valid = kinds == "e164"
    e164 = np.array([v if ok else None for v, ok in zip(e164s, valid, strict=True)], dtype=object)
    identifiers = np.where(valid, e164s, [str(value).strip() for value in raw])
    codes, uniques = pd.factorize(pd.Series(identifiers, dtype=object))
    hashes = np.array([keyed_hash(str(value), hash_key) for value in uniques], dtype=object)
    as_int = np.array(
        [int(value[1:]) if value else -1 for value in np.where(valid, e164s, "")], dtype=np.int64
    )
    columns = {
        "raw": raw.to_numpy(dtype=object),
        "e164": e164,
        "e164_int": as_int,
        "e164_hash": hashes[codes] if len(codes) else np.empty(0, dtype=object),
    }
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=np.int64 if name == "e164_int" else object)
            for name, values in columns.items()
        }
    )
