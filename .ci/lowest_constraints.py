"""Write a pip constraints file pinning each direct dependency to the floor pyproject.toml
allows: `name>=X` becomes `name==X` (markers kept, extras dropped: pip refuses extras in
a constraints file). tox's `lowest` env installs authkit with it and runs the suite, so a
floor that no longer works fails there instead of on a user's machine.

    python .ci/lowest_constraints.py OUTPUT [--extra test ...]

Runtime dependencies are always included, plus each `--extra` named. A requirement with no
`>=` floor is an error: every direct dependency must say which version it needs at least.
Transitive dependencies stay unpinned (the resolver's newest), as for a user.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
    r"(?P<specs>[^;]*?)\s*(?:;\s*(?P<marker>.+?))?\s*$"
)


def floor_pin(requirement: str) -> str:
    """`name==<floor>[; marker]` for one PEP 508 requirement with a `>=` floor."""
    found = _REQUIREMENT.match(requirement)
    if found is None:
        raise ValueError(f"cannot read requirement {requirement!r}")
    floors = [
        spec.strip()[2:].strip()
        for spec in found["specs"].split(",")
        if spec.strip().startswith(">=")
    ]
    if len(floors) != 1:
        raise ValueError(f"{requirement!r} needs exactly one '>=' floor")
    pin = f"{found['name']}=={floors[0]}"
    return f"{pin}; {found['marker']}" if found["marker"] else pin


def constraints(pyproject: dict[str, object], extras: list[str]) -> list[str]:
    project = pyproject["project"]
    if not isinstance(project, dict):
        raise ValueError("pyproject.toml has no [project] table")
    requirements = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise ValueError(f"pyproject.toml has no extra {extra!r}")
        requirements += optional[extra]
    pins: list[str] = []
    for requirement in requirements:
        pin = floor_pin(requirement)
        if pin not in pins:  # the same requirement in two places (secantusdb)
            pins.append(pin)
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--extra", action="append", default=[], help="an extra to include")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args(argv)
    try:
        pins = constraints(tomllib.loads(args.pyproject.read_text("utf-8")), args.extra)
    except ValueError as exc:
        print(f"lowest_constraints: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("".join(f"{pin}\n" for pin in pins), "utf-8")
    print(f"lowest_constraints: {len(pins)} floors pinned in {args.output}")
    for pin in pins:
        print(f"  {pin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
