"""The object store behaves the same on a local folder and on the S3 protocol."""

from __future__ import annotations

import pytest

from cm_pipelines.resources.object_store import ObjectStoreResource, UnsafeObjectPathError


def _roundtrip(store: ObjectStoreResource) -> None:
    store.write_bytes("landing/cdr/acme-au/2026-11-20/Master.csv", b"a,b\n")
    store.write_bytes("landing/cdr/acme-au/2026-11-21/Master.csv", b"c,d\n")
    assert store.read_bytes("landing/cdr/acme-au/2026-11-20/Master.csv") == b"a,b\n"
    assert store.exists("landing/cdr/acme-au/2026-11-20/Master.csv")
    listed = store.list_files("landing/cdr/acme-au")
    assert [item.path for item in listed] == [
        "landing/cdr/acme-au/2026-11-20/Master.csv",
        "landing/cdr/acme-au/2026-11-21/Master.csv",
    ]
    assert [item.size for item in listed] == [4, 4]
    assert store.list_files("landing/nothing-here") == []
    store.delete(["landing/cdr/acme-au/2026-11-20/Master.csv"])
    assert not store.exists("landing/cdr/acme-au/2026-11-20/Master.csv")


def test_local_folder_roundtrip(local_store: ObjectStoreResource) -> None:
    _roundtrip(local_store)


@pytest.mark.integration
def test_s3_protocol_roundtrip(s3_store: ObjectStoreResource) -> None:
    _roundtrip(s3_store)


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "landing/../../x", "/abs/path", "landing//x", "a\x00b", "s3://b/k", "a\\b"],
)
def test_paths_that_leave_the_root_are_refused(local_store: ObjectStoreResource, path: str) -> None:
    with pytest.raises(UnsafeObjectPathError):
        local_store.write_bytes(path, b"x")


def _folders(store: ObjectStoreResource) -> None:
    store.write_bytes("landing/cdr/acme-au/2026-11-20/Master.csv", b"x")
    store.write_bytes("landing/cdr/zeta-xx/2026-11-20/Master.csv", b"x")
    store.write_bytes("landing/cdr/top-level-file.csv", b"x")
    assert store.list_folders("landing/cdr") == ["acme-au", "zeta-xx"]
    assert store.list_folders("landing/cdr/acme-au") == ["2026-11-20"]
    assert store.list_folders("landing/nothing") == []


def test_local_folder_lists_one_level_of_folders(local_store: ObjectStoreResource) -> None:
    _folders(local_store)


@pytest.mark.integration
def test_s3_protocol_lists_one_level_of_folders(s3_store: ObjectStoreResource) -> None:
    _folders(s3_store)
