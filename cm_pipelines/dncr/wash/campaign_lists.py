"""Campaign lists: the ``phone,contact_ref`` CSV files a tenant lands to be washed."""

from __future__ import annotations

import io
import posixpath

import pandas as pd
import pyarrow as pa

from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource

_CAMPAIGN_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class CampaignFileError(ValueError):
    """A campaign list could not be read; says what to fix, never quotes a number."""


def read_campaign_csv(data: bytes, source: str) -> pd.DataFrame:
    """``phone,contact_ref`` CSV as strings (type inference would drop leading zeros and '+')."""
    if not data.strip():
        return pd.DataFrame(
            {"phone": pd.Series([], dtype=object), "contact_ref": pd.Series([], dtype=object)}
        )
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, engine="pyarrow", keep_default_na=False)
    except (ValueError, pa.ArrowInvalid) as exc:
        raise CampaignFileError(f"{source}: not a readable CSV ({type(exc).__name__})") from exc
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    if "phone" not in frame.columns:
        raise CampaignFileError(f"{source}: header must name a 'phone' column (and 'contact_ref')")
    if "contact_ref" not in frame.columns:
        frame["contact_ref"] = ""
    return frame.loc[:, ["phone", "contact_ref"]].astype(object)


def campaigns_prefix(tenant_id: str) -> str:
    return posixpath.dirname(landing.campaign_file(tenant_id, "placeholder"))


def campaign_files(object_store: ObjectStoreResource, tenant: Tenant) -> list[tuple[str, str]]:
    """(campaign id, path) of every campaign list of a tenant."""
    found = []
    for item in object_store.list_files(campaigns_prefix(tenant.id)):
        name = posixpath.basename(item.path)
        if not name.lower().endswith(".csv"):
            continue
        found.append((name[: -len(".csv")], item.path))
    return found


def is_campaign_id(campaign_id: str) -> bool:
    """1-64 letters, digits, '-', '_' or '.': a campaign id names export paths."""
    return set(campaign_id) <= _CAMPAIGN_ID_CHARS and 1 <= len(campaign_id) <= 64
