"""The shape of the code location: its largest modules and longest functions.

``make shape`` prints them; ``make lint`` runs this with ``--check``, which fails when a module
is over ``MODULE_LINES`` or a function over ``FUNCTION_LINES`` lines. Migrations (generated
once, then frozen), the synthetic world (data tables, not logic) and tests are not measured.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cm_pipelines"
MODULE_LINES = 500
FUNCTION_LINES = 80
NOT_MEASURED = ("migrations", "synthetic")


@dataclass(frozen=True)
class Measure:
    lines: int
    where: str


def measured_files(package: Path = PACKAGE) -> list[Path]:
    return sorted(
        path
        for path in package.rglob("*.py")
        if not any(part in NOT_MEASURED for part in path.relative_to(package).parts)
    )


def measure(paths: list[Path]) -> tuple[list[Measure], list[Measure]]:
    """(modules, functions), longest first; a function is measured from its first decorator."""
    modules, functions = [], []
    for path in paths:
        source = path.read_text()
        name = path.relative_to(PACKAGE.parent).as_posix()
        modules.append(Measure(len(source.splitlines()), name))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                assert node.end_lineno is not None
                lines = node.end_lineno - first + 1
                functions.append(Measure(lines, f"{name}:{node.lineno} {node.name}"))
    return sorted(modules, key=_longest), sorted(functions, key=_longest)


def _longest(item: Measure) -> tuple[int, str]:
    return -item.lines, item.where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="how many of each to print")
    parser.add_argument("--check", action="store_true", help="fail on anything over the limits")
    args = parser.parse_args(argv)
    modules, functions = measure(measured_files())
    lines = [f"largest modules (limit {MODULE_LINES} lines):"]
    lines += [f"  {item.lines:5d}  {item.where}" for item in modules[: args.top]]
    lines += [f"longest functions (limit {FUNCTION_LINES} lines):"]
    lines += [f"  {item.lines:5d}  {item.where}" for item in functions[: args.top]]
    sys.stdout.write("\n".join(lines) + "\n")
    over = [m for m in modules if m.lines > MODULE_LINES]
    over += [f for f in functions if f.lines > FUNCTION_LINES]
    if args.check and over:
        sys.stdout.write(f"{len(over)} over the limits:\n")
        sys.stdout.write("".join(f"  {item.lines:5d}  {item.where}\n" for item in over))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
