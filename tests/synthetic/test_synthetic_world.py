"""The synthetic world generator: determinism, real formats, and the people tests rely on."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
import wave
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers
import pytest
import yaml

from cm_pipelines.domain.tenants import Tenant, parse_tenants
from cm_pipelines.platform import landing
from cm_pipelines.synthetic.numbers import PLANS, draw_national_numbers, phone_forms
from cm_pipelines.synthetic.world import WorldSummary, generate_world

START = date(2026, 11, 20)
TENANTS_YAML = Path(__file__).resolve().parents[2] / "cm_pipelines" / "config" / "tenants.yaml"
CLID = re.compile(r'^"(.*)" <(.*)>$')
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DIGIT_WORD = r"(?:oh|zero|one|two|three|four|five|six|seven|eight|nine)"
SPOKEN_NUMBER = re.compile(rf"\b(?:plus )?{DIGIT_WORD}(?: {DIGIT_WORD}){{7,}}\b")
AWS_RESULT_KEYS = {"transcripts", "speaker_labels", "items"}
WHISPER_SEGMENT_KEYS = {
    "id",
    "seek",
    "start",
    "end",
    "text",
    "tokens",
    "temperature",
    "avg_logprob",
    "compression_ratio",
    "no_speech_prob",
}


@dataclass
class World:
    files: dict[str, bytes]
    summary: WorldSummary
    tenants: dict[str, Tenant]


def _tenants() -> list[Tenant]:
    return parse_tenants(yaml.safe_load(TENANTS_YAML.read_text()))


def _generate(**overrides) -> tuple[dict[str, bytes], WorldSummary]:
    files: dict[str, bytes] = {}

    def write(path: str, data: bytes) -> None:
        assert path not in files, f"written twice: {path}"
        files[path] = data

    arguments = dict(seed=11, calls=160, start_day=START, days=3, registry_us_size=300)
    arguments.update(overrides)
    summary = generate_world(write, _tenants(), **arguments)
    return files, summary


@pytest.fixture(scope="module")
def world() -> World:
    files, summary = _generate()
    return World(files, summary, {t.id: t for t in _tenants()})


def _under(files: dict[str, bytes], prefix: str) -> dict[str, bytes]:
    return {path: data for path, data in files.items() if path.startswith(prefix + "/")}


def _cdr_rows(world: World) -> list[tuple[str, list[str]]]:
    rows = []
    for path, data in sorted(_under(world.files, landing.day_prefixes("cdr")).items()):
        tenant_id = path.split("/")[2]
        rows += [(tenant_id, row) for row in csv.reader(io.StringIO(data.decode()))]
    return rows


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _e164(raw: str, country: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_extension(value: str) -> bool:
    return re.fullmatch(r"\d{4}", value) is not None


def _text_files(world: World) -> dict[str, str]:
    return {
        path: data.decode()
        for path, data in world.files.items()
        if not path.endswith((".wav", ".zip"))
    }


def test_same_arguments_give_byte_identical_worlds(world: World) -> None:
    files, summary = _generate()
    assert list(files) == list(world.files)
    assert files == world.files
    assert summary.identifiers == world.summary.identifiers
    assert summary.subjects == world.summary.subjects


_DIGEST_SCRIPT = """
import hashlib, sys
from datetime import date
from tests.synthetic.test_synthetic_world import _tenants
from cm_pipelines.synthetic.world import generate_world
digest = hashlib.sha256()
def write(path, data):
    digest.update(path.encode())
    digest.update(data)
