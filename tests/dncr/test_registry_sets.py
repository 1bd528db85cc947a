"""Registry files parse into sorted unique int64 sets; bad lines are counted and kept; change
lists, wash-result merges, diffs and the lookup index agree with brute force."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import phonenumbers
import pytest

from cm_pipelines.domain.dncr import ftc_files, number_index, number_sets
from cm_pipelines.domain.dncr.change_lists import apply_changes, change_list_action
from cm_pipelines.domain.dncr.content_hashing import content_hash
from cm_pipelines.domain.dncr.e164_csv import parse_e164_csv
from cm_pipelines.domain.dncr.ftc_files import format_ftc_lines, parse_ftc_lines
from cm_pipelines.domain.dncr.number_index import NumberIndex
from cm_pipelines.domain.dncr.number_sets import diff_sorted, sorted_unique
from cm_pipelines.domain.dncr.number_validity import country_validity
from cm_pipelines.domain.dncr.parsed_numbers import UnreadableFileError
from cm_pipelines.domain.dncr.wash_results import (
    latest_per_number,
    merge_wash_results,
    parse_wash_results,
)
from cm_pipelines.domain.dncr.zip_payloads import read_zip_members

US = 10_000_000_000


def us(area: int, subscriber: int) -> int:
    return US + area * 10_000_000 + subscriber


def test_ftc_full_file_parses_to_sorted_unique_e164_integers() -> None:
    data = b"212,5550199\n212,5550147\n415,5550100\n212,5550147\n"
    parsed, deletions = parse_ftc_lines(data)
    assert deletions is None
    assert parsed.numbers.dtype == np.int64
    assert parsed.numbers.tolist() == [us(212, 5550147), us(212, 5550199), us(415, 5550100)]
    assert (parsed.lines_read, parsed.bad_line_count, parsed.duplicate_count) == (4, 0, 1)


def test_crlf_lines_and_a_missing_final_newline_are_read() -> None:
    parsed, _ = parse_ftc_lines(b"212,5550147\r\n212,5550148\r\n212,5550149")
    assert parsed.numbers.tolist() == [us(212, 5550147), us(212, 5550148), us(212, 5550149)]
    assert parsed.bad_line_count == 0


def test_bad_lines_are_counted_kept_with_line_numbers_and_never_turned_into_numbers() -> None:
    lines = [
        b"212,5550147",
        b"212,55X0148",  # non-digit
        b"",  # blank: counted apart
        b"212,5550149,9",  # an extra field
        b"2125550150",  # no comma
        b" 212 , 5550151 ",  # padded: still readable
        b"21,25550152",  # wrong split
        b"212,555",  # a download cut short
    ]
    parsed, _ = parse_ftc_lines(b"\n".join(lines), source="landing/x.txt")
    assert parsed.numbers.tolist() == [us(212, 5550147), us(212, 5550151)]
    assert parsed.blank_lines == 1
    assert parsed.lines_read == 7
    found = {(line.line_number, line.reason_code, line.raw) for _, line in parsed.bad_lines}
    assert found == {
        (2, "non_digit", "212,55X0148"),
        (4, "wrong_field_count", "212,5550149,9"),
        (5, "wrong_field_count", "2125550150"),
        (7, "wrong_length", "21,25550152"),
        (8, "wrong_length", "212,555"),
    }
    assert parsed.bad_line_count == 5
    assert {source for source, _ in parsed.bad_lines} == {"landing/x.txt"}
    assert parsed.bad_line_ratio == pytest.approx(5 / 7)


def test_bad_lines_stored_are_capped_but_all_counted() -> None:
    parsed, _ = parse_ftc_lines(b"x\n" * 50 + b"212,5550147\n", keep_bad=10)
    assert parsed.bad_line_count == 50
    assert len(parsed.bad_lines) == 10
    assert parsed.numbers.size == 1


def test_fixed_width_fast_path_reports_bad_rows_with_their_line_numbers() -> None:
    data = bytearray(format_ftc_lines(np.array([us(212, 5550000 + i) for i in range(100)])))
    data[12 * 41 + 5] = ord("Z")  # line 42 keeps its width but is no longer digits
    parsed, _ = parse_ftc_lines(bytes(data))
    assert parsed.numbers.size == 99
    assert [(line.line_number, line.reason_code) for _, line in parsed.bad_lines] == [
        (42, "non_digit")
    ]


def test_chunked_parsing_keeps_line_numbers_across_chunk_boundaries(monkeypatch) -> None:
    monkeypatch.setattr(ftc_files, "CHUNK_BYTES", 64)
    numbers = [us(212, 5550000 + i) for i in range(40)]
    lines = format_ftc_lines(np.array(numbers)).split(b"\n")
    lines[30] = b"212,bad0000"
    parsed, _ = parse_ftc_lines(b"\r\n".join(lines))
    assert parsed.numbers.size == 39
    assert [line.line_number for _, line in parsed.bad_lines] == [31]


def test_change_list_lines_may_carry_the_action() -> None:
    added, deleted = parse_ftc_lines(
        b"212,5550147,A\n212,5550148,D\n212,5550149,delete\n212,5550150,X\n", with_actions=True
    )
    assert deleted is not None
    assert added.numbers.tolist() == [us(212, 5550147)]
    assert deleted.numbers.tolist() == [us(212, 5550148), us(212, 5550149)]
    assert [line.reason_code for _, line in added.bad_lines] == ["unknown_action"]


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("212_additions.zip", "additions"),
        ("212_deletions.zip", "deletions"),
        ("landing/dncr/us_ftc/changes/2026-11-05/415_deletions.txt", "deletions"),
        ("212.zip", None),
    ],
)
def test_change_list_file_names_say_what_they_hold(name: str, action: str | None) -> None:
    assert change_list_action(name) == action


def _zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_members_are_read_and_a_truncated_or_corrupt_archive_is_refused() -> None:
    body = format_ftc_lines(np.array([us(212, 5550000 + i) for i in range(2000)]))
    archive = _zip("212.txt", body)
    assert read_zip_members(archive) == [("212.txt", body)]
    with pytest.raises(UnreadableFileError) as truncated:
        read_zip_members(archive[: len(archive) // 2])
    assert truncated.value.reason_code == "unreadable_archive"
    corrupt = bytearray(archive)
    corrupt[60] ^= 0xFF  # inside the deflated member: CRC or inflate fails
    with pytest.raises(UnreadableFileError):
        read_zip_members(bytes(corrupt))
    with pytest.raises(UnreadableFileError) as empty:
        read_zip_members(_zip("readme.md", b"hello"))
    assert empty.value.reason_code == "empty_archive"


def test_e164_csv_reads_numbers_with_or_without_plus_and_flags_other_countries() -> None:
    data = b"e164,note\n+12125550147,a\n14155550100,b\n+61491570156,c\n+1212555014x,d\n,e\n"
    parsed = parse_e164_csv(data, calling_code=1, source="list.csv")
    assert parsed.numbers.tolist() == [us(212, 5550147), us(415, 5550100)]
    assert [(line.line_number, line.reason_code) for _, line in parsed.bad_lines] == [
        (4, "not_e164"),
        (5, "not_e164"),
        (6, "not_e164"),
    ]
    with pytest.raises(UnreadableFileError):
        parse_e164_csv(b"name,email\nx,y\n")


def test_wash_results_parse_flags_dates_and_keep_the_latest_result_per_number() -> None:
    data = (
        b"phone_number,registered,wash_date\n"
        b"61491570156,Y,2026-11-01\n"
        b"61491570156,N,2026-11-20\n"  # a later wash: no longer registered
        b"+61491570157,yes,2026-11-02\n"
        b"61491570158,maybe,2026-11-02\n"
        b"61491570159,N,2026-02-30\n"
        b"61491570160,N,2027-01-01\n"
        b"6591234567,N,2026-11-02\n"
        b"\n"
    )
    from datetime import date

    result = parse_wash_results(
        data, calling_code=61, source="r.csv", latest_day=date(2026, 11, 28)
    )
    assert result.numbers.tolist() == [61491570156, 61491570157]
    assert result.registered.tolist() == [False, True]
    assert [str(day) for day in result.wash_days] == ["2026-11-20", "2026-11-02"]
    assert result.duplicate_count == 1
    assert result.blank_lines == 1
    assert {(line.line_number, line.reason_code) for _, line in result.bad_lines} == {
        (5, "bad_registered_flag"),
        (6, "bad_wash_date"),
        (7, "wash_date_in_future"),
        (8, "not_e164"),
    }
    with pytest.raises(UnreadableFileError):
        parse_wash_results(b"phone,flag\n61491570156,Y\n")


def test_merging_wash_results_never_rolls_a_number_back() -> None:
    day = np.datetime64("2026-11-20", "D")
    current = latest_per_number(np.array([1, 2]), np.array([True, False]), np.array([day, day]))
    older = latest_per_number(
        np.array([1, 3]), np.array([False, True]), np.array([day - 10, day - 10])
    )
    merged = merge_wash_results(current, [older])
    assert merged.numbers.tolist() == [1, 2, 3]
    assert merged.registered.tolist() == [True, False, True]
    same_day = latest_per_number(np.array([5, 5]), np.array([False, True]), np.array([day, day]))
    assert same_day.registered.tolist() == [True]  # a tie keeps the answer that blocks


def test_sorted_unique_counts_duplicates_and_keeps_sorted_input_as_is() -> None:
    values, dropped = sorted_unique(np.array([5, 3, 3, 9, 5, 1], dtype=np.int64))
    assert values.tolist() == [1, 3, 5, 9] and dropped == 2
    already = np.array([1, 2, 3], dtype=np.int64)
    same, dropped = sorted_unique(already)
    assert same is already and dropped == 0


def test_a_change_list_adds_and_deletes_and_a_conflict_stays_listed() -> None:
    base = np.array([10, 20, 30, 40], dtype=np.int64)
    applied = apply_changes(
        base,
        additions=np.array([15, 20, 50], dtype=np.int64),
        deletions=np.array([30, 35, 50], dtype=np.int64),
    )
    assert applied.numbers.tolist() == [10, 15, 20, 40, 50]
    assert applied.additions_applied == 2  # 15, 50 (20 was present)
    assert applied.additions_already_present == 1
    assert applied.deletions_applied == 1  # 30
    assert applied.deletions_not_present == 1  # 35
    assert applied.conflicts == 1  # 50 added and deleted: kept listed


def test_diff_finds_additions_and_removals() -> None:
    previous = np.array([1, 2, 3, 5], dtype=np.int64)
    current = np.array([2, 3, 4, 5, 6], dtype=np.int64)
    added, removed = diff_sorted(previous, current)
    assert added.tolist() == [4, 6] and removed.tolist() == [1]


def _brute_force(haystack: np.ndarray, queries: np.ndarray) -> np.ndarray:
    positions = np.searchsorted(haystack, queries)
    positions = np.minimum(positions, haystack.size - 1)
    return np.where(haystack[positions] == queries, positions, -1)


def test_number_index_agrees_with_brute_force_on_dense_sparse_and_foreign_numbers() -> None:
    rng = np.random.default_rng(11)
    dense = us(212, 0) + rng.choice(10_000_000, 400_000, replace=False)  # one bitmap block
    sparse = us(415, 0) + rng.choice(10_000_000, 500, replace=False)  # stays a sorted array
    far = 61_491_570_000 + np.arange(0, 300, 3)  # another country, sparse
    numbers, _ = sorted_unique(np.concatenate([dense, sparse, far]).astype(np.int64))
    index = NumberIndex(numbers)
    assert index.dense_blocks == 1
    assert index.nbytes < numbers.nbytes
    queries = np.concatenate(
        [
            rng.choice(numbers, 50_000),
            numbers.min() + rng.integers(0, numbers.max() - numbers.min(), 50_000),
            np.array([-1, 0, 1, us(212, 0) - 1, us(213, 0), 999_999_999_999_999], dtype=np.int64),
        ]
    ).astype(np.int64)
    expected = _brute_force(numbers, queries)
    assert np.array_equal(index.contains(queries), expected >= 0)
    assert np.array_equal(index.positions(queries), expected)


def test_an_empty_index_finds_nothing() -> None:
    index = NumberIndex(np.empty(0, dtype=np.int64))
    assert index.contains(np.array([us(212, 5550147)])).tolist() == [False]
    assert index.positions(np.array([us(212, 5550147)])).tolist() == [-1]


def test_country_validity_matches_phonenumbers_on_its_groups() -> None:
    candidates = [
        us(212, 5550147),
        us(415, 5550100),
        us(200, 5550100),  # not an assigned area code
        us(212, 1550147),  # exchange starting with 1
        us(416, 5550123),  # Toronto: valid, but Canadian
        61491570156,
        6591234567,
    ]
    numbers, _ = sorted_unique(np.array(candidates, dtype=np.int64))
    validity = country_validity(numbers, "US")
    expected = [
        phonenumbers.is_valid_number_for_region(phonenumbers.parse(f"+{n}"), "US")
        for n in numbers.tolist()
    ]
    assert validity.valid.tolist() == expected
    assert validity.invalid_count == expected.count(False) == 5
    assert country_validity(numbers, "CA").valid.tolist() == [
        n == us(416, 5550123) for n in numbers.tolist()
    ]


def test_content_hash_depends_on_every_byte_and_the_header() -> None:
    numbers = np.array([1, 2, 3], dtype=np.int64)
    assert content_hash(numbers, header="a") == content_hash(numbers.copy(), header="a")
    assert content_hash(numbers, header="a") != content_hash(numbers, header="b")
    assert content_hash(numbers) != content_hash(np.array([1, 2, 4], dtype=np.int64))


def test_formatting_and_parsing_round_trip() -> None:
    numbers = np.array([us(201, 2000000), us(989, 9999999)], dtype=np.int64)
    parsed, _ = parse_ftc_lines(format_ftc_lines(numbers))
    assert parsed.numbers.tolist() == numbers.tolist()


def test_large_diffs_compare_block_by_block(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    previous, _ = sorted_unique(
        np.concatenate(
            [
                us(212, 0) + rng.choice(10_000_000, 50_000, replace=False),
                us(415, 0) + rng.choice(10_000_000, 300, replace=False),
            ]
        ).astype(np.int64)
    )
    keep = rng.random(previous.size) > 0.01
    fresh = us(646, 0) + rng.choice(10_000_000, 200, replace=False)
    current, _ = sorted_unique(
        np.concatenate([previous[keep], fresh, [us(212, 1)]]).astype(np.int64)
    )
    expected_added = np.setdiff1d(current, previous)
    expected_removed = np.setdiff1d(previous, current)
    monkeypatch.setattr(number_sets, "DIFF_BLOCK_MIN", 10)
    added, removed = diff_sorted(previous, current)
    assert np.array_equal(added, expected_added)
    assert np.array_equal(removed, expected_removed)


def test_block_groups_walks_few_blocks_and_scans_many() -> None:
    numbers = np.array([us(212, 1), us(212, 2), us(213, 5), us(415, 0), us(415, 9)], dtype=np.int64)
    walked = number_index.block_groups(numbers)
    scanned = number_index.block_groups(numbers, max_walk=1)
    for starts, ends in (walked, scanned):
        assert starts.tolist() == [0, 2, 3] and ends.tolist() == [2, 3, 5]


def test_a_zip_that_expands_past_the_budget_is_refused_before_it_is_all_read() -> None:
    bomb = _zip("212.txt", b"0" * 10_000_000)  # ~10 KB on disk
    assert len(bomb) < 100_000
    with pytest.raises(UnreadableFileError) as refused:
        read_zip_members(bomb, max_unzipped_bytes=1_000_000)
    assert refused.value.reason_code == "archive_too_large"
    assert "0" * 20 not in str(refused.value)  # the content is never quoted
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for area_code in ("212", "646", "917"):
            archive.writestr(f"{area_code}.txt", b"1" * 400_000)
    many = buffer.getvalue()
    assert len(read_zip_members(many, max_unzipped_bytes=1_200_000)) == 3
    with pytest.raises(UnreadableFileError, match="archive_too_large"):
        read_zip_members(many, max_unzipped_bytes=1_199_999)
