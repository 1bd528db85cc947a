"""Carrying out a verified request, one logged step at a time, so a killed run resumes.

Steps: ``locate`` (find, plan, persist the plan), the type's execution steps (``export``;
``erase.<store>`` per store; ``restrict``; ``rectify``; ``suppress``; ``revoke``), ``verify``
and ``complete``. A step's effect and its step-log row commit together where they are
warehouse changes; object-store changes happen first and are idempotent (deleting what is
already gone, blanking a blank line, redacting a redacted text), so a re-run repeats at most
the step it was killed in and ends in the same state.

Nothing here logs or returns a personal value: results are ids, counts, hashes and paths.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.export_package import (
    ENCRYPTION,
    PackageContent,
    PackageFile,
    build_package,
    encrypt_package,
    mask_call_row,
    mask_segments,
    mask_text,
    sha256_hex,
)
from cm_pipelines.domain.dsar.planning import LocatedItem, PlannedAction, Subject
from cm_pipelines.domain.dsar.redaction import (
    redact_subject_document,
    redact_subject_text,
    subject_matches,
)
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar.fulfil import step_log
from cm_pipelines.dsar.locate import locate, subject_for
from cm_pipelines.dsar.request_changes import (
    ACTOR_PIPELINE,
    erase_request_identifiers,
    set_state,
)
from cm_pipelines.dsar.request_records import DsarError, RequestRecord, load_request
from cm_pipelines.platform import landing
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_purge import purge_objects, still_present
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables.dsar import (
    dsar_certificates,
    dsar_erasure_outbox,
    dsar_exports,
    dsar_plan_items,
    dsar_steps,
    restrictions,
)
from cm_pipelines.tables.retention import legal_holds

DEFAULT_EXPORT_TTL_DAYS = 30
EXPORT_COLUMNS: dict[str, tuple[sa.Table, tuple[str, ...]]] = {
    planning.CRM_LINKS: (
        call_tables.crm_links,
        (
            "call_id",
            "crm_system",
            "crm_record_id",
            "contact_e164",
            "contact_email",
            "restricted_at",
        ),
    ),
    planning.CONSENTS: (
        dncr_tables.consents,
        ("e164", "kind", "recorded_at", "expires_at", "source", "revoked_at", "restricted_at"),
    ),
    planning.WASH_RESULTS: (
        dncr_tables.wash_results,
        ("campaign_id", "e164", "decision", "reason", "registry_id", "registry_version")
        + ("evidence_date", "washed_at"),
    ),
    planning.BLOCKED_CALLS: (
        dncr_tables.blocked_calls,
        ("campaign_id", "reason", "rule", "registry_id", "registry_version", "evidence_date")
        + ("decided_at",),
    ),
    planning.SUPPRESSION: (
        dncr_tables.suppression_entries,
        ("e164", "source", "created_at", "removed_at"),
    ),
    planning.RESTRICTIONS: (restrictions, ("identifier_kind", "created_at", "lifted_at")),
}
"""Columns exported for the simple categories (raw numbers here are the subject's own)."""
ID_CHUNK = 500
VERIFY_ROUNDS = 2


class FulfilmentError(DsarError):
    """A step could not complete; the request stays in progress and a re-run resumes it."""


@dataclass
class StepReport:
    """What a run did, for op metadata and the CLI: ids, counts, hashes and paths only."""

    steps_run: list[str] = field(default_factory=list)
    steps_skipped: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    result_path: str | None = None
    key_delivery: str | None = None


@dataclass
class Fulfilment:
    warehouse: WarehouseResource
    object_store: ObjectStoreResource
    tenant: Tenant
    request_id: str
    hash_key: bytes
    run_id: str | None = None
    export_ttl_days: int = DEFAULT_EXPORT_TTL_DAYS
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    report: StepReport = field(default_factory=StepReport)

    # ------------------------------------------------------------ shared helpers

    def record(self) -> RequestRecord:
        with self.warehouse.connect() as connection:
            return load_request(connection, self.request_id)

    def subject(self, record: RequestRecord | None = None) -> Subject:
        record = record or self.record()
        return subject_for(record.identifiers, self.tenant, self.hash_key)

    def hash_number(self, value: str) -> str:
        return keyed_hash(value, self.hash_key)

    def _done(self, connection: sa.Connection, step: str) -> dict[str, Any] | None:
        return step_log.step_done(connection, self.request_id, step)

    def _finish(self, connection: sa.Connection, step: str, details: Mapping[str, Any]) -> None:
        step_log.record_step(
            connection,
            self.request_id,
            step,
            tenant_id=self.tenant.id,
            details=details,
            run_id=self.run_id,
            now=self.clock(),
        )
        self.report.steps_run.append(step)
        self.report.counts[step] = dict(details)

    def _executed(
        self, connection: sa.Connection, store_name: str, acted: int, **details: Any
    ) -> None:
        """Per-store result of the execution phase (what ``cm dsar status`` lists)."""
        step_log.upsert_store_result(
            connection,
            self.request_id,
            "execute",
            store_name,
            acted=acted,
            details=details,
            run_id=self.run_id,
        )

    def _skip(self, step: str, details: Mapping[str, Any]) -> dict[str, Any]:
        self.report.steps_skipped.append(step)
        self.report.counts.setdefault(step, dict(details))
        return dict(details)

    def plan(self, connection: sa.Connection) -> list[PlannedAction]:
        rows = connection.execute(
            sa.select(dsar_plan_items).where(dsar_plan_items.c.request_id == self.request_id)
        ).mappings()
        return [
            PlannedAction(
                row["store"],
                row["item_ref"],
                row["action"],
                row["basis"],
                row["call_id"],
                row["details"].get("recipient"),
                dict(row["details"]),
            )
            for row in rows
        ]

    def _pending(self, connection: sa.Connection, store_name: str) -> list[PlannedAction]:
        """Planned actions of one store that still have to run (exempt ones never run)."""
        rows = connection.execute(
            sa.select(dsar_plan_items).where(
                dsar_plan_items.c.request_id == self.request_id,
                dsar_plan_items.c.store == store_name,
                dsar_plan_items.c.executed_at.is_(None),
                dsar_plan_items.c.action != planning.RETAIN,
            )
        ).mappings()
        return [
            PlannedAction(
                row["store"],
                row["item_ref"],
                row["action"],
                row["basis"],
                row["call_id"],
                row["details"].get("recipient"),
                dict(row["details"]),
            )
            for row in rows
        ]

    def _mark_executed(self, connection: sa.Connection, actions: Iterable[PlannedAction]) -> None:
        by_store: dict[str, list[str]] = defaultdict(list)
        for action in actions:
            by_store[action.store].append(action.ref)
        now = self.clock()
        for store_name, refs in by_store.items():
            for chunk in _chunks(refs):
                connection.execute(
                    sa.update(dsar_plan_items)
                    .where(
                        dsar_plan_items.c.request_id == self.request_id,
                        dsar_plan_items.c.store == store_name,
                        dsar_plan_items.c.item_ref.in_(chunk),
                    )
                    .values(executed_at=now, run_id=self.run_id)
                )

    def _active_holds(self, connection: sa.Connection) -> list[dict[str, Any]]:
        rows = connection.execute(
            sa.select(legal_holds).where(
                legal_holds.c.tenant_id == self.tenant.id, legal_holds.c.released_at.is_(None)
            )
        ).mappings()
        return [dict(row) for row in rows]

    def _insert_plan(self, connection: sa.Connection, actions: Sequence[PlannedAction]) -> None:
        if not actions:
            return
        connection.execute(
            sa.insert(dsar_plan_items),
            [
                {
                    "request_id": self.request_id,
                    "store": action.store,
                    "item_ref": action.ref,
                    "tenant_id": self.tenant.id,
                    "action": action.action,
                    "basis": action.basis,
                    "call_id": action.call_id,
                    "details": {
                        **dict(action.details),
                        **({"recipient": action.recipient} if action.recipient else {}),
                    },
                    "executed_at": None,
                    "run_id": self.run_id,
                }
                for action in actions
            ],
        )

    # ------------------------------------------------------------ locate and plan

    def locate_and_plan(self) -> dict[str, Any]:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "locate")
        if done is not None:
            return self._skip("locate", done)
        record = self.record()
        subject = self.subject(record)
        with self.warehouse.connect() as connection:
            items = locate(connection, subject, hash_number=self.hash_number)
            holds = self._active_holds(connection)
        actions = planning.plan_request(
            record.request_type,
            items,
            holds=holds,
            tenant_id=self.tenant.id,
            hash_number=self.hash_number,
            rectify_fields=record.rectification.as_dict().keys(),
        )
        if record.request_type == "objection":
            actions = planning.plan_objection(subject)
        located = planning.located_counts(items)
        exempted = Counter(action.store for action in actions if action.exempt)
        acted = Counter(action.store for action in actions if not action.exempt)
        details = {
            "located": {k: v for k, v in located.items() if v},
            "planned": planning.action_counts(actions),
            "exempted": sum(exempted.values()),
            "held_calls": len(planning.held_calls(items, holds, self.tenant.id))
            if record.request_type == "erasure"
            else 0,
        }
        with self.warehouse.begin() as connection:
            if self._done(connection, "locate") is not None:  # a concurrent run got there
                return self._skip("locate", details)
            self._insert_plan(connection, actions)
            step_log.record_store_results(
                connection,
                self.request_id,
                "locate",
                {
                    name: {
                        "found": located.get(name, 0),
                        "acted": acted.get(name, 0),
                        "exempted": exempted.get(name, 0),
                    }
                    for name in planning.STORES
                    if located.get(name) or acted.get(name) or exempted.get(name)
                },
                self.run_id,
                self.clock(),
            )
            self._finish(connection, "locate", details)
        return details

    # ------------------------------------------------------------ dispatch

    def execute(self) -> None:
        request_type = self.record().request_type
        if request_type in ("access", "portability"):
            self.export()
        elif request_type == "erasure":
            self.erase()
        elif request_type == "restriction":
            self.restrict()
        elif request_type == "rectification":
            self.rectify()
        elif request_type == "objection":
            self.suppress()
        elif request_type == "withdraw_consent":
            self.revoke()
        else:
            raise FulfilmentError(f"request type {request_type} has no fulfilment")

    def verify(self) -> dict[str, Any]:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "verify")
        if done is not None:
            return self._skip("verify", done)
        request_type = self.record().request_type
        if request_type == "erasure":
            return self._verify_erasure()
        checks = {
            "access": self._verify_export,
            "portability": self._verify_export,
            "restriction": self._verify_restriction,
            "rectification": self._verify_rectification,
            "objection": self._verify_objection,
            "withdraw_consent": self._verify_revocation,
        }
        details = checks[request_type]()
        if details.get("failed"):
            raise FulfilmentError(
                f"verification of request {self.request_id} failed: {details['failed']} "
                "record(s) do not show the change; re-run the request to retry"
            )
        with self.warehouse.begin() as connection:
            self._finish(connection, "verify", details)
        return details

    # ------------------------------------------------------------ access / portability

    def _export_prefix(self) -> str:
        return f"{landing.EXPORTS}/dsar/{self.tenant.id}/{self.request_id}"

    def export(self) -> None:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "export")
            recorded = {
                row[0]
                for row in connection.execute(
                    sa.select(dsar_exports.c.object_path).where(
                        dsar_exports.c.request_id == self.request_id
                    )
                )
            }
        if done is not None:
            self.report.result_path = done.get("object_path")
            self._skip("export", done)
            return
        # A run killed after writing a package but before recording it leaves an orphan whose
        # key was never handed over: it can never be opened, so it goes.
        leftovers = [
            item.path
            for item in self.object_store.list_files(self._export_prefix())
            if item.path not in recorded
        ]
        if leftovers:
            purge_objects(self.object_store, leftovers)
        record = self.record()
        content = self._package_content(record)
        built = build_package(content)
        sealed = encrypt_package(built.data, self.request_id)
        created = self.clock()
        path = f"{self._export_prefix()}/{created.strftime('%Y%m%dT%H%M%S')}.zip.aesgcm"
        self.object_store.write_bytes(path, sealed.data)
        delivery = key_handoff.deliver_key(self.request_id, sealed.key, self.object_store)
        details = {
            "object_path": path,
            "sha256": sealed.sha256,
            "bytes": len(sealed.data),
            "manifest_sha256": built.manifest_sha256,
            "categories": {k: v["count"] for k, v in built.manifest["categories"].items()},
            "files": len(built.manifest["files"]),
            "key_delivery": delivery,
        }
        with self.warehouse.begin() as connection:
            connection.execute(
                sa.insert(dsar_exports).values(
                    request_id=self.request_id,
                    tenant_id=self.tenant.id,
                    object_path=path,
                    sha256=sealed.sha256,
                    bytes=len(sealed.data),
                    manifest_sha256=built.manifest_sha256,
                    encryption=ENCRYPTION,
                    created_at=created,
                    expires_at=created + timedelta(days=self.export_ttl_days),
                    run_id=self.run_id,
                )
            )
            self._mark_executed(
                connection, [a for a in self.plan(connection) if a.action == planning.EXPORT]
            )
            for name, category in built.manifest["categories"].items():
                self._executed(connection, name, category["count"], exported=category["count"])
            self._finish(connection, "export", details)
        self.report.result_path = path
        self.report.key_delivery = delivery

    def _rows(
        self, connection: sa.Connection, table: sa.Table, column: sa.Column, refs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for chunk in _chunks(list(refs)):
            found.extend(
                dict(row)
                for row in connection.execute(
                    sa.select(table).where(table.c.tenant_id == self.tenant.id, column.in_(chunk))
                ).mappings()
            )
        return found

    def _subject_numbers(self, row: Mapping[str, Any], hashes: Iterable[str]) -> frozenset[str]:
        wanted = set(hashes)
        return frozenset(
            value
            for value in (row.get("src_e164"), row.get("dst_e164"))
            if value and self.hash_number(value) in wanted
        )

    def _package_content(self, record: RequestRecord) -> PackageContent:
        """Every exported record, masked for the other data subjects of each call."""
        subject = self.subject(record)
        content = PackageContent(
            request_id=self.request_id,
            tenant_id=self.tenant.id,
            request_type=record.request_type,
            generated_at=self.clock(),
        )
        with self.warehouse.connect() as connection:
            by_store: dict[str, list[PlannedAction]] = defaultdict(list)
            for action in self.plan(connection):
                if action.action == planning.EXPORT:
                    by_store[action.store].append(action)
            call_numbers = self._export_calls(connection, by_store, subject, content)
            self._export_recordings(connection, by_store, content)
            self._export_transcripts(connection, by_store, subject, call_numbers, content)
            self._export_ai_outputs(connection, by_store, subject, call_numbers, content)
            for name, (table, columns) in EXPORT_COLUMNS.items():
                if name in by_store:
                    ids = sorted(int(a.ref) for a in by_store[name])
                    found = self._rows(connection, table, table.c.id, ids)
                    content.categories[name] = [
                        {column: row.get(column) for column in columns}
                        for row in sorted(found, key=lambda r: r["id"])
                    ]
        return content

    def _export_calls(
        self,
        connection: sa.Connection,
        by_store: Mapping[str, list[PlannedAction]],
        subject: Subject,
        content: PackageContent,
    ) -> dict[str, frozenset[str]]:
        """Call rows with the other party masked; returns the subject's numbers per call."""
        call_numbers: dict[str, frozenset[str]] = {}
        if planning.CALLS not in by_store:
            return call_numbers
        hashes = {
            a.ref: a.details.get("subject_number_hashes", []) for a in by_store[planning.CALLS]
        }
        calls = call_tables.calls
        found = self._rows(connection, calls, calls.c.call_id, sorted(hashes))
        exported = []
        for row in sorted(found, key=lambda r: (r["started_at"], r["call_id"])):
            mine = self._subject_numbers(row, hashes[row["call_id"]]) | subject.phones
            call_numbers[row["call_id"]] = mine
            exported.append(mask_call_row(row, mine))
        content.categories[planning.CALLS] = exported
        return call_numbers

    def _export_recordings(
        self,
        connection: sa.Connection,
        by_store: Mapping[str, list[PlannedAction]],
        content: PackageContent,
    ) -> None:
        if planning.RECORDINGS not in by_store:
            return
        recordings = call_tables.recordings
        refs = sorted(a.ref for a in by_store[planning.RECORDINGS])
        exported = []
        for row in sorted(
            self._rows(connection, recordings, recordings.c.call_id, refs),
            key=lambda r: r["call_id"],
        ):
            member = f"recordings/{row['call_id']}.wav"
            data = self.object_store.read_bytes(row["object_path"])
            content.files.append(PackageFile(member, data))
            exported.append(
                {
                    "call_id": row["call_id"],
                    "file": member,
                    "duration_s": row["duration_s"],
                    "sample_rate": row["sample_rate"],
                    "channels": row["channels"],
                    "sha256": sha256_hex(data),
                }
            )
        content.categories[planning.RECORDINGS] = exported

    def _export_transcripts(
        self,
        connection: sa.Connection,
        by_store: Mapping[str, list[PlannedAction]],
        subject: Subject,
        call_numbers: Mapping[str, frozenset[str]],
        content: PackageContent,
    ) -> None:
        """The subject's calls in full (masked); someone else's call only where it names them."""
        if planning.TRANSCRIPTS not in by_store:
            return
        actions = by_store[planning.TRANSCRIPTS]
        other_calls = {a.ref for a in actions if a.details.get("match") == planning.MATCH_TEXT}
        transcripts = call_tables.transcripts
        country = self.tenant.country
        exported = []
        for row in sorted(
            self._rows(
                connection, transcripts, transcripts.c.call_id, sorted(a.ref for a in actions)
            ),
            key=lambda r: r["call_id"],
        ):
            mine = call_numbers.get(row["call_id"], subject.phones)
            originals = row["segments"] or []
            segments = mask_segments(originals, country, mine, subject.emails)
            other_call = row["call_id"] in other_calls
            if other_call:
                segments = [
                    masked
                    for masked, original in zip(segments, originals, strict=True)
                    if _names_subject(str(original.get("text") or ""), country, subject)
                ]
                text = " ".join(str(s.get("text") or "").strip() for s in segments)
            else:
                text = mask_text(row["text"] or "", country, mine, subject.emails)
            member = f"transcripts/{row['call_id']}.txt"
            content.files.append(PackageFile(member, text.encode("utf-8")))
            exported.append(
                {
                    "call_id": row["call_id"],
                    "your_call": not other_call,
                    "format": row["format"],
                    "language": row["language"],
                    "file": member,
                    "text": text,
                    "segments": segments,
                }
            )
        content.categories[planning.TRANSCRIPTS] = exported

    def _export_ai_outputs(
        self,
        connection: sa.Connection,
        by_store: Mapping[str, list[PlannedAction]],
        subject: Subject,
        call_numbers: Mapping[str, frozenset[str]],
        content: PackageContent,
    ) -> None:
        if planning.AI_OUTPUTS not in by_store:
            return
        table = call_tables.ai_outputs
        found: list[dict[str, Any]] = []
        for chunk in _chunks(by_store[planning.AI_OUTPUTS]):
            found.extend(
                dict(row)
                for row in connection.execute(
                    sa.select(table).where(
                        table.c.tenant_id == self.tenant.id, _key_in(table, chunk)
                    )
                ).mappings()
            )
        content.categories[planning.AI_OUTPUTS] = [
            {
                "call_id": row["call_id"],
                "kind": row["kind"],
                "model": row["model"],
                "created_at": row["created_at"],
                "text": mask_text(
                    row["text"] or "",
                    self.tenant.country,
                    call_numbers.get(row["call_id"], subject.phones),
                    subject.emails,
                ),
            }
            for row in sorted(found, key=lambda r: (r["call_id"], r["kind"]))
        ]

    def _verify_export(self) -> dict[str, Any]:
        with self.warehouse.connect() as connection:
            row = connection.execute(
                sa.select(dsar_exports.c.object_path, dsar_exports.c.sha256)
                .where(dsar_exports.c.request_id == self.request_id)
                .order_by(dsar_exports.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return {"failed": 1, "package": "missing"}
        ok = (
            self.object_store.exists(row[0])
            and sha256_hex(self.object_store.read_bytes(row[0])) == row[1]
        )
        self.report.result_path = row[0]
        return {"failed": 0 if ok else 1, "package_sha256_matches": ok}

    # ------------------------------------------------------------ erasure

    def erase(self) -> None:
        handlers: dict[str, Callable[[list[PlannedAction]], dict[str, int]]] = {
            planning.RECORDINGS: lambda a: self._erase_artefacts(planning.RECORDINGS, a),
            planning.TRANSCRIPTS: lambda a: self._erase_artefacts(planning.TRANSCRIPTS, a),
            planning.AI_OUTPUTS: lambda a: self._erase_artefacts(planning.AI_OUTPUTS, a),
            planning.CRM_LINKS: self._erase_crm_links,
            planning.WASH_RESULTS: lambda a: self._delete_rows(dncr_tables.wash_results, a),
            planning.CONSENTS: lambda a: self._minimise(dncr_tables.consents, a),
            planning.SUPPRESSION: lambda a: self._minimise(dncr_tables.suppression_entries, a),
            planning.CRM_SOURCE_LINES: lambda a: self._blank_source_lines("crm", a),
            planning.CDR_SOURCE_LINES: lambda a: self._blank_source_lines("cdr", a),
            planning.CALLS: self._pseudonymise_calls,
        }
        for store_name in planning.STORES:
            handler = handlers.get(store_name)
            if handler is None:
                continue  # blocked calls and restrictions are only ever retained
            step = f"erase.{store_name}"
            with self.warehouse.connect() as connection:
                done = self._done(connection, step)
                pending = self._pending(connection, store_name) if done is None else []
            if done is not None:
                self._skip(step, done)
                continue
            counts = handler(pending) if pending else {}
            with self.warehouse.begin() as connection:
                if pending:  # counted from the plan, so a resumed store reports all of it
                    executed = connection.execute(
                        sa.select(sa.func.count())
                        .select_from(dsar_plan_items)
                        .where(
                            dsar_plan_items.c.request_id == self.request_id,
                            dsar_plan_items.c.store == store_name,
                            dsar_plan_items.c.executed_at.is_not(None),
                        )
                    ).scalar_one()
                    self._executed(connection, store_name, int(executed), **counts)
                self._finish(connection, step, {"store": store_name, **counts})

    def _erase_artefacts(self, store_name: str, actions: list[PlannedAction]) -> dict[str, int]:
        table = {
            planning.RECORDINGS: call_tables.recordings,
            planning.TRANSCRIPTS: call_tables.transcripts,
            planning.AI_OUTPUTS: call_tables.ai_outputs,
        }[store_name]
        deletions = [a for a in actions if a.action == planning.DELETE]
        redactions = [a for a in actions if a.action == planning.REDACT]
        counts = {"deleted": 0, "redacted": 0, "mentions_masked": 0}
        if deletions:
            paths = [a.details["object_path"] for a in deletions if a.details.get("object_path")]
            outcome = purge_objects(self.object_store, paths)
            if outcome.failed:
                raise FulfilmentError(
                    f"{len(outcome.failed)} {store_name} object(s) could not be deleted "
                    f"({', '.join(sorted(set(outcome.failed.values())))}); re-run to retry"
                )
            with self.warehouse.begin() as connection:
                for chunk in _chunks(deletions):
                    connection.execute(
                        sa.delete(table).where(
                            table.c.tenant_id == self.tenant.id, _key_in(table, chunk)
                        )
                    )
                self._mark_executed(connection, deletions)
            counts["deleted"] = len(deletions)
        for action in redactions:
            counts["mentions_masked"] += self._redact_one(table, action)
            counts["redacted"] += 1
        return counts

    def _redact_one(self, table: sa.Table, action: PlannedAction) -> int:
        subject = self.subject()
        with self.warehouse.connect() as connection:
            row = (
                connection.execute(
                    sa.select(table).where(
                        table.c.tenant_id == self.tenant.id, _key_in(table, [action])
                    )
                )
                .mappings()
                .first()
            )
        masked = 0
        values: dict[str, Any] = {}
        if row is not None:
            country = self.tenant.country
            text, masked = redact_subject_text(
                row["text"] or "", country, subject.phones, subject.emails
            )
            values["text"] = text
            if "segments" in table.c:
                segments = []
                for segment in row["segments"] or []:
                    redacted, _ = redact_subject_text(
                        str(segment.get("text") or ""), country, subject.phones, subject.emails
                    )
                    segments.append({**segment, "text": redacted})
                values["segments"] = segments
            path = row["object_path"]
            if self.object_store.exists(path):
                document = json.loads(self.object_store.read_bytes(path))
                redacted_document, _ = redact_subject_document(
                    document, country, subject.phones, subject.emails
                )
                data = json.dumps(redacted_document, indent=2, ensure_ascii=False).encode("utf-8")
                self.object_store.write_bytes(path, data)
                drop_noncurrent_versions(self.object_store, path)
                values["sha256"] = sha256_hex(data)
        with self.warehouse.begin() as connection:
            if values:
                connection.execute(
                    sa.update(table)
                    .where(table.c.tenant_id == self.tenant.id, _key_in(table, [action]))
                    .values(**values)
                )
            self._mark_executed(connection, [action])
        return masked

    def _erase_crm_links(self, actions: list[PlannedAction]) -> dict[str, int]:
        links = call_tables.crm_links
        ids = [int(a.ref) for a in actions]
        with self.warehouse.begin() as connection:
            rows = self._rows(connection, links, links.c.id, ids)
            recipients = self._write_outbox(connection, rows, "erase")
            for chunk in _chunks(ids):
                connection.execute(
                    sa.delete(links).where(
                        links.c.tenant_id == self.tenant.id, links.c.id.in_(chunk)
                    )
                )
            self._mark_executed(connection, actions)
        return {"deleted": len(rows), "outbox_tasks": recipients}

    def _write_outbox(
        self, connection: sa.Connection, link_rows: Sequence[Mapping[str, Any]], task: str
    ) -> int:
        """One task per downstream recipient (CRM system) naming its record ids."""
        by_recipient: dict[str, set[str]] = defaultdict(set)
        for row in link_rows:
            by_recipient[row["crm_system"]].add(row["crm_record_id"])
        now = self.clock()
        for recipient, record_ids in sorted(by_recipient.items()):
            existing = connection.execute(
                sa.select(dsar_erasure_outbox.c.id, dsar_erasure_outbox.c.record_refs).where(
                    dsar_erasure_outbox.c.request_id == self.request_id,
                    dsar_erasure_outbox.c.recipient == recipient,
                )
            ).first()
            if existing is None:
                connection.execute(
                    sa.insert(dsar_erasure_outbox).values(
                        request_id=self.request_id,
                        tenant_id=self.tenant.id,
                        recipient=recipient,
                        task=task,
                        record_refs=sorted(record_ids),
                        status="pending",
                        created_at=now,
                    )
                )
            else:
                merged = sorted(set(existing[1]) | record_ids)
                connection.execute(
                    sa.update(dsar_erasure_outbox)
                    .where(dsar_erasure_outbox.c.id == existing[0])
                    .values(record_refs=merged)
                )
        return len(by_recipient)

    def _delete_rows(self, table: sa.Table, actions: list[PlannedAction]) -> dict[str, int]:
        ids = [int(a.ref) for a in actions]
        with self.warehouse.begin() as connection:
            for chunk in _chunks(ids):
                connection.execute(
                    sa.delete(table).where(
                        table.c.tenant_id == self.tenant.id, table.c.id.in_(chunk)
                    )
                )
            self._mark_executed(connection, actions)
        return {"deleted": len(ids)}

    def _minimise(self, table: sa.Table, actions: list[PlannedAction]) -> dict[str, int]:
        """Keep the record under its legal basis, without the raw number (the hash stays)."""
        minimise = [a for a in actions if a.action == planning.RETAIN_MINIMISED]
        ids = [int(a.ref) for a in minimise]
        with self.warehouse.begin() as connection:
            for chunk in _chunks(ids):
                connection.execute(
                    sa.update(table)
                    .where(table.c.tenant_id == self.tenant.id, table.c.id.in_(chunk))
                    .values(e164=None)
                )
            self._mark_executed(connection, minimise)
        return {"minimised": len(ids)}

    def _blank_source_lines(self, kind: str, actions: list[PlannedAction]) -> dict[str, int]:
        """Landing files still hold the subject's calls: their lines are blanked in place (line
        numbers of other records stay valid; both readers skip empty lines)."""
        by_file: dict[str, list[int]] = defaultdict(list)
        for action in actions:
            path, _, line = action.ref.rpartition("#")
            by_file[path].append(int(line))
        blanked = missing = 0
        for path, lines in sorted(by_file.items()):
            if not self.object_store.exists(path):
                missing += 1
                continue
            data = self.object_store.read_bytes(path)
            new_data, count = blank_lines(data, lines, multiline_csv=kind == "crm")
            if new_data != data:
                self.object_store.write_bytes(path, new_data)
            drop_noncurrent_versions(self.object_store, path)
            blanked += count
        with self.warehouse.begin() as connection:
            self._mark_executed(connection, actions)
        return {"lines_blanked": blanked, "files": len(by_file), "files_missing": missing}

    def _pseudonymise_calls(self, actions: list[PlannedAction]) -> dict[str, int]:
        """The subject's numbers become their keyed hash; name and CRM reference go."""
        calls = call_tables.calls
        pseudonymise = [a for a in actions if a.action == planning.PSEUDONYMISE]
        hashes = {a.ref: set(a.details.get("subject_number_hashes", [])) for a in pseudonymise}
        now = self.clock()
        replaced = 0
        with self.warehouse.begin() as connection:
            rows = self._rows(connection, calls, calls.c.call_id, sorted(hashes))
            updates = []
            for row in rows:
                mine = hashes[row["call_id"]]
                values = {"b_call_id": row["call_id"]}
                src_hash = self.hash_number(row["src_e164"]) if row["src_e164"] else None
                dst_hash = self.hash_number(row["dst_e164"]) if row["dst_e164"] else None
                subject_called = src_hash in mine
                values["b_src"] = src_hash if subject_called else row["src_e164"]
                values["b_dst"] = dst_hash if dst_hash in mine else row["dst_e164"]
                replaced += int(subject_called) + int(dst_hash in mine)
                values["b_name"] = None if subject_called else row["caller_name"]
                campaign = row["campaign_id"]
                values["b_userfield"] = f"campaign={campaign}" if campaign else None
                updates.append(values)
            if updates:
                connection.execute(
                    sa.update(calls)
                    .where(
                        calls.c.tenant_id == self.tenant.id,
                        calls.c.call_id == sa.bindparam("b_call_id"),
                    )
                    .values(
                        src_e164=sa.bindparam("b_src"),
                        dst_e164=sa.bindparam("b_dst"),
                        caller_name=sa.bindparam("b_name"),
                        userfield=sa.bindparam("b_userfield"),
                        crm_ref=None,
                        erased_at=now,
                    ),
                    updates,
                )
            self._mark_executed(connection, pseudonymise)
        return {"pseudonymised": len(rows), "numbers_replaced": replaced}

    def _postcondition_failures(self, actions: Sequence[PlannedAction]) -> dict[str, int]:
        """Effects locate cannot see: objects gone, source lines blank, every action run."""
        failed: Counter[str] = Counter()
        with self.warehouse.connect() as connection:
            executed = {
                (row[0], row[1])
                for row in connection.execute(
                    sa.select(dsar_plan_items.c.store, dsar_plan_items.c.item_ref).where(
                        dsar_plan_items.c.request_id == self.request_id,
                        dsar_plan_items.c.executed_at.is_not(None),
                    )
                )
            }
        paths = [
            a.details["object_path"]
            for a in actions
            if a.action == planning.DELETE and a.details.get("object_path")
        ]
        left = set(still_present(self.object_store, paths)) if paths else set()
        lines: dict[str, list[PlannedAction]] = defaultdict(list)
        for action in actions:
            if action.action == planning.RETAIN:
                continue
            if action.key not in executed:
                failed[action.store] += 1
            elif action.details.get("object_path") in left and action.action == planning.DELETE:
                failed[action.store] += 1
            elif action.action == planning.BLANK_LINE:
                lines[action.ref.rpartition("#")[0]].append(action)
        for path, line_actions in lines.items():
            if not self.object_store.exists(path):
                continue
            physical = self.object_store.read_bytes(path).splitlines()
            for action in line_actions:
                number = int(action.ref.rpartition("#")[2])
                if number <= len(physical) and physical[number - 1].strip():
                    failed[action.store] += 1
        return dict(failed)

    def _verify_erasure(self) -> dict[str, Any]:
        """Locate again: only exempted items may remain. Records that arrived after the plan
        (a late ingestion) are planned and erased in a second round before giving up."""
        verification = None
        for _round in range(VERIFY_ROUNDS):
            subject = self.subject()
            with self.warehouse.connect() as connection:
                relocated = locate(connection, subject, hash_number=self.hash_number)
                actions = self.plan(connection)
                holds = self._active_holds(connection)
            verification = planning.verify_erasure(
                actions, relocated, self._postcondition_failures(actions)
            )
            if verification.passed:
                break
            planned = {a.key for a in actions}
            late = [item for item in relocated if item.key not in planned]
            if not late:
                break
            self._top_up_plan(late, holds)
        assert verification is not None
        details = {
            "passed": verification.passed,
            "remaining_by_store": verification.remaining_by_store,
            "unexpected_by_store": verification.unexpected_by_store,
            "failed_checks_by_store": verification.failed_checks_by_store,
        }
        with self.warehouse.begin() as connection:
            step_log.record_store_results(
                connection,
                self.request_id,
                "verify",
                {
                    name: {
                        "found": verification.remaining_by_store.get(name, 0),
                        "acted": 0,
                        "exempted": verification.remaining_by_store.get(name, 0)
                        - verification.unexpected_by_store.get(name, 0),
                        "details": {
                            "unexpected": verification.unexpected_by_store.get(name, 0),
                            "failed_checks": verification.failed_checks_by_store.get(name, 0),
                        },
                    }
                    for name in planning.STORES
                    if verification.remaining_by_store.get(name)
                    or verification.failed_checks_by_store.get(name)
                },
                self.run_id,
                self.clock(),
            )
            if verification.passed:
                self._finish(connection, "verify", details)
        if not verification.passed:
            raise FulfilmentError(
                f"erasure of request {self.request_id} did not verify: unexpected records "
                f"{verification.unexpected_by_store}, unconfirmed actions "
                f"{verification.failed_checks_by_store}; the request stays in progress"
            )
        return details

    def _top_up_plan(self, late: list[LocatedItem], holds: list[dict[str, Any]]) -> None:
        actions = planning.plan_erasure(
            late, holds=holds, tenant_id=self.tenant.id, hash_number=self.hash_number
        )
        stores = sorted({a.store for a in actions if not a.exempt})
        with self.warehouse.begin() as connection:
            self._insert_plan(connection, actions)
            connection.execute(
                sa.delete(dsar_steps).where(
                    dsar_steps.c.request_id == self.request_id,
                    dsar_steps.c.step.in_([f"erase.{name}" for name in stores]),
                )
            )
            append_audit(
                connection,
                actor=ACTOR_PIPELINE,
                action="dsar.plan.top_up",
                tenant_id=self.tenant.id,
                object_refs={"request_id": self.request_id},
                details={"planned": planning.action_counts(actions)},
                run_id=self.run_id,
            )
        self.erase()

    # ------------------------------------------------------------ restriction

    def restrict(self) -> None:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "restrict")
        if done is not None:
            self._skip("restrict", done)
            return
        record = self.record()
        subject = self.subject(record)
        now = self.clock()
        tables = {
            planning.CALLS: (call_tables.calls, call_tables.calls.c.call_id, str),
            planning.CRM_LINKS: (call_tables.crm_links, call_tables.crm_links.c.id, int),
            planning.CONSENTS: (dncr_tables.consents, dncr_tables.consents.c.id, int),
            planning.WASH_RESULTS: (dncr_tables.wash_results, dncr_tables.wash_results.c.id, int),
        }
        counts: dict[str, int] = {}
        with self.warehouse.begin() as connection:
            actions = [a for a in self.plan(connection) if a.action == planning.MARK_RESTRICTED]
            identifiers = [("phone", h) for h in subject.phone_hashes.values()] + [
                ("email", h) for h in subject.email_hashes.values()
            ]
            added = 0
            for kind, identifier_hash in identifiers:
                exists = connection.execute(
                    sa.select(restrictions.c.id).where(
                        restrictions.c.tenant_id == self.tenant.id,
                        restrictions.c.identifier_hash == identifier_hash,
                        restrictions.c.dsar_request_id == self.request_id,
                    )
                ).first()
                if exists is None:
                    connection.execute(
                        sa.insert(restrictions).values(
                            tenant_id=self.tenant.id,
                            identifier_hash=identifier_hash,
                            identifier_kind=kind,
                            dsar_request_id=self.request_id,
                            created_at=now,
                        )
                    )
                    added += 1
            counts["restriction_entries"] = added
            for name, (table, column, cast) in tables.items():
                refs = [cast(a.ref) for a in actions if a.store == name]
                for chunk in _chunks(refs):
                    connection.execute(
                        sa.update(table)
                        .where(
                            table.c.tenant_id == self.tenant.id,
                            column.in_(chunk),
                            table.c.restricted_at.is_(None),
                        )
                        .values(restricted_at=now)
                    )
                counts[name] = len(refs)
            link_ids = [int(a.ref) for a in actions if a.store == planning.CRM_LINKS]
            rows = self._rows(
                connection, call_tables.crm_links, call_tables.crm_links.c.id, link_ids
            )
            counts["outbox_tasks"] = self._write_outbox(connection, rows, "restrict")
            self._mark_executed(connection, actions)
            for name in tables:
                self._executed(connection, name, counts[name], marked_restricted=counts[name])
            self._finish(connection, "restrict", counts)

    def _verify_restriction(self) -> dict[str, Any]:
        tables = {
            planning.CALLS: (call_tables.calls, call_tables.calls.c.call_id, str),
            planning.CRM_LINKS: (call_tables.crm_links, call_tables.crm_links.c.id, int),
            planning.CONSENTS: (dncr_tables.consents, dncr_tables.consents.c.id, int),
            planning.WASH_RESULTS: (dncr_tables.wash_results, dncr_tables.wash_results.c.id, int),
        }
        subject = self.subject()
        failed = 0
        with self.warehouse.connect() as connection:
            actions = self.plan(connection)
            for name, (table, column, cast) in tables.items():
                refs = [cast(a.ref) for a in actions if a.store == name]
                for chunk in _chunks(refs):
                    failed += int(
                        connection.execute(
                            sa.select(sa.func.count())
                            .select_from(table)
                            .where(
                                table.c.tenant_id == self.tenant.id,
                                column.in_(chunk),
                                table.c.restricted_at.is_(None),
                            )
                        ).scalar_one()
                    )
            hashes = set(subject.phone_hashes.values()) | set(subject.email_hashes.values())
            present = {
                row[0]
                for row in connection.execute(
                    sa.select(restrictions.c.identifier_hash).where(
                        restrictions.c.tenant_id == self.tenant.id,
                        restrictions.c.identifier_hash.in_(sorted(hashes)),
                        restrictions.c.lifted_at.is_(None),
                    )
                )
            }
        failed += len(hashes - present)
        return {"failed": failed, "restricted_identifiers": len(present)}

    # ------------------------------------------------------------ rectification

    def rectify(self) -> None:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "rectify")
        if done is not None:
            self._skip("rectify", done)
            return
        record = self.record()
        subject = self.subject(record)
        new = record.rectification
        links = call_tables.crm_links
        calls = call_tables.calls
        counts = {"crm_links": 0, "calls": 0}
        with self.warehouse.begin() as connection:
            actions = [a for a in self.plan(connection) if a.action == planning.RECTIFY]
            link_ids = [int(a.ref) for a in actions if a.store == planning.CRM_LINKS]
            values = {}
            if new.email:
                values["contact_email"] = new.email
            if new.e164:
                values["contact_e164"] = new.e164
            if values and link_ids:
                for chunk in _chunks(link_ids):
                    connection.execute(
                        sa.update(links)
                        .where(links.c.tenant_id == self.tenant.id, links.c.id.in_(chunk))
                        .values(**values)
                    )
                counts["crm_links"] = len(link_ids)
                rows = self._rows(connection, links, links.c.id, link_ids)
                counts["outbox_tasks"] = self._write_outbox(connection, rows, "rectify")
            call_ids = [a.ref for a in actions if a.store == planning.CALLS]
            if new.caller_name and call_ids:
                for chunk in _chunks(call_ids):
                    result = connection.execute(
                        sa.update(calls)
                        .where(
                            calls.c.tenant_id == self.tenant.id,
                            calls.c.call_id.in_(chunk),
                            calls.c.src_e164.in_(sorted(subject.phones)),
                        )
                        .values(caller_name=new.caller_name)
                    )
                    counts["calls"] += int(result.rowcount or 0)
            self._mark_executed(connection, actions)
            self._executed(connection, planning.CRM_LINKS, counts["crm_links"], rectified=1)
            self._executed(connection, planning.CALLS, counts["calls"], rectified=1)
            self._finish(connection, "rectify", {**counts, "fields": sorted(new.as_dict())})

    def _verify_rectification(self) -> dict[str, Any]:
        record = self.record()
        new = record.rectification
        links = call_tables.crm_links
        failed = 0
        with self.warehouse.connect() as connection:
            actions = self.plan(connection)
            link_ids = [int(a.ref) for a in actions if a.store == planning.CRM_LINKS]
            for row in self._rows(connection, links, links.c.id, link_ids):
                if (new.email and row["contact_email"] != new.email) or (
                    new.e164 and row["contact_e164"] != new.e164
                ):
                    failed += 1
        return {"failed": failed, "crm_links_checked": len(link_ids)}

    # ------------------------------------------------------------ objection

    def suppress(self) -> None:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "suppress")
        if done is not None:
            self._skip("suppress", done)
            return
        subject = self.subject()
        table = dncr_tables.suppression_entries
        now = self.clock()
        added = reinstated = kept = 0
        with self.warehouse.begin() as connection:
            for phone, phone_hash in sorted(subject.phone_hashes.items()):
                row = connection.execute(
                    sa.select(table.c.id, table.c.removed_at).where(
                        table.c.tenant_id == self.tenant.id,
                        table.c.e164_hash == phone_hash,
                        table.c.source == "dsar_objection",
                    )
                ).first()
                if row is None:
                    connection.execute(
                        sa.insert(table).values(
                            tenant_id=self.tenant.id,
                            e164=phone,
                            e164_hash=phone_hash,
                            source="dsar_objection",
                            dsar_request_id=self.request_id,
                            created_at=now,
                        )
                    )
                    added += 1
                elif row[1] is not None:
                    connection.execute(
                        sa.update(table).where(table.c.id == row[0]).values(removed_at=None)
                    )
                    reinstated += 1
                else:
                    kept += 1
            self._mark_executed(connection, self._pending(connection, planning.SUPPRESSION))
            self._executed(
                connection, planning.SUPPRESSION, added + reinstated, already_suppressed=kept
            )
            self._finish(
                connection,
                "suppress",
                {
                    "added": added,
                    "reinstated": reinstated,
                    "already_suppressed": kept,
                    "emails_not_suppressible": len(subject.emails),
                },
            )

    def _verify_objection(self) -> dict[str, Any]:
        subject = self.subject()
        table = dncr_tables.suppression_entries
        with self.warehouse.connect() as connection:
            active = {
                row[0]
                for row in connection.execute(
                    sa.select(table.c.e164_hash).where(
                        table.c.tenant_id == self.tenant.id,
                        table.c.e164_hash.in_(sorted(subject.phone_hashes.values())),
                        table.c.removed_at.is_(None),
                    )
                )
            }
        missing = len(set(subject.phone_hashes.values()) - active)
        return {"failed": missing, "suppressed_numbers": len(active)}

    # ------------------------------------------------------------ consent withdrawal

    def revoke(self) -> None:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "revoke")
        if done is not None:
            self._skip("revoke", done)
            return
        table = dncr_tables.consents
        now = self.clock()
        revoked = 0
        with self.warehouse.begin() as connection:
            actions = [a for a in self.plan(connection) if a.action == planning.REVOKE]
            for chunk in _chunks([int(a.ref) for a in actions]):
                result = connection.execute(
                    sa.update(table)
                    .where(
                        table.c.tenant_id == self.tenant.id,
                        table.c.id.in_(chunk),
                        table.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                )
                revoked += int(result.rowcount or 0)
            self._mark_executed(connection, actions)
            self._executed(connection, planning.CONSENTS, revoked, revoked=revoked)
            self._finish(
                connection,
                "revoke",
                {"consents_revoked": revoked, "already_revoked": len(actions) - revoked},
            )

    def _verify_revocation(self) -> dict[str, Any]:
        table = dncr_tables.consents
        with self.warehouse.connect() as connection:
            ids = [int(a.ref) for a in self.plan(connection) if a.action == planning.REVOKE]
            active = 0
            for chunk in _chunks(ids):
                active += int(
                    connection.execute(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(table.c.id.in_(chunk), table.c.revoked_at.is_(None))
                    ).scalar_one()
                )
        return {"failed": active, "consents_checked": len(ids)}

    # ------------------------------------------------------------ completion

    def _certificate_path(self) -> str:
        return f"{landing.AUDIT}/dsar/{self.tenant.id}/{self.request_id}/erasure_certificate.json"

    def complete(self) -> dict[str, Any]:
        with self.warehouse.connect() as connection:
            done = self._done(connection, "complete")
        if done is not None:
            self.report.result_path = done.get("result_path")
            return self._skip("complete", done)
        record = self.record()
        now = self.clock()
        result_path = self.report.result_path
        certificate: dict[str, Any] | None = None
        if record.request_type == "erasure":
            certificate = self._certificate(record, now.date())
            data = json.dumps(certificate, indent=2, sort_keys=True).encode("utf-8")
            result_path = self._certificate_path()
            self.object_store.write_bytes(result_path, data)
            certificate_sha = sha256_hex(data)
        elif record.request_type in ("access", "portability"):
            with self.warehouse.connect() as connection:
                result_path = connection.execute(
                    sa.select(dsar_exports.c.object_path)
                    .where(dsar_exports.c.request_id == self.request_id)
                    .order_by(dsar_exports.c.id.desc())
                    .limit(1)
                ).scalar()
        details = {"result_path": result_path, "type": record.request_type}
        with self.warehouse.begin() as connection:
            if certificate is not None:
                connection.execute(
                    sa.delete(dsar_certificates).where(
                        dsar_certificates.c.request_id == self.request_id
                    )
                )
                connection.execute(
                    sa.insert(dsar_certificates).values(
                        request_id=self.request_id,
                        tenant_id=self.tenant.id,
                        object_path=result_path,
                        sha256=certificate_sha,
                        body=certificate,
                        created_at=now,
                        run_id=self.run_id,
                    )
                )
                details["certificate_sha256"] = certificate_sha
                erase_request_identifiers(connection, self.request_id, now)
            set_state(
                connection,
                self.request_id,
                "completed",
                run_id=self.run_id,
                now=now,
                completed_at=now,
                result_path=result_path,
            )
            self._finish(connection, "complete", details)
        self.report.result_path = result_path
        return details

    def _certificate(self, record: RequestRecord, completed_on: date) -> dict[str, Any]:
        with self.warehouse.connect() as connection:
            actions = self.plan(connection)
            located = (self._done(connection, "locate") or {}).get("located", {})
            verified = self._done(connection, "verify") or {}
            recipients = [
                row[0]
                for row in connection.execute(
                    sa.select(dsar_erasure_outbox.c.recipient).where(
                        dsar_erasure_outbox.c.request_id == self.request_id
                    )
                )
            ]
        verification = planning.ErasureVerification(
            dict(verified.get("remaining_by_store", {})),
            dict(verified.get("unexpected_by_store", {})),
            dict(verified.get("failed_checks_by_store", {})),
        )
        return planning.erasure_certificate(
            request_id=self.request_id,
            tenant_id=self.tenant.id,
            jurisdiction=record.jurisdiction,
            received_on=record.received_on,
            completed_on=completed_on,
            identifier_hashes=[h["hash"] for h in record.identifier_hashes],
            located=located,
            plan=actions,
            verification=verification,
            outbox_recipients=recipients,
        )

    def run_all(self) -> StepReport:
        self.locate_and_plan()
        self.execute()
        self.verify()
        self.complete()
        return self.report


# ---------------------------------------------------------------- helpers


def _chunks(values: Sequence[Any], size: int = ID_CHUNK) -> Iterable[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _key_in(table: sa.Table, actions: Sequence[PlannedAction]) -> sa.ColumnElement[bool]:
    """Row keys of planned artefact actions (``call_id``; ``call_id/kind`` for AI outputs)."""
    if "kind" in table.c:
        pairs = [tuple(a.ref.rsplit("/", 1)) for a in actions]
        return sa.tuple_(table.c.call_id, table.c.kind).in_(pairs)
    return table.c.call_id.in_([a.ref for a in actions])


def _names_subject(text: str, country: str, subject: Subject) -> bool:
    return bool(subject_matches(text, country, subject.phones, subject.emails))


def blank_lines(
    data: bytes, line_numbers: Iterable[int], *, multiline_csv: bool
) -> tuple[bytes, int]:
    """Empty the given 1-based physical lines, keeping line ends so other numbers stay valid.

    With ``multiline_csv`` a record that starts on a given line is blanked through its last
    physical line (a quoted field may span lines in CRM CSVs; cdr_csv records never do).
    """
    lines = data.splitlines(keepends=True)
    targets: set[int] = set()
    wanted = sorted(set(line_numbers))
    if multiline_csv and wanted:
        text_lines = [line.decode("utf-8", errors="replace") for line in lines]
        reader = csv.reader(io.StringIO("".join(text_lines), newline=""))
        starts = set(wanted)
        while True:
            first = reader.line_num + 1
            try:
                next(reader)
            except StopIteration:
                break
            except csv.Error:
                continue
            if first in starts:
                targets.update(range(first, reader.line_num + 1))
    else:
        targets.update(wanted)
    blanked = 0
    for number in sorted(targets):
        if 1 <= number <= len(lines):
            line = lines[number - 1]
            body = line.rstrip(b"\r\n")
            if body:
                lines[number - 1] = line[len(body) :]
                blanked += 1
    return b"".join(lines), blanked


def drop_noncurrent_versions(object_store: ObjectStoreResource, path: str) -> int:
    """After rewriting an object without the subject, delete its older versions: on a
    versioned bucket they would still hold what was erased. Returns how many were deleted."""
    if object_store.protocol != "s3":
        return 0
    fs = object_store.filesystem()
    bucket, _, key = object_store.full_path(path).partition("/")
    old: list[dict[str, str]] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": key}
    while True:
        page = fs.call_s3("list_object_versions", **params)
        for entry in list(page.get("Versions") or []) + list(page.get("DeleteMarkers") or []):
            if entry["Key"] == key and not entry.get("IsLatest"):
                old.append({"Key": key, "VersionId": str(entry["VersionId"])})
        if not page.get("IsTruncated"):
            break
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")
    for batch in _chunks(old, 1000):
        response = fs.call_s3(
            "delete_objects", Bucket=bucket, Delete={"Objects": batch, "Quiet": False}
        )
        if response.get("Errors"):
            raise FulfilmentError(
                f"{len(response['Errors'])} old version(s) of a rewritten object could not be "
                "deleted; re-run to retry"
            )
    fs.invalidate_cache()
    return len(old)
