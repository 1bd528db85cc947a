"""The operator's day: ``cm dsar run`` refusals in one line, the queue, refusals with a reason
code, the CCPA acknowledgement and its check, and lifting a restriction.

Rules first (``domain.dsar.operator``), then the commands through ``cm`` on a temporary
platform, capturing everything written to the terminal (click's streams and the process's file
descriptors) to assert that no traceback reaches an operator.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.cli.main import cm
from cm_pipelines.domain.dsar import operator
from cm_pipelines.dsar.assets import dsar_sla
from cm_pipelines.dsar.checks import dsar_acknowledged_in_time
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import dsar_erasure_outbox, dsar_requests, restrictions
from tests.dsar.dsar_helpers import (
    add_number_records,
    build_template,
    copy_platform,
    rows,
    run,
    subject,
    submit,
)

# ------------------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", "verify it first (cm dsar verify dsar-x"),
        ("refused", "was refused"),
        ("completed", "already completed; see its result with cm dsar status dsar-x"),
        ("verified", None),
        ("in_progress", None),
    ],
)
def test_which_states_may_run(state, expected) -> None:
    refusal = operator.run_refusal("dsar-x", state)
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and expected in refusal and "\n" not in refusal


def test_refusal_rules() -> None:
    assert operator.check_refusal("r", "pending", operator.IDENTITY_NOT_CONFIRMED, None) == ""
    assert (
        operator.check_refusal("r", "verified", operator.MANIFESTLY_EXCESSIVE, "  fifth\n  time ")
        == "fifth time"
    )
    with pytest.raises(operator.DecisionRefused, match="identity was confirmed"):
        operator.check_refusal("r", "verified", operator.IDENTITY_NOT_CONFIRMED, None)
    with pytest.raises(operator.DecisionRefused, match="cannot be refused midway"):
        operator.check_refusal("r", "in_progress", operator.MANIFESTLY_UNFOUNDED, None)
    with pytest.raises(operator.DecisionRefused, match="already completed"):
        operator.check_refusal("r", "completed", operator.MANIFESTLY_UNFOUNDED, None)
    with pytest.raises(operator.DecisionRefused, match="must be one of"):
        operator.check_refusal("r", "pending", "because", None)
    with pytest.raises(operator.DecisionRefused, match="printable"):
        operator.check_refusal("r", "pending", operator.MANIFESTLY_UNFOUNDED, "a\x1b[2Jb")
    with pytest.raises(operator.DecisionRefused, match="at most 500"):
        operator.check_refusal("r", "pending", operator.MANIFESTLY_UNFOUNDED, "x" * 501)


def test_lift_rules() -> None:
    operator.check_lift("r", "restriction", "completed", 2, True)
    with pytest.raises(operator.DecisionRefused, match="of type erasure"):
        operator.check_lift("r", "erasure", "completed", 2, True)
    with pytest.raises(operator.DecisionRefused, match="once its request completed"):
        operator.check_lift("r", "restriction", "in_progress", 2, True)
    with pytest.raises(operator.DecisionRefused, match="already lifted"):
        operator.check_lift("r", "restriction", "completed", 0, True)
    with pytest.raises(operator.DecisionRefused, match="Art. 18"):
        operator.check_lift("r", "restriction", "completed", 2, False)


def test_acknowledgement_status_and_rules() -> None:
    due = date(2026, 11, 16)
    assert operator.acknowledgement_status(None, None, date(2027, 1, 1)) == "not_required"
    assert operator.acknowledgement_status(due, None, due) == "due"
    assert operator.acknowledgement_status(due, None, due + timedelta(days=1)) == "overdue"
    assert operator.acknowledgement_status(due, due, date(2027, 1, 1)) == "acknowledged"
    assert operator.acknowledgement_status(due, due + timedelta(days=1), due) == "acknowledged_late"
    received = date(2026, 11, 1)
    operator.check_acknowledgement("r", "pending", received, None, received)
    with pytest.raises(operator.DecisionRefused, match="already acknowledged on 2026-11-02"):
        operator.check_acknowledgement("r", "pending", received, date(2026, 11, 2), received)
    with pytest.raises(operator.DecisionRefused, match="before the request arrived"):
        operator.check_acknowledgement("r", "verified", received, None, date(2026, 10, 31))
    with pytest.raises(operator.DecisionRefused, match="only an open request"):
        operator.check_acknowledgement("r", "refused", received, None, received)


def _entry(request_id: str, state: str, due: date, today: date) -> operator.QueueEntry:
    return operator.QueueEntry(
        request_id, "t", "access", "gdpr", state, due - timedelta(days=30), due, False, None,
        None, today,
    )  # fmt: skip


def test_queue_puts_overdue_first_and_closed_last() -> None:
    today = date(2026, 12, 3)
    late = _entry("b", "verified", date(2026, 12, 1), today)
    soon = _entry("a", "pending", date(2026, 12, 10), today)
    done = _entry("c", "completed", date(2026, 11, 1), today)
    ordered = operator.queue_order([soon, done, late])
    assert [e.request_id for e in ordered] == ["b", "a", "c"]
    assert late.overdue and late.days_left == -2 and done.days_left is None and not done.overdue


# ------------------------------------------------------------------------------ commands


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("dsar_operator_template"), calls=60)


@pytest.fixture
def platform(template, tmp_path, monkeypatch):
    database, storage, _ = template
    resources = copy_platform(database, storage, tmp_path / "platform")
    monkeypatch.setenv("CM_WAREHOUSE_URL", resources["warehouse"].url)
    monkeypatch.setenv("CM_STORAGE_URL", resources["object_store"].url)
    return resources


def _cm(capfd, *args: str):
    """``cm ARGS`` with everything it wrote: click's output and the process's fds."""
    capfd.readouterr()  # what the test itself printed before (a materialize) is not cm's
    result = CliRunner().invoke(cm, list(args))
    captured = capfd.readouterr()
    text = result.output + captured.out + captured.err
    return result, text


def _assert_one_line_refusal(result, text: str, expected: str) -> None:
    assert result.exit_code == 1, text
    assert "Traceback" not in text and "Stack Trace" not in text and "STEP_FAILURE" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: ") and expected in lines[0]


def test_run_refuses_in_one_line_for_every_expected_refusal(platform, capfd) -> None:
    pending = submit(platform, "acme-au", "access", [("email", "p@example.com")], verify=False)
    result, text = _cm(capfd, "dsar", "run", pending, "--actor", "priya")
    _assert_one_line_refusal(result, text, f"cm dsar verify {pending}")
    assert rows(platform, dsar_requests, request_id=pending)[0]["state"] == "pending"
    refused_runs = [r for r in rows(platform, audit_log) if r["action"] == "dsar.run.refused"]
    assert len(refused_runs) == 1 and refused_runs[0]["actor"] == "cli:priya"

    result, text = _cm(capfd, "dsar", "run", "dsar-00000000000000000000", "--actor", "priya")
    _assert_one_line_refusal(result, text, "check the id (cm dsar list)")
    result, text = _cm(capfd, "dsar", "run", "not-an-id", "--actor", "priya")
    _assert_one_line_refusal(result, text, "dsar- followed by 20 hex digits")
    result, text = _cm(capfd, "dsar", "run", pending, "--actor", "sam")
    _assert_one_line_refusal(result, text, "needs a privacy officer")

    refused = submit(platform, "acme-au", "access", [("email", "r@example.com")])
    assert _cm(capfd, "dsar", "refuse", refused, "--reason", "manifestly_unfounded",
               "--actor", "priya")[0].exit_code == 0  # fmt: skip
    result, text = _cm(capfd, "dsar", "run", refused, "--actor", "priya")
    _assert_one_line_refusal(result, text, "was refused")

    done = submit(platform, "acme-au", "access", [("email", "nobody@example.com")])
    assert _cm(capfd, "dsar", "run", done, "--actor", "priya")[0].exit_code == 0
    result, text = _cm(capfd, "dsar", "run", done, "--actor", "priya")
    _assert_one_line_refusal(result, text, "already completed")

    # refused inside the run (the tenant went out of the configuration): the job's own reason
    gone = submit(platform, "acme-au", "access", [("email", "g@example.com")])
    with platform["warehouse"].begin() as connection:
        connection.execute(
            sa.update(dsar_requests)
            .where(dsar_requests.c.request_id == gone)
            .values(tenant_id="gone-tenant")
        )
    result, text = _cm(capfd, "dsar", "run", gone, "--actor", "priya")
    _assert_one_line_refusal(result, text, "tenant gone-tenant of this request is no longer")
    assert "dagster._core" not in text and f"request {gone} is verified; run " in text


def test_list_shows_the_queue_with_days_left_and_no_identifier(platform, capfd) -> None:
    now = datetime.now(UTC)
    late = submit(
        platform, "delta-gb", "access", [("email", "late@example.com")],
        received_at=(now - timedelta(days=50)).isoformat(),
    )  # fmt: skip
    ccpa = submit(
        platform, "beta-us", "erasure", [("phone", "+14155550123")], verify=False,
        received_at=(now - timedelta(days=20)).isoformat(),
    )  # fmt: skip
    closed = submit(platform, "acme-au", "access", [("email", "z@example.com")], verify=False)
    assert _cm(capfd, "dsar", "refuse", closed, "--reason", "identity_not_confirmed",
               "--actor", "priya")[0].exit_code == 0  # fmt: skip

    result, text = _cm(capfd, "dsar", "list")
    assert result.exit_code == 0, text
    assert text.index(late) < text.index(ccpa) and closed not in text
    late_line = next(line for line in text.splitlines() if late in line)
    assert "OVERDUE" in late_line and "delta-gb" in late_line
    ccpa_line = next(line for line in text.splitlines() if ccpa in line)
    assert "OVERDUE 20" in ccpa_line  # the 10-business-day acknowledgement was missed
    for raw in ("late@example.com", "+14155550123", "4155550123", "z@example.com"):
        assert raw not in text

    result, text = _cm(capfd, "dsar", "list", "--json", "--overdue")
    assert [json.loads(line)["request_id"] for line in text.splitlines()] == [late]
    body = json.loads(text)
    assert body["days_left"] < 0 and body["overdue"] and body["state"] == "verified"

    result, text = _cm(capfd, "dsar", "list", "--tenant", "beta-us", "--json")
    assert [json.loads(line)["acknowledgement"] for line in text.splitlines()] == ["overdue"]
    result, text = _cm(capfd, "dsar", "list", "--state", "refused")
    assert closed in text and late not in text
    result, text = _cm(capfd, "dsar", "list", "--tenant", "nope")
    assert result.exit_code == 1 and "unknown tenant" in text


def test_refuse_is_audited_with_its_code_and_keeps_the_note_out_of_the_audit(
    platform, capfd
) -> None:
    request_id = submit(platform, "acme-au", "erasure", [("email", "x@example.com")])
    result, text = _cm(
        capfd, "dsar", "refuse", request_id, "--reason", "identity_not_confirmed",
        "--actor", "priya",
    )  # fmt: skip
    _assert_one_line_refusal(result, text, "identity was confirmed")
    note = "fifth identical request in two weeks"
    result, text = _cm(
        capfd, "dsar", "refuse", request_id, "--reason", "manifestly_excessive", "--note", note,
        "--actor", "priya",
    )  # fmt: skip
    assert result.exit_code == 0 and "Art. 12(5)" in text and "complain" in text
    [request] = rows(platform, dsar_requests, request_id=request_id)
    assert request["state"] == "refused" and request["refusal_code"] == "manifestly_excessive"
    assert request["refusal_reason"] == note and request["refused_by"] == "cli:priya"
    [entry] = [r for r in rows(platform, audit_log) if r["action"] == "dsar.refuse"]
    assert entry["details"]["code"] == "manifestly_excessive" and note not in json.dumps(
        entry, default=str
    )
    result, text = _cm(capfd, "dsar", "refuse", request_id, "--reason", "manifestly_unfounded",
                       "--actor", "priya")  # fmt: skip
    _assert_one_line_refusal(result, text, "already refused")


def test_acknowledgement_is_tracked_and_checked(platform, capfd) -> None:
    now = datetime.now(UTC)
    missed = submit(
        platform, "beta-us", "access", [("email", "m@example.com")], verify=False,
        received_at=(now - timedelta(days=30)).isoformat(),
    )  # fmt: skip
    fresh = submit(platform, "beta-us", "access", [("email", "f@example.com")], verify=False)
    submit(platform, "acme-au", "access", [("email", "au@example.com")], verify=False)
    result = dg.materialize(
        [dsar_sla, dsar_acknowledged_in_time], resources=platform, raise_on_error=False
    )
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["unacknowledged_request_ids"].value == [missed]
    assert check.metadata["acknowledgement_due"].value == 1
    [materialization] = result.asset_materializations_for_node("dsar_sla")
    assert materialization.metadata["unacknowledged_overdue"].value == 1

    result, text = _cm(capfd, "dsar", "acknowledge", missed, "--on", "2999-01-01", "--actor", "sam")
    _assert_one_line_refusal(result, text, "lies in the future")
    result, text = _cm(capfd, "dsar", "acknowledge", missed, "--actor", "avery")
    _assert_one_line_refusal(result, text, "may not dsar.acknowledge")
    result, text = _cm(capfd, "dsar", "acknowledge", missed, "--actor", "sam")
    assert result.exit_code == 0 and "LATE" in text, text
    result, text = _cm(capfd, "dsar", "acknowledge", fresh, "--actor", "sam")
    assert result.exit_code == 0 and "LATE" not in text
    result, text = _cm(capfd, "dsar", "acknowledge", fresh, "--actor", "sam")
    _assert_one_line_refusal(result, text, "already acknowledged on")
    [request] = rows(platform, dsar_requests, request_id=missed)
    assert request["acknowledged_by"] == "cli:sam" and request["acknowledged_on"]
    entries = [r for r in rows(platform, audit_log) if r["action"] == "dsar.acknowledge"]
    assert [e["details"]["status"] for e in entries] == ["acknowledged_late", "acknowledged"]

    result = dg.materialize([dsar_sla, dsar_acknowledged_in_time], resources=platform)
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["acknowledged_late"].value == 1


def _restricted(platform, table: sa.Table, ids: list) -> list:
    with platform["warehouse"].connect() as connection:
        return [
            row[0]
            for row in connection.execute(
                sa.select(table.c.restricted_at).where(table.c.id.in_(ids)).order_by(table.c.id)
            )
        ]


def test_lift_ends_a_restriction_except_where_another_one_holds(platform, template, capfd) -> None:
    person = subject(template[2], "beta-us")
    records = add_number_records(platform, "beta-us", person["e164"])
    first = submit(platform, "beta-us", "restriction", [("phone", person["e164"])])
    assert run(platform, first).success
    second = submit(platform, "beta-us", "restriction", [("email", person["email"])])
    assert run(platform, second).success
    links = rows(platform, call_tables.crm_links, contact_email=person["email"])
    assert links and all(link["restricted_at"] for link in links)

    result, text = _cm(capfd, "dsar", "lift", first, "--reason", "accuracy verified",
                       "--actor", "priya")  # fmt: skip
    _assert_one_line_refusal(result, text, "--subject-informed")
    result, text = _cm(capfd, "dsar", "lift", first, "--reason", "accuracy verified",
                       "--subject-informed", "--actor", "priya")  # fmt: skip
    assert result.exit_code == 0, text
    assert person["e164"] not in text and person["email"] not in text
    lifted = rows(platform, restrictions, dsar_request_id=first)
    assert lifted and all(entry["lifted_at"] for entry in lifted)
    assert all(entry["lifted_at"] is None for entry in rows(platform, restrictions,
                                                            dsar_request_id=second))  # fmt: skip
    # the number's consent and wash result were only covered by the first request
    assert _restricted(platform, dncr.consents, [records["consents"]]) == [None]
    assert _restricted(platform, dncr.wash_results, [records["wash_results"]]) == [None]
    # links found by both (phone and email) stay restricted under the second request
    assert all(link["restricted_at"] for link in rows(
        platform, call_tables.crm_links, contact_email=person["email"]))  # fmt: skip
    tasks = {t["request_id"]: t["status"] for t in rows(platform, dsar_erasure_outbox)}
    assert tasks.get(first) in (None, "withdrawn") and tasks.get(second) == "pending"
    [entry] = [r for r in rows(platform, audit_log) if r["action"] == "dsar.restriction.lift"]
    assert entry["details"]["subject_informed"] is True and entry["actor"] == "cli:priya"

    result, text = _cm(capfd, "dsar", "lift", first, "--reason", "again", "--subject-informed",
                       "--actor", "priya")  # fmt: skip
    _assert_one_line_refusal(result, text, "already lifted")
