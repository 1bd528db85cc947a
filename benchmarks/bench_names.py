"""Quality, not speed: recall and precision of the offline name recogniser on the labelled
corpus (``tests/dsar/data/names_corpus.jsonl``), per split. ``tune`` is what the lexicon was
adjusted against; ``holdout`` was not looked at while tuning."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cm_pipelines.domain.names.quality import measure

CORPUS = Path(__file__).parents[1] / "tests" / "dsar" / "data" / "names_corpus.jsonl"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines()]
    print(f"== bench_names: name recogniser quality (not a timing) on {len(rows)} texts ==")
    for split in ("tune", "holdout", "all"):
        chosen = [row for row in rows if split == "all" or row["split"] == split]
        for label, certain_only in (("masked", False), ("certain only", True)):
            quality = measure(chosen, certain_only=certain_only)
            print(
                f"{split:8} {label:13} third-party names {quality.names:4}  "
                f"recall {quality.recall:.3f}  precision {quality.precision:.3f}  "
                f"unsure findings {quality.unsure}"
            )


if __name__ == "__main__":
    main()
