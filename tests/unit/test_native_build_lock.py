"""requirements-build.lock (the Docker build stage's mypy) pins what requirements-dev.lock pins.

The dev lock is the one ``make lock`` regenerates, and the one ``make install`` compiles the
domain with locally and in CI; the image must compile it with the same mypyc, and install
every package it needs (pip --require-hashes refuses a missing dependency).
"""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)((?:\s*\\\n\s+--hash=\S+)+)", re.MULTILINE)


def pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    found = {}
    for name, version, hashes in PIN.findall(path.read_text()):
        found[name.lower()] = (version, frozenset(re.findall(r"--hash=(\S+)", hashes)))
    return found


def _needed(requirement: str) -> str | None:
    """The package a requirement names if it applies here (no extra, its marker true)."""
    parsed = Requirement(requirement)
    if parsed.marker is not None and not parsed.marker.evaluate({"extra": ""}):
        return None
    return parsed.name.lower().replace("_", "-")


def test_the_build_lock_pins_mypy_as_the_dev_lock_does() -> None:
    build, dev = pins(ROOT / "requirements-build.lock"), pins(ROOT / "requirements-dev.lock")
    assert "mypy" in build
    for name, pin in build.items():
        assert dev.get(name) == pin, f"{name}: requirements-build.lock differs from the dev lock"


def test_the_build_lock_holds_every_dependency_of_mypy() -> None:
    build = pins(ROOT / "requirements-build.lock")
    wanted, seen = ["mypy"], set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        assert name in build, f"requirements-build.lock lacks {name}"
        wanted += [n for r in requires(name) or [] if (n := _needed(r)) is not None]
