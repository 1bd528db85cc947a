"""The README's Dagster command lines run as written against the pinned Dagster, and no link
in the README or docs points outside the repository."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from cm_pipelines.platform import settings
from cm_pipelines.resources import WarehouseResource

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]


def _dagster_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [
        line.split("#")[0].strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith(".venv/bin/dagster ")
    ]


def test_the_readme_dagster_commands_run_as_written() -> None:
    lines = _dagster_lines()
    assert len(lines) >= 3, lines
    WarehouseResource().upgrade()  # `cm init` first, as the README says
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home())}
    settings.dagster_home().mkdir(parents=True, exist_ok=True)
    for line in lines:
        argv = shlex.split(line)
        argv[0] = str(ROOT / argv[0])
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"


def test_no_link_points_outside_the_repository() -> None:
    outside = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)]+)\)", text) + re.findall(r"`(\.\./[^`]+)`", text):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            resolved = (doc.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                outside.append(f"{doc.relative_to(ROOT)}: {target}")
    assert outside == []
