"""Packing a call day's tenants into slices for separate ingestion steps."""

from __future__ import annotations

import random

import pytest

from cm_pipelines.domain.ingestion.work_slices import TenantSlice, plan_tenant_slices


def test_a_small_day_is_one_slice() -> None:
    sizes = {"acme-au": 10, "beta-us": 20, "gamma-sg": 5}
    assert plan_tenant_slices(sizes, 1_000) == [TenantSlice(("acme-au", "beta-us", "gamma-sg"), 35)]


def test_a_tenant_at_or_over_the_target_gets_a_slice_of_its_own() -> None:
    sizes = {"big": 500, "exact": 100, "small-a": 30, "small-b": 60}
    slices = plan_tenant_slices(sizes, 100)
    assert slices == [
        TenantSlice(("big",), 500),
        TenantSlice(("exact",), 100),
        TenantSlice(("small-a", "small-b"), 90),
    ]


def test_small_tenants_are_packed_first_fit_by_descending_size() -> None:
    sizes = {"a": 70, "b": 60, "c": 40, "d": 30, "e": 10}
    # 70 -> [a]; 60 -> [b]; 40 -> b+c=100; 30 -> a+d=100; 10 -> new slice
    assert plan_tenant_slices(sizes, 100) == [
        TenantSlice(("a", "d"), 100),
        TenantSlice(("b", "c"), 100),
        TenantSlice(("e",), 10),
    ]


def test_tenants_with_nothing_landed_still_get_a_place() -> None:
    slices = plan_tenant_slices({"quiet": 0, "busy": 200}, 100)
    assert slices == [TenantSlice(("busy",), 200), TenantSlice(("quiet",), 0)]
    assert plan_tenant_slices({}, 100) == []


def test_every_tenant_is_in_exactly_one_slice_and_no_packed_slice_overflows() -> None:
    rng = random.Random(7)
    for _ in range(200):
        sizes = {f"t{i:03d}": rng.choice([0, 1, 5, 50, 99, 100, 250]) for i in range(40)}
        target = rng.choice([1, 50, 100, 400])
        slices = plan_tenant_slices(sizes, target)
        members = [tenant for planned in slices for tenant in planned.tenant_ids]
        assert sorted(members) == sorted(sizes)
        for planned in slices:
            assert planned.landed_bytes == sum(sizes[t] for t in planned.tenant_ids)
            if len(planned.tenant_ids) > 1:
                assert planned.landed_bytes <= target
        assert [p.landed_bytes for p in slices] == sorted(
            (p.landed_bytes for p in slices), reverse=True
        )
        assert plan_tenant_slices(dict(reversed(list(sizes.items()))), target) == slices


@pytest.mark.parametrize("target", [0, -5])
def test_the_target_must_be_positive(target: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        plan_tenant_slices({"a": 1}, target)


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        plan_tenant_slices({"a": -1}, 10)
