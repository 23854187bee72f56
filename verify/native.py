"""The compiled (mypyc) build of ``verify/domain``, used only when it was built from these sources.

``make install`` (and the Docker build) compile the domain's pure modules with mypyc
(:mod:`verify.native_build`) into ``<sys.prefix>/share/citizen-verify/native/<key>/``, where
``key`` is a hash of every ``verify/domain/*.py`` as it is now, of this build's layout and of
the interpreter's ABI. :func:`install` (run by ``verify/__init__.py``, before anything imports
the domain) hashes the sources again and puts the compiled modules first on the import path
only when a build of exactly that key is there and loads: a ``.py`` edited after the build
changes the key, so the ``.py`` is what runs (a stale compiled module never does). The build
directory is outside the source tree, so ``python -m verify...`` from the source tree and
coverage only ever see the ``.py`` files unless this module chose the build.

``VERIFY_PURE_PYTHON=1`` forces the pure-Python modules. It is read here, at import (the
domain is imported before settings are read); :mod:`verify.settings` does not parse it.

What is compiled: every domain module but ``model`` (the frozen dataclasses every layer
builds and reads), ``changes`` (plain data for the cache), ``errors`` (the exception) and
``build``. As mypyc native classes their dataclasses would behave differently where other
code relies on them (no ``__slots__`` descriptors for the builders of records.py and
cache/codec.py, no ``object.__new__``, no pickling or ``copy``), so they stay ordinary
Python classes that the compiled functions use. The dataclasses of the compiled modules
(gcra's Limit/Quota/Decision, id_number's IdStructure, disclosure's CitizenProfile) become
native classes: equal, hashing, ``repr`` and frozen as before, but they cannot be pickled
or copied (nothing does) and a field given a value of another type than its annotation
raises TypeError (mypy strict rules that out).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

LAYOUT = "1"  # bump when the set of compiled modules or the build's options change
PACKAGE = "verify.domain"
DOMAIN_DIR = Path(__file__).resolve().parent / "domain"
NOT_COMPILED = frozenset({"__init__", "model", "errors", "build", "changes"})
GROUP = "verify_domain"  # the shared library: verify_domain__mypyc
MANIFEST = "manifest.json"
ENV = "VERIFY_PURE_PYTHON"


def native_root() -> Path:
    """Where builds go: inside the environment (the venv, or the image's /opt/venv)."""
    return Path(sys.prefix) / "share" / "citizen-verify" / "native"


def domain_sources(domain_dir: Path = DOMAIN_DIR) -> list[Path]:
    return sorted(domain_dir.glob("*.py"))


def compiled_names(domain_dir: Path = DOMAIN_DIR) -> list[str]:
    """The domain modules the build compiles, as full module names."""
    return [f"{PACKAGE}.{p.stem}" for p in domain_sources(domain_dir) if p.stem not in NOT_COMPILED]


def source_key(domain_dir: Path = DOMAIN_DIR) -> str:
    """The hash a build is keyed by: every domain source (compiled or not: the compiled code
    relies on the types of the others), the layout, what is left uncompiled, and the
    interpreter's ABI."""
    digest = hashlib.sha256()
    head = (LAYOUT, sys.implementation.cache_tag, _ext_suffix(), *sorted(NOT_COMPILED))
    digest.update("\0".join(head).encode() + b"\0")
    for path in domain_sources(domain_dir):
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def _ext_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or "")


def pure_forced(environ: Mapping[str, str] = os.environ) -> bool:
    value = environ.get(ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{ENV} must be 1 or 0 (true/false, yes/no), not {value!r}")


@dataclass(frozen=True, slots=True)
class Mode:
    """Which domain runs: ``compiled`` or ``pure``, and why."""

    compiled: bool
    reason: str

    @property
    def name(self) -> str:
        return "compiled" if self.compiled else "pure"

    def line(self) -> str:
        if self.compiled:
            return f"verify/domain: compiled (mypyc), {self.reason}"
        return f"verify/domain: pure Python ({self.reason})"


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules of one build (and its shared library) by full name."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


_mode = Mode(False, "not installed")


def mode() -> Mode:
    return _mode


def build_files(build_dir: Path, key: str) -> dict[str, Path] | None:
    """The module files of the build in ``build_dir`` if it is a complete build of ``key``."""
    try:
        manifest = json.loads((build_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return None
    files = {name: build_dir / rel for name, rel in dict(manifest.get("files", {})).items()}
    return files if files and all(f.is_file() for f in files.values()) else None


def install(environ: Mapping[str, str] = os.environ) -> Mode:
    """Use the compiled domain if a build of these exact sources is there; else the ``.py``."""
    global _mode
    if pure_forced(environ):
        _mode = Mode(False, f"{ENV}=1")
        return _mode
    if any(name.startswith(PACKAGE + ".") for name in sys.modules):
        _mode = Mode(False, "the domain was imported before the loader ran")
        return _mode
    key = source_key()
    files = build_files(native_root() / key, key)
    if files is None:
        _mode = Mode(False, "no build of these sources: `make install` builds it")
        return _mode
    finder = _Finder(files)
    sys.meta_path.insert(0, finder)
    try:
        for name in compiled_names():
            module = importlib.import_module(name)
            if not str(module.__file__).endswith(_ext_suffix()):
                raise ImportError(f"{name} did not load from the build")
    except Exception as e:  # a build that does not load: the .py files, the reason kept
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n.startswith(PACKAGE + ".") or n in files]:
            del sys.modules[name]
        _mode = Mode(False, f"the build did not load: {type(e).__name__}: {e}")
        return _mode
    _mode = Mode(True, f"{len(compiled_names())} modules, build {key[:12]}")
    return _mode


def loaded_compiled() -> list[str]:
    """The domain modules now imported from a compiled build (for tests and the bench)."""
    suffix = _ext_suffix()
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith(PACKAGE + ".") and str(getattr(module, "__file__", "")).endswith(suffix)
    )