generate_world(write, _tenants(), seed=4, calls=40, start_day=date(2026, 3, 28), days=2)
sys.stdout.write(digest.hexdigest())
"""


def test_worlds_do_not_depend_on_the_process_hash_seed() -> None:
    root = Path(__file__).resolve().parents[2]
    digests = {
        subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            cwd=root,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    [digest] = digests
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


@pytest.mark.parametrize("calls", [0, 1, 7])
def test_tiny_worlds_still_have_every_file(calls: int) -> None:
    files, summary = _generate(calls=calls, days=2)
    lines = sum(data.count(b"\n") for p, data in files.items() if p.endswith("Master.csv"))
    assert lines == calls == sum(summary.calls_by_tenant.values())
    assert summary.files_by_kind["cdr"] == 2 * len(summary.calls_by_tenant)
    assert summary.files_by_kind["registry_full"] > 0


def test_another_seed_gives_another_world(world: World) -> None:
    files, _ = _generate(seed=12)
    cdr = landing.cdr_file("acme-au", START.isoformat())
    assert files[cdr] != world.files[cdr]


def test_every_file_is_written_at_a_landing_path(world: World) -> None:
    assert world.summary.paths == list(world.files)
    days = [f"2026-11-{d}" for d in (20, 21, 22)]
    for tenant_id in world.tenants:
        for day in days:
            assert landing.cdr_file(tenant_id, day) in world.files
            assert landing.crm_links_file(tenant_id, day) in world.files
        assert landing.consents_file(tenant_id) in world.files
    assert sum(world.summary.files_by_kind.values()) == len(world.files)
    assert world.summary.calls_by_tenant == {
        "acme-au": 64,
        "beta-us": 48,
        "gamma-sg": 32,
        "delta-gb": 16,
    }


def test_cdr_lines_are_cdr_csv_with_consistent_times(world: World) -> None:
    rows = _cdr_rows(world)
    assert len(rows) == 160
    uniqueids = set()
    for tenant_id, row in rows:
        assert len(row) == 18
        assert row[0] == tenant_id
        start = datetime.strptime(row[9], "%Y-%m-%d %H:%M:%S")
        end = datetime.strptime(row[11], "%Y-%m-%d %H:%M:%S")
        duration, billsec = int(row[12]), int(row[13])
        assert row[14] in {"ANSWERED", "NO ANSWER", "BUSY", "FAILED"}
        assert 0 <= billsec <= duration == (end - start).total_seconds()
        if row[14] == "ANSWERED":
            answer = datetime.strptime(row[10], "%Y-%m-%d %H:%M:%S")
            assert start <= answer <= end
            assert billsec == (end - answer).total_seconds()
        else:
            assert row[10] == "" and billsec == 0
        assert row[15] == "DOCUMENTATION"
        assert re.fullmatch(r"\d{10}\.\d+", row[16])
        local_start = start.replace(tzinfo=ZoneInfo(world.tenants[tenant_id].timezone))
        assert int(row[16].split(".")[0]) == local_start.timestamp()
        assert re.fullmatch(r"|campaign=[a-z0-9-]+|crm=[a-z]+:contact/\d+", row[17])
        uniqueids.add(row[16])
    assert len(uniqueids) == len(rows)


def test_cdr_writes_numbers_unquoted_and_quotes_doubled(world: World) -> None:
    raw = b"".join(_under(world.files, landing.day_prefixes("cdr")).values()).decode()
    lines = raw.splitlines()
    assert all(re.search(r'",\d+,\d+,"(ANSWERED|NO ANSWER|BUSY|FAILED)"', line) for line in lines)
    assert any('"""' in line and '""' in line for line in lines)


def test_number_forms_and_directions_are_all_present(world: World) -> None:
    rows = _cdr_rows(world)
    sources = {
        tenant_id: [row[1] for t, row in rows if t == tenant_id] for tenant_id in world.tenants
    }
    assert any(re.fullmatch(r"0[2-478]\d{8}", src) for src in sources["acme-au"])
    assert any(re.fullmatch(r"\+61( \d+){3}", src) for src in sources["acme-au"])
    assert any(re.fullmatch(r"\+61\d{9}", src) for src in sources["acme-au"])
    assert any(re.fullmatch(r"[2-9]\d{9}", src) for src in sources["beta-us"])
    assert any(re.fullmatch(r"[89]\d{7}|6\d{7}", src) for src in sources["gamma-sg"])
    assert any(re.fullmatch(r"0[127]\d{8,9}", src) for src in sources["delta-gb"])
    assert any(re.fullmatch(r"\d{4}", row[1]) for _, row in rows)
    assert any(row[1] == "anonymous" for _, row in rows)
    assert {row[3] for _, row in rows} == {"from-pstn", "from-internal", "outbound"}
    assert any(_is_extension(row[1]) and _is_extension(row[2]) for _, row in rows)
    assert any(_is_extension(row[1]) and not _is_extension(row[2]) for _, row in rows)


