"""Recall and precision of the name recogniser on a labelled corpus (``make bench``, tests).

A third-party name counts as found when masked findings cover all of it; a finding counts as
right when it overlaps a labelled third-party name. Masking a subject's own name is a wrong
finding (the requester is owed their own data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cm_pipelines.domain.names.recogniser import CERTAIN, find_names


@dataclass(frozen=True)
class Quality:
    names: int
    found: int
    findings: int
    right: int
    unsure: int

    @property
    def recall(self) -> float:
        return self.found / self.names if self.names else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.findings if self.findings else 1.0


def measure(examples: Iterable[Mapping[str, Any]], *, certain_only: bool = False) -> Quality:
    names = found = findings_total = right = unsure = 0
    for example in examples:
        findings = find_names(
            example["text"],
            known_names=example.get("known_names", ()),
            subject_names=example.get("subject_names", ()),
        )
        unsure += sum(f.confidence != CERTAIN for f in findings)
        if certain_only:
            findings = [f for f in findings if f.confidence == CERTAIN]
        third = [s for s in example["names"] if s["label"] == "third_party"]
        names += len(third)
        found += sum(
            any(f.start <= s["start"] and s["end"] <= f.end for f in findings) for s in third
        )
        findings_total += len(findings)
        right += sum(
            any(f.start < s["end"] and s["start"] < f.end for s in third) for f in findings
        )
    return Quality(names, found, findings_total, right, unsure)
