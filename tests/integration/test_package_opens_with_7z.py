"""An access package opens with 7-Zip and its passphrase (the requester's tool, not ours):
the cover page states GDPR Art. 15(1), the data is there as CSV and JSON, the recordings
too, and the manifest's digests match what 7-Zip extracted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cm_pipelines.domain.dsar.cover_page import MASKED, NOT_MASKED
from cm_pipelines.tables.dsar import dsar_exports
from tests.dsar.dsar_helpers import build_template, copy_platform, rows, run, subject, submit

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def seven_zip() -> str:
    found = shutil.which("7z")
    if found is None:
        message = "7z is not installed (Debian: apt-get install -y p7zip-full)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: this test must not skip")
        pytest.skip(message)
    return found


def _7z(seven_zip: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [seven_zip, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_requester_opens_the_package_with_7z_and_the_passphrase(tmp_path, seven_zip) -> None:
    database, storage, world = build_template(tmp_path / "template", calls=40)
    resources = copy_platform(database, storage, tmp_path / "platform")
    person = subject(world, "delta-gb")
    request_id = submit(
        resources, "delta-gb", "access", [("phone", person["e164"]), ("email", person["email"])]
    )
    outcome = run(resources, request_id)
    assert outcome.success, outcome.failure_messages()
    [export] = rows(resources, dsar_exports, request_id=request_id)
    assert export["object_path"].endswith(".zip") and export["encryption"] == "zip-aes-256/1"
    package = tmp_path / "package.zip"
    package.write_bytes(resources["object_store"].read_bytes(export["object_path"]))
    passphrase = outcome.key.hex()

    wrong = _7z(seven_zip, "t", f"-p{'0' * 64}", str(package))
    assert wrong.returncode != 0  # 7-Zip itself refuses the wrong passphrase
    listing = _7z(seven_zip, "l", "-slt", f"-p{passphrase}", str(package))
    assert "Method = AES-256" in listing.stdout, listing.stdout[-2000:]
    assert "start with index.html" in listing.stdout  # the archive comment, readable unopened
    out = tmp_path / "opened"
    opened = _7z(seven_zip, "x", f"-p{passphrase}", f"-o{out}", "-y", str(package))
    assert opened.returncode == 0, opened.stdout[-2000:] + opened.stderr[-2000:]

    cover = (out / "index.html").read_text(encoding="utf-8")
    for heading in (
        "Why your data is processed",  # Art. 15(1)(a) purposes
        "What data (categories)",  # (b)
        "Who receives it",  # (c) recipients
        "How long it is kept",  # (d) retention
        "Where it came from",  # (g) source
        "Automated processing",  # (h)
        "Your rights",  # (e), (f)
    ):
        assert heading in cover, heading
    assert "Delta Legal LLP" in cover and request_id in cover
    assert "supervisory authority" in cover and "<script" not in cover
    for statement in (*MASKED, *NOT_MASKED):
        assert statement.replace("'", "&#x27;") in cover
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "index.html" in readme and NOT_MASKED[0] in readme

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["request_id"] == request_id
    extracted = {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()} - {
        "manifest.json"
    }
    assert extracted == {entry["path"] for entry in manifest["files"]}
    for entry in manifest["files"]:
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    assert (out / "data" / "calls.csv").exists() and (out / "data" / "calls.json").exists()
    assert any(Path(name).suffix == ".wav" for name in extracted)