def test_external_numbers_are_valid_for_the_tenant_country(world: World) -> None:
    checked = 0
    for tenant_id, row in _cdr_rows(world):
        country = world.tenants[tenant_id].country
        for raw in (row[1], row[2]):
            if raw == "anonymous" or _is_extension(raw):
                continue
            assert _e164(raw, country), f"invalid {country} number form in {tenant_id}"
            checked += 1
    assert checked > 100


def test_caller_names_carry_commas_and_quotes(world: World) -> None:
    names = [CLID.match(row[4]).group(1) for _, row in _cdr_rows(world)]
    assert any("," in name for name in names)
    assert any('"' in name for name in names)
    assert "Anonymous" in names


def test_recordings_are_short_pcm16_wavs_of_answered_external_calls(world: World) -> None:
    recordings = _under(world.files, landing.day_prefixes("recordings"))
    expected = {
        row[16]
        for _, row in _cdr_rows(world)
        if row[14] == "ANSWERED" and not (_is_extension(row[1]) and _is_extension(row[2]))
    }
    assert {Path(path).stem for path in recordings} == expected
    for data in recordings.values():
        with wave.open(io.BytesIO(data)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            assert 1.0 <= wav.getnframes() / 8000 <= 3.0


def test_transcripts_have_the_shapes_of_aws_and_whisper(world: World) -> None:
    transcripts = _under(world.files, landing.day_prefixes("transcripts"))
    recordings = {Path(p).stem for p in _under(world.files, landing.day_prefixes("recordings"))}
    engines = set()
    for path, data in transcripts.items():
        engine, uniqueid = Path(path).stem.split("_", 1)
        assert uniqueid in recordings
        engines.add(engine)
        document = json.loads(data)
        if engine == "aws":
            assert set(document) == {"jobName", "accountId", "status", "results"}
            assert document["jobName"].endswith(uniqueid)
            assert set(document["results"]) == AWS_RESULT_KEYS
            labels = document["results"]["speaker_labels"]
            assert set(labels) == {"channel_label", "speakers", "segments"}
            for item in document["results"]["items"]:
                timed = {"start_time", "end_time"} if item["type"] == "pronunciation" else set()
                assert set(item) == {"alternatives", "type"} | timed
            assert document["results"]["transcripts"][0]["transcript"]
        else:
            assert engine == "whisper"
            assert set(document) == {"text", "segments", "language"}
            assert all(set(s) == WHISPER_SEGMENT_KEYS for s in document["segments"])
            assert document["text"] == "".join(s["text"] for s in document["segments"])
    assert engines == {"aws", "whisper"}
    assert len(transcripts) == len(recordings)


def test_ai_outputs_follow_their_call(world: World) -> None:
    outputs = _under(world.files, landing.day_prefixes("ai_outputs"))
    transcripts = _under(world.files, landing.day_prefixes("transcripts"))
    assert len(outputs) == 2 * len(transcripts)
    for path, data in outputs.items():
        document = json.loads(data)
        assert list(document) == ["call_id", "kind", "model", "created_at", "text"]
        assert Path(path).stem == f"{document['kind']}_{document['call_id']}"
        assert document["kind"] in {"summary", "receptionist_note"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["created_at"])


def test_transcripts_speak_numbers_and_name_second_subjects(world: World) -> None:
    texts = [
        data.decode() for data in _under(world.files, landing.day_prefixes("transcripts")).values()
    ]
    assert any(SPOKEN_NUMBER.search(text) for text in texts)
    assert any(re.search(r"\b0\d \d{4} \d{4}\b|\b04\d\d \d{3} \d{3}\b", text) for text in texts)
    mentioned = [s for s in world.summary.subjects if s["mentioned_call_ids"]]
    assert mentioned
    subject = mentioned[0]
    call_id = subject["mentioned_call_ids"][0]
    path = next(
        p
        for p in _under(world.files, f"landing/transcripts/{subject['tenant_id']}")
        if call_id in p
    )
    assert subject["email"] in world.files[path].decode()


def test_crm_links_tie_calls_to_crm_records(world: World) -> None:
    userfields = {(t, row[16]): row[17] for t, row in _cdr_rows(world)}
    linked = 0
    for path, data in _under(world.files, "landing/crm").items():
        tenant_id = path.split("/")[2]
        assert (
            data.decode().splitlines()[0]
            == "call_id,crm_system,crm_record_id,contact_phone,contact_email"
        )
        for row in _csv(data):
            assert userfields[(tenant_id, row["call_id"])] == (
                f"crm={row['crm_system']}:{row['crm_record_id']}"
            )
            assert _e164(row["contact_phone"], world.tenants[tenant_id].country)
            linked += 1
    assert linked == sum(1 for value in userfields.values() if value.startswith("crm="))


def test_campaigns_mix_valid_and_malformed_numbers(world: World) -> None:
    for tenant_id, tenant in world.tenants.items():
        campaign_files = _under(world.files, f"landing/campaigns/{tenant_id}")
        assert campaign_files
        phones = []
        for data in campaign_files.values():
            assert data.decode().splitlines()[0] == "phone,contact_ref"
            phones += [row["phone"] for row in _csv(data)]
        valid = [p for p in phones if _e164(p, tenant.country)]
        assert 0 < len(valid) < len(phones)
        consents = _csv(world.files[landing.consents_file(tenant_id)])
        assert world.files[landing.consents_file(tenant_id)].startswith(
            b"phone,kind,recorded_at,source\n"
        )
        assert consents
        assert {row["kind"] for row in consents} <= {"express_consent", "transaction", "inquiry"}
        assert all(_e164(row["phone"], tenant.country) for row in consents)


def _ftc_numbers(files: dict[str, bytes]) -> set[str]:
    numbers = set()
    for path, data in files.items():
        name = Path(path).stem
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.namelist() == [f"{name}.txt"]
            lines = archive.read(f"{name}.txt").decode().splitlines()
        assert lines == sorted(lines)
        for line in lines:
            area, number = line.split(",")
            assert area == name[:3] and re.fullmatch(r"\d{7}", number)
            numbers.add(area + number)
    return numbers


def test_ftc_download_and_change_list(world: World) -> None:
    full = _ftc_numbers(_under(world.files, landing.registry_full_dir("us_ftc", "2026-11-20")))
    changes = _under(world.files, landing.registry_changes_dir("us_ftc", "2026-11-27"))
    additions = _ftc_numbers({p: d for p, d in changes.items() if "_additions" in p})
    deletions = _ftc_numbers({p: d for p, d in changes.items() if "_deletions" in p})
    assert len(full) == 300
    assert additions and not additions & full
    assert deletions and deletions <= full
    campaign_numbers = {
        _e164(row["phone"], "US")
        for data in _under(world.files, "landing/campaigns/beta-us").values()
        for row in _csv(data)
    } - {None}
    registered = {"+1" + n for n in full}
    assert campaign_numbers & registered
    assert campaign_numbers - registered


def test_wash_results_answer_for_campaign_numbers(world: World) -> None:
    for registry, tenant_id in (("au_acma", "acme-au"), ("sg_dnc", "gamma-sg")):
        data = world.files[f"{landing.wash_results_dir(registry)}/wash_2026-11-20.csv"]
        rows = _csv(data)
        assert data.startswith(b"phone_number,registered,wash_date\n")
        assert {row["registered"] for row in rows} == {"Y", "N"}
        assert {row["wash_date"] for row in rows} == {"2026-11-20"}
        campaign_numbers = {
            _e164(row["phone"], world.tenants[tenant_id].country)
            for data in _under(world.files, f"landing/campaigns/{tenant_id}").values()
            for row in _csv(data)
        } - {None}
        assert {"+" + row["phone_number"] for row in rows} == campaign_numbers


def test_one_number_is_a_contact_in_two_tenants(world: World) -> None:
    [(e164, tenant_ids)] = world.summary.shared_number_tenants.items()
    assert len(set(tenant_ids)) == 2
    for tenant_id in tenant_ids:
        country = world.tenants[tenant_id].country
        sources = {_e164(row[1], country) for t, row in _cdr_rows(world) if t == tenant_id}
        assert e164 in sources


def test_subjects_have_several_calls_and_are_identifiers(world: World) -> None:
    rows = {(t, row[16]): row for t, row in _cdr_rows(world)}
    busy = [s for s in world.summary.subjects if len(s["call_ids"]) >= 3]
    assert len(busy) >= 2
    for subject in world.summary.subjects:
        assert subject["e164"] in world.summary.identifiers
        assert subject["email"] in world.summary.identifiers
        country = world.tenants[subject["tenant_id"]].country
        for call_id in subject["call_ids"]:
            row = rows[(subject["tenant_id"], call_id)]
            assert subject["e164"] in {_e164(row[1], country), _e164(row[2], country)}


def test_a_subject_email_is_in_a_transcript_and_a_crm_link(world: World) -> None:
    found = False
    for subject in world.summary.subjects:
        tenant_id, email = subject["tenant_id"], subject["email"]
        in_transcript = any(
            email in data.decode()
            for data in _under(world.files, f"landing/transcripts/{tenant_id}").values()
        )
        in_crm = any(
            row["contact_email"] == email
            for data in _under(world.files, f"landing/crm/{tenant_id}").values()
            for row in _csv(data)
        )
        found |= in_transcript and in_crm
    assert found


def test_identifiers_cover_every_email_name_and_number_written(world: World) -> None:
    identifiers = world.summary.identifiers
    texts = _text_files(world)
    emails = {e.rstrip(".") for text in texts.values() for e in EMAIL.findall(text)}
    assert emails and emails <= identifiers
    spoken = {m for text in texts.values() for m in SPOKEN_NUMBER.findall(text)}
    assert spoken and spoken <= identifiers
    dids = set()
    for _, row in _cdr_rows(world):
        name = CLID.match(row[4]).group(1)
        if row[3] == "from-pstn" and row[1] != "anonymous":
            assert row[1] in identifiers
            assert name in identifiers
        if row[3] == "outbound":
            dids.add(row[1])
    assert not dids & identifiers
    for data in _under(world.files, "landing/crm").values():
        assert all(row["contact_phone"] in identifiers for row in _csv(data))


def test_number_plans_give_valid_numbers_in_phonenumbers_formats() -> None:
    rng = np.random.default_rng(3)
    for country, plan in PLANS.items():
        for block in plan.blocks:
            for offset in rng.integers(0, block.capacity, 25).tolist():
                forms = phone_forms(plan, block.number(offset))
                parsed = phonenumbers.parse(forms.e164)
                assert phonenumbers.is_valid_number(parsed), block.prefix
                assert phonenumbers.region_code_for_number(parsed) == country
                international = phonenumbers.format_number(
                    parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                )
                assert forms.e164_spaced == international.replace("-", " ")
                for raw in (forms.national, forms.written, forms.trunk_dial):
                    assert _e164(raw, country) == forms.e164
        numbers = draw_national_numbers(plan, 500, rng)
        assert len(set(numbers)) == 500


def test_audio_off_writes_no_recordings_transcripts_or_ai_outputs() -> None:
    files, summary = _generate(audio=False, calls=40)
    assert not {"recordings", "transcripts", "ai_outputs"} & set(summary.files_by_kind)
    assert not any(p.startswith(("landing/recordings", "landing/transcripts")) for p in files)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        _generate(days=0)
    tenant = Tenant(id="x", name="X", country="CA", timezone="America/Toronto")
    with pytest.raises(ValueError, match="number plan"):
        generate_world(lambda p, d: None, [tenant], seed=1, calls=5, start_day=START)
    tenant = Tenant(
        id="x", name="X", country="AU", timezone="Australia/Sydney", registries=("nz_dnc",)
    )
    with pytest.raises(ValueError, match="registries"):
        generate_world(lambda p, d: None, [tenant], seed=1, calls=5, start_day=START)


def test_a_large_world_without_audio_is_fast() -> None:
    sizes: dict[str, int] = {}
    lines = 0

    def write(path: str, data: bytes) -> None:
        nonlocal lines
        sizes[path] = len(data)
        if path.endswith("Master.csv"):
            lines += data.count(b"\n")

    started = time.perf_counter()
    summary = generate_world(write, _tenants(), seed=5, calls=200_000, start_day=START, audio=False)
    elapsed = time.perf_counter() - started
    assert lines == 200_000 == sum(summary.calls_by_tenant.values())
    assert "recordings" not in summary.files_by_kind
    assert elapsed < 30, f"200k calls took {elapsed:.1f} s"
